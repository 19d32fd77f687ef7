//! Godot 3's high-level multiplayer protocol over WebSocket (`gd_mp_api = true`): every packet
//! is one binary message with a 9-byte header (type, from, to; little-endian i32s). Pure code:
//! encoding, decoding and the delivery rules, on bytes.

use bytes::{BufMut, Bytes, BytesMut};

use crate::packet::PeerId;

/// Header size: type (1) + from (4) + to (4).
pub const HEADER_SIZE: usize = 9;
/// The server's peer id.
pub const SERVER_ID: PeerId = 1;
/// A system message's size: the header and a peer id.
pub const SYSTEM_MESSAGE_SIZE: usize = HEADER_SIZE + 4;

/// The packet types of the header's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PacketType {
    /// A game packet.
    Data = 0,
    /// `SysAdd(id)`: peer `id` joined (or is already there).
    SysAdd = 1,
    /// `SysDel(id)`: peer `id` left.
    SysDel = 2,
    /// `SysId(id)`: your id is `id`.
    SysId = 3,
}

/// A decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    pub from: PeerId,
    pub to: PeerId,
}

impl Header {
    /// The header of `packet`, or None when it is shorter than a header.
    pub fn parse(packet: &[u8]) -> Option<Self> {
        let bytes: &[u8; HEADER_SIZE] = packet.get(..HEADER_SIZE)?.try_into().ok()?;
        Some(Self {
            kind: bytes[0],
            from: i32::from_le_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]),
            to: i32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]),
        })
    }
}

/// A game packet from `from` to `to` (0 all, 1 server, < 0 all but -to, > 1 one peer).
pub fn encode_data(from: PeerId, to: PeerId, payload: &[u8]) -> Bytes {
    let mut packet = BytesMut::with_capacity(HEADER_SIZE + payload.len());
    put_header(&mut packet, PacketType::Data, from, to);
    packet.put_slice(payload);
    packet.freeze()
}

/// A system message from the server: 13 bytes, from = 1, to = 0, then the peer id.
pub fn encode_system(kind: PacketType, id: PeerId) -> Bytes {
    let mut packet = BytesMut::with_capacity(SYSTEM_MESSAGE_SIZE);
    put_header(&mut packet, kind, SERVER_ID, 0);
    packet.put_i32_le(id);
    packet.freeze()
}

fn put_header(packet: &mut BytesMut, kind: PacketType, from: PeerId, to: PeerId) {
    packet.put_u8(kind as u8);
    packet.put_i32_le(from);
    packet.put_i32_le(to);
}

/// Where a client's packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The server's game gets it (from `poll()`).
    pub to_server: bool,
    /// Which other clients get the packet, unchanged.
    pub relay: Relay,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relay {
    None,
    /// Every client but the sender.
    AllBut {
        sender: PeerId,
    },
    /// Every client but the sender and `excluded`.
    AllButTwo {
        sender: PeerId,
        excluded: PeerId,
    },
    One(PeerId),
}

impl Relay {
    /// Whether client `id` is a destination.
    pub fn includes(&self, id: PeerId) -> bool {
        match *self {
            Relay::None => false,
            Relay::AllBut { sender } => id != sender,
            Relay::AllButTwo { sender, excluded } => id != sender && id != excluded,
            Relay::One(target) => id == target,
        }
    }
}

impl Relay {
    /// The clients a packet from the server to `to` reaches: 0 every client, < 0 every client
    /// but `-to`, > 0 that client (1, the server itself, is no client: an unknown target).
    pub fn from_server(to: PeerId) -> Self {
        match to {
            0 => Relay::AllBut { sender: SERVER_ID },
            to if to < 0 => Relay::AllButTwo {
                sender: SERVER_ID,
                excluded: to.checked_neg().unwrap_or(0),
            },
            to => Relay::One(to),
        }
    }
}

/// Why a client's packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Shorter than the header.
    TooShort,
    /// A SYS_* message: only the server sends those.
    SystemFromClient(u8),
    /// The header's `from` is not the sender's id.
    SpoofedSender { claimed: PeerId },
    /// Addressed to the sender itself.
    ToSelf,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooShort => write!(f, "a packet shorter than the {HEADER_SIZE}-byte header"),
            Self::SystemFromClient(kind) => {
                write!(f, "a system message (type {kind}) only the server may send")
            }
            Self::SpoofedSender { claimed } => {
                write!(f, "a packet claiming to come from peer {claimed}")
            }
            Self::ToSelf => write!(f, "a packet addressed to itself"),
        }
    }
}

impl std::error::Error for Rejection {}

