//! The one module with `unsafe`: binds our state to Godot's GDNative "net" interfaces, so the
//! engine's `PacketPeerGDNative` / `MultiplayerPeerGDNative` methods (and so `put_var`,
//! `get_var`, MultiplayerAPI...) call into Rust. Each callback forwards to a safe trait method
//! and catches panics: a panic unwinding into Godot would abort the game. Also the few calls on
//! shared Godot objects that gdnative marks `unsafe`.

use std::ffi::c_void;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use bytes::Bytes;
use gdnative::api::{MultiplayerPeerGDNative, PacketPeerGDNative, Resource};
use gdnative::core_types::GodotError;
use gdnative::prelude::*;
use gdnative::sys;

use super::log;

/// What a `PacketPeerGDNative` asks of its implementation.
pub(crate) trait PacketPeerImpl {
    /// The next packet. The implementation keeps (a clone of) it until its next `get_packet`,
    /// so the buffer Godot is given stays valid that long.
    fn get_packet(&self) -> Result<Bytes, GodotError>;
    fn put_packet(&self, data: &[u8]) -> Result<(), GodotError>;
    fn available_packet_count(&self) -> i64;
    fn max_packet_size(&self) -> i64;
}

/// What a `MultiplayerPeerGDNative` asks of its implementation, on top of packets.
pub(crate) trait MultiplayerPeerImpl: PacketPeerImpl {
    fn set_transfer_mode(&self, mode: i64);
    fn transfer_mode(&self) -> i64;
    fn set_target_peer(&self, id: i64);
    fn packet_peer(&self) -> i64;
    fn is_server(&self) -> bool;
    fn poll(&self);
    fn unique_id(&self) -> i32;
    fn set_refuse_new_connections(&self, refuse: bool);
    fn is_refusing_new_connections(&self) -> bool;
    fn connection_status(&self) -> i64;
}

/// A net interface bound to one Godot object. The interface struct is boxed and the state is
/// kept alive here, so the pointers Godot holds stay valid until `unbind`.
pub(crate) struct Binding<I, T> {
    /// Read by Godot through the pointer it holds, never by us.
    _interface: Box<I>,
    state: Rc<T>,
    object: *mut sys::godot_object,
    /// `godot_net_bind_multiplayer_peer` or `godot_net_bind_packet_peer`.
    bind: unsafe extern "C" fn(*mut sys::godot_object, *const I),
}

const NET_API_VERSION: sys::godot_gdnative_api_version =
    sys::godot_gdnative_api_version { major: 3, minor: 1 };

impl<T: MultiplayerPeerImpl> Binding<sys::godot_net_multiplayer_peer, T> {
    /// Makes `owner`'s MultiplayerPeerGDNative methods call `state`.
    pub fn bind_multiplayer(owner: &MultiplayerPeerGDNative, state: Rc<T>) -> Self {
        let interface = Box::new(sys::godot_net_multiplayer_peer {
            version: NET_API_VERSION,
            data: Rc::as_ptr(&state) as *mut sys::godot_object,
            get_packet: Some(get_packet::<T>),
            put_packet: Some(put_packet::<T>),
            get_available_packet_count: Some(get_available_packet_count::<T>),
            get_max_packet_size: Some(get_max_packet_size::<T>),
            set_transfer_mode: Some(set_transfer_mode::<T>),
            get_transfer_mode: Some(get_transfer_mode::<T>),
            set_target_peer: Some(set_target_peer::<T>),
            get_packet_peer: Some(get_packet_peer::<T>),
            is_server: Some(is_server::<T>),
            poll: Some(poll::<T>),
            get_unique_id: Some(get_unique_id::<T>),
            set_refuse_new_connections: Some(set_refuse_new_connections::<T>),
            is_refusing_new_connections: Some(is_refusing_new_connections::<T>),
            get_connection_status: Some(get_connection_status::<T>),
            next: std::ptr::null_mut(),
        });
        let bind = gdnative::private::get_api().godot_net_bind_multiplayer_peer;
        Self::bind(owner.as_ptr(), interface, state, bind)
    }
}

