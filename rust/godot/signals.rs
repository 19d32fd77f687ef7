//! WebSocketServer's signals: each one's name and parameters written once, declared and emitted.

use gdnative::export::NativeClass;
use gdnative::prelude::*;

use super::log;
use gdws_engine::{ClientRequest, ServerEvent, WarningBudget};

/// A signal the server emits, with `N` parameters: `emit` takes exactly that many arguments.
struct Signal<const N: usize> {
    name: &'static str,
    params: [(&'static str, VariantType); N],
}

impl<const N: usize> Signal<N> {
    fn declare<C: NativeClass>(&self, builder: &ClassBuilder<C>) {
        let mut signal = builder.signal(self.name);
        for (name, variant_type) in self.params {
            signal = signal.with_param(name, variant_type);
        }
        signal.done();
    }

    fn emit(&self, owner: &Object, args: [Variant; N]) {
        owner.emit_signal(self.name, &args);
    }

    /// `emit` with the name made beforehand (see `MessageSignals`).
    fn emit_named(&self, owner: &Object, name: &GodotString, args: [Variant; N]) {
        owner.emit_signal(name.clone(), &args);
    }
}

/// The names of the signals emitted for every message, made once per server: `emit_signal`
/// takes a Godot String, and one made from a `&str` for every message (an allocation and a
/// UTF-8 decode) adds up, where a copy only counts a reference. The other signals are rare.
pub(crate) struct MessageSignals {
    data_received: GodotString,
    peer_packet: GodotString,
}

impl MessageSignals {
    pub fn new() -> Self {
        Self {
            data_received: DATA_RECEIVED.name.into(),
            peer_packet: PEER_PACKET.name.into(),
        }
    }
}

const INT: VariantType = VariantType::I64;

// The stock WebSocketServer's signals.
const CLIENT_CONNECTED: Signal<2> = Signal {
    name: "client_connected",
    params: [("id", INT), ("protocol", VariantType::GodotString)],
};
const CLIENT_DISCONNECTED: Signal<2> = Signal {
    name: "client_disconnected",
    params: [("id", INT), ("was_clean_close", VariantType::Bool)],
};
const CLIENT_CLOSE_REQUEST: Signal<3> = Signal {
    name: "client_close_request",
    params: [
        ("id", INT),
        ("code", INT),
        ("reason", VariantType::GodotString),
    ],
};
const DATA_RECEIVED: Signal<1> = Signal {
    name: "data_received",
    params: [("id", INT)],
};
// Ours: a request held for the game's verdict (`verify_clients`), in both modes.
const CLIENT_VERIFY_REQUEST: Signal<3> = Signal {
    name: "client_verify_request",
    params: [
        ("id", INT),
        ("path", VariantType::GodotString),
        ("headers", VariantType::Dictionary),
    ],
};
// WebSocketMultiplayerPeer's.
const PEER_PACKET: Signal<1> = Signal {
    name: "peer_packet",
    params: [("peer_source", INT)],
};
// Inherited from NetworkedMultiplayerPeer: Godot declares them, we only emit them.
const PEER_CONNECTED: Signal<1> = Signal {
    name: "peer_connected",
    params: [("id", INT)],
};
const PEER_DISCONNECTED: Signal<1> = Signal {
    name: "peer_disconnected",
    params: [("id", INT)],
};

/// Declares the signals the server's class adds to what it inherits.
pub(crate) fn declare<C: NativeClass>(builder: &ClassBuilder<C>) {
    CLIENT_CONNECTED.declare(builder);
    CLIENT_DISCONNECTED.declare(builder);
    CLIENT_CLOSE_REQUEST.declare(builder);
    DATA_RECEIVED.declare(builder);
    CLIENT_VERIFY_REQUEST.declare(builder);
    PEER_PACKET.declare(builder);
}

/// The signal for `event`: as a multiplayer peer the server speaks to MultiplayerAPI
/// (`peer_connected`, `peer_packet`, `peer_disconnected`) instead of `client_*` and
/// `data_received`; `client_close_request` fires in both modes, like the stock class.
/// Warnings, refused handshakes and the count of those held back are printed instead.
pub(crate) fn emit(owner: &Object, names: &MessageSignals, event: ServerEvent, multiplayer: bool) {
    match event {
        ServerEvent::Connected { id, .. } if multiplayer => {
            PEER_CONNECTED.emit(owner, [id.to_variant()]);
        }
        ServerEvent::Message { id } if multiplayer => {
            PEER_PACKET.emit_named(owner, &names.peer_packet, [id.to_variant()]);
        }
        ServerEvent::Disconnected { id, .. } if multiplayer => {
            PEER_DISCONNECTED.emit(owner, [id.to_variant()]);
        }
        ServerEvent::Connected { id, protocol } => {
            CLIENT_CONNECTED.emit(owner, [id.to_variant(), protocol.to_variant()]);
        }
        ServerEvent::Message { id } => {
            DATA_RECEIVED.emit_named(owner, &names.data_received, [id.to_variant()]);
        }
        ServerEvent::CloseRequest { id, code, reason } => {
            CLIENT_CLOSE_REQUEST.emit(
                owner,
                [id.to_variant(), code.to_variant(), reason.to_variant()],
            );
        }
        ServerEvent::Disconnected { id, was_clean } => {
            CLIENT_DISCONNECTED.emit(owner, [id.to_variant(), was_clean.to_variant()]);
        }
        ServerEvent::VerifyRequest { id, request } => {
            let headers = headers_dictionary(&request);
            CLIENT_VERIFY_REQUEST.emit(
                owner,
                [
                    id.to_variant(),
                    request.path().to_variant(),
                    headers.to_variant(),
                ],
            );
        }
        ServerEvent::Warning { message, .. } => {
            // The engine's message starts with "peer <id>".
            log::warn("WebSocketServer.poll", message);
        }
        ServerEvent::HandshakeFailed { address, reason } => {
            log::warn(
                "WebSocketServer.poll",
                format!("connection from {address} refused: {reason}"),
            );
        }
        ServerEvent::WarningsSuppressed { count } => {
            log::warn("WebSocketServer.poll", suppressed_warnings(count));
        }
    }
}

/// The request's headers as a Dictionary: lower-case names, repeated headers joined with ", ".
pub(crate) fn headers_dictionary(request: &ClientRequest) -> Dictionary {
    let headers = Dictionary::new();
    for (name, value) in request.headers() {
        headers.insert(name, value);
    }
    headers.into_shared()
}

/// The notice of warnings the engine held back (the Godot class runs with the default budget).
fn suppressed_warnings(count: u64) -> String {
    let WarningBudget {
        per_second,
        burst,
        waiting,
    } = WarningBudget::DEFAULT;
    format!(
        "{count} more warnings and refused connections were not printed (the server prints \
         {burst} at once, then {per_second} a second, and holds {waiting} until poll())"
    )
}
