//! `region.sharedArrayBuffer`: a `SharedArrayBuffer` over the mapping, made with Node-API's
//! `node_api_create_external_sharedarraybuffer`, which current Node 22, 24 and 26 releases export
//! (Node 20 does not): looked up by name when first needed, as the libuv functions are. Its
//! finalizer runs on whatever thread frees the last `SharedArrayBuffer` over the memory (they may
//! live in several workers), and lets go of the region's hold there.

use mapshare_core::Hold;
use napi::{sys, Env, Unknown};
use std::ffi::c_void;
use std::sync::OnceLock;

type NoEnvFinalize = unsafe extern "C" fn(data: *mut c_void, hint: *mut c_void);
type Create = unsafe extern "C" fn(
  env: sys::napi_env,
  data: *mut c_void,
  len: usize,
  finalize: Option<NoEnvFinalize>,
  hint: *mut c_void,
  result: *mut sys::napi_value,
) -> sys::napi_status;

/// The runtime's `node_api_create_external_sharedarraybuffer`, if it has one.
fn create_fn() -> Option<Create> {
  static CREATE: OnceLock<Option<Create>> = OnceLock::new();
  *CREATE.get_or_init(|| {
    #[cfg(unix)]
    {
      // SAFETY: a lookup by name in the global scope (the runtime's own exports).
      let p =
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"node_api_create_external_sharedarraybuffer".as_ptr()) };
      // SAFETY: the symbol is Node-API's function of that name, whose C signature is `Create`.
      (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut c_void, Create>(&p) })
    }
    #[cfg(not(unix))]
    {
      None
    }
  })
}

unsafe extern "C" fn drop_hold(_data: *mut c_void, hint: *mut c_void) {
  // SAFETY: `hint` is the Box<Hold> leaked in `make`, and the runtime calls this once. A Hold may be
  // dropped on any thread.
  drop(unsafe { Box::from_raw(hint.cast::<Hold>()) });
}

/// Why no SharedArrayBuffer could be made.
pub enum Unavailable {
  /// The runtime has no `node_api_create_external_sharedarraybuffer`.
  NoFunction,
  /// The runtime forbids external memory (Electron's memory cage, or `MAPSHARE_NO_EXTERNAL_BUFFERS`).
  Forbidden,
  Napi(napi::Error),
}

/// A `SharedArrayBuffer` over `len` bytes at `data`, holding the memory (`hold`) until every
/// `SharedArrayBuffer` over it, in every thread, is gone.
pub fn make<'env>(
  env: &'env Env,
  data: *mut u8,
  len: usize,
  hold: Hold,
) -> Result<Unknown<'env>, Unavailable> {
  if super::external::simulate_no_external() {
    return Err(Unavailable::Forbidden);
  }
  let Some(create) = create_fn() else { return Err(Unavailable::NoFunction) };
  let hint = Box::into_raw(Box::new(hold));
  let mut result = std::ptr::null_mut();
  // SAFETY: `data..data+len` stays mapped (live or inert) while the hold lives; the finalizer
  // reclaims `hint` exactly once; `result` is a valid out-pointer.
  let code = unsafe { create(env.raw(), data.cast(), len, Some(drop_hold), hint.cast(), &mut result) };
  if code != sys::Status::napi_ok {
    if code == sys::Status::napi_no_external_buffers_allowed {
      // SAFETY: refused before anything was made: the finalizer never runs, `hint` is still ours.
      drop(unsafe { Box::from_raw(hint) });
      return Err(Unavailable::Forbidden);
    }
    // As for external Buffers: a failed call may or may not run the finalizer; leaking `hint` keeps
    // one mapping reserved, the safe side.
    return Err(Unavailable::Napi(napi::Error::new(
      napi::Status::from(code),
      "node_api_create_external_sharedarraybuffer failed",
    )));
  }
  // SAFETY: `result` is the live value just created in this env.
  Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), result) })
}
