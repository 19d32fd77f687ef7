//! `WebSocketPeer`: the NativeScript class `WebSocketServer.get_peer(id)` returns.

use std::cell::{self, Cell, RefCell};
use std::rc::{Rc, Weak};

use bytes::Bytes;
use gdnative::api::PacketPeerGDNative;
use gdnative::core_types::GodotError;
use gdnative::export::user_data::LocalCellData;
use gdnative::prelude::*;
use gdnative::sys;

use super::args::Int;
use super::engine_server::EngineServer;
use super::errors::{describe_send_error, send_error_code};
use super::ffi::{Binding, PacketPeerImpl};
use super::log;
use super::pool;
use gdws_engine::{Packet, Peer, PeerId, SendError};

/// WebSocketPeer.WriteMode
const WRITE_MODE_TEXT: i64 = 0;
const WRITE_MODE_BINARY: i64 = 1;

/// A PacketPeer (put_packet, get_packet, put_var, get_var... through the net interface) plus
/// the stock WebSocketPeer methods. It outlives its connection harmlessly: then it reports
/// "not connected".
#[derive(NativeClass)]
#[inherit(PacketPeerGDNative)]
#[user_data(LocalCellData<WebSocketPeer>)]
pub struct WebSocketPeer {
    binding: Binding<sys::godot_net_packet_peer, PeerLink>,
}

/// Which server peer this object speaks for, and its PacketPeer state.
#[derive(Default)]
pub(crate) struct PeerLink {
    server: RefCell<Weak<EngineServer>>,
    id: Cell<PeerId>,
    write_mode: Cell<i64>,
    was_string: Cell<bool>,
    /// The packet last returned by `get_packet`: Godot reads it after the call returns.
    current: RefCell<Bytes>,
}

impl PeerLink {
    /// Runs `f` on the engine peer, or prints why not (naming `call`).
    fn with_peer<R>(&self, call: &str, f: impl FnOnce(&mut Peer) -> R) -> Option<R> {
        let result = self.query(f);
        if result.is_none() {
            log::error(
                &format!("WebSocketPeer.{call}"),
                format!("peer {} is not connected", self.id.get()),
            );
        }
        result
    }

    /// Like `with_peer`, silent: for queries whose default answer is the truth.
    fn query<R>(&self, f: impl FnOnce(&mut Peer) -> R) -> Option<R> {
        let server = self.server.borrow().upgrade()?;
        server.find_peer(self.id.get().into(), f)
    }
}

impl PacketPeerImpl for PeerLink {
    fn get_packet(&self) -> Result<cell::Ref<'_, Bytes>, GodotError> {
        let packet = self
            .with_peer("get_packet", Peer::get_packet)
            .ok_or(GodotError::Failed)?
            .ok_or(GodotError::Unavailable)?;
        self.was_string.set(packet.is_text);
        // Kept until the next call, as the trait asks.
        *self.current.borrow_mut() = packet.data;
        Ok(self.current.borrow())
    }

    fn put_packet(&self, data: &[u8]) -> Result<(), GodotError> {
        let packet = Packet {
            data: Bytes::copy_from_slice(data),
            is_text: self.write_mode.get() == WRITE_MODE_TEXT,
        };
        let id = self.id.get();
        self.with_peer("put_packet", |peer| peer.put_packet(packet))
            .ok_or(GodotError::Failed)?
            .map_err(|e| {
                // A peer that is leaving (the game hears of it at the next poll) refuses
                // quietly: the game did nothing wrong.
                if e != SendError::NotConnected {
                    log::error(
                        "WebSocketPeer.put_packet",
                        format!("peer {id}: {}", describe_send_error(&e)),
                    );
                }
                send_error_code(&e)
            })
    }

    fn available_packet_count(&self) -> i64 {
        self.query(|peer| peer.available_packets() as i64)
            .unwrap_or(0)
    }

    fn max_packet_size(&self) -> i64 {
        self.server
            .borrow()
            .upgrade()
            .map_or(0, |server| server.max_packet_size())
    }
}

