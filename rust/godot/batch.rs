//! Ours, beyond the stock class: many messages per call (`batch_receive`, `get_packets()`,
//! `put_packets()`). A handler per message costs the main thread a signal and four script calls;
//! a batch costs two calls a frame and an Array entry a message.

use bytes::Bytes;
use gdnative::core_types::GodotError;
use gdnative::prelude::*;

use super::args::Int;
use super::errors::{describe_send_error, send_error_code};
use super::log;
use super::pool;
use super::state::ServerState;
use gdws_engine::{Packet, PeerId, SendError, Server};

const GET_PACKETS: &str = "WebSocketServer.get_packets";
const PUT_PACKETS: &str = "WebSocketServer.put_packets";

/// `get_packets()`: every message held since the last call, `[id, packet, was_string]` each, in
/// arrival order. Empty, with an error printed, when messages are not held (`batch_receive` off,
/// or multiplayer mode); empty when not listening.
pub(crate) fn get_packets(state: &ServerState) -> VariantArray {
    let taken = state.engine().with_mut(|server| {
        let config = server.config();
        if config.multiplayer {
            Err("batch_receive has no effect in multiplayer mode: MultiplayerAPI reads the packets")
        } else if !config.batch_receive {
            Err(
                "batch_receive is off, so each message comes with data_received; set \
                 batch_receive = true before listen() to take them here",
            )
        } else {
            Ok(server.take_messages())
        }
    });
    let messages = VariantArray::new();
    match taken {
        Some(Ok(taken)) => {
            // Sized once, then filled: pushing grows Godot's array step by step.
            messages.resize(taken.len() as i32);
            for (index, (id, packet)) in taken.into_iter().enumerate() {
                messages.set(index as i32, entry(id, &packet));
            }
        }
        Some(Err(why)) => log::error(GET_PACKETS, why),
        None => {}
    }
    messages.into_shared()
}

/// `[id, packet: PoolByteArray, was_string: bool]`.
fn entry(id: PeerId, packet: &Packet) -> VariantArray {
    let entry = VariantArray::new();
    entry.resize(3);
    entry.set(0, i64::from(id));
    entry.set(1, pool::from_slice(&packet.data));
    entry.set(2, packet.is_text);
    entry.into_shared()
}

/// `put_packets(messages)`: sends each `[id, packet, was_string]` entry in order, every
/// connection's share written at once after the call. An entry that is malformed or cannot be
/// sent is skipped with an error naming it (a peer that is leaving is skipped silently, as
/// `put_packet` does); the others are sent all the same. Returns the error of the first entry
/// skipped.
pub(crate) fn put_packets(state: &ServerState, messages: &VariantArray) -> Result<(), GodotError> {
    if messages.is_empty() {
        return Ok(());
    }
    let sent = state.engine().with(|server| {
        let _held_wakes = server.hold_wakes();
        let mut first_error = Ok(());
        for (index, message) in messages.iter().enumerate() {
            if let Err(e) = put_entry(server, index, &message) {
                first_error = first_error.and(Err(e));
            }
        }
        first_error
    });
    sent.unwrap_or_else(|| {
        log::error(PUT_PACKETS, "the server is not listening; nothing was sent");
        Err(GodotError::Unconfigured)
    })
}

fn put_entry(server: &Server, index: usize, message: &Variant) -> Result<(), GodotError> {
    let (id, packet) = parse_entry(message).map_err(|why| {
        log::error(
            PUT_PACKETS,
            format!(
                "entry {index}: {why}; each entry is [id, packet: PoolByteArray, was_string: bool]"
            ),
        );
        GodotError::InvalidParameter
    })?;
    let Some(peer) = PeerId::try_from(id).ok().and_then(|id| server.peer(id)) else {
        log::error(PUT_PACKETS, format!("entry {index}: no peer with id {id}"));
        return Err(GodotError::Failed);
    };
    peer.put_packet(packet).map_err(|e| {
        // As put_packet: a peer that is leaving refuses quietly.
        if e != SendError::NotConnected {
            log::error(
                PUT_PACKETS,
                format!("entry {index}: peer {id}: {}", describe_send_error(&e)),
            );
        }
        send_error_code(&e)
    })
}

/// The peer id and the packet of an entry, or what is wrong with it.
fn parse_entry(message: &Variant) -> Result<(i64, Packet), String> {
    let entry = message
        .try_to::<VariantArray>()
        .map_err(|_| format!("the entry must be an Array, not {}", type_name(message)))?;
    if entry.len() != 3 {
        return Err(format!(
            "the entry must have 3 elements, not {}",
            entry.len()
        ));
    }
    let (id, data, is_text) = (entry.get(0), entry.get(1), entry.get(2));
    let id = Int::from_variant(&id)
        .map_err(|_| format!("the id must be an int, not {}", type_name(&id)))?;
    let data = data.try_to::<PoolArray<u8>>().map_err(|_| {
        format!(
            "the packet must be a PoolByteArray, not {}",
            type_name(&data)
        )
    })?;
    let is_text = is_text
        .try_to::<bool>()
        .map_err(|_| format!("was_string must be a bool, not {}", type_name(&is_text)))?;
    let data = pool::read(&data, Bytes::copy_from_slice);
    Ok((id.get(), Packet { data, is_text }))
}

/// The type of `value` as Godot names it (`Variant::get_type_name`), for the game's log.
fn type_name(value: &Variant) -> &'static str {
    // In the order of Godot 3's Variant::Type, which VariantType's values are.
    const NAMES: [&str; 27] = [
        "Nil",
        "bool",
        "int",
        "float",
        "String",
        "Vector2",
        "Rect2",
        "Vector3",
        "Transform2D",
        "Plane",
        "Quat",
        "AABB",
        "Basis",
        "Transform",
        "Color",
        "NodePath",
        "RID",
        "Object",
        "Dictionary",
        "Array",
        "PoolByteArray",
        "PoolIntArray",
        "PoolRealArray",
        "PoolStringArray",
        "PoolVector2Array",
        "PoolVector3Array",
        "PoolColorArray",
    ];
    NAMES
        .get(value.get_type() as usize)
        .copied()
        .unwrap_or("value")
}
