//! The one place where mapped memory meets the JS engine: external Buffers over a region, their
//! detachment on close, and raw access to the bytes of JS views passed in. Node-API calls on raw
//! values need `unsafe`; everything else in the binding is safe code over `mapshare-core`.

use napi::{sys, Env, JsValue, Unknown};
use std::ffi::c_void;
use std::ptr;
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
pub fn adjust(env: sys::napi_env, change: i64) {
  let mut total = 0i64;
  // SAFETY: valid env and out-pointer; the call only adjusts a counter (it never runs JS).
  unsafe { sys::napi_adjust_external_memory(env, change, &mut total) };
}

/// A Node `Buffer` over `len` bytes at `data`, with no copy. `keeper` is dropped when the engine
/// collects the Buffer; it must keep the memory mapped until then (or until `detach`).
pub fn external_buffer<'env, K: Send + 'static>(
  env: &'env Env,
  data: *mut u8,
  len: usize,
  keeper: K,
) -> Result<Unknown<'env>, ExternalError> {
  if simulate_no_external() {
    return Err(ExternalError::Forbidden);
  }
  let hint = Box::into_raw(Box::new(keeper));
  let mut result = ptr::null_mut();
  // SAFETY: `data..data+len` stays mapped while `keeper` lives (the caller's contract); the
  // finalizer reclaims `hint` exactly once; `result` is a valid out-pointer.
  let code = unsafe {
    sys::napi_create_external_buffer(
      env.raw(),
      len,
      data.cast(),
      Some(drop_keeper::<K>),
      hint.cast(),
      &mut result,
    )
  };
  if code != sys::Status::napi_ok {
    // SAFETY: the engine did not take `hint` (no buffer was made), so we still own it.
    drop(unsafe { Box::from_raw(hint) });
    return Err(if code == sys::Status::napi_no_external_buffers_allowed {
      ExternalError::Forbidden
    } else {
      ExternalError::Napi(napi::Error::new(napi::Status::from(code), "napi_create_external_buffer failed"))
    });
  }
  // SAFETY: `result` is the live Buffer just created in this env.
  Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), result) })
}

/// Detaches the ArrayBuffer under a typed array (or the ArrayBuffer itself): every view over it
/// gets length 0, so no JS code can reach the memory after it is unmapped.
pub fn detach(env: &Env, value: Unknown) -> napi::Result<()> {
  let raw = value.raw();
  let mut is_ab = false;
  // SAFETY: valid env and value; `is_ab` is a valid out-pointer.
  status(unsafe { sys::napi_is_arraybuffer(env.raw(), raw, &mut is_ab) }, "napi_is_arraybuffer")?;
  let ab = if is_ab {
    raw
  } else {
    let (mut ty, mut length, mut data, mut ab, mut off) =
      (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
    // SAFETY: `raw` is a typed array (we only ever store Buffers here); out-pointers are valid.
    status(
      unsafe {
        sys::napi_get_typedarray_info(env.raw(), raw, &mut ty, &mut length, &mut data, &mut ab, &mut off)
      },
      "napi_get_typedarray_info",
    )?;
    ab
  };
  let mut detached = false;
  // SAFETY: `ab` is an ArrayBuffer of this env; `detached` is a valid out-pointer.
  status(
    unsafe { sys::napi_is_detached_arraybuffer(env.raw(), ab, &mut detached) },
    "napi_is_detached_arraybuffer",
  )?;
  if detached {
    return Ok(());
  }
  // SAFETY: `ab` is an external ArrayBuffer we created, so the engine allows detaching it.
  status(unsafe { sys::napi_detach_arraybuffer(env.raw(), ab) }, "napi_detach_arraybuffer")
}

/// The bytes of a JS `ArrayBuffer`, typed array (any element type, `Buffer` included) or `DataView`,
/// as a pointer and byte length; `None` for any other value. A detached view has length 0.
pub fn view_bytes(env: &Env, value: &Unknown) -> napi::Result<Option<(*mut u8, usize)>> {
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
    // SAFETY: `raw` is a typed array; out-pointers are valid.
    status(
      unsafe {
        sys::napi_get_typedarray_info(env.raw(), raw, &mut ty, &mut length, &mut data, &mut ab, &mut off)
      },
      "napi_get_typedarray_info",
    )?;
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
    // SAFETY: `raw` is a DataView; out-pointers are valid.
    status(
      unsafe { sys::napi_get_dataview_info(env.raw(), raw, &mut length, &mut data, &mut ab, &mut off) },
      "napi_get_dataview_info",
    )?;
    bytes = length;
  } else if is_ab {
    let mut length = 0usize;
    // SAFETY: `raw` is an ArrayBuffer; out-pointers are valid.
    status(
      unsafe { sys::napi_get_arraybuffer_info(env.raw(), raw, &mut data, &mut length) },
      "napi_get_arraybuffer_info",
    )?;
    bytes = length;
  } else {
    return Ok(None);
  }
  if data.is_null() || bytes == 0 {
    return Ok(Some((ptr::NonNull::<u8>::dangling().as_ptr(), 0)));
  }
  Ok(Some((data.cast(), bytes)))
}

/// Borrows JS bytes as a slice for the length of one synchronous call.
///
/// The slice is valid because JS cannot run (and so cannot detach or resize the buffer) until the
/// native call returns; the caller must not keep it past that.
pub fn bytes<'a>(ptr: *mut u8, len: usize) -> &'a [u8] {
  // SAFETY: `ptr..ptr+len` is a live JS backing store (from `view_bytes`), not freed while this
  // native call runs; u8 has no invalid values.
  unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// Mutable twin of [`bytes`], for `readInto` targets.
#[allow(clippy::mut_from_ref)]
pub fn bytes_mut<'a>(ptr: *mut u8, len: usize) -> &'a mut [u8] {
  // SAFETY: as in `bytes`; no other Rust reference to these JS bytes exists during the call.
  unsafe { std::slice::from_raw_parts_mut(ptr, len) }
}
