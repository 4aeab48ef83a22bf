//! The one place where mapped memory meets the JS engine: external Buffers over a region, their
//! holds on the memory, and raw access to the bytes of JS views passed in. Node-API calls on raw
//! values need `unsafe`, which is why this lives in `runtime`.

use mapshare_core::{ExtBytes, Hold};
use napi::{sys, Env, JsValue, Unknown};
use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Why an external Buffer could not be made.
pub enum ExternalError {
  /// The runtime forbids external buffers (Electron's V8 memory cage), or
  /// `MAPSHARE_NO_EXTERNAL_BUFFERS=1` asks us to behave as if it did.
  Forbidden,
  Napi(napi::Error),
}

/// True when `MAPSHARE_NO_EXTERNAL_BUFFERS` is set to a non-empty value other than `0`: the addon then
/// behaves as under Electron's memory cage, so that path can be tested on Node.
pub fn simulate_no_external() -> bool {
  static FLAG: OnceLock<bool> = OnceLock::new();
  *FLAG.get_or_init(|| std::env::var("MAPSHARE_NO_EXTERNAL_BUFFERS").is_ok_and(|v| !v.is_empty() && v != "0"))
}

fn status(code: sys::napi_status, what: &str) -> napi::Result<()> {
  if code == sys::Status::napi_ok {
    Ok(())
  } else {
    Err(napi::Error::new(napi::Status::from(code), format!("{what} failed (napi status {code})")))
  }
}

unsafe extern "C" fn drop_keeper<K>(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
  // SAFETY: `hint` is the Box<K> leaked in `external_buffer`, and Node-API calls this once.
  drop(unsafe { Box::from_raw(hint.cast::<K>()) });
}

/// `napi_adjust_external_memory`: tells V8 how much memory outside its heap is tied to JS objects.
pub fn adjust(env: &Env, change: i64) {
  let mut total = 0i64;
  // SAFETY: valid env and out-pointer; the call only adjusts a counter (it never runs JS).
  unsafe { sys::napi_adjust_external_memory(env.raw(), change, &mut total) };
}

/// A Node `Buffer` over `len` bytes at `data`, with no copy, holding the memory until V8 frees the
/// backing store: that is, until no `ArrayBuffer` uses it any more — the Buffer's own, one moved
/// elsewhere (`transfer()`, `postMessage`), or one that native work keeps referenced while it runs
/// (a read on libuv's pool, `crypto.randomFill` and zlib keep the Buffer referenced until done).
/// mapshare never detaches these Buffers: detaching frees the backing store (and so the hold) under
/// such work at once, and Node's zlib aborts the process when its input is detached mid-stream.
pub fn external_buffer<'env>(
  env: &'env Env,
  data: *mut u8,
  len: usize,
  hold: Hold,
) -> Result<Unknown<'env>, ExternalError> {
  if simulate_no_external() {
    return Err(ExternalError::Forbidden);
  }
  let hint = Box::into_raw(Box::new(hold));
  let mut result = ptr::null_mut();
  // SAFETY: `data..data+len` stays mapped while the hold lives; the finalizer reclaims `hint` exactly
  // once; `result` is a valid out-pointer.
  let code = unsafe {
    sys::napi_create_external_buffer(
      env.raw(),
      len,
      data.cast(),
      Some(drop_keeper::<Hold>),
      hint.cast(),
      &mut result,
    )
  };
  // SAFETY: `hint` and `result` are this call's.
  unsafe { made(env, code, hint, result, "napi_create_external_buffer") }
}

/// The outcome of a `napi_create_external_*` call that was given `hint` (a leaked `Box<Hold>`) for its
/// finalizer.
///
/// # Safety
/// `hint` came from `Box::into_raw` for that call, and `result` is what the call wrote.
unsafe fn made<'env>(
  env: &'env Env,
  code: sys::napi_status,
  hint: *mut Hold,
  result: sys::napi_value,
  what: &str,
) -> Result<Unknown<'env>, ExternalError> {
  if code != sys::Status::napi_ok {
    if code == sys::Status::napi_no_external_buffers_allowed {
      // Refused before anything was made (Node checks this first): the finalizer never runs.
      // SAFETY: `hint` is still ours.
      drop(unsafe { Box::from_raw(hint) });
      return Err(ExternalError::Forbidden);
    }
    // Some runtimes run the finalizer when they fail to make the Buffer (Node 20 above
    // buffer.constants.MAX_LENGTH, even later, from the event loop), others do not. Freeing `hint`
    // here could free it twice; leaking it keeps one mapping reserved: the safe side. Lengths are
    // checked against the runtime's limit before we get here, so this is not expected.
    return Err(ExternalError::Napi(napi::Error::new(napi::Status::from(code), format!("{what} failed"))));
  }
  // SAFETY: `result` is the live value just created in this env.
  Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), result) })
}

/// The error for a runtime that forbids external memory in JS (Electron's V8 memory cage).
pub fn forbidden(env: &Env) -> napi::Error {
  crate::error::coded(
    env,
    "ERR_MAPSHARE_EXTERNAL_BUFFERS_UNAVAILABLE",
    "this runtime forbids Buffers over external memory (Electron's V8 memory cage), so `buffer` and views \
     cannot give zero-copy access; use read(), readInto() and write(), which work on the same shared memory",
  )
}

