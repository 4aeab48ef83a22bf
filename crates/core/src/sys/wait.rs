//! Waits on a word: the plain types the OS layer and the core share (the core re-exports them from
//! `sync`), and what every backend builds on its own futex calls.

use super::{atomic_load32, futex_wait, Result};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How a `wait` ended, as `Atomics.wait` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitResult {
  /// Woken by a `notify` (or a spurious wake-up, as with `Atomics.wait`).
  Ok,
  /// The word did not hold `expected` when the wait began.
  NotEqual,
  TimedOut,
}

impl WaitResult {
  pub fn as_str(self) -> &'static str {
    match self {
      WaitResult::Ok => "ok",
      WaitResult::NotEqual => "not-equal",
      WaitResult::TimedOut => "timed-out",
    }
  }
}

/// How a cancellable wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncWait {
  Done(WaitResult),
  /// `cancel` was set to this non-zero value (and woken) by the canceller.
  Cancelled(u32),
}

/// One word of a `futex_waitv_many`: sleep while the word at `addr` holds `expected`.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // read by Linux's futex_waitv only
pub struct WaitvEntry {
  pub addr: usize,
  pub expected: u32,
  /// A word of this process only (`FUTEX2_PRIVATE`), such as a canceller's.
  pub private: bool,
}

/// How a `futex_waitv_many` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // elsewhere only `Unsupported` is made
pub enum Waitv {
  /// Woken through the entry at this index.
  Woken(usize),
  /// Some word did not hold its expected value: nothing slept.
  Mismatch,
  TimedOut,
  /// No multi-word wait here (Linux before 5.16, or another OS).
  Unsupported,
}

/// Timeouts longer than this (a century) mean "forever": no clock arithmetic can overflow.
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A deadline `timeout` from now; `None` (wait forever) for no timeout or one beyond [`FOREVER`].
pub fn deadline(timeout: Option<Duration>) -> Option<Instant> {
  timeout.filter(|t| *t <= FOREVER).and_then(|t| Instant::now().checked_add(t))
}

/// A cancellable wait built from timed waits: 20 ms slices of [`futex_wait`], checking `cancel`
/// between them (where no two-word wait exists).
///
/// # Safety
/// `addr` must be an aligned word of a live mapping for the whole wait.
pub unsafe fn wait_in_slices(
  addr: *mut u32,
  expected: i32,
  timeout: Option<Duration>,
  cancel: &AtomicU32,
) -> Result<AsyncWait> {
  let deadline = deadline(timeout);
  loop {
    if let c @ 1.. = cancel.load(Ordering::SeqCst) {
      return Ok(AsyncWait::Cancelled(c));
    }
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    if left == Some(Duration::ZERO) {
      return Ok(AsyncWait::Done(WaitResult::TimedOut));
    }
    let slice = Duration::from_millis(20);
    // SAFETY: `addr` is an aligned word of a live mapping for the whole wait (the caller's contract).
    match unsafe { futex_wait(addr, expected, Some(left.map_or(slice, |l| l.min(slice)))) }? {
      WaitResult::TimedOut => continue,
      r => return Ok(AsyncWait::Done(r)),
    }
  }
}

/// Reads the aligned word at `addr` without faulting on a page lost to truncation (`EFAULT` then, as
/// a futex call on it reports).
///
/// # Safety
/// `addr` must be an aligned word of a mapping that stays mapped for the call.
pub unsafe fn load_word_checked(addr: usize) -> Result<u32> {
  // SAFETY: the caller's contract.
  unsafe { atomic_load32(addr as *const u32, "futex_waitv") }
}
