//! `WebSocketServer`: the NativeScript class games use, with the stock class's API.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use gdnative::api::{CryptoKey, MultiplayerPeerGDNative, X509Certificate};
use gdnative::core_types::GodotError;
use gdnative::export::Varargs;
use gdnative::prelude::*;
use gdnative::sys;

use super::args::{one_argument, Int, Real};
use super::batch;
use super::errors::{listen_error_code, to_code, verify_error_code};
use super::ffi::{Binding, DirectMethod, DirectResult, DroppedElsewhere, MainThreadData};
use super::log::{self, LISTEN, RELOAD_TLS};
use super::peer::WebSocketPeer;
use super::pool::{self, strings};
use super::pump;
use super::signals;
use super::state::ServerState;
use super::tls::TlsSettings;
use gdws_engine::{
    BindAddress, ExtraHeaders, HealthCheckPath, Limits, Origin, PeerId, RequestPolicy, Server,
    ServerConfig, TrustedProxies, VerifyError, MAX_BUFFER_BYTES, MIN_HEARTBEAT_INTERVAL,
};

/// The stock class's properties, methods and signals. Thin: settings and argument checks here,
/// the work in `ServerState` and the engine.
#[derive(NativeClass)]
#[inherit(MultiplayerPeerGDNative)]
#[user_data(MainThreadData<WebSocketServer>)]
#[register_with(Self::register)]
pub struct WebSocketServer {
    binding: Binding<sys::godot_net_multiplayer_peer, ServerState>,
    settings: RefCell<Settings>,
}

/// What `listen()` reads; the setters refuse changes while listening.
struct Settings {
    bind_ip: String,
    handshake_timeout: f64,
    limits: Limits,
    tls: TlsSettings,
    /// 0: automatic (the engine's `max_connections: None`).
    max_connections: i64,
    /// 0: no limit.
    max_connections_per_ip: i64,
    /// `set_extra_headers`, `allowed_origins` and `health_check_path`, checked when set.
    request_policy: RequestPolicy,
    verify_clients: bool,
    trusted_proxies: TrustedProxies,
    /// Seconds; 0: off.
    heartbeat_interval: f64,
    batch_receive: bool,
}

impl Default for Settings {
    /// The engine's defaults (`ServerConfig::new`): the properties' defaults are these.
    fn default() -> Self {
        let engine = ServerConfig::new(0);
        Self {
            bind_ip: engine.bind.to_string(),
            handshake_timeout: engine.handshake_timeout.as_secs_f64(),
            limits: engine.limits,
            tls: TlsSettings::default(),
            max_connections: engine.max_connections.map_or(0, count_property),
            max_connections_per_ip: count_property(engine.max_connections_per_ip),
            request_policy: engine.request_policy,
            verify_clients: engine.verify_clients,
            trusted_proxies: engine.trusted_proxies,
            heartbeat_interval: engine.heartbeat_interval.as_secs_f64(),
            batch_receive: engine.batch_receive,
        }
    }
}

#[methods]
impl WebSocketServer {
    fn new(base: &MultiplayerPeerGDNative) -> Self {
        let state = Rc::new(ServerState::new(base.get_instance_id()));
        Self {
            binding: Binding::bind_multiplayer(base, state),
            settings: RefCell::new(Settings::default()),
        }
    }

