//! wss://: a rustls client that verifies the chain against a test root, every key format,
//! every way the certificate and key can be wrong, TLS under handshake_timeout, and plain and
//! TLS clients on the wrong kind of port.

mod common;

use std::time::{Duration, Instant};

use common::tls::*;
use common::*;
use std::sync::Arc;

use futures_util::StreamExt;
use gdws_engine::{Pem, Server, TlsConfig, TlsError};
use rcgen::date_time_ymd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ClientConfig, ProtocolVersion};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn tls_server(tls: TlsConfig) -> Server {
    start_with(|config| config.tls = Some(tls))
}

/// A wss:// server with a P-256 leaf of `pki` and the given handshake timeout.
fn tls_server_with_timeout(pki: &Pki, handshake_timeout: Duration) -> Server {
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    start_with(|config| {
        config.tls = Some(pki.server_tls(&leaf));
        config.handshake_timeout = handshake_timeout;
    })
}

fn build(cert: &str, key: &str, ca_chain: Option<&str>) -> Result<TlsConfig, TlsError> {
    let ca_chain = ca_chain.map(|pem| Pem::new("ca_chain", pem));
    TlsConfig::from_pem(
        &Pem::new("ssl_certificate", cert),
        &Pem::new("private_key", key),
        ca_chain.as_ref(),
    )
}

#[track_caller]
fn build_err(cert: &str, key: &str, ca_chain: Option<&str>) -> TlsError {
    match build(cert, key, ca_chain) {
        Ok(_) => panic!("expected the TLS configuration to be refused"),
        Err(e) => e,
    }
}

/// Connects a verifying client to `localhost` with rustls' default versions: TLS 1.3 is
/// negotiated. See `assert_echo_works_with`.
fn assert_echo_works(server: &mut Server, pki: &Pki, clients: &Clients) {
    assert_echo_works_with(server, clients, pki.client(), ProtocolVersion::TLSv1_3);
}

/// Connects `client` to `localhost`: the TLS `version` and ALPN http/1.1 are negotiated; then
/// the game echoes it and it closes, TLS ending with close_notify (`echo_once`).
fn assert_echo_works_with(
    server: &mut Server,
    clients: &Clients,
    client: Arc<ClientConfig>,
    version: ProtocolVersion,
) {
    let addr = server.local_addr();
    let (ws, _) = clients
        .run(connect_wss(addr, client, "localhost"))
        .unwrap_or_else(|e| panic!("wss:// connect: {e}"));
    let tls = ws.get_ref().get_ref().1;
    assert_eq!(tls.protocol_version(), Some(version), "the TLS version");
    let alpn = tls.alpn_protocol().map(<[u8]>::to_vec);
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    echo_once(server, clients, ws, "héllo over TLS");
}

// ---- serving ----

#[test]
fn rsa_pkcs8_leaf_with_its_intermediate_echoes() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::Rsa2048, |_| {});
    let tls = build(&pki.full_chain(&leaf), &leaf.key_pem, None).unwrap();
    assert_eq!(tls.chain_len(), 2);
    assert_eq!(tls.subject(), "CN=localhost");
    assert!(tls.warnings().is_empty(), "{:?}", tls.warnings());
    let mut server = tls_server(tls);
    assert_echo_works(&mut server, &pki, &clients);
    server.stop();
}

#[test]
fn p256_pkcs8_leaf_with_the_intermediate_in_ca_chain_echoes() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let tls = build(&leaf.cert_pem, &leaf.key_pem, Some(&pki.intermediate_pem())).unwrap();
    assert_eq!(tls.chain_len(), 2);
    let mut server = tls_server(tls);
    assert_echo_works(&mut server, &pki, &clients);
    server.stop();
}

#[test]
fn tls_1_2_is_negotiated_with_a_client_that_offers_only_1_2() {
    let (pki, clients) = (Pki::new(), Clients::new());
    for kind in [KeyKind::P256, KeyKind::Rsa2048] {
        let leaf = pki.leaf(kind, |_| {});
        let mut server = tls_server(pki.server_tls(&leaf));
        let tls12 = pki.client_with_versions(&[&rustls::version::TLS12]);
        assert_echo_works_with(&mut server, &clients, tls12, ProtocolVersion::TLSv1_2);
        // And 1.3 with a client that offers both.
        assert_echo_works(&mut server, &pki, &clients);
        server.stop();
    }
}