/// An `ArrayBuffer` over `len` bytes at `base + offset`, with no copy, holding the memory as
/// [`external_buffer`] does.
pub fn external_arraybuffer<'env>(
  env: &'env Env,
  base: *mut u8,
  offset: usize,
  len: usize,
  hold: Hold,
) -> Result<Unknown<'env>, ExternalError> {
  if simulate_no_external() {
    return Err(ExternalError::Forbidden);
  }
  // The caller checked `offset + len` against the mapping that `hold` keeps.
  let data = base.wrapping_add(offset);
  let hint = Box::into_raw(Box::new(hold));
  let mut result = ptr::null_mut();
  // SAFETY: `data..data+len` stays mapped while the hold lives; the finalizer reclaims `hint` exactly
  // once; `result` is a valid out-pointer.
  let code = unsafe {
    sys::napi_create_external_arraybuffer(
      env.raw(),
      data.cast(),
      len,
      Some(drop_keeper::<Hold>),
      hint.cast(),
      &mut result,
    )
  };
  // SAFETY: `hint` and `result` are this call's.
  unsafe { made(env, code, hint, result, "napi_create_external_arraybuffer") }
}

/// The `ArrayBuffer` under a typed array (a Buffer), and the typed array's offset in it.
pub fn arraybuffer_of<'env>(env: &'env Env, view: &Unknown) -> napi::Result<(Unknown<'env>, usize)> {
  let (mut kind, mut len, mut data, mut ab, mut at) = (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
  // SAFETY: a live value of this env (Node-API checks that it is a typed array); valid out-pointers.
  let code = unsafe {
    sys::napi_get_typedarray_info(env.raw(), view.raw(), &mut kind, &mut len, &mut data, &mut ab, &mut at)
  };
  status(code, "napi_get_typedarray_info")?;
  // SAFETY: the ArrayBuffer just reported, live in this env.
  Ok((unsafe { Unknown::from_raw_unchecked(env.raw(), ab) }, at))
}

/// A typed array of Node-API type `typed` with `count` elements, or a `DataView` of `bytes` bytes
/// (`typed` None), at byte `start` of `arraybuffer`.
pub fn make_view<'env>(
  env: &'env Env,
  typed: Option<i32>,
  count: usize,
  bytes: usize,
  arraybuffer: &Unknown,
  start: usize,
) -> napi::Result<Unknown<'env>> {
  let mut out = ptr::null_mut();
  // SAFETY: a live ArrayBuffer of this env; Node-API checks the range against it (RangeError).
  let code = unsafe {
    match typed {
      Some(t) => sys::napi_create_typedarray(env.raw(), t, count, arraybuffer.raw(), start, &mut out),
      None => sys::napi_create_dataview(env.raw(), bytes, arraybuffer.raw(), start, &mut out),
    }
  };
  status(code, "creating the view")?;
  // SAFETY: the view just created in this env.
  Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), out) })
}

/// The bytes of a JS `ArrayBuffer`, typed array (any element type, `Buffer` included) or `DataView`;
/// `None` for any other value. A detached view has length 0. Valid for the current synchronous call
/// only (JS cannot run, and so cannot detach or shrink it, before the call returns).
pub fn view_bytes(env: &Env, value: &Unknown) -> napi::Result<Option<ExtBytes>> {
  let raw = value.raw();
  let (mut is_ta, mut is_dv, mut is_ab) = (false, false, false);
  // SAFETY: valid env and value; each out-pointer is a valid bool. Typed arrays (Buffers) are the
  // common case, so the other checks run only when needed.
  unsafe {
    status(sys::napi_is_typedarray(env.raw(), raw, &mut is_ta), "napi_is_typedarray")?;
    if !is_ta {
      status(sys::napi_is_dataview(env.raw(), raw, &mut is_dv), "napi_is_dataview")?;
    }
    if !is_ta && !is_dv {
      status(sys::napi_is_arraybuffer(env.raw(), raw, &mut is_ab), "napi_is_arraybuffer")?;
    }
  }
  let mut data: *mut c_void = ptr::null_mut();
  let bytes;
  if is_ta {
    let (mut ty, mut length, mut ab, mut off) = (0, 0usize, ptr::null_mut(), 0usize);
    // SAFETY: `raw` is a typed array of this env; out-pointers are valid.
    let code = unsafe {
      sys::napi_get_typedarray_info(env.raw(), raw, &mut ty, &mut length, &mut data, &mut ab, &mut off)
    };
    status(code, "napi_get_typedarray_info")?;
    let size = match ty {
      sys::TypedarrayType::int16_array | sys::TypedarrayType::uint16_array | 11 => 2,
      sys::TypedarrayType::int32_array
      | sys::TypedarrayType::uint32_array
      | sys::TypedarrayType::float32_array => 4,
      sys::TypedarrayType::float64_array | 9 | 10 => 8,
      _ => 1,
    };
    bytes = length * size;
  } else if is_dv {
    let (mut length, mut ab, mut off) = (0usize, ptr::null_mut(), 0usize);
    // SAFETY: `raw` is a DataView of this env; out-pointers are valid.
    let code =
      unsafe { sys::napi_get_dataview_info(env.raw(), raw, &mut length, &mut data, &mut ab, &mut off) };
    status(code, "napi_get_dataview_info")?;
    bytes = length;
  } else if is_ab {
    let mut length = 0usize;
    // SAFETY: `raw` is an ArrayBuffer of this env; out-pointers are valid.
    let code = unsafe { sys::napi_get_arraybuffer_info(env.raw(), raw, &mut data, &mut length) };
    status(code, "napi_get_arraybuffer_info")?;
    bytes = length;
  } else {
    return Ok(None);
  }
  let (data, bytes) = if data.is_null() || bytes == 0 {
    (ptr::NonNull::<u8>::dangling().as_ptr(), 0)
  } else {
    (data.cast(), bytes)
  };
  // SAFETY: Node-API reported `bytes` live bytes at `data` (or none), which stay valid until this
  // native call returns; ExtBytes is only used within it.
  Ok(Some(unsafe { ExtBytes::new(data, bytes) }))
}