    fn register(builder: &ClassBuilder<Self>) {
        signals::declare(builder);

        let defaults = Settings::default();
        builder
            .property::<String>("bind_ip")
            .with_default(defaults.bind_ip)
            .with_getter(|this, _| this.get_bind_ip())
            .with_shr_setter(|this, _, value| this.set_bind_ip(value))
            .done();
        builder
            .property::<f64>("handshake_timeout")
            .with_default(defaults.handshake_timeout)
            .with_getter(|this, _| this.get_handshake_timeout())
            .with_shr_setter(|this, _, value| this.set_handshake_timeout(Real(value)))
            .done();
        builder
            .property::<Option<Ref<CryptoKey>>>("private_key")
            .with_getter(|this, _| this.get_private_key())
            .with_shr_setter(|this, _, value| this.set_private_key(value))
            .done();
        builder
            .property::<Option<Ref<X509Certificate>>>("ssl_certificate")
            .with_getter(|this, _| this.get_ssl_certificate())
            .with_shr_setter(|this, _, value| this.set_ssl_certificate(value))
            .done();
        builder
            .property::<Option<Ref<X509Certificate>>>("ca_chain")
            .with_getter(|this, _| this.get_ca_chain())
            .with_shr_setter(|this, _, value| this.set_ca_chain(value))
            .done();
        // Our addition: PEM files instead of resources (res://, user:// or any file path).
        let tls = defaults.tls;
        builder
            .property::<String>("ssl_certificate_path")
            .with_default(tls.ssl_certificate_path)
            .with_getter(|this, _| this.settings.borrow().tls.ssl_certificate_path.clone())
            .with_shr_setter(|this, _, value| {
                this.configure("set_ssl_certificate_path", |s| {
                    s.tls.ssl_certificate_path = value;
                });
            })
            .done();
        builder
            .property::<String>("private_key_path")
            .with_default(tls.private_key_path)
            .with_getter(|this, _| this.settings.borrow().tls.private_key_path.clone())
            .with_shr_setter(|this, _, value| {
                this.configure("set_private_key_path", |s| s.tls.private_key_path = value);
            })
            .done();
        builder
            .property::<String>("ca_chain_path")
            .with_default(tls.ca_chain_path)
            .with_getter(|this, _| this.settings.borrow().tls.ca_chain_path.clone())
            .with_shr_setter(|this, _, value| {
                this.configure("set_ca_chain_path", |s| s.tls.ca_chain_path = value);
            })
            .done();
        // Ours: connection limits (0 = automatic, and 0 = no limit per address).
        builder
            .property::<i64>("max_connections")
            .with_default(defaults.max_connections)
            .with_getter(|this, _| this.settings.borrow().max_connections)
            .with_shr_setter(|this, _, value| {
                this.set_count("set_max_connections", value, |s| &mut s.max_connections);
            })
            .done();
        builder
            .property::<i64>("max_connections_per_ip")
            .with_default(defaults.max_connections_per_ip)
            .with_getter(|this, _| this.settings.borrow().max_connections_per_ip)
            .with_shr_setter(|this, _, value| {
                this.set_count("set_max_connections_per_ip", value, |s| {
                    &mut s.max_connections_per_ip
                });
            })
            .done();
        // Ours: hold each valid request for the game's accept_client/reject_client.
        builder
            .property::<bool>("verify_clients")
            .with_default(defaults.verify_clients)
            .with_getter(|this, _| this.settings.borrow().verify_clients)
            .with_shr_setter(|this, _, value| {
                this.configure("set_verify_clients", |s| s.verify_clients = value);
            })
            .done();
        // Ours: which pages may connect, and the load balancers' health check.
        builder
            .property::<PoolArray<GodotString>>("allowed_origins")
            .with_default(PoolArray::new())
            .with_getter(|this, _| {
                let policy = &this.settings.borrow().request_policy;
                let origins = policy.allowed_origins.iter().map(Origin::as_str);
                pool::from_vec(origins.map(GodotString::from).collect())
            })
            .with_shr_setter(|this, _, value| this.set_allowed_origins(&value))
            .done();
        builder
            .property::<String>("health_check_path")
            .with_default(String::new())
            .with_getter(|this, _| {
                let policy = &this.settings.borrow().request_policy;
                policy
                    .health_check
                    .as_ref()
                    .map_or_else(String::new, |path| path.as_str().to_owned())
            })
            .with_shr_setter(|this, _, value| this.set_health_check_path(&value))
            .done();
        // Ours: whose PROXY header and forwarding headers name the client.
        builder
            .property::<PoolArray<GodotString>>("trusted_proxies")
            .with_default(PoolArray::new())
            .with_getter(|this, _| this.get_trusted_proxies())
            .with_shr_setter(|this, _, value| this.set_trusted_proxies(value))
            .done();
        // Godot 4's: pings, and the drop of a silent peer (0 = off).
        builder
            .property::<f64>("heartbeat_interval")
            .with_default(defaults.heartbeat_interval)
            .with_getter(|this, _| this.get_heartbeat_interval())
            .with_shr_setter(|this, _, value| this.set_heartbeat_interval(Real(value)))
            .done();
        // Ours: messages held for get_packets() instead of a data_received each.
        builder
            .property::<bool>("batch_receive")
            .with_default(defaults.batch_receive)
            .with_getter(|this, _| this.settings.borrow().batch_receive)
            .with_shr_setter(|this, _, value| {
                this.configure("set_batch_receive", |s| s.batch_receive = value);
            })
            .done();
    }