#[test]
fn p384_ed25519_and_rsa_4096_keys_serve_wss() {
    // README's key list beyond the P-256 and RSA 2048 keys of the other tests.
    let (pki, clients) = (Pki::new(), Clients::new());
    for kind in [KeyKind::P384, KeyKind::Ed25519, KeyKind::Rsa4096] {
        let leaf = pki.leaf(kind, |_| {});
        let tls = build(&pki.full_chain(&leaf), &leaf.key_pem, None)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert!(tls.warnings().is_empty(), "{kind:?}: {:?}", tls.warnings());
        let mut server = tls_server(tls);
        assert_echo_works(&mut server, &pki, &clients);
        let tls12 = pki.client_with_versions(&[&rustls::version::TLS12]);
        assert_echo_works_with(&mut server, &clients, tls12, ProtocolVersion::TLSv1_2);
        server.stop();
    }
}

#[test]
fn sec1_and_pkcs1_keys_are_accepted() {
    let (pki, clients) = (Pki::new(), Clients::new());
    for kind in [KeyKind::P256, KeyKind::Rsa2048] {
        let leaf = pki.leaf(kind, |_| {});
        let key = traditional(&leaf.key_pem);
        let expected = match kind {
            KeyKind::Rsa2048 => "-----BEGIN RSA PRIVATE KEY-----",
            _ => "-----BEGIN EC PRIVATE KEY-----",
        };
        assert!(key.starts_with(expected), "{kind:?}: {key}");
        let tls = build(&pki.full_chain(&leaf), &key, None).unwrap();
        let mut server = tls_server(tls);
        assert_echo_works(&mut server, &pki, &clients);
        server.stop();
    }
}

#[test]
fn a_chain_in_both_inputs_is_sent_once() {
    // fullchain.pem in the certificate and the intermediate again in ca_chain: no duplicate.
    let pki = Pki::new();
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let doubled = format!("{}{}", pki.full_chain(&leaf), leaf.cert_pem);
    let tls = build(&doubled, &leaf.key_pem, Some(&pki.intermediate_pem())).unwrap();
    assert_eq!(tls.chain_len(), 2);
}

/// As over ws:// (tests/messages.rs): an idle wss:// connection waits on its socket without
/// tungstenite's buffers, and rustls's records cut anywhere still make whole messages.
#[test]
fn input_that_pauses_anywhere_arrives_whole_over_wss() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let mut server = start_with(|config| {
        config.tls = Some(pki.server_tls(&leaf));
        config.rest_after = QUICK_REST;
    });
    let (ws, _) = clients
        .run(connect_wss(server.local_addr(), pki.client(), "localhost"))
        .unwrap();
    // The server sends nothing after its 101 reply, so no byte is lost in the client's buffer.
    let mut tls = ws.into_inner();
    let (id, _) = connected(&mut server);
    assert_pausing_input_works(&mut server, id, &clients, &mut tls);
    server.stop();
}

#[test]
fn without_the_intermediate_a_verifying_client_refuses_and_the_server_says_why() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let mut server = tls_server(build(&leaf.cert_pem, &leaf.key_pem, None).unwrap());
    let err = clients
        .run(connect_wss(server.local_addr(), pki.client(), "localhost"))
        .map(|_| ())
        .expect_err("the client cannot verify the chain");
    // (Both test roots have the same name, so rustls finds the old one and its signature fails.)
    assert!(err.contains("invalid peer certificate"), "{err}");
    let reason = handshake_failed(&mut server, None);
    assert!(
        reason.contains("refused the server certificate"),
        "{reason}"
    );
    server.stop();
}

#[test]
fn a_client_using_another_name_refuses_the_certificate() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let mut server = tls_server(pki.server_tls(&leaf));
    let err = clients
        .run(connect_wss(
            server.local_addr(),
            pki.client(),
            "example.com",
        ))
        .map(|_| ())
        .expect_err("the name does not match");
    assert!(err.contains("not valid for name"), "{err}");
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("host name"), "{reason}");
    server.stop();
}

