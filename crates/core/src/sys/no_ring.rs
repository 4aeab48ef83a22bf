//! No io_uring here: [`Ring::new`] says so, and waits keep their threads.

use super::WaitvEntry;
use super::{Error, Result};
use std::time::Duration;

/// Never made on this platform.
#[derive(Debug)]
pub struct Ring(());

impl Ring {
  pub fn new() -> Result<Ring> {
    Err(Error::unsupported("io_uring futex waits need Linux 6.7+"))
  }

  pub fn fd(&self) -> i32 {
    -1
  }

  /// # Safety
  /// Never called: no `Ring` exists here.
  pub unsafe fn wait(
    &mut self,
    _tag: u64,
    _entries: &[WaitvEntry],
    _timeout: Option<Duration>,
  ) -> Result<()> {
    Err(Error::unsupported("no io_uring"))
  }

  pub fn reap(&mut self, _out: &mut Vec<(u64, i32)>) {}
}