    fn set_allowed_origins(&self, origins: &PoolArray<GodotString>) {
        const CALL: &str = "set_allowed_origins";
        let parsed: Result<Vec<Origin>, String> =
            strings(origins).iter().map(|o| Origin::parse(o)).collect();
        match parsed {
            Ok(origins) => self.configure(CALL, |s| s.request_policy.allowed_origins = origins),
            Err(reason) => log::error(&format!("WebSocketServer.{CALL}"), reason),
        }
    }

    fn set_health_check_path(&self, path: &str) {
        const CALL: &str = "set_health_check_path";
        match HealthCheckPath::parse(path) {
            Ok(path) => self.configure(CALL, |s| s.request_policy.health_check = path),
            Err(reason) => log::error(&format!("WebSocketServer.{CALL}"), reason),
        }
    }

    /// The accepted entries, as the engine reads them (`10.0.0.0/8`; an IPv4-mapped IPv6
    /// entry as its IPv4 form).
    fn get_trusted_proxies(&self) -> PoolArray<GodotString> {
        let settings = self.settings.borrow();
        let ranges = settings.trusted_proxies.ranges();
        pool::from_vec(
            ranges
                .iter()
                .map(|range| range.to_string().into())
                .collect(),
        )
    }

    /// Takes the entries that are addresses or CIDR ranges and prints an error naming each
    /// other one: a bad entry never makes the server trust more than the good ones.
    fn set_trusted_proxies(&self, entries: PoolArray<GodotString>) {
        const CALL: &str = "set_trusted_proxies";
        let entries = strings(&entries);
        let (trusted, errors) = TrustedProxies::parse(entries.iter().map(String::as_str));
        if !self.can_configure(CALL) {
            return;
        }
        for error in errors {
            log::error(
                &format!("WebSocketServer.{CALL}"),
                format!("{error}; the entry is left out"),
            );
        }
        self.settings.borrow_mut().trusted_proxies = trusted;
    }

    /// Sets a count setting (0 or more), or prints why it cannot change (naming `call`).
    fn set_count(&self, call: &str, value: i64, field: impl FnOnce(&mut Settings) -> &mut i64) {
        if value < 0 {
            log::error(
                &format!("WebSocketServer.{call}"),
                format!("{value} is negative; use 0 or a positive count"),
            );
            return;
        }
        self.configure(call, |s| *field(s) = value);
    }

    /// Sets a setting in seconds when `valid`, or prints why it cannot change (naming `call`,
    /// and what it takes: `expected`). NaN, infinite and huge values must never be valid:
    /// `Duration::from_secs_f64` in `listen()` would panic on them.
    fn set_seconds(
        &self,
        call: &str,
        seconds: f64,
        valid: bool,
        expected: &str,
        field: impl FnOnce(&mut Settings) -> &mut f64,
    ) {
        if !self.can_configure(call) {
            return;
        }
        if !valid {
            log::error(
                &format!("WebSocketServer.{call}"),
                format!("{seconds} is not {expected}"),
            );
            return;
        }
        *field(&mut self.settings.borrow_mut()) = seconds;
    }

    fn state(&self) -> &ServerState {
        self.binding.state()
    }

    /// Prints why a setting cannot change now; true when it can.
    fn can_configure(&self, call: &str) -> bool {
        if self.state().is_listening() {
            log::error(
                &format!("WebSocketServer.{call}"),
                "cannot change while listening; call stop() first",
            );
            return false;
        }
        true
    }

    /// Applies `change` to the settings, or prints why a setting cannot change now (naming
    /// `call`).
    fn configure(&self, call: &str, change: impl FnOnce(&mut Settings)) {
        if self.can_configure(call) {
            change(&mut self.settings.borrow_mut());
        }
    }

    #[method]
    fn listen(
        &self,
        port: Int,
        #[opt] protocols: Option<PoolArray<GodotString>>,
        #[opt] gd_mp_api: Option<bool>,
    ) -> i64 {
        to_code(self.try_listen(port.0, protocols, gd_mp_api.unwrap_or(false)))
    }