#[test]
fn many_tls_clients_at_once() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let mut server = tls_server(pki.server_tls(&leaf));
    let addr = server.local_addr();
    const N: usize = 20;
    let mut sockets = clients.run(async {
        let tasks: Vec<_> = (0..N)
            .map(|_| tokio::spawn(connect_wss(addr, pki.client(), "localhost")))
            .collect();
        let mut sockets = Vec::new();
        for task in tasks {
            sockets.push(task.await.unwrap().unwrap().0);
        }
        sockets
    });
    let ids: Vec<_> = (0..N).map(|_| connected(&mut server).0).collect();
    for id in &ids {
        server
            .peer_mut(*id)
            .unwrap()
            .put_packet(text("hi"))
            .unwrap();
    }
    clients.run(async {
        for ws in &mut sockets {
            assert_eq!(recv(ws).await, Message::text("hi"));
        }
    });
    // Stop: every client gets close 1001 over TLS.
    server.stop();
    clients.run(async {
        for ws in &mut sockets {
            match recv(ws).await {
                Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
                other => panic!("expected close 1001, got {other:?}"),
            }
        }
    });
}

#[test]
fn disconnect_peer_over_tls_ends_cleanly() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let mut server = tls_server(pki.server_tls(&leaf));
    let (mut ws, _) = clients
        .run(connect_wss(server.local_addr(), pki.client(), "localhost"))
        .unwrap();
    let (id, _) = connected(&mut server);
    server.peer_mut(id).unwrap().close(4000, "bye").unwrap();
    clients.run(async {
        match recv(&mut ws).await {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 4000);
                assert_eq!(frame.reason.as_str(), "bye");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        // The close reply goes out; the server then ends TLS properly: no error, just the end.
        loop {
            match ws.next().await {
                None => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the stream ended with an error: {e}"),
            }
        }
    });
    assert!(disconnected(&mut server, id));
    server.stop();
}

#[test]
fn a_replaced_certificate_serves_new_connections_and_connected_peers_stay() {
    let (old_pki, new_pki, clients) = (Pki::new(), Pki::new(), Clients::new());
    let old_leaf = old_pki.leaf(KeyKind::P256, |_| {});
    let mut server = tls_server(old_pki.server_tls(&old_leaf));
    let addr = server.local_addr();
    let (mut before, _) = clients
        .run(connect_wss(addr, old_pki.client(), "localhost"))
        .unwrap();
    let (id, _) = connected(&mut server);

    let new_leaf = new_pki.leaf(KeyKind::P256, |_| {});
    assert!(server.replace_tls(new_pki.server_tls(&new_leaf)));

    // The peer connected before goes on over its TLS session.
    clients.run(send_all(&mut before, [Message::text("still here")]));
    let packet = message(&mut server, id);
    assert_eq!(packet, text("still here"));
    server.peer(id).unwrap().put_packet(packet).unwrap();
    assert_eq!(clients.run(recv(&mut before)), Message::text("still here"));

    // A new client gets the new certificate: trusting only the old root, it refuses it.
    let err = clients
        .run(connect_wss(addr, old_pki.client(), "localhost"))
        .map(|_| ())
        .expect_err("the old root does not sign the new certificate");
    // (Both test roots have the same name, so rustls finds the old one and its signature fails.)
    assert!(err.contains("invalid peer certificate"), "{err}");
    handshake_failed(&mut server, None);
    let (after, _) = clients
        .run(connect_wss(addr, new_pki.client(), "localhost"))
        .unwrap();
    echo_once(
        &mut server,
        &clients,
        after,
        "served with the new certificate",
    );
    server.stop();
}

#[test]
fn a_plain_server_takes_no_tls_configuration() {
    let pki = Pki::new();
    let mut server = start();
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    assert!(!server.replace_tls(pki.server_tls(&leaf)));
    let clients = Clients::new();
    let (ws, _) = clients.run(connect(server.local_addr(), &[])).unwrap();
    echo_once(&mut server, &clients, ws, "still plain");
    server.stop();
}

// ---- what is wrong with the certificate or key ----

