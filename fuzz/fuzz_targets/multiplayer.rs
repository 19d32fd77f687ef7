//! The multiplayer header codec and relay rules on any packet from any sender: a packet is
//! either rejected or routed exactly as the stock server would, and the codec round-trips.
//!
//! Input: the first 4 bytes are the sender's id (little-endian, mapped into 2..=i32::MAX), the
//! rest is the packet it sent.

#![no_main]

use gdws_engine::proto::multiplayer::{
    encode_data, encode_system, route, Header, PacketType, Relay, HEADER_SIZE, SERVER_ID,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((id, packet)) = data.split_first_chunk::<4>() else {
        return;
    };
    let sender = (i32::from_le_bytes(*id) & i32::MAX).max(2);

    let header = Header::parse(packet);
    assert_eq!(header.is_some(), packet.len() >= HEADER_SIZE);
    if let Some(header) = header {
        // The codec round-trips what it parsed.
        let encoded = encode_data(header.from, header.to, &packet[HEADER_SIZE..]);
        if header.kind == PacketType::Data as u8 {
            assert_eq!(&encoded[..], packet);
        }
        assert_eq!(
            Header::parse(&encoded).map(|h| (h.from, h.to)),
            Some((header.from, header.to))
        );
        let system = encode_system(PacketType::SysAdd, header.to);
        assert_eq!(system.len(), HEADER_SIZE + 4);
        assert_eq!(Header::parse(&system).map(|h| h.from), Some(SERVER_ID));
    }

    let Ok((header, delivery)) = route(sender, packet) else {
        return;
    };
    assert_eq!(header.kind, PacketType::Data as u8);
    assert_eq!(header.from, sender);
    assert_ne!(header.to, sender);
    // A client never gets its own packet back.
    assert!(!delivery.relay.includes(sender));
    let other = if sender == i32::MAX { 2 } else { sender + 1 };
    match header.to {
        SERVER_ID => assert_eq!((delivery.to_server, delivery.relay), (true, Relay::None)),
        0 => {
            assert!(delivery.to_server);
            assert!(delivery.relay.includes(other));
        }
        to if to < 0 => {
            assert!(delivery.to_server);
            if let Some(excluded) = to.checked_neg() {
                assert!(!delivery.relay.includes(excluded));
            }
        }
        to => {
            assert!(!delivery.to_server);
            assert_eq!(delivery.relay, Relay::One(to));
        }
    }
});