/// The delivery rules for a packet that client `sender` sent, as the stock server applies
/// them: only game packets with the sender's own id pass; `to` = 1 goes to the server, 0 to the
/// server and every other client, < 0 to the server and every client but the sender and
/// `-to`, > 1 to that client only.
pub fn route(sender: PeerId, packet: &[u8]) -> Result<(Header, Delivery), Rejection> {
    let header = Header::parse(packet).ok_or(Rejection::TooShort)?;
    if header.kind != PacketType::Data as u8 {
        return Err(Rejection::SystemFromClient(header.kind));
    }
    if header.from != sender {
        return Err(Rejection::SpoofedSender {
            claimed: header.from,
        });
    }
    let delivery = match header.to {
        SERVER_ID => Delivery {
            to_server: true,
            relay: Relay::None,
        },
        0 => Delivery {
            to_server: true,
            relay: Relay::AllBut { sender },
        },
        to if to < 0 => Delivery {
            to_server: true,
            relay: Relay::AllButTwo {
                sender,
                excluded: to.checked_neg().unwrap_or(0),
            },
        },
        to if to == sender => return Err(Rejection::ToSelf),
        to => Delivery {
            to_server: false,
            relay: Relay::One(to),
        },
    };
    Ok((header, delivery))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_packets_round_trip_through_the_header() {
        let packet = encode_data(7, -3, b"hi");
        assert_eq!(packet.len(), HEADER_SIZE + 2);
        assert_eq!(
            &packet[..],
            &[0, 7, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff, b'h', b'i']
        );
        let header = Header::parse(&packet).unwrap();
        assert_eq!(
            header,
            Header {
                kind: 0,
                from: 7,
                to: -3
            }
        );
    }

    #[test]
    fn system_messages_are_thirteen_bytes_from_the_server_to_all() {
        let packet = encode_system(PacketType::SysId, 0x0102_0304);
        assert_eq!(&packet[..], &[3, 1, 0, 0, 0, 0, 0, 0, 0, 4, 3, 2, 1]);
        assert_eq!(encode_system(PacketType::SysAdd, 1)[0], 1);
        assert_eq!(encode_system(PacketType::SysDel, 1)[0], 2);
    }

    #[test]
    fn short_packets_have_no_header() {
        assert_eq!(Header::parse(&[0; 8]), None);
        assert_eq!(route(5, &[0; 8]), Err(Rejection::TooShort));
    }

    #[test]
    fn to_server_stays_on_the_server() {
        let (_, delivery) = route(5, &encode_data(5, 1, b"x")).unwrap();
        assert!(delivery.to_server);
        assert_eq!(delivery.relay, Relay::None);
    }

    #[test]
    fn broadcast_reaches_the_server_and_every_other_client() {
        let (_, delivery) = route(5, &encode_data(5, 0, b"x")).unwrap();
        assert!(delivery.to_server);
        assert!(!delivery.relay.includes(5));
        assert!(delivery.relay.includes(6));
    }

    #[test]
    fn all_but_excludes_the_sender_and_the_named_peer_and_still_reaches_the_server() {
        let (_, delivery) = route(5, &encode_data(5, -6, b"x")).unwrap();
        assert!(delivery.to_server);
        assert!(!delivery.relay.includes(5));
        assert!(!delivery.relay.includes(6));
        assert!(delivery.relay.includes(7));
    }

    #[test]
    fn a_single_target_gets_it_alone() {
        let (_, delivery) = route(5, &encode_data(5, 9, b"x")).unwrap();
        assert!(!delivery.to_server);
        assert_eq!(delivery.relay, Relay::One(9));
        assert!(!delivery.relay.includes(7));
    }

    #[test]
    fn spoofing_system_messages_and_self_addressing_are_rejected() {
        assert_eq!(
            route(5, &encode_data(6, 1, b"x")),
            Err(Rejection::SpoofedSender { claimed: 6 })
        );
        assert_eq!(
            route(5, &encode_system(PacketType::SysAdd, 5)),
            Err(Rejection::SystemFromClient(1))
        );
        assert_eq!(route(5, &encode_data(5, 5, b"x")), Err(Rejection::ToSelf));
    }

    #[test]
    fn the_server_s_targets_reach_all_all_but_one_or_one_client() {
        let all = Relay::from_server(0);
        assert!(all.includes(2) && all.includes(i32::MAX) && !all.includes(SERVER_ID));
        let all_but_5 = Relay::from_server(-5);
        assert!(all_but_5.includes(2) && !all_but_5.includes(5) && !all_but_5.includes(SERVER_ID));
        assert_eq!(Relay::from_server(7), Relay::One(7));
        assert_eq!(Relay::from_server(SERVER_ID), Relay::One(SERVER_ID));
        assert!(Relay::from_server(i32::MIN).includes(2));
    }

    #[test]
    fn i32_min_as_target_does_not_overflow() {
        let (_, delivery) = route(5, &encode_data(5, i32::MIN, b"x")).unwrap();
        assert!(delivery.relay.includes(7));
    }

    #[test]
    fn random_bytes_never_panic_and_only_valid_data_packets_route() {
        // A fixed-seed generator keeps the run reproducible.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let mut packet: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= HEADER_SIZE && next() % 2 == 0 {
                packet[0] = 0;
                packet[1..5].copy_from_slice(&42i32.to_le_bytes());
            }
            if let Ok((header, _)) = route(42, &packet) {
                assert_eq!(header.kind, 0);
                assert_eq!(header.from, 42);
                assert_ne!(header.to, 42);
            }
        }
    }
}