impl<T: PacketPeerImpl> Binding<sys::godot_net_packet_peer, T> {
    /// Makes `owner`'s PacketPeerGDNative methods call `state`.
    pub fn bind_packet_peer(owner: &PacketPeerGDNative, state: Rc<T>) -> Self {
        let interface = Box::new(sys::godot_net_packet_peer {
            version: NET_API_VERSION,
            data: Rc::as_ptr(&state) as *mut sys::godot_object,
            get_packet: Some(get_packet::<T>),
            put_packet: Some(put_packet::<T>),
            get_available_packet_count: Some(get_available_packet_count::<T>),
            get_max_packet_size: Some(get_max_packet_size::<T>),
            next: std::ptr::null_mut(),
        });
        let bind = gdnative::private::get_api().godot_net_bind_packet_peer;
        Self::bind(owner.as_ptr(), interface, state, bind)
    }
}

impl<I, T> Binding<I, T> {
    fn bind(
        object: *mut sys::godot_object,
        interface: Box<I>,
        state: Rc<T>,
        bind: unsafe extern "C" fn(*mut sys::godot_object, *const I),
    ) -> Self {
        // SAFETY: `object` is the live object of the class `bind` expects (our NativeScript is
        // created on it, so Godot's unchecked cast inside is right), and the interface and
        // state live in `self` at stable heap addresses until `drop` clears Godot's pointer.
        unsafe { bind(object, &*interface) };
        Self {
            _interface: interface,
            state,
            object,
            bind,
        }
    }

    pub fn state(&self) -> &Rc<T> {
        &self.state
    }
}

impl<I, T> Drop for Binding<I, T> {
    /// Makes Godot forget our interface before it is freed.
    fn drop(&mut self) {
        // SAFETY: the script instance owning this binding is dropped either when its script is
        // detached from a live object, which is then fully valid, or from `Object::~Object`,
        // after the `*GDNative` destructor ran but before the object's memory is freed. There
        // the call only stores NULL in the still-allocated `interface` member (a plain pointer,
        // no virtual call, nothing reads it afterwards). gdnative cannot deliver
        // NOTIFICATION_PREDELETE to a Reference (it re-references the dying object), so this
        // is the last moment we run.
        unsafe { (self.bind)(self.object, std::ptr::null()) };
    }
}

/// Recovers the state behind Godot's `user` pointer.
///
/// # Safety
/// `user` must be the `data` pointer of a bound `Binding<_, T>`: Godot only calls while bound,
/// and the binding keeps the `Rc<T>` alive until it unbinds.
unsafe fn state<'a, T>(user: *const c_void) -> &'a T {
    &*(user as *const T)
}

/// Runs a callback body, turning a panic into a Godot error and `fallback`.
fn guard<R>(call: &str, fallback: R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            log::error(
                call,
                format!("gdws internal error: {message}; the call was ignored"),
            );
            fallback
        }
    }
}

fn error_code(result: Result<(), GodotError>) -> sys::godot_error {
    match result {
        Ok(()) => sys::godot_error_GODOT_OK,
        Err(e) => e as sys::godot_error,
    }
}

const FAILED: sys::godot_error = GodotError::Failed as sys::godot_error;

// SAFETY (every callback below): `user` comes from our bound interface (see `state`), and the
// out-pointers come from Godot, valid for writing for the duration of the call.

unsafe extern "C" fn get_packet<T: PacketPeerImpl>(
    user: *mut c_void,
    buffer: *mut *const u8,
    len: *mut c_int,
) -> sys::godot_error {
    guard("get_packet", FAILED, || {
        match state::<T>(user).get_packet() {
            Ok(packet) => match c_int::try_from(packet.len()) {
                Ok(packet_len) => {
                    *buffer = packet.as_ptr();
                    *len = packet_len;
                    sys::godot_error_GODOT_OK
                }
                Err(_) => FAILED,
            },
            Err(e) => e as sys::godot_error,
        }
    })
}

unsafe extern "C" fn put_packet<T: PacketPeerImpl>(
    user: *mut c_void,
    buffer: *const u8,
    len: c_int,
) -> sys::godot_error {
    guard("put_packet", FAILED, || {
        let data = match usize::try_from(len) {
            Ok(0) | Err(_) => &[][..],
            Ok(len) => std::slice::from_raw_parts(buffer, len),
        };
        error_code(state::<T>(user).put_packet(data))
    })
}

