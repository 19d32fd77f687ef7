//! The one module with `unsafe`: the GDNative net interfaces bound to our state, panics caught.

// Binds our state to Godot's GDNative "net" interfaces, so the engine's `PacketPeerGDNative` /
// `MultiplayerPeerGDNative` methods (and so `put_var`, `get_var`, MultiplayerAPI...) call into
// Rust. Each callback forwards to a safe trait method through `call`, which refuses calls from
// a thread other than the object's, keeps the state alive for the whole call, and catches
// panics: a panic unwinding into Godot would abort the game. Also the few calls on shared Godot
// objects that gdnative marks `unsafe`, the user-data wrapper of WebSocketServer
// (`MainThreadData`), whose trait gdnative declares `unsafe`, and the library's NativeScript
// entry points: `godot_nativescript_init` (gdnative's class registration, then the methods a
// game calls per frame or per message registered past gdnative's wrapper, `DirectMethod`) and
// `godot_nativescript_frame`.

use std::cell;
use std::ffi::{c_void, CStr, CString};
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::thread::ThreadId;

use bytes::Bytes;
use gdnative::api::{CryptoKey, MultiplayerPeerGDNative, PacketPeerGDNative, Resource};
use gdnative::core_types::GodotError;
use gdnative::export::user_data::{LocalCellData, LocalCellError, Map, MapMut, UserData};
use gdnative::export::{ArgumentError, StaticallyNamed, Varargs};
use gdnative::prelude::*;
use gdnative::sys;

use super::{fault, log};

