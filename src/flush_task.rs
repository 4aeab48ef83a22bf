//! `flushAsync`: `msync(MS_SYNC)` on a libuv worker thread.

use crate::error::JsResult;
use crate::region::{read_lock, InFlight};
use mapshare_core::Error as CoreError;
use napi::{Env, Result, Task};

/// A pending `msync` over a range of a region.
pub struct FlushTask {
  /// Present until `compute` has run, so `close()` waits for it (and only for it: the task itself
  /// is dropped later on the main thread, which `close()` may be blocking).
  in_flight: Option<InFlight>,
  offset: u64,
  length: Option<u64>,
}

impl FlushTask {
  pub fn new(in_flight: InFlight, offset: u64, length: Option<u64>) -> Self {
    FlushTask { in_flight: Some(in_flight), offset, length }
  }
}

impl Task for FlushTask {
  type Output = mapshare_core::Result<()>;
  type JsValue = ();

  fn compute(&mut self) -> Result<Self::Output> {
    let Some(in_flight) = self.in_flight.take() else { return Ok(Err(CoreError::closed())) };
    // The read lock keeps close()/resize() from unmapping while msync runs.
    let result = match &*read_lock(in_flight.cell()) {
      Some(region) => region.flush(self.offset, self.length),
      None => Err(CoreError::closed()),
    };
    drop(in_flight);
    Ok(result)
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
    output.js(&env)
  }
}
