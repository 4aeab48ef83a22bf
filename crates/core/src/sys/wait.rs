//! The plain types of waits on a word, shared by the OS layer and the core (which re-exports them
//! from `sync`).

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
pub struct WaitvEntry {
  pub addr: usize,
  pub expected: u32,
  /// A word of this process only (`FUTEX2_PRIVATE`), such as a canceller's.
  pub private: bool,
}

/// How a `futex_waitv_many` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