unsafe extern "C" fn get_available_packet_count<T: PacketPeerImpl>(
    user: *const c_void,
) -> sys::godot_int {
    guard("get_available_packet_count", 0, || {
        state::<T>(user).available_packet_count() as sys::godot_int
    })
}

unsafe extern "C" fn get_max_packet_size<T: PacketPeerImpl>(user: *const c_void) -> sys::godot_int {
    guard("get_max_packet_size", 0, || {
        state::<T>(user).max_packet_size() as sys::godot_int
    })
}

unsafe extern "C" fn set_transfer_mode<T: MultiplayerPeerImpl>(
    user: *mut c_void,
    mode: sys::godot_int,
) {
    guard("set_transfer_mode", (), || {
        state::<T>(user).set_transfer_mode(mode.into())
    })
}

unsafe extern "C" fn get_transfer_mode<T: MultiplayerPeerImpl>(
    user: *const c_void,
) -> sys::godot_int {
    guard("get_transfer_mode", 0, || {
        state::<T>(user).transfer_mode() as sys::godot_int
    })
}

unsafe extern "C" fn set_target_peer<T: MultiplayerPeerImpl>(
    user: *mut c_void,
    id: sys::godot_int,
) {
    guard("set_target_peer", (), || {
        state::<T>(user).set_target_peer(id.into())
    })
}

unsafe extern "C" fn get_packet_peer<T: MultiplayerPeerImpl>(
    user: *const c_void,
) -> sys::godot_int {
    guard("get_packet_peer", 0, || {
        state::<T>(user).packet_peer() as sys::godot_int
    })
}

unsafe extern "C" fn is_server<T: MultiplayerPeerImpl>(user: *const c_void) -> sys::godot_bool {
    guard("is_server", false, || state::<T>(user).is_server())
}

unsafe extern "C" fn poll<T: MultiplayerPeerImpl>(user: *mut c_void) {
    guard("poll", (), || state::<T>(user).poll())
}

unsafe extern "C" fn get_unique_id<T: MultiplayerPeerImpl>(user: *const c_void) -> i32 {
    guard("get_unique_id", 1, || state::<T>(user).unique_id())
}

unsafe extern "C" fn set_refuse_new_connections<T: MultiplayerPeerImpl>(
    user: *mut c_void,
    refuse: sys::godot_bool,
) {
    guard("set_refuse_new_connections", (), || {
        state::<T>(user).set_refuse_new_connections(refuse)
    })
}

unsafe extern "C" fn is_refusing_new_connections<T: MultiplayerPeerImpl>(
    user: *const c_void,
) -> sys::godot_bool {
    guard("is_refusing_new_connections", false, || {
        state::<T>(user).is_refusing_new_connections()
    })
}

unsafe extern "C" fn get_connection_status<T: MultiplayerPeerImpl>(
    user: *const c_void,
) -> sys::godot_int {
    guard("get_connection_status", 0, || {
        state::<T>(user).connection_status() as sys::godot_int
    })
}

/// The live object behind an instance id, for emitting signals from a callback that has only
/// our state.
pub(crate) fn object_from_instance_id<'a>(id: i64) -> Option<TRef<'a, Object>> {
    // SAFETY: called on the main thread from a callback of that very object (or one of its
    // script methods), so this thread has it, and `try_from_instance_id` returns None for an
    // object that is gone.
    unsafe { TRef::try_from_instance_id(id) }
}

/// The `resource_path` of a resource the game handed us (empty when it was not loaded from a
/// file): the wss:// setup reads a certificate chain from there when Godot 3.2's
/// `X509Certificate.save()` loses it.
pub(crate) fn resource_path<T>(resource: &Ref<T, Shared>) -> String
where
    T: GodotObject<Memory = RefCounted> + SubClass<Resource>,
{
    // SAFETY: holding `resource` keeps the object alive, and resources given to the server are
    // used on the main thread, where `listen()` runs; `resource_path` only reads a string.
    let resource = unsafe { resource.assume_safe() };
    resource.upcast::<Resource>().path().to_string()
}
