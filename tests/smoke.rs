use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gdws_engine::{BindAddress, Packet, Server, ServerConfig, ServerEvent};
use tokio_tungstenite::tungstenite::Message;

#[test]
fn echo_round_trip() {
    let mut config = ServerConfig::new(0);
    config.bind = BindAddress::parse("127.0.0.1").unwrap();
    let mut server = Server::listen(config).unwrap();
    let url = format!("ws://{}/", server.local_addr());
    let client = std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            ws.send(Message::text("hello")).await.unwrap();
            let reply = ws.next().await.unwrap().unwrap();
            ws.close(None).await.unwrap();
            while ws.next().await.is_some() {}
            reply
        })
    });
    let t = Duration::from_secs(5);
    let ServerEvent::Connected { id, .. } = server.wait_event(t).unwrap() else {
        panic!()
    };
    assert_eq!(server.wait_event(t), Some(ServerEvent::Message { id }));
    let packet = server.peer_mut(id).unwrap().get_packet().unwrap();
    assert_eq!(
        packet,
        Packet {
            data: "hello".into(),
            is_text: true
        }
    );
    server.peer(id).unwrap().put_packet(packet).unwrap();
    assert_eq!(client.join().unwrap(), Message::text("hello"));
    // A close frame without a status is reported as code 0, as the stock server does.
    assert_eq!(
        server.wait_event(t),
        Some(ServerEvent::CloseRequest {
            id,
            code: 0,
            reason: String::new()
        })
    );
    assert_eq!(
        server.wait_event(t),
        Some(ServerEvent::Disconnected {
            id,
            was_clean: true
        })
    );
    server.stop();
}