    fn try_listen(
        &self,
        port: i64,
        protocols: Option<PoolArray<GodotString>>,
        gd_mp_api: bool,
    ) -> Result<(), GodotError> {
        if self.state().is_listening() {
            log::error(LISTEN, "already listening; call stop() first");
            return Err(GodotError::AlreadyInUse);
        }
        let Ok(port) = u16::try_from(port) else {
            log::error(LISTEN, format!("port {port} is not in 0..65535"));
            return Err(GodotError::InvalidParameter);
        };
        let settings = self.settings.borrow();
        let tls = settings.tls.load(LISTEN)?;
        let Some(bind) = BindAddress::parse(&settings.bind_ip) else {
            log::error(
                LISTEN,
                format!(
                    "bind_ip {:?} is not \"*\" or an IPv4/IPv6 address",
                    settings.bind_ip
                ),
            );
            return Err(GodotError::InvalidParameter);
        };
        let mut config = ServerConfig::new(port);
        config.bind = bind;
        config.protocols = protocols.map(|list| strings(&list)).unwrap_or_default();
        config.handshake_timeout = Duration::from_secs_f64(settings.handshake_timeout);
        config.limits = settings.limits;
        config.multiplayer = gd_mp_api;
        config.tls = tls;
        config.max_connections = usize::try_from(settings.max_connections)
            .ok()
            .filter(|max| *max > 0);
        config.max_connections_per_ip =
            usize::try_from(settings.max_connections_per_ip).unwrap_or(0);
        config.request_policy = settings.request_policy.clone();
        config.verify_clients = settings.verify_clients;
        config.trusted_proxies = settings.trusted_proxies.clone();
        config.heartbeat_interval = Duration::from_secs_f64(settings.heartbeat_interval);
        config.batch_receive = settings.batch_receive;
        if settings.batch_receive && gd_mp_api {
            log::warn(
                LISTEN,
                "batch_receive has no effect in multiplayer mode: MultiplayerAPI reads the \
                 packets, and get_packets() returns none",
            );
        }
        self.state().listen(config).map_err(|e| {
            log::error(
                LISTEN,
                format!("cannot listen on {}:{port}: {e}", settings.bind_ip),
            );
            listen_error_code(&e)
        })
    }

    #[method]
    fn stop(&self) {
        self.state().stop();
    }

    /// Reads the certificate and key again from the TLS properties, as `listen()` does, and
    /// serves the wss:// connections accepted from now on with them; connected clients keep
    /// their sessions. For a renewed certificate (Let's Encrypt renews every 60-90 days).
    #[method]
    fn reload_tls(&self) -> i64 {
        to_code(self.try_reload_tls())
    }

    fn try_reload_tls(&self) -> Result<(), GodotError> {
        let engine = self.state().engine();
        let serves_tls = engine.with(|server| server.config().tls.is_some());
        let not_tls = match serves_tls {
            None => "the server is not listening",
            Some(false) => "the server listens on plain ws://; TLS is chosen at listen()",
            Some(true) => "",
        };
        if !not_tls.is_empty() {
            log::error(RELOAD_TLS, not_tls);
            return Err(GodotError::Unconfigured);
        }
        // The properties cannot change while listening, so they name what listen() read.
        let Some(tls) = self.settings.borrow().tls.load(RELOAD_TLS)? else {
            log::error(RELOAD_TLS, "no certificate and key are set");
            return Err(GodotError::Unconfigured);
        };
        engine.with(|server| server.replace_tls(tls));
        Ok(())
    }

    #[method]
    fn is_listening(&self) -> bool {
        self.state().is_listening()
    }

    fn poll(&self) {
        pump::poll(self.state());
    }

    /// Ours, with `batch_receive`: every message `poll()` delivered since the last call.
    fn get_packets(&self) -> VariantArray {
        batch::get_packets(self.state())
    }

    /// Ours: sends many `[id, packet, was_string]` at once.
    fn put_packets(&self, messages: VariantArray) -> i64 {
        to_code(batch::put_packets(self.state(), &messages))
    }

    #[method]
    fn has_peer(&self, id: Int) -> bool {
        self.state().engine().has_peer(id.0)
    }

    fn get_peer(&self, id: Int) -> Option<Instance<WebSocketPeer, Shared>> {
        self.state().peer_object(id.0)
    }