/// `buffer.constants.MAX_LENGTH` of the runtime, read when the addon loads (`set_max_buffer_length`).
static MAX_BUFFER_LENGTH: AtomicU64 = AtomicU64::new(1 << 32);

/// The largest Buffer this runtime can make: Node 20 refuses (and may crash) above 4 GiB.
pub fn max_buffer_length() -> u64 {
  MAX_BUFFER_LENGTH.load(Ordering::Relaxed)
}

/// Reads `buffer.constants.MAX_LENGTH` through `process.getBuiltinModule` (Node >= 20.16, Bun);
/// keeps 4 GiB, the smallest limit of the runtimes we support, where it cannot be read.
pub fn set_max_buffer_length(env: &Env) {
  let script = "(() => { try { return globalThis.process.getBuiltinModule('buffer').constants.MAX_LENGTH } \
                catch { return 0 } })()";
  let value = env.run_script::<_, Unknown>(script).and_then(|v| v.coerce_to_number()?.get_double());
  if let Ok(n) = value {
    if n >= 1.0 && n.is_finite() {
      MAX_BUFFER_LENGTH.store(n as u64, Ordering::Relaxed);
    }
  }
}

/// Takes the JS exception that user code (a getter, a listener) left pending, as an error to reject
/// a promise with; `None` when there is none.
pub fn take_exception(env: &Env) -> Option<napi::Error> {
  let mut pending = false;
  // SAFETY: valid env and out-pointer.
  if unsafe { sys::napi_is_exception_pending(env.raw(), &mut pending) } != sys::Status::napi_ok || !pending {
    return None;
  }
  let mut value = ptr::null_mut();
  // SAFETY: valid env and out-pointer; clears the pending exception and returns it.
  if unsafe { sys::napi_get_and_clear_last_exception(env.raw(), &mut value) } != sys::Status::napi_ok {
    return None;
  }
  // SAFETY: `value` is the exception just taken, a live value of this env.
  Some(napi::Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), value) }))
}

/// A copy of the bytes of a `Uint8Array` (a `Buffer`); `None` for any other value.
pub fn uint8_bytes(env: &Env, value: &Unknown) -> napi::Result<Option<Vec<u8>>> {
  let raw = value.raw();
  let mut is_ta = false;
  // SAFETY: valid env and value; the out-pointer is a valid bool.
  status(unsafe { sys::napi_is_typedarray(env.raw(), raw, &mut is_ta) }, "napi_is_typedarray")?;
  if !is_ta {
    return Ok(None);
  }
  let (mut ty, mut length, mut data, mut ab, mut off) = (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
  // SAFETY: `raw` is a typed array of this env; out-pointers are valid.
  let code = unsafe {
    sys::napi_get_typedarray_info(env.raw(), raw, &mut ty, &mut length, &mut data, &mut ab, &mut off)
  };
  status(code, "napi_get_typedarray_info")?;
  if ty != sys::TypedarrayType::uint8_array {
    return Ok(None);
  }
  if data.is_null() || length == 0 {
    return Ok(Some(Vec::new()));
  }
  // SAFETY: a Uint8Array's `length` bytes at `data`, alive for this synchronous call (no JS runs).
  Ok(Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length) }.to_vec()))
}

/// Whether `value instanceof globalThis[name]` (false where the global does not exist).
pub fn instance_of_global(env: &Env, value: &Unknown, name: &str) -> napi::Result<bool> {
  use napi::bindgen_prelude::JsObjectValue;
  let ctor: Unknown = env.get_global()?.get_named_property(name)?;
  if ctor.get_type()? != napi::ValueType::Function {
    return Ok(false);
  }
  let mut result = false;
  // SAFETY: valid env, an object value and a function; the out-pointer is a valid bool.
  let code = unsafe { sys::napi_instanceof(env.raw(), value.raw(), ctor.raw(), &mut result) };
  status(code, "napi_instanceof")?;
  Ok(result)
}