#[methods]
impl WebSocketPeer {
    fn new(base: &PacketPeerGDNative) -> Self {
        let link = Rc::new(PeerLink {
            write_mode: Cell::new(WRITE_MODE_BINARY),
            ..PeerLink::default()
        });
        Self {
            binding: Binding::bind_packet_peer(base, link),
        }
    }

    /// A new object speaking for peer `id` of `server`.
    pub(crate) fn attached(server: Weak<EngineServer>, id: PeerId) -> Instance<Self, Shared> {
        let instance = Self::new_instance();
        let _ = instance.map(|peer, _| {
            let link = peer.binding.state();
            *link.server.borrow_mut() = server;
            link.id.set(id);
        });
        instance.into_shared()
    }

    fn link(&self) -> &PeerLink {
        self.binding.state()
    }

    /// Shadows `PacketPeer.put_packet` for calls from scripts, which look up a script's method
    /// first: the engine's own returns OK for an empty PoolByteArray without passing it on
    /// (`PacketPeer::_put_packet`), so an empty message would never be sent. Every packet goes
    /// straight to the callback the engine's path ends in (`put_var` still takes that path).
    #[method]
    fn put_packet(&self, buffer: PoolArray<u8>) -> i64 {
        pool::read(&buffer, |data| self.binding.put_packet(data))
    }

    #[method]
    fn get_write_mode(&self) -> i64 {
        self.link().write_mode.get()
    }

    #[method]
    fn set_write_mode(&self, mode: Int) {
        let mode = mode.0;
        if mode != WRITE_MODE_TEXT && mode != WRITE_MODE_BINARY {
            log::error(
                "WebSocketPeer.set_write_mode",
                format!(
                    "peer {}: {mode} is not WRITE_MODE_TEXT (0) or WRITE_MODE_BINARY (1)",
                    self.link().id.get()
                ),
            );
            return;
        }
        self.link().write_mode.set(mode);
    }

    #[method]
    fn was_string_packet(&self) -> bool {
        self.link().was_string.get()
    }

    #[method]
    fn close(&self, #[opt] code: Option<Int>, #[opt] reason: Option<String>) {
        let (code, reason) = (
            code.map(Int::get).unwrap_or(1000),
            reason.unwrap_or_default(),
        );
        let id = self.link().id.get();
        if let Some(Err(e)) = self
            .link()
            .with_peer("close", |peer| peer.close(code, &reason))
        {
            log::error("WebSocketPeer.close", format!("peer {id}: {e}"));
        }
    }

    #[method]
    fn get_connected_host(&self) -> String {
        self.link()
            .query(|peer| peer.address().ip().to_string())
            .unwrap_or_default()
    }

    #[method]
    fn get_connected_port(&self) -> i64 {
        self.link()
            .query(|peer| peer.address().port().into())
            .unwrap_or(0)
    }

    /// Godot 4's: `ws://` or `wss://` (as the server listens), the Host header, the target.
    #[method]
    fn get_requested_url(&self) -> String {
        let Some(server) = self.link().server.borrow().upgrade() else {
            return String::new();
        };
        let tls = server.with(|server| server.config().tls.is_some());
        self.link()
            .query(|peer| peer.request().url(tls == Some(true)))
            .unwrap_or_default()
    }

    #[method]
    fn is_connected_to_host(&self) -> bool {
        self.link().query(|_| ()).is_some()
    }

    #[method]
    fn set_no_delay(&self, enabled: bool) {
        self.link()
            .with_peer("set_no_delay", |peer| peer.set_no_delay(enabled));
    }

    #[method]
    fn get_current_outbound_buffered_amount(&self) -> i64 {
        self.link()
            .query(|peer| peer.buffered_amount() as i64)
            .unwrap_or(0)
    }
}
