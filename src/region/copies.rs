//! `read`, `readInto` and `write` on a region's cell: called from the region classes and, by
//! handle, from the JS fast path (src-js/fast-path.ts; see `handles`).

use super::shared::Shared;
use crate::convert::{self, Data};
use crate::runtime::external;
use mapshare_core::Error as CoreError;
use napi::bindgen_prelude::Buffer;
use napi::{Env, Result, Unknown};

/// `region.read(offset, length)`: the bytes, copied into a new Buffer.
pub fn read(cell: &Shared, env: &Env, offset: Option<Unknown>, length: Option<Unknown>) -> Result<Buffer> {
  let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
  let length = convert::opt_index(env, length, "length")?;
  let max = external::max_buffer_length();
  cell.with(env, |r| {
    let (_, n) = r.range(offset, length)?;
    if n as u64 > max {
      return Err(CoreError::out_of_range(format!(
        "read() copies into one Buffer, and {n} bytes are more than a Buffer holds in this runtime \
         (buffer.constants.MAX_LENGTH = {max}): read in parts, or readInto() a target of your own"
      )));
    }
    r.read_vec(offset, length).map(Into::into)
  })
}

/// `region.readInto(target, offset)`: how many bytes were copied.
pub fn read_into(cell: &Shared, env: &Env, target: Option<Unknown>, offset: Option<Unknown>) -> Result<f64> {
  let dst = convert::target_bytes(env, target, "target")?;
  let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
  cell.with(env, |r| r.read_into_ext(offset, &dst)).map(|n| n as f64)
}

/// `region.write(data, offset)`: how many bytes were copied.
pub fn write(cell: &Shared, env: &Env, data: Option<Unknown>, offset: Option<Unknown>) -> Result<f64> {
  let src = convert::source_bytes(env, data, "data")?;
  let offset = convert::opt_index(env, offset, "offset")?.unwrap_or(0);
  cell.with(env, |r| match &src {
    Data::Owned(bytes) => r.write_at(offset, bytes).map(|()| bytes.len() as f64),
    Data::View(view) => r.write_ext(offset, view).map(|()| view.len() as f64),
  })
}