/// What a `PacketPeerGDNative` asks of its implementation.
pub(crate) trait PacketPeerImpl {
    /// The next packet, borrowed from where the implementation keeps it until its next
    /// `get_packet`, so the buffer Godot is given stays valid that long.
    fn get_packet(&self) -> Result<cell::Ref<'_, Bytes>, GodotError>;
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

/// A net interface bound to one Godot object. The interface struct and what its `data` points
/// to are boxed and kept here, so the pointers Godot holds stay valid until `drop` unbinds.
pub(crate) struct Binding<I, T> {
    /// Read by Godot through the pointer it holds, never by us.
    _interface: Box<I>,
    /// Godot's `data` pointer points here.
    bound: Box<Bound<T>>,
    object: *mut sys::godot_object,
    /// To tell, when dropped, whether the object is still alive (see `drop`).
    object_id: i64,
    /// `godot_net_bind_multiplayer_peer` or `godot_net_bind_packet_peer`.
    bind: unsafe extern "C" fn(*mut sys::godot_object, *const I),
}

/// What a callback reaches through Godot's `data` pointer.
struct Bound<T> {
    state: Rc<T>,
    /// The thread that made the object. `Rc` and the `RefCell`s in the state are not thread
    /// safe, and Godot runs a callback on whatever thread the game calls from (a GDScript
    /// `Thread` using a WebSocketPeer), so other threads are refused.
    thread: ThreadId,
}

const NET_API_VERSION: sys::godot_gdnative_api_version =
    sys::godot_gdnative_api_version { major: 3, minor: 1 };

impl<T: MultiplayerPeerImpl> Binding<sys::godot_net_multiplayer_peer, T> {
    /// Makes `owner`'s MultiplayerPeerGDNative methods call `state`.
    pub fn bind_multiplayer(owner: &MultiplayerPeerGDNative, state: Rc<T>) -> Self {
        let bound = Bound::new(state);
        let (get_packet, put_packet) = packet_callbacks::<T>();
        let interface = Box::new(sys::godot_net_multiplayer_peer {
            version: NET_API_VERSION,
            data: bound.data(),
            get_packet: Some(get_packet),
            put_packet: Some(put_packet),
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
        Self::bind(owner, interface, bound, bind)
    }
}

impl<T: PacketPeerImpl> Binding<sys::godot_net_packet_peer, T> {
    /// Makes `owner`'s PacketPeerGDNative methods call `state`.
    pub fn bind_packet_peer(owner: &PacketPeerGDNative, state: Rc<T>) -> Self {
        let bound = Bound::new(state);
        let (get_packet, put_packet) = packet_callbacks::<T>();
        let interface = Box::new(sys::godot_net_packet_peer {
            version: NET_API_VERSION,
            data: bound.data(),
            get_packet: Some(get_packet),
            put_packet: Some(put_packet),
            get_available_packet_count: Some(get_available_packet_count::<T>),
            get_max_packet_size: Some(get_max_packet_size::<T>),
            next: std::ptr::null_mut(),
        });
        let bind = gdnative::private::get_api().godot_net_bind_packet_peer;
        Self::bind(owner, interface, bound, bind)
    }
}

type GetPacket = unsafe extern "C" fn(*mut c_void, *mut *const u8, *mut c_int) -> sys::godot_error;
type PutPacket = unsafe extern "C" fn(*mut c_void, *const u8, c_int) -> sys::godot_error;

/// The packet callbacks to bind: the variants with a fault injection point only in a process
/// that asked for them (see `fault`).
fn packet_callbacks<T: PacketPeerImpl>() -> (GetPacket, PutPacket) {
    if fault::enabled() {
        (get_packet::<T, true>, put_packet::<T, true>)
    } else {
        (get_packet::<T, false>, put_packet::<T, false>)
    }
}

thread_local! {
    /// This thread's id, for the check of every callback: `std::thread::current()` clones
    /// (and drops) the thread's handle each time, a cost paid several times per message.
    static THREAD: ThreadId = std::thread::current().id();
}

fn current_thread() -> ThreadId {
    THREAD.with(|id| *id)
}

impl<T> Bound<T> {
    fn new(state: Rc<T>) -> Box<Self> {
        Box::new(Self {
            state,
            thread: current_thread(),
        })
    }

    /// The `data` pointer Godot hands back to every callback (`self` is boxed: it stays put).
    fn data(&self) -> *mut sys::godot_object {
        self as *const Self as *mut sys::godot_object
    }
}

impl<I, T> Binding<I, T> {
    fn bind<O: GodotObject + SubClass<Object>>(
        owner: &O,
        interface: Box<I>,
        bound: Box<Bound<T>>,
        bind: unsafe extern "C" fn(*mut sys::godot_object, *const I),
    ) -> Self {
        let object = owner.as_ptr();
        // SAFETY: `object` is the live object of the class `bind` expects (our NativeScript is
        // created on it, so Godot's unchecked cast inside is right), and the interface and
        // what its `data` points to live in `self` at stable heap addresses until `drop`
        // clears Godot's pointer.
        unsafe { bind(object, &*interface) };
        Self {
            _interface: interface,
            bound,
            object,
            object_id: owner.upcast::<Object>().get_instance_id(),
            bind,
        }
    }

    pub fn state(&self) -> &Rc<T> {
        &self.bound.state
    }
}

impl<I, T: PacketPeerImpl> Binding<I, T> {
    /// What Godot's `PacketPeer.put_packet` comes down to, without the trip through the engine
    /// (its method bind, `PacketPeerGDNative`, the interface): our own callback, with its
    /// thread check, panic guard and fault injection point. The `Error` code it returns.
    pub fn put_packet(&self, data: &[u8]) -> i64 {
        let Ok(len) = c_int::try_from(data.len()) else {
            return GodotError::InvalidParameter as i64;
        };
        let put_packet = packet_callbacks::<T>().1;
        // SAFETY: the user pointer is the bound interface's `data`, as when Godot calls, and
        // the slice holds `len` bytes for the call.
        let code = unsafe { put_packet(self.bound.data(), data.as_ptr(), len) };
        i64::from(code)
    }
}

impl<I, T> Drop for Binding<I, T> {
    /// Makes Godot forget our interface before it is freed.
    fn drop(&mut self) {
        // A script method that was running when the object was freed (a signal handler
        // dropping the last reference) holds gdnative's user data, so the binding can outlive
        // the object: then there is nothing left to unbind. Instance ids are never reused.
        // SAFETY: `godot_instance_from_id` only looks the id up in Godot's object table.
        let alive = unsafe {
            (gdnative::private::get_api().godot_instance_from_id)(self.object_id as sys::godot_int)
        };
        if alive != self.object {
            return;
        }
        // SAFETY: the object is still in Godot's table, so its memory is still allocated: the
        // script instance owning this binding is dropped either when its script is detached
        // from a live object, which is then fully valid, or from `Object::~Object`, after the
        // `*GDNative` destructor ran but before the object is removed from the table and its
        // memory freed. There the call only stores NULL in the still-allocated `interface`
        // member (a plain pointer, no virtual call, nothing reads it afterwards). gdnative
        // cannot deliver NOTIFICATION_PREDELETE to a Reference (it re-references the dying
        // object), so this is the last moment we run.
        unsafe { (self.bind)(self.object, std::ptr::null()) };
    }
}

/// Runs the body of callback `name` on the state behind Godot's `user` pointer: on the object's
/// own thread only, with a strong reference held for the whole call (a signal emitted from
/// `poll` may free the object), and with panics turned into a Godot error and `fallback`.
///
/// # Safety
/// `user` must be the `data` pointer of a bound `Binding<_, T>` whose object is alive: Godot
/// only calls a bound object's interface, and the binding keeps the `Bound<T>` until it unbinds.
unsafe fn call<T, R>(
    user: *const c_void,
    name: &str,
    fallback: R,
    body: impl FnOnce(&T) -> R,
) -> R {
    // SAFETY: see above; `Bound` is never mutated after binding, so reading it is fine from
    // any thread, and only its `thread` is read before the check.
    let bound = &*(user as *const Bound<T>);
    if bound.thread != current_thread() {
        log::error(name, OTHER_THREAD);
        return fallback;
    }
    // Cloned on the object's thread, the only one that touches this `Rc`.
    let state = bound.state.clone();
    catch_unwind(AssertUnwindSafe(|| body(&state))).unwrap_or_else(|payload| {
        report_panic(name, payload);
        fallback
    })
}

/// Prints the panic a call caught as a Godot error naming the call.
fn report_panic(name: &str, payload: Box<dyn std::any::Any + Send>) {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    log::error(
        name,
        format!("gdws internal error: {message}; the call was ignored"),
    );
}

const OTHER_THREAD: &str = "called from another thread than the one that made the object; \
     WebSocketServer and WebSocketPeer are main-thread only (the network already runs on its \
     own threads)";

fn error_code(result: Result<(), GodotError>) -> sys::godot_error {
    match result {
        Ok(()) => sys::godot_error_GODOT_OK,
        Err(e) => e as sys::godot_error,
    }
}

const FAILED: sys::godot_error = GodotError::Failed as sys::godot_error;

// SAFETY (every callback below): `user` comes from our bound interface (see `call`), and the
// out-pointers come from Godot, valid for writing for the duration of the call.

/// `FAULT`: the test-only variant with a fault injection point (see `fault`).
unsafe extern "C" fn get_packet<T: PacketPeerImpl, const FAULT: bool>(
    user: *mut c_void,
    buffer: *mut *const u8,
    len: *mut c_int,
) -> sys::godot_error {
    // Godot 3.2's MultiplayerAPI::poll reads the buffer even when get_packet fails: it always
    // gets a valid, empty one unless a packet is returned.
    *buffer = [].as_ptr();
    *len = 0;
    call(user, "get_packet", FAILED, |state: &T| {
        if FAULT {
            fault::panic_if_requested("get_packet");
        }
        match state.get_packet() {
            Ok(packet) => match c_int::try_from(packet.len()) {
                Ok(packet_len) => {
                    // The implementation keeps the packet until its next get_packet.
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

/// `FAULT`: the test-only variant with a fault injection point (see `fault`).
unsafe extern "C" fn put_packet<T: PacketPeerImpl, const FAULT: bool>(
    user: *mut c_void,
    buffer: *const u8,
    len: c_int,
) -> sys::godot_error {
    let data = match usize::try_from(len) {
        Ok(0) | Err(_) => &[][..],
        Ok(_) if buffer.is_null() => return GodotError::InvalidParameter as sys::godot_error,
        // `buffer` holds `len` bytes, valid during the call.
        Ok(len) => std::slice::from_raw_parts(buffer, len),
    };
    call(user, "put_packet", FAILED, |state: &T| {
        if FAULT {
            fault::panic_if_requested("put_packet");
        }
        error_code(state.put_packet(data))
    })
}

unsafe extern "C" fn get_available_packet_count<T: PacketPeerImpl>(
    user: *const c_void,
) -> sys::godot_int {
    call(user, "get_available_packet_count", 0, |state: &T| {
        state.available_packet_count() as sys::godot_int
    })
}

unsafe extern "C" fn get_max_packet_size<T: PacketPeerImpl>(user: *const c_void) -> sys::godot_int {
    call(user, "get_max_packet_size", 0, |state: &T| {
        state.max_packet_size() as sys::godot_int
    })
}

unsafe extern "C" fn set_transfer_mode<T: MultiplayerPeerImpl>(
    user: *mut c_void,
    mode: sys::godot_int,
) {
    call(user, "set_transfer_mode", (), |state: &T| {
        state.set_transfer_mode(mode.into())
    })
}

unsafe extern "C" fn get_transfer_mode<T: MultiplayerPeerImpl>(
    user: *const c_void,
) -> sys::godot_int {
    call(user, "get_transfer_mode", 0, |state: &T| {
        state.transfer_mode() as sys::godot_int
    })
}

unsafe extern "C" fn set_target_peer<T: MultiplayerPeerImpl>(
    user: *mut c_void,
    id: sys::godot_int,
) {
    call(user, "set_target_peer", (), |state: &T| {
        state.set_target_peer(id.into())
    })
}

unsafe extern "C" fn get_packet_peer<T: MultiplayerPeerImpl>(
    user: *const c_void,
) -> sys::godot_int {
    call(user, "get_packet_peer", 0, |state: &T| {
        state.packet_peer() as sys::godot_int
    })
}

unsafe extern "C" fn is_server<T: MultiplayerPeerImpl>(user: *const c_void) -> sys::godot_bool {
    call(user, "is_server", false, |state: &T| state.is_server())
}

unsafe extern "C" fn poll<T: MultiplayerPeerImpl>(user: *mut c_void) {
    call(user, "poll", (), |state: &T| state.poll())
}

unsafe extern "C" fn get_unique_id<T: MultiplayerPeerImpl>(user: *const c_void) -> i32 {
    call(user, "get_unique_id", 1, |state: &T| state.unique_id())
}

unsafe extern "C" fn set_refuse_new_connections<T: MultiplayerPeerImpl>(
    user: *mut c_void,
    refuse: sys::godot_bool,
) {
    call(user, "set_refuse_new_connections", (), |state: &T| {
        state.set_refuse_new_connections(refuse)
    })
}

unsafe extern "C" fn is_refusing_new_connections<T: MultiplayerPeerImpl>(
    user: *const c_void,
) -> sys::godot_bool {
    call(user, "is_refusing_new_connections", false, |state: &T| {
        state.is_refusing_new_connections()
    })
}

unsafe extern "C" fn get_connection_status<T: MultiplayerPeerImpl>(
    user: *const c_void,
) -> sys::godot_int {
    call(user, "get_connection_status", 0, |state: &T| {
        state.connection_status() as sys::godot_int
    })
}

/// The live object behind an instance id, for emitting signals from a callback that has only
/// our state. Look it up again after anything that runs scripts (a signal handler may free
/// it): the reference is only good until then.
pub(crate) fn object_from_instance_id<'a>(id: i64) -> Option<TRef<'a, Object>> {
    // SAFETY: called on the object's own thread, from one of its callbacks (which `call` keeps
    // there) or script methods (which gdnative's LocalCellData keeps there), and
    // `try_from_instance_id` returns None for an object that is gone; callers emit one signal
    // with it and look it up again for the next.
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

/// `key.save_to_string()`, the key's PEM, where the running engine has that method (Godot 3.5
/// and later): no file, not even one in memory. `None` on older releases, which can only save a
/// key to a path (see `tls::resource_pem`).
pub(crate) fn key_pem_from_engine(key: &Ref<CryptoKey, Shared>) -> Option<String> {
    // SAFETY: as in `resource_path`: holding `key` keeps it alive, and it is used on the main
    // thread, where `listen()` runs.
    let key = unsafe { key.assume_safe() };
    let object = key.upcast::<Object>();
    if !object.has_method("save_to_string") {
        return None;
    }
    // SAFETY: the object has the method, and it takes one bool (public_only: false for the
    // private key) and returns a String; a Variant of another type is refused below.
    let pem = unsafe { object.call("save_to_string", &[false.to_variant()]) };
    pem.try_to::<GodotString>().ok().map(|pem| pem.to_string())
}

/// What a class does when its last reference goes on another thread than the one that made it
/// (a GDScript `Thread` dropping it): gdnative's `LocalCellData` then skips the class's `Drop`,
/// since the object may not be touched off its thread.
pub trait DroppedElsewhere {
    /// Made with the object, on its thread; run on the other thread instead of `Drop`. It may
    /// use only what it holds (nothing of the object's `Rc`s or `RefCell`s).
    fn on_drop_elsewhere(&self) -> Box<dyn Fn() + Send + Sync>;
}

/// `LocalCellData` (the object is used on the thread that made it only) that, when the last
/// reference goes on another thread, runs the class's `DroppedElsewhere` hook there instead
/// of leaking what the object runs. The object's own memory is still left alone there.
pub struct MainThreadData<T: NativeClass>(Arc<Owned<T>>);

struct Owned<T: NativeClass> {
    data: LocalCellData<T>,
    thread: ThreadId,
    elsewhere: Box<dyn Fn() + Send + Sync>,
}

impl<T: NativeClass> Drop for Owned<T> {
    fn drop(&mut self) {
        if std::thread::current().id() != self.thread {
            // A panic must not unwind into Godot's destructor: it would abort the game.
            if catch_unwind(AssertUnwindSafe(|| (self.elsewhere)())).is_err() {
                log::error(
                    "WebSocketServer",
                    "gdws internal error while stopping a server dropped on another thread",
                );
            }
        }
        // `data` drops next: on the object's thread it runs the class's `Drop`.
    }
}

impl<T: NativeClass> Clone for MainThreadData<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

// SAFETY: the pointer handed to Godot is an `Arc<Owned<T>>` turned raw, and each function
// below turns back only such a pointer (gdnative passes back what `into_user_data` gave),
// keeping the count right: `consume` takes over Godot's reference, `clone` adds one.
unsafe impl<T: NativeClass + DroppedElsewhere> UserData for MainThreadData<T> {
    type Target = T;

    fn new(val: T) -> Self {
        let elsewhere = val.on_drop_elsewhere();
        Self(Arc::new(Owned {
            data: LocalCellData::new(val),
            thread: std::thread::current().id(),
            elsewhere,
        }))
    }

    fn into_user_data(self) -> *const c_void {
        Arc::into_raw(self.0) as *const c_void
    }

    unsafe fn consume_user_data_unchecked(ptr: *const c_void) -> Self {
        Self(Arc::from_raw(ptr as *const Owned<T>))
    }

    unsafe fn clone_from_user_data_unchecked(ptr: *const c_void) -> Self {
        Arc::increment_strong_count(ptr as *const Owned<T>);
        Self(Arc::from_raw(ptr as *const Owned<T>))
    }
}

impl<T: NativeClass + DroppedElsewhere> Map for MainThreadData<T> {
    type Err = LocalCellError;

    fn map<F, U>(&self, op: F) -> Result<U, Self::Err>
    where
        F: FnOnce(&T) -> U,
    {
        self.0.data.map(op)
    }
}

impl<T: NativeClass + DroppedElsewhere> MapMut for MainThreadData<T> {
    type Err = LocalCellError;

    fn map_mut<F, U>(&self, op: F) -> Result<U, Self::Err>
    where
        F: FnOnce(&mut T) -> U,
    {
        self.0.data.map_mut(op)
    }
}

/// Godot calls `godot_nativescript_frame` in every NativeScript library once a frame
/// (`NativeScriptLanguage::frame`), looking it up with `dlsym` each time. Missing, it costs a
/// failed lookup through every library loaded and the `dlerror` message formatted for it, on
/// the main thread, every frame: callgrind counted an idle headless Godot 3.2.3 frame with a
/// listening server at 31,100 instructions without it, 28,100 with it (the built-in server's
/// 17,800). gdnative 0.11's `godot_init!` does not export it.
#[no_mangle]
pub extern "C" fn godot_nativescript_frame() {}

/// A script method that Godot calls through `direct_method_call` instead of gdnative's
/// wrapper: the instance and the call's arguments in, the return value out.
pub(crate) struct DirectMethod<T> {
    /// The name scripts call it by.
    pub name: &'static CStr,
    pub body: for<'a> fn(&T, Varargs<'a>) -> DirectResult<'a>,
}

impl<T: StaticallyNamed> DirectMethod<T> {
    /// `Class.method`, as errors name the call.
    fn call_name(&self) -> String {
        format!("{}.{}", T::CLASS_NAME, self.name.to_string_lossy())
    }
}

/// What a `DirectMethod` returns: a wrong argument is printed as an error naming the call.
pub(crate) type DirectResult<'a> = Result<Variant, Box<ArgumentError<'a>>>;

/// Registers `methods` on class `T`, replacing what gdnative registered under those names.
///
/// Why: gdnative 0.11's wrapper takes a strong reference to the object for every call. On a
/// Reference that a script holds once (a server in a `var`), going from one reference to two
/// and back makes Godot call the script instance's `_refcount_incremented` and
/// `_refcount_decremented` by name, each a StringName made from a C string and method lookups:
/// callgrind counted `server.poll()` at 7,840 instructions a call (3,080 when the script held a
/// second reference; the built-in's 1,660), and a typical handler calls `get_peer` for every
/// message. Without that reference a handler of a signal emitted during the call can free the
/// object: `direct_method_call` keeps the instance's data alive for the call, and `pump::poll`,
/// the one method that runs scripts, holds a reference while it emits.
pub(crate) fn register_direct_methods<T>(handle: *mut c_void, methods: &'static [DirectMethod<T>])
where
    T: NativeClass<UserData = MainThreadData<T>> + StaticallyNamed + DroppedElsewhere,
{
    // A class name is an identifier: no NUL in it.
    let class = CString::new(T::CLASS_NAME).unwrap_or_default();
    let api = gdnative::private::get_api();
    for method in methods {
        let attributes = sys::godot_method_attributes {
            rpc_type: sys::godot_method_rpc_mode_GODOT_METHOD_RPC_MODE_DISABLED,
        };
        let instance_method = sys::godot_instance_method {
            method: Some(direct_method_call::<T>),
            // `methods` is 'static: the pointer stays valid for as long as the class exists.
            method_data: method as *const DirectMethod<T> as *mut c_void,
            free_func: None,
        };
        // SAFETY: `handle` is the one Godot passed to `godot_nativescript_init`, which calls
        // this after gdnative registered class `T`; both names are NUL-terminated and Godot
        // copies them.
        unsafe {
            (api.godot_nativescript_register_method)(
                handle,
                class.as_ptr(),
                method.name.as_ptr(),
                attributes,
                instance_method,
            );
        }
    }
}

/// Godot's entry to a `DirectMethod`.
///
/// # Safety
/// Godot calls it with the `method_data` given at registration (a `'static` `DirectMethod<T>`),
/// the `user_data` of a live instance of `T` (made by gdnative from `MainThreadData<T>`), and
/// `num_args` valid argument pointers. The object itself is never touched here; the instance's
/// data is cloned first, so it outlives the call even if the object is freed during it.
unsafe extern "C" fn direct_method_call<T>(
    _object: *mut sys::godot_object,
    method_data: *mut c_void,
    user_data: *mut c_void,
    num_args: c_int,
    args: *mut *mut sys::godot_variant,
) -> sys::godot_variant
where
    T: NativeClass<UserData = MainThreadData<T>> + StaticallyNamed + DroppedElsewhere,
{
    let method = &*(method_data as *const DirectMethod<T>);
    if user_data.is_null() {
        log::error(&method.call_name(), "the object has no instance data");
        return Variant::nil().leak();
    }
    // gdnative's own wrapper reads the arguments this way: a `godot_variant` pointer is a
    // `&Variant` (gdnative's Variant is the `godot_variant` itself).
    let args = if num_args > 0 && !args.is_null() {
        Varargs::from_sys(num_args, args)
    } else {
        Varargs::from_sys(0, [].as_mut_ptr())
    };
    let data = MainThreadData::<T>::clone_from_user_data_unchecked(user_data);
    let result = catch_unwind(AssertUnwindSafe(|| {
        data.map(|instance| (method.body)(instance, args))
    }));
    match result {
        Ok(Ok(Ok(value))) => value.leak(),
        Ok(Ok(Err(argument_error))) => {
            log::error(&method.call_name(), argument_error);
            Variant::nil().leak()
        }
        Ok(Err(_)) => {
            log::error(&method.call_name(), OTHER_THREAD);
            Variant::nil().leak()
        }
        Err(payload) => {
            report_panic(&method.call_name(), payload);
            Variant::nil().leak()
        }
    }
}

/// The NativeScript entry point: gdnative registers the classes, then the methods a game calls
/// per frame or per message are registered again past gdnative's wrapper (`DIRECT_METHODS`).
///
/// # Safety
/// Godot calls it once, on the main thread, with its NativeScript handle.
#[no_mangle]
pub unsafe extern "C" fn godot_nativescript_init(handle: *mut c_void) {
    crate::gdws_register_classes(handle);
    if !gdnative::private::is_api_bound() {
        return; // gdnative said why and registered nothing.
    }
    let registered =
        catch_unwind(|| register_direct_methods(handle, super::server::DIRECT_METHODS));
    if let Err(payload) = registered {
        report_panic("godot_nativescript_init", payload);
    }
}
