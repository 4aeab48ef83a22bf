//! A libuv poll handle on a JS thread's own event loop (Linux: Node and Electron export libuv to
//! addons), for descriptors that are not streams (an io_uring's). Its callback runs inside a
//! Node-API callback scope, so promises settled there continue (microtasks, `nextTick`) as soon as
//! it returns, as after any I/O callback. The environment's teardown (worker exit, process end) stops
//! and closes the handle through an async cleanup hook, so the loop never closes with it open.

use napi::sys;
use napi::Env;
use std::any::Any;

/// What the handle's owner keeps until libuv has let go of the descriptor (then dropped).
pub type Keep = Box<dyn Any>;

/// A started poll handle. Owned by the thread that started it; freed by its close callback after the
/// environment's teardown.
#[derive(Debug)]
pub struct Watch {
  #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
  ctx: *mut Ctx,
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Ctx {
  /// Storage for the `uv_poll_t` (its first field is libuv's `void *data`, pointing back here).
  handle: *mut u64,
  words: usize,
  /// Storage for a `uv_idle_t` (null if none), active while the loop watches for a wake-up without
  /// sleeping (see [`Watch::spin`]).
  idle: *mut u64,
  idle_storage: *mut u64,
  idle_words: usize,
  spin_until: Option<std::time::Instant>,
  woke_in_spin: bool,
  /// Submissions left without a spin, after one that saw no wake-up.
  cooldown: u32,
  /// Handles not closed yet (the Ctx is freed when the last one is).
  open: u32,
  env: sys::napi_env,
  async_ctx: sys::napi_async_context,
  hook: sys::napi_async_cleanup_hook_handle,
  referenced: bool,
  closing: bool,
  on_ready: fn(),
  on_teardown: fn() -> Option<Keep>,
  keep: Option<Keep>,
  #[cfg(target_os = "linux")]
  uv: &'static ffi::Uv,
}

/// libuv's functions, looked up when first needed (not linked: a runtime that lacks them, or has
/// only stand-ins, still loads the addon; its waits then use threads).
#[cfg(target_os = "linux")]
mod ffi {
  use std::os::raw::{c_int, c_void};
  use std::sync::OnceLock;
  pub const UV_POLL: c_int = 8;
  pub const UV_READABLE: c_int = 1;
  pub type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
  pub type CloseCb = unsafe extern "C" fn(handle: *mut c_void);
  pub type IdleCb = unsafe extern "C" fn(handle: *mut c_void);
  pub const UV_IDLE: c_int = 6;

  pub struct Uv {
    pub handle_size: unsafe extern "C" fn(kind: c_int) -> usize,
    pub poll_init: unsafe extern "C" fn(event_loop: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int,
    pub poll_start: unsafe extern "C" fn(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int,
    pub poll_stop: unsafe extern "C" fn(handle: *mut c_void) -> c_int,
    pub close: unsafe extern "C" fn(handle: *mut c_void, cb: Option<CloseCb>),
    pub ref_: unsafe extern "C" fn(handle: *mut c_void),
    pub unref: unsafe extern "C" fn(handle: *mut c_void),
    pub idle_init: unsafe extern "C" fn(event_loop: *mut c_void, handle: *mut c_void) -> c_int,
    pub idle_start: unsafe extern "C" fn(handle: *mut c_void, cb: IdleCb) -> c_int,
    pub idle_stop: unsafe extern "C" fn(handle: *mut c_void) -> c_int,
  }

  /// Off for runtimes whose libuv symbols are stand-ins (set by the JS layer, src-js/native.ts,
  /// under Bun and Deno).
  pub static REFUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

  /// A function pointer from a symbol's address.
  ///
  /// # Safety
  /// `F` must be the function pointer type of the symbol's C signature.
  unsafe fn cast<F: Copy>(p: *mut c_void) -> F {
    // SAFETY: function and data pointers have the same size and representation on Linux.
    unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) }
  }