    #[method]
    fn get_peer_address(&self, id: Int) -> String {
        self.state()
            .engine()
            .with_peer("get_peer_address", id.0, |peer| {
                peer.address().ip().to_string()
            })
            .unwrap_or_default()
    }

    #[method]
    fn get_peer_port(&self, id: Int) -> i64 {
        self.state()
            .engine()
            .with_peer("get_peer_port", id.0, |peer| peer.address().port().into())
            .unwrap_or(0)
    }

    #[method]
    fn get_peer_request_path(&self, id: Int) -> String {
        self.state()
            .engine()
            .with_peer("get_peer_request_path", id.0, |peer| {
                peer.request().path().to_owned()
            })
            .unwrap_or_default()
    }

    #[method]
    fn get_peer_request_headers(&self, id: Int) -> Dictionary {
        self.state()
            .engine()
            .with_peer("get_peer_request_headers", id.0, |peer| {
                signals::headers_dictionary(peer.request())
            })
            .unwrap_or_else(|| Dictionary::new().into_shared())
    }

    /// Godot 3.5's: `Name: value` lines for the 101 of the next `listen()`.
    #[method]
    fn set_extra_headers(&self, #[opt] headers: Option<PoolArray<GodotString>>) -> i64 {
        const CALL: &str = "set_extra_headers";
        if !self.can_configure(CALL) {
            return GodotError::Failed as i64;
        }
        let lines = headers.map(|list| strings(&list)).unwrap_or_default();
        match ExtraHeaders::parse(&lines) {
            Ok(headers) => {
                self.settings.borrow_mut().request_policy.extra_headers = headers;
                0
            }
            Err(reason) => {
                log::error(&format!("WebSocketServer.{CALL}"), reason);
                GodotError::InvalidParameter as i64
            }
        }
    }

    #[method]
    fn disconnect_peer(&self, id: Int, #[opt] code: Option<Int>, #[opt] reason: Option<String>) {
        let id = id.0;
        let (code, reason) = (
            code.map(Int::get).unwrap_or(1000),
            reason.unwrap_or_default(),
        );
        if let Some(Err(e)) = self
            .state()
            .engine()
            .with_peer("disconnect_peer", id, |peer| peer.close(code, &reason))
        {
            log::error("WebSocketServer.disconnect_peer", format!("peer {id}: {e}"));
        }
    }

    #[method]
    fn accept_client(&self, id: Int) -> i64 {
        let answer = |server: &Server, id| server.accept_client(id);
        to_code(self.answer_client("accept_client", id.0, answer))
    }

    #[method]
    fn reject_client(
        &self,
        id: Int,
        #[opt] status: Option<Int>,
        #[opt] reason: Option<String>,
    ) -> i64 {
        let status = status.map(Int::get).unwrap_or(403);
        let reason = reason.unwrap_or_default();
        let answer = |server: &Server, id| server.reject_client(id, status, &reason);
        to_code(self.answer_client("reject_client", id.0, answer))
    }

    /// Gives the client held as `id` the game's `answer`, or prints why not (naming `call`).
    fn answer_client(
        &self,
        call: &str,
        id: i64,
        answer: impl FnOnce(&Server, PeerId) -> Result<(), VerifyError>,
    ) -> Result<(), GodotError> {
        let call = format!("WebSocketServer.{call}");
        let engine = self.state().engine();
        let answered = PeerId::try_from(id)
            .ok()
            .and_then(|peer_id| engine.with(|server| answer(server, peer_id)));
        match answered {
            Some(Ok(())) => Ok(()),
            Some(Err(e @ VerifyError::NotWaiting(_))) => {
                log::error(&call, &e);
                Err(verify_error_code(&e))
            }
            Some(Err(e)) => {
                log::error(&call, format!("client {id}: {e}"));
                Err(verify_error_code(&e))
            }
            None => {
                let listening = engine.is_listening();
                let why = if listening {
                    ""
                } else {
                    " (the server is not listening)"
                };
                log::error(
                    &call,
                    format!("no client waits for verification as id {id}{why}"),
                );
                Err(GodotError::DoesNotExist)
            }
        }
    }