#[test]
fn a_key_that_does_not_match_is_refused() {
    let pki = Pki::new();
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let other = pki.leaf(KeyKind::P256, |_| {});
    let err = build_err(&pki.full_chain(&leaf), &other.key_pem, None);
    assert!(
        matches!(
            err,
            TlsError::KeyMismatch {
                belongs_to: None,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("private_key"), "{text}");
    assert!(text.contains("does not match"), "{text}");
    assert!(text.contains("CN=localhost"), "{text}");
    assert!(!err.is_unreadable());

    // An RSA key with an EC certificate: a mismatch too.
    let rsa = pki.leaf(KeyKind::Rsa2048, |_| {});
    let err = build_err(&leaf.cert_pem, &rsa.key_pem, None);
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
}

#[test]
fn a_chain_in_the_wrong_order_is_named() {
    let pki = Pki::new();
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let swapped = format!("{}{}", pki.intermediate_pem(), leaf.cert_pem);
    let err = build_err(&swapped, &leaf.key_pem, None);
    match &err {
        TlsError::KeyMismatch {
            belongs_to: Some((2, subject)),
            ..
        } => assert_eq!(subject, "CN=localhost"),
        other => panic!("expected a mismatch naming certificate #2, got {other:?}"),
    }
    assert!(err.to_string().contains("must come first"), "{err}");
}

#[test]
fn garbage_and_missing_sections_say_what_is_there() {
    let pki = Pki::new();
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let cases: Vec<(String, String, &str)> = vec![
        ("garbage".into(), leaf.key_pem.clone(), "not PEM text"),
        (String::new(), leaf.key_pem.clone(), "it is empty"),
        (
            leaf.key_pem.clone(),
            leaf.key_pem.clone(),
            "holds only a private key",
        ),
        (leaf.cert_pem.clone(), "garbage".into(), "not PEM text"),
        (
            leaf.cert_pem.clone(),
            leaf.cert_pem.clone(),
            "holds only a certificate",
        ),
        (
            leaf.cert_pem.clone(),
            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n".into(),
            "base64",
        ),
    ];
    for (cert, key, expected) in cases {
        let err = build_err(&cert, &key, None);
        assert!(err.is_unreadable(), "{err:?}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
    // Names which input is wrong.
    let err = build_err(&leaf.cert_pem, "garbage", None);
    assert!(err.to_string().starts_with("private_key: "), "{err}");
    let err = build_err(&leaf.cert_pem, &leaf.key_pem, Some("garbage"));
    assert!(err.to_string().starts_with("ca_chain: "), "{err}");

    // Binary DER instead of PEM (a certificate starts with a DER SEQUENCE).
    let err = TlsConfig::from_pem(
        &Pem::new("ssl_certificate", vec![0x30, 0x82, 0x01, 0x00, 0x30]),
        &Pem::new("private_key", leaf.key_pem.clone()),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("DER"), "{err}");

    // An encrypted key.
    let encrypted = encrypted(&leaf.key_pem, "secret");
    let err = build_err(&leaf.cert_pem, &encrypted, None);
    assert!(err.to_string().contains("passphrase"), "{err}");
}

#[test]
fn an_unsupported_key_is_named() {
    let pki = Pki::new();
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let p521 = generate_key(KeyKind::P521);
    let err = build_err(&leaf.cert_pem, &p521, None);
    match &err {
        TlsError::UnsupportedKey { kind, .. } => assert_eq!(*kind, "PKCS#8"),
        other => panic!("expected UnsupportedKey, got {other:?}"),
    }
    assert!(err.to_string().contains("P-256"), "{err}");
}

#[test]
fn an_expired_certificate_is_refused() {
    let pki = Pki::new();
    let leaf = pki.leaf(KeyKind::P256, |params| {
        params.not_before = date_time_ymd(2001, 1, 1);
        params.not_after = date_time_ymd(2002, 1, 1);
    });
    let err = build_err(&pki.full_chain(&leaf), &leaf.key_pem, None);
    assert!(matches!(err, TlsError::Expired { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("expired on Jan  1 00:00:00 2002"), "{text}");
    assert!(text.contains("CN=localhost"), "{text}");
}

#[test]
fn not_yet_valid_and_expired_intermediates_are_warnings() {
    let pki = Pki::new();
    let leaf = pki.leaf(KeyKind::P256, |params| {
        params.not_before = date_time_ymd(4000, 1, 1);
    });
    let tls = build(&pki.full_chain(&leaf), &leaf.key_pem, None).unwrap();
    assert_eq!(tls.warnings().len(), 1, "{:?}", tls.warnings());
    assert!(
        tls.warnings()[0].contains("not valid before"),
        "{:?}",
        tls.warnings()
    );

    let old = pki.other_intermediate(|params| {
        params.not_before = date_time_ymd(2001, 1, 1);
        params.not_after = date_time_ymd(2002, 1, 1);
    });
    let leaf = pki.leaf_signed_by(&old, KeyKind::P256, |_| {});
    let tls = build(&leaf.cert_pem, &leaf.key_pem, Some(&old.pem())).unwrap();
    assert_eq!(tls.warnings().len(), 1, "{:?}", tls.warnings());
    assert!(
        tls.warnings()[0].starts_with("ca_chain: "),
        "{:?}",
        tls.warnings()
    );
    assert!(
        tls.warnings()[0].contains("expired"),
        "{:?}",
        tls.warnings()
    );
}

// ---- timeouts and the wrong kind of client ----

#[test]
fn a_client_stalling_mid_tls_is_dropped_at_the_handshake_timeout() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let timeout = Duration::from_secs(1);
    let mut server = tls_server_with_timeout(&pki, timeout);
    let addr = server.local_addr();
    let elapsed = clients.run(async {
        // Before the connect, so before the server's clock starts (at its accept).
        let started = Instant::now();
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        // A TLS record header announcing a 512-byte ClientHello, then only part of it.
        tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])
            .await
            .unwrap();
        read_until_closed(&mut tcp).await;
        started.elapsed()
    });
    assert_ended_at_timeout(elapsed, timeout);
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("handshake_timeout"), "{reason}");
    server.stop();
}

#[test]
fn the_timeout_covers_tls_and_the_upgrade_together() {
    // The client waits half the timeout before its ClientHello, completes TLS, then sends no
    // HTTP request: the same deadline, counted from the TCP accept, ends it.
    let (pki, clients) = (Pki::new(), Clients::new());
    let timeout = Duration::from_secs(2);
    let pause = timeout / 2;
    let mut server = tls_server_with_timeout(&pki, timeout);
    let addr = server.local_addr();
    let (tls_time, total) = clients.run(async {
        // Before the connect, so before the server's clock starts (at its accept).
        let started = Instant::now();
        let tcp = TcpStream::connect(addr).await.unwrap();
        // The client's own pacing: the server's TLS handshake lasts at least this long.
        tokio::time::sleep(pause).await;
        let mut tls = tls_over(tcp, pki.client(), "localhost")
            .await
            .expect("TLS completes within the rest of the handshake timeout");
        let tls_time = started.elapsed();
        let mut buf = [0u8; 64];
        // close_notify then EOF, or a reset: either way the read ends.
        while let Ok(n) = tls.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
        (tls_time, started.elapsed())
    });
    assert!(tls_time >= pause, "TLS took {tls_time:?}");
    assert!(total >= timeout, "dropped before the timeout: {total:?}");
    // A deadline restarted once the server's TLS handshake ends (after the client's, which sends
    // the last Finished in TLS 1.3) would drop it after `tls_time + timeout`.
    assert!(
        total < tls_time + timeout,
        "the deadline must count from the accept, not restart after TLS: dropped after \
         {total:?}, TLS done after {tls_time:?}"
    );
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("handshake_timeout"), "{reason}");
    server.stop();
}

#[test]
fn a_plain_client_on_the_tls_port_is_told_to_use_wss() {
    let (pki, clients) = (Pki::new(), Clients::new());
    // A long timeout: a prompt answer shows the client was refused, not timed out.
    let mut server = tls_server_with_timeout(&pki, Duration::from_secs(20));
    let started = Instant::now();
    match clients.run(connect(server.local_addr(), &[])) {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
            assert!(body.contains("use wss://"), "{body}");
        }
        other => panic!("expected HTTP 400, got {:?}", other.map(|_| ())),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("plain (ws://"), "{reason}");

    // Non-HTTP, non-TLS bytes: rustls refuses them.
    clients.run(async {
        let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
        tcp.write_all(&[0x00, 0x01, 0x02, 0x03, 0x04, 0x05])
            .await
            .unwrap();
        read_until_closed(&mut tcp).await;
    });
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("TLS handshake failed"), "{reason}");

    // The server is unharmed.
    assert_echo_works(&mut server, &pki, &clients);
    server.stop();
}

#[test]
fn a_tls_client_on_a_plain_port_fails_at_once() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let mut server = start_with(|config| config.handshake_timeout = Duration::from_secs(20));
    let started = Instant::now();
    let err = clients
        .run(connect_wss(server.local_addr(), pki.client(), "localhost"))
        .map(|_| ())
        .expect_err("a plain server cannot speak TLS");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.contains("HandshakeFailure"), "{err}");
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("TLS (wss://) client"), "{reason}");
    // Plain clients still work.
    clients.connect(server.local_addr());
    connected(&mut server);
    server.stop();
}

#[test]
fn a_self_signed_ca_as_server_certificate_is_a_warning() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let tls = build(&cert.pem(), &key.serialize_pem(), None).unwrap();
    assert_eq!(tls.warnings().len(), 1, "{:?}", tls.warnings());
    assert!(
        tls.warnings()[0].contains("self-signed CA"),
        "{:?}",
        tls.warnings()
    );
}