  /// The process's libuv (Node's, Electron's), if it exports every function used here.
  pub fn uv() -> Option<&'static Uv> {
    static UV: OnceLock<Option<Uv>> = OnceLock::new();
    if REFUSED.load(std::sync::atomic::Ordering::SeqCst) {
      return None;
    }
    UV.get_or_init(|| {
      let find = |name: &std::ffi::CStr| {
        // SAFETY: a lookup by name in the global scope.
        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        (!p.is_null()).then_some(p)
      };
      // SAFETY: each symbol is libuv's function of that name, whose C signature is the field's.
      unsafe {
        Some(Uv {
          handle_size: cast(find(c"uv_handle_size")?),
          poll_init: cast(find(c"uv_poll_init")?),
          poll_start: cast(find(c"uv_poll_start")?),
          poll_stop: cast(find(c"uv_poll_stop")?),
          close: cast(find(c"uv_close")?),
          ref_: cast(find(c"uv_ref")?),
          unref: cast(find(c"uv_unref")?),
          idle_init: cast(find(c"uv_idle_init")?),
          idle_start: cast(find(c"uv_idle_start")?),
          idle_stop: cast(find(c"uv_idle_stop")?),
        })
      }
    })
    .as_ref()
  }
}

/// Internal (the JS layer, src-js/native.ts): this runtime's libuv functions are stand-ins (Bun, Deno);
/// never use them.
#[napi(js_name = "_uvRefused", skip_typescript, catch_unwind)]
pub fn uv_refused() {
  #[cfg(target_os = "linux")]
  ffi::REFUSED.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[cfg(target_os = "linux")]
impl Watch {
  /// Watches `fd` (which must stay open until `on_teardown`'s keep is dropped) for readability on
  /// this thread's loop: `on_ready` runs on each readiness. Starts unreferenced.
  pub fn start(env: &Env, fd: i32, on_ready: fn(), on_teardown: fn() -> Option<Keep>) -> Option<Watch> {
    use std::os::raw::c_void;
    let uv = ffi::uv()?;
    let raw = env.raw();
    let ok = |s: sys::napi_status| (s == sys::Status::napi_ok).then_some(());
    let mut event_loop = std::ptr::null_mut();
    // SAFETY: a valid env on its own thread, and an out-pointer.
    ok(unsafe { sys::napi_get_uv_event_loop(raw, &mut event_loop) })?;
    let mut async_ctx = std::ptr::null_mut();
    // SAFETY: a valid env on its own thread; the resource and name are values made here, and every
    // out-pointer is a local.
    unsafe {
      let mut resource = std::ptr::null_mut();
      let mut name = std::ptr::null_mut();
      ok(sys::napi_create_object(raw, &mut resource))?;
      let label = "mapshare.waitAsync";
      ok(sys::napi_create_string_utf8(raw, label.as_ptr().cast(), label.len() as isize, &mut name))?;
      ok(sys::napi_async_init(raw, resource, name, &mut async_ctx))?;
    }
    // SAFETY: a pure query of libuv's struct sizes.
    let bytes = unsafe { (uv.handle_size)(ffi::UV_POLL) };
    let words = bytes.div_ceil(8).max(1);
    let handle = Box::into_raw(vec![0u64; words].into_boxed_slice()).cast::<u64>();
    // SAFETY: a pure query of libuv's struct sizes.
    let idle_words = unsafe { (uv.handle_size)(ffi::UV_IDLE) }.div_ceil(8).max(1);
    let idle = Box::into_raw(vec![0u64; idle_words].into_boxed_slice()).cast::<u64>();
    let ctx = Box::into_raw(Box::new(Ctx {
      handle,
      words,
      idle,
      idle_storage: idle,
      idle_words,
      spin_until: None,
      woke_in_spin: false,
      cooldown: 0,
      open: 1,
      env: raw,
      async_ctx,
      hook: std::ptr::null_mut(),
      referenced: false,
      closing: false,
      on_ready,
      on_teardown,
      keep: None,
      uv,
    }));
    let h = handle.cast::<c_void>();
    // SAFETY: `h` is zeroed storage of uv_handle_size(UV_POLL) bytes, 8-aligned, for this thread's
    // loop; `fd` is open. On failure after init, the handle is closed (and everything freed) by
    // `closed`; before init, freed here.
    unsafe {
      if (uv.poll_init)(event_loop.cast(), h, fd) != 0 {
        sys::napi_async_destroy(raw, async_ctx);
        free(Box::from_raw(ctx));
        return None;
      }
      *h.cast::<*mut Ctx>() = ctx; // uv_handle_t.data
      let i = idle.cast::<c_void>();
      if (uv.idle_init)(event_loop.cast(), i) == 0 {
        *i.cast::<*mut Ctx>() = ctx;
        (uv.unref)(i); // a spin never keeps the loop alive
        (*ctx).open = 2;
      } else {
        (*ctx).idle = std::ptr::null_mut(); // no spinning (its storage is freed with the rest)
      }
      let hooked = sys::napi_add_async_cleanup_hook(raw, Some(teardown), ctx.cast(), &mut (*ctx).hook);
      if hooked != sys::Status::napi_ok {
        (*ctx).hook = std::ptr::null_mut();
      }
      if hooked != sys::Status::napi_ok || (uv.poll_start)(h, ffi::UV_READABLE, ready) != 0 {
        (*ctx).closing = true;
        sys::napi_async_destroy(raw, async_ctx);
        close_all(&mut *ctx);
        return None;
      }
      (uv.unref)(h);
    }
    Some(Watch { ctx })
  }

  /// Whether the handle keeps the loop (the process, the worker) alive.
  pub fn set_ref(&mut self, referenced: bool) {
    // SAFETY: the Watch lives on its thread while its Ctx is open (teardown takes the Watch first).
    let ctx = unsafe { &mut *self.ctx };
    let uv = ctx.uv;
    if ctx.referenced != referenced && !ctx.closing {
      ctx.referenced = referenced;
      // SAFETY: an open handle of this thread's loop.
      unsafe {
        if referenced {
          (uv.ref_)(ctx.handle.cast());
        } else {
          (uv.unref)(ctx.handle.cast());
        }
      }
    }
  }

  /// Keeps the loop from sleeping for `budget` (it runs its iterations with a zero poll timeout):
  /// a wake-up from a process on another CPU is then seen at once instead of waking an idle CPU
  /// (tens of µs in a virtual machine). After a spin that saw no wake-up, the next 16 calls do not
  /// spin, so waits that take long cost little.
  pub fn spin(&mut self, budget: std::time::Duration) {
    // SAFETY: the Watch lives on its thread while its Ctx is open (teardown takes the Watch first).
    let ctx = unsafe { &mut *self.ctx };
    if ctx.idle.is_null() || ctx.closing || budget.is_zero() || !mapshare_core::sync::multi_cpu() {
      return;
    }
    if ctx.cooldown > 0 {
      ctx.cooldown -= 1;
      return;
    }
    let until = std::time::Instant::now() + budget;
    if ctx.spin_until.replace(until).is_none() {
      ctx.woke_in_spin = false;
      // SAFETY: an open idle handle of this thread's loop.
      if unsafe { (ctx.uv.idle_start)(ctx.idle.cast(), idle) } != 0 {
        ctx.spin_until = None;
      }
    }
  }
}

#[cfg(not(target_os = "linux"))]
impl Watch {
  /// No poll handles here (only the Linux ring uses them).
  pub fn start(_env: &Env, _fd: i32, _on_ready: fn(), _on_teardown: fn() -> Option<Keep>) -> Option<Watch> {
    None
  }

  pub fn set_ref(&mut self, _referenced: bool) {}

  pub fn spin(&mut self, _budget: std::time::Duration) {}
}

/// Drops whatever a pending JS exception left (a user's `removeEventListener` that threw while a wait
/// settled: the wait is over either way), so that it is not thrown from some later, unrelated call.
#[cfg(target_os = "linux")]
unsafe fn clear_exception(env: sys::napi_env) {
  let mut pending = false;
  // SAFETY: a valid env on its thread (the caller's contract).
  unsafe {
    if sys::napi_is_exception_pending(env, &mut pending) == sys::Status::napi_ok && pending {
      let mut e = std::ptr::null_mut();
      sys::napi_get_and_clear_last_exception(env, &mut e);
    }
  }
}

#[cfg(target_os = "linux")]
unsafe extern "C" fn ready(handle: *mut std::os::raw::c_void, _status: i32, _events: i32) {
  // SAFETY: libuv calls this on the loop's thread with our handle, whose data is its live Ctx.
  let ctx = unsafe { &mut **handle.cast::<*mut Ctx>() };
  if ctx.closing {
    return;
  }
  if ctx.spin_until.is_some() {
    ctx.woke_in_spin = true;
  }
  let env = ctx.env;
  // SAFETY: the env of this loop's thread, alive while the handle is open (its teardown closes it).
  unsafe {
    let mut scope = std::ptr::null_mut();
    let handles = sys::napi_open_handle_scope(env, &mut scope) == sys::Status::napi_ok;
    let mut resource = std::ptr::null_mut();
    let mut callback = std::ptr::null_mut();
    let scoped = sys::napi_create_object(env, &mut resource) == sys::Status::napi_ok
      && sys::napi_open_callback_scope(env, resource, ctx.async_ctx, &mut callback) == sys::Status::napi_ok;
    let _ = std::panic::catch_unwind(ctx.on_ready);
    clear_exception(env);
    if scoped {
      sys::napi_close_callback_scope(env, callback);
      clear_exception(env);
    }
    if handles {
      sys::napi_close_handle_scope(env, scope);
    }
  }
}

#[cfg(target_os = "linux")]
unsafe extern "C" fn teardown(hook: sys::napi_async_cleanup_hook_handle, arg: *mut std::os::raw::c_void) {
  // SAFETY: registered with our Ctx, which lives until `closed`; on the environment's thread.
  let ctx = unsafe { &mut *arg.cast::<Ctx>() };
  ctx.hook = hook;
  ctx.closing = true;
  let (env, uv) = (ctx.env, ctx.uv);
  // SAFETY: the env is still valid inside its own cleanup hook; the handle is open until uv_close.
  unsafe {
    let mut scope = std::ptr::null_mut();
    let handles = sys::napi_open_handle_scope(env, &mut scope) == sys::Status::napi_ok;
    ctx.keep = std::panic::catch_unwind(ctx.on_teardown).ok().flatten();
    clear_exception(env);
    sys::napi_async_destroy(env, ctx.async_ctx);
    if handles {
      sys::napi_close_handle_scope(env, scope);
    }
    (uv.poll_stop)(ctx.handle.cast());
    close_all(ctx);
  }
}

/// The idle handle's callback: ends the spin when its time is up.
#[cfg(target_os = "linux")]
unsafe extern "C" fn idle(handle: *mut std::os::raw::c_void) {
  // SAFETY: libuv calls this on the loop's thread with our idle handle, whose data is its Ctx.
  let ctx = unsafe { &mut **handle.cast::<*mut Ctx>() };
  if ctx.spin_until.is_some_and(|t| std::time::Instant::now() < t) && !ctx.closing {
    return;
  }
  ctx.spin_until = None;
  if !ctx.woke_in_spin {
    ctx.cooldown = 16;
  }
  // SAFETY: the open idle handle this callback belongs to.
  unsafe { (ctx.uv.idle_stop)(handle) };
}

/// Closes the poll handle and the idle handle (if any); `closed` frees everything after the last.
///
/// # Safety
/// The handles are initialized and not closing yet; on the loop's thread.
#[cfg(target_os = "linux")]
unsafe fn close_all(ctx: &mut Ctx) {
  let uv = ctx.uv;
  // SAFETY: the handles are initialized and not closing yet, and this runs on the loop's thread (the
  // caller's contract): stopping and closing them once is what libuv requires.
  unsafe {
    if !ctx.idle.is_null() {
      (uv.idle_stop)(ctx.idle.cast());
      (uv.close)(ctx.idle.cast(), Some(closed));
    }
    (uv.close)(ctx.handle.cast(), Some(closed));
  }
}

/// Frees a Ctx and both handles' storage.
///
/// # Safety
/// libuv holds neither handle any more.
#[cfg(target_os = "linux")]
unsafe fn free(ctx: Box<Ctx>) {
  let (handle, words) = (ctx.handle, ctx.words);
  let (idle, idle_words) = (ctx.idle_storage, ctx.idle_words);
  drop(ctx); // drops `keep` (the ring, and its descriptor): libuv no longer polls it
             // SAFETY: both made by Box::into_raw of boxed slices of these lengths.
  unsafe {
    drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(handle, words)));
    drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(idle, idle_words)));
  }
}

#[cfg(target_os = "linux")]
unsafe extern "C" fn closed(handle: *mut std::os::raw::c_void) {
  // SAFETY: libuv is done with this handle; its data is our Ctx (made by Box::into_raw), freed
  // after the last of its handles closed.
  unsafe {
    let ctx = *handle.cast::<*mut Ctx>();
    (*ctx).open -= 1;
    if (*ctx).open == 0 {
      let hook = (*ctx).hook;
      free(Box::from_raw(ctx));
      if !hook.is_null() {
        sys::napi_remove_async_cleanup_hook(hook);
      }
    }
  }
}