    #[method]
    fn set_buffers(
        &self,
        input_buffer_size_kb: Int,
        input_max_packets: Int,
        output_buffer_size_kb: Int,
        output_max_packets: Int,
    ) -> i64 {
        let (input_buffer_size_kb, input_max_packets) =
            (input_buffer_size_kb.0, input_max_packets.0);
        let (output_buffer_size_kb, output_max_packets) =
            (output_buffer_size_kb.0, output_max_packets.0);
        if !self.can_configure("set_buffers") {
            return GodotError::Failed as i64;
        }
        match limits_from_buffers(
            input_buffer_size_kb,
            input_max_packets,
            output_buffer_size_kb,
            output_max_packets,
        ) {
            Ok(limits) => {
                self.settings.borrow_mut().limits = limits;
                0
            }
            Err(reason) => {
                log::error("WebSocketServer.set_buffers", reason);
                GodotError::InvalidParameter as i64
            }
        }
    }

    #[method]
    fn get_bind_ip(&self) -> String {
        self.settings.borrow().bind_ip.clone()
    }

    #[method]
    fn set_bind_ip(&self, bind_ip: String) {
        self.configure("set_bind_ip", |s| s.bind_ip = bind_ip);
    }

    #[method]
    fn get_handshake_timeout(&self) -> f64 {
        self.settings.borrow().handshake_timeout
    }

    #[method]
    fn set_handshake_timeout(&self, seconds: Real) {
        let seconds = seconds.0;
        let valid = seconds > 0.0 && seconds <= MAX_SECONDS;
        let expected = "a positive number of seconds (at most one day)";
        self.set_seconds("set_handshake_timeout", seconds, valid, expected, |s| {
            &mut s.handshake_timeout
        });
    }

    #[method]
    fn get_heartbeat_interval(&self) -> f64 {
        self.settings.borrow().heartbeat_interval
    }

    #[method]
    fn set_heartbeat_interval(&self, seconds: Real) {
        let seconds = seconds.0;
        let floor = MIN_HEARTBEAT_INTERVAL.as_secs_f64();
        let valid = seconds == 0.0 || (floor..=MAX_SECONDS).contains(&seconds);
        let expected = format!("0 (off) or a number of seconds from {floor} to {MAX_SECONDS}");
        self.set_seconds("set_heartbeat_interval", seconds, valid, &expected, |s| {
            &mut s.heartbeat_interval
        });
    }

    #[method]
    fn get_private_key(&self) -> Option<Ref<CryptoKey>> {
        self.settings.borrow().tls.private_key.clone()
    }

    #[method]
    fn set_private_key(&self, key: Option<Ref<CryptoKey>>) {
        self.configure("set_private_key", |s| s.tls.private_key = key);
    }

    #[method]
    fn get_ssl_certificate(&self) -> Option<Ref<X509Certificate>> {
        self.settings.borrow().tls.ssl_certificate.clone()
    }

    #[method]
    fn set_ssl_certificate(&self, certificate: Option<Ref<X509Certificate>>) {
        self.configure("set_ssl_certificate", |s| {
            s.tls.ssl_certificate = certificate
        });
    }

    #[method]
    fn get_ca_chain(&self) -> Option<Ref<X509Certificate>> {
        self.settings.borrow().tls.ca_chain.clone()
    }

    #[method]
    fn set_ca_chain(&self, chain: Option<Ref<X509Certificate>>) {
        self.configure("set_ca_chain", |s| s.tls.ca_chain = chain);
    }
}

impl Drop for WebSocketServer {
    /// Freeing the object stops the server like `stop()`; then the binding unbinds.
    fn drop(&mut self) {
        self.state().stop();
    }
}

/// The longest a setting in seconds may be: one day.
const MAX_SECONDS: f64 = 86_400.0;

