//! `flushAsync`: `msync(MS_SYNC)` on a libuv worker thread.

use super::shared::Cell;
use crate::error::JsResult;
use napi::{Env, Result, Task};

/// A pending `msync` over a range of a region. `close()` never waits for the pool: if it runs before
/// the task, it flushes the whole region itself (the task then resolves), so a `flushAsync()` made
/// before `close()` always means the bytes reached the file.
pub struct FlushTask {
  cell: Cell,
  offset: u64,
  length: Option<u64>,
  /// An error found when the call was made (closed region, bad range): the promise rejects with it.
  early: Option<napi::Error>,
  counted: bool,
}

impl FlushTask {
  /// A task for a range already checked against the open region; counted as pending so that
  /// `close()` knows to flush.
  pub fn new(cell: Cell, offset: u64, length: Option<u64>) -> Self {
    cell.flush_started();
    FlushTask { cell, offset, length, early: None, counted: true }
  }

  /// A task that only rejects with `err` (Node's promise APIs reject; they do not throw).
  pub fn failed(cell: Cell, err: napi::Error) -> Self {
    FlushTask { cell, offset: 0, length: None, early: Some(err), counted: false }
  }
}

impl Task for FlushTask {
  type Output = mapshare_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    if self.early.is_some() {
      return Ok(Ok(()));
    }
    // The read lock keeps close()/resize() from dropping the mapping while msync runs (they wait for
    // this one call at most, never for the pool).
    let result = match &*self.cell.lock_read() {
      Some(region) => region.flush(self.offset, self.length),
      // Closed after this call was made: close() flushed everything first.
      None => Ok(()),
    };
    if std::mem::take(&mut self.counted) {
      self.cell.flush_done();
    }
    Ok(result)
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    match self.early.take() {
      Some(e) => Err(e),
      None => output.js(&env),
    }
  }
}

impl Drop for FlushTask {
  fn drop(&mut self) {
    if self.counted {
      self.cell.flush_done();
    }
  }
}
