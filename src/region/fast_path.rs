//! The Buffer the JS fast path (src-js/fast-path.ts) does its atomics and copies through.

use super::shared::Shared;
use crate::runtime::external::{self, ExternalError};
use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{Env, Result};

/// For the JS fast path (src-js/fast-path.ts): `{ buffer, copies }`, a Buffer over the region's
/// memory that only mapshare's JS layer sees (so no user can detach or transfer it), and whether
/// plain copies through it are safe (nothing can shrink the backing). Null where atomics must stay
/// native calls (read-only regions, runtimes without external buffers, regions larger than a Buffer)
/// or the region is closed. Never throws for those: the caller then uses the native methods, which
/// give the error if there is one.
pub fn fast_path<'env>(cell: &Shared, env: &'env Env) -> Result<Option<Object<'env>>> {
  let Ok(Some((view, copies))) = cell.with(env, |r| Ok(r.direct_view().map(|v| (v, !r.is_truncatable()))))
  else {
    return Ok(None);
  };
  if view.len as u64 > external::max_buffer_length() {
    return Ok(None);
  }
  let buffer = match external::external_buffer(env, view.ptr, view.len, view.hold) {
    Ok(b) => b,
    Err(ExternalError::Forbidden) => return Ok(None),
    Err(ExternalError::Napi(e)) => return Err(e),
  };
  let mut out = Object::new(env)?;
  out.set_named_property("buffer", buffer)?;
  out.set_named_property("copies", copies)?;
  Ok(Some(out))
}