/// An engine count as an int property (saturating: no count is near i64::MAX).
fn count_property(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl DroppedElsewhere for WebSocketServer {
    /// The last reference went on another thread, where this object may not be touched: the
    /// engine server is stopped there all the same (port freed, clients closed, threads
    /// ended). The WebSocketPeer objects handed out, and this object's own memory, stay
    /// until the process exits.
    fn on_drop_elsewhere(&self) -> Box<dyn Fn() + Send + Sync> {
        let stopper = self.state().engine().stopper();
        Box::new(move || stopper.stop())
    }
}

/// The largest `input_buffer_size_kb` and `output_buffer_size_kb`: `MAX_BUFFER_BYTES` in KiB.
const MAX_BUFFER_KB: i64 = (MAX_BUFFER_BYTES / 1024) as i64;

/// `set_buffers(in_kb, in_packets, out_kb, out_packets)` as engine limits: like the stock class,
/// each value is rounded up to a power of two. Refused, with the reason, when a value is not
/// positive or a size is over `MAX_BUFFER_KB` (each peer may make the server hold several times
/// the input size; see `MAX_BUFFER_BYTES`).
fn limits_from_buffers(
    in_kb: i64,
    in_packets: i64,
    out_kb: i64,
    out_packets: i64,
) -> Result<Limits, String> {
    let all = format!(
        "(got {in_kb} KiB, {in_packets} packets in; {out_kb} KiB, {out_packets} packets out)"
    );
    if [in_kb, in_packets, out_kb, out_packets]
        .iter()
        .any(|v| *v <= 0)
    {
        return Err(format!("every size must be positive {all}"));
    }
    if in_kb > MAX_BUFFER_KB || out_kb > MAX_BUFFER_KB {
        return Err(format!(
            "a buffer size is over the maximum of {MAX_BUFFER_KB} KiB {all}: each peer may make \
             the server hold several times the input size"
        ));
    }
    // Positive, and the packet counts round to at most 2^63 in an i64's range.
    let round = |value: i64| (value as u64).next_power_of_two() as usize;
    Ok(Limits {
        in_bytes: round(in_kb) * 1024,
        in_packets: round(in_packets),
        out_bytes: round(out_kb) * 1024,
        out_packets: round(out_packets),
    })
}

/// The methods a game calls every frame or for every message (`poll`, `get_peer`, the batch
/// pair), registered past gdnative's per-call reference (see `ffi::register_direct_methods`).
pub(crate) const DIRECT_METHODS: &[DirectMethod<WebSocketServer>] = &[
    DirectMethod {
        name: c"poll",
        body: direct_poll,
    },
    DirectMethod {
        name: c"get_peer",
        body: direct_get_peer,
    },
    DirectMethod {
        name: c"get_packets",
        body: direct_get_packets,
    },
    DirectMethod {
        name: c"put_packets",
        body: direct_put_packets,
    },
];

fn direct_poll<'a>(server: &WebSocketServer, args: Varargs<'a>) -> DirectResult<'a> {
    args.done()?;
    server.poll();
    Ok(Variant::nil())
}

fn direct_get_peer<'a>(server: &WebSocketServer, args: Varargs<'a>) -> DirectResult<'a> {
    let id = one_argument::<Int>(args, "id", "int")?;
    Ok(server.get_peer(id).owned_to_variant())
}

fn direct_get_packets<'a>(server: &WebSocketServer, args: Varargs<'a>) -> DirectResult<'a> {
    args.done()?;
    Ok(server.get_packets().owned_to_variant())
}

fn direct_put_packets<'a>(server: &WebSocketServer, args: Varargs<'a>) -> DirectResult<'a> {
    let messages = one_argument::<VariantArray>(args, "messages", "Array")?;
    Ok(server.put_packets(messages).to_variant())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_round_up_to_powers_of_two() {
        let limits = limits_from_buffers(100, 1000, 64, 3).unwrap();
        assert_eq!(limits.in_bytes, 128 * 1024);
        assert_eq!(limits.in_packets, 1024);
        assert_eq!(limits.out_bytes, 64 * 1024);
        assert_eq!(limits.out_packets, 4);
        assert!(limits_from_buffers(0, 1, 1, 1).is_err());
        assert!(limits_from_buffers(1, 1, -4, 1).is_err());
    }

    #[test]
    fn buffer_sizes_stop_at_the_maximum_and_packet_counts_do_not_overflow() {
        let largest = limits_from_buffers(MAX_BUFFER_KB, 1, MAX_BUFFER_KB - 1, 1).unwrap();
        assert_eq!(
            (largest.in_bytes, largest.out_bytes),
            (MAX_BUFFER_BYTES, MAX_BUFFER_BYTES)
        );
        let over = limits_from_buffers(MAX_BUFFER_KB + 1, 1, 64, 1).unwrap_err();
        assert!(over.contains("over the maximum of 65536 KiB"), "{over}");
        assert!(limits_from_buffers(64, 1, i64::MAX, 1).is_err());
        let many = limits_from_buffers(64, i64::MAX, 64, 1 << 62).unwrap();
        assert_eq!((many.in_packets, many.out_packets), (1 << 63, 1 << 62));
    }
}
