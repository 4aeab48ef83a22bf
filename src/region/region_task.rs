//! Region calls that can take long (`mlock` of a large range, `madvise('willneed')` reading it in) on a
//! libuv worker thread: `lockAsync`, `adviseAsync`.

use super::shared::Cell;
use crate::error::JsResult;
use mapshare_core::{Error as CoreError, Region};
use napi::{Env, Result, Task};

/// A call on a region, its arguments checked.
pub type Op = Box<dyn FnOnce(&Region) -> mapshare_core::Result<()> + Send>;

/// One call on a region, run off the JS thread under the region's read lock (so `close()` waits for
/// this one call at most, never for the pool). A region closed before the task runs rejects with
/// `ERR_MAPSHARE_CLOSED`.
pub struct RegionTask {
  cell: Cell,
  op: Option<Result<Op>>,
}

impl RegionTask {
  /// `op` with its arguments already checked, or the error they gave (the promise rejects with it).
  pub fn new(cell: Cell, op: Result<Op>) -> Self {
    RegionTask { cell, op: Some(op) }
  }
}

impl Task for RegionTask {
  type Output = mapshare_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    let op = self.op.take().ok_or_else(|| napi::Error::from_reason("ran twice"))??;
    Ok(match &*self.cell.lock_read() {
      Some(region) => op(region),
      None => Err(CoreError::closed()),
    })
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.js(&env)
  }
}
