//! Async waits on a JS thread's own io_uring (`sys::Ring`): no thread per wait and no hand-off
//! between threads. The kernel completes a `FUTEX_WAITV` on the region's word and the wait's
//! canceller word and posts a completion, which makes the ring's descriptor readable; the thread's
//! event loop polls it and calls [`RingWaits::reap`], which settles the waits. A timeout is a timeout linked to the wait, which
//! cancels it. Waits hold their word (and so its memory) until they are reaped.
//!
//! Everything here runs on the one JS thread that owns the ring, except [`Canceller::cancel`], which
//! may come from anywhere (`close()` on another thread, the environment's teardown).

use crate::error::{Error, Result};
use crate::sync::{Canceller, WaitResult, Word};
use crate::sys::{AsyncWait, Ring, WaitvEntry};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// What a wait calls when it ends (on the ring's thread).
pub type Done = Box<dyn FnOnce(Result<AsyncWait>)>;

struct Pending {
  _word: Word,
  canceller: Arc<Canceller>,
  done: Done,
  /// Whether the wait has a timeout (then `-ECANCELED` means it passed).
  timed: bool,
}

/// The waits of one JS thread on its ring.
pub struct RingWaits {
  ring: Ring,
  pending: HashMap<u64, Pending>,
  next: u64,
}

/// The reason a wait reports when the ring itself cancelled it (the binding's `CLOSED`).
const CLOSED: u32 = 2;
const EAGAIN: i32 = 11;
const ECANCELED: i32 = 125;

impl RingWaits {
  /// `Unsupported` where the ring cannot be made (no io_uring, or no `FUTEX_WAITV`: Linux < 6.7).
  pub fn new() -> Result<RingWaits> {
    Ok(RingWaits { ring: Ring::new()?, pending: HashMap::new(), next: 0 })
  }

  /// The ring's descriptor (owned by the ring) for the event loop to poll: readable when waits
  /// ended.
  pub fn fd(&self) -> i32 {
    self.ring.fd()
  }

  /// Waits not reaped yet.
  pub fn len(&self) -> usize {
    self.pending.len()
  }

  pub fn is_empty(&self) -> bool {
    self.len() == 0
  }

  /// Starts a wait for `word` to be notified while it holds `expected`, for `timeout` at most.
  pub fn submit(
    &mut self,
    word: Word,
    expected: i32,
    timeout: Option<Duration>,
    canceller: Arc<Canceller>,
    done: Done,
  ) -> Result<()> {
    let id = self.next;
    self.next += 1;
    let entries = [
      WaitvEntry { addr: word.addr, expected: expected as u32, private: false },
      WaitvEntry { addr: canceller.word.as_ptr() as usize, expected: 0, private: true },
    ];
    // SAFETY: the word's hold keeps its address mapped (live or inert) and the canceller is a live
    // heap word; both stay so while the wait is pending (kept in `self.pending` until reaped).
    unsafe { self.ring.wait(id * 2, &entries, timeout)? };
    self.pending.insert(id, Pending { _word: word, canceller, done, timed: timeout.is_some() });
    Ok(())
  }

  /// Collects what ended since the last call: each wait's `done` with its outcome. Call them after
  /// letting go of `self` (they may run code that starts new waits).
  pub fn reap(&mut self) -> Vec<(Done, Result<AsyncWait>)> {
    let mut completions = Vec::new();
    self.ring.reap(&mut completions);
    let mut settled = Vec::new();
    for (tag, res) in completions {
      if tag % 2 == 1 {
        continue; // a linked timeout's own completion: the wait's says what happened
      }
      let Some(p) = self.pending.remove(&(tag / 2)) else { continue };
      let reason = p.canceller.reason();
      let outcome = match res {
        0 => Ok(AsyncWait::Done(WaitResult::Ok)),
        _ if reason != 0 => Ok(AsyncWait::Cancelled(reason)),
        1 => Ok(AsyncWait::Done(WaitResult::Ok)), // a spurious wake, as Atomics.wait allows
        r if r == -EAGAIN => Ok(AsyncWait::Done(WaitResult::NotEqual)),
        r if r == -ECANCELED && p.timed => Ok(AsyncWait::Done(WaitResult::TimedOut)),
        r if r == -ECANCELED => Ok(AsyncWait::Cancelled(CLOSED)),
        r => Err(Error::os(-r, "futex_waitv")),
      };
      settled.push((p.done, outcome));
    }
    settled
  }

  /// Ends every wait as cancelled (the environment is going away): their `done`s, to call.
  pub fn cancel_all(&mut self) -> Vec<(Done, Result<AsyncWait>)> {
    self.pending.drain().map(|(_, p)| (p.done, Ok(AsyncWait::Cancelled(CLOSED)))).collect()
  }
}
