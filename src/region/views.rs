//! `region.view(Type, byteOffset, length)`: a typed array or `DataView` over part of a region's
//! memory, zero-copy. Over the region's own `buffer` when the region fits in one (no new external
//! memory), else over an external `ArrayBuffer` of just the viewed bytes, which holds the mapping
//! like `buffer` does (inert memory after `close()`/`resize()`, never unmapped under it).

use super::state::RegionState;
use crate::convert;
use crate::error;
use crate::runtime::external::{self, ExternalError};
use napi::{sys, Env, Result, Unknown};

/// The view types: the global constructor's name, its element size, and its Node-API typed array
/// type (None for `DataView`).
const KINDS: [(&str, usize, Option<i32>); 12] = [
  ("Int8Array", 1, Some(sys::TypedarrayType::int8_array)),
  ("Uint8Array", 1, Some(sys::TypedarrayType::uint8_array)),
  ("Uint8ClampedArray", 1, Some(sys::TypedarrayType::uint8_clamped_array)),
  ("Int16Array", 2, Some(sys::TypedarrayType::int16_array)),
  ("Uint16Array", 2, Some(sys::TypedarrayType::uint16_array)),
  ("Int32Array", 4, Some(sys::TypedarrayType::int32_array)),
  ("Uint32Array", 4, Some(sys::TypedarrayType::uint32_array)),
  ("Float32Array", 4, Some(sys::TypedarrayType::float32_array)),
  ("Float64Array", 8, Some(sys::TypedarrayType::float64_array)),
  ("BigInt64Array", 8, Some(sys::TypedarrayType::bigint64_array)),
  ("BigUint64Array", 8, Some(sys::TypedarrayType::biguint64_array)),
  ("DataView", 1, None),
];

/// Which of [`KINDS`] `value` is (the very constructor, compared with the global of that name).
fn kind_of(env: &Env, value: Option<Unknown>) -> Result<(&'static str, usize, Option<i32>)> {
  let received = value.as_ref().map_or_else(|| "undefined".into(), convert::describe);
  let wrong = || {
    error::arg_type(
      env,
      "type",
      "a typed array constructor (Int8Array ... Float64Array, BigInt64Array, BigUint64Array) or DataView",
      &received,
    )
  };
  let Some(value) = value else { return Err(wrong()) };
  if value.get_type()? != napi::ValueType::Function {
    return Err(wrong());
  }
  let global = env.get_global()?;
  for kind in KINDS {
    let ctor: Unknown = napi::bindgen_prelude::JsObjectValue::get_named_property(&global, kind.0)?;
    if env.strict_equals(value, ctor)? {
      return Ok(kind);
    }
  }
  Err(wrong())
}

/// `region.view(Type, byteOffset, length)`: see the `view` method of the region classes.
pub fn view<'env>(
  state: &RegionState,
  env: &'env Env,
  kind: Option<Unknown>,
  offset: Option<Unknown>,
  length: Option<Unknown>,
) -> Result<Unknown<'env>> {
  // Everything that may run JS (the globals' getters) comes before the region is looked at.
  let (name, size, typed) = kind_of(env, kind)?;
  let offset = convert::opt_index(env, offset, "byteOffset")?.unwrap_or(0);
  let length = convert::opt_index(env, length, "length")?;
  let (len, base) = state.with(env, |r| Ok((r.len() as u64, r.external_view().map(|v| v.ptr as usize))))?;
  if offset > len {
    return Err(error::out_of_range(
      env,
      "byteOffset",
      &format!("<= {len} (the region's length)"),
      &offset.to_string(),
    ));
  }
  let count = length.unwrap_or((len - offset) / size as u64);
  let bytes = count
    .checked_mul(size as u64)
    .filter(|b| offset.checked_add(*b).is_some_and(|end| end <= len))
    .ok_or_else(|| {
      error::out_of_range(
        env,
        "length",
        &format!(
          "<= {} ({name} elements from byteOffset {offset} to the region's end)",
          (len - offset) / size as u64
        ),
        &count.to_string(),
      )
    })?;
  if let Some(base) = base {
    if !(base as u64 + offset).is_multiple_of(size as u64) {
      return Err(error::unaligned(
        env,
        format!("byteOffset {offset} is not a multiple of {size}: a {name} needs its elements aligned"),
      ));
    }
  }
  // The bytes: the region's own Buffer where it has one (its errors say why not), else an
  // ArrayBuffer of just these bytes.
  let (arraybuffer, start) = if len <= external::max_buffer_length() {
    let (ab, at) = external::arraybuffer_of(env, &state.buffer(env)?)?;
    (ab, at as u64 + offset)
  } else {
    if bytes > external::max_buffer_length() {
      return Err(error::coded(
          env,
          "ERR_MAPSHARE_BUFFER_TOO_LARGE",
          format!(
            "a view of {bytes} bytes is more than an ArrayBuffer can hold in this runtime ({} bytes); view a smaller part",
            external::max_buffer_length()
          ),
        ));
    }
    let Some(view) = state.with(env, |r| Ok(r.external_view()))? else {
      return Err(error::coded(
        env,
        "ERR_MAPSHARE_NO_SAFE_VIEW",
        "this region is attached read-only (SHM_RDONLY): no view is handed out (a JS write would crash the \
           process); use read() or readInto()",
      ));
    };
    match external::external_arraybuffer(env, view.ptr, offset as usize, bytes as usize, view.hold) {
      Ok(ab) => (ab, 0),
      Err(ExternalError::Forbidden) => return Err(external::forbidden(env)),
      Err(ExternalError::Napi(e)) => return Err(e),
    }
  };
  external::make_view(env, typed, count as usize, bytes as usize, &arraybuffer, start as usize)
}
