//! A lock that survives its owner's death, in a 32-bit word of a shared region.
//!
//! Layout (C peers can use it): the word is 0 when free; otherwise it holds the owner's thread id
//! (`gettid()`, unique system-wide while the thread lives) in its low 30 bits, with bit 31 set while
//! other threads wait (`WAITERS`). Lock: compare-and-swap 0 -> tid, else set `WAITERS` and
//! `FUTEX_WAIT` (shared) on the word. Unlock: swap 0 and, if `WAITERS` was set, `FUTEX_WAKE` one.
//! A waiter that finds the owner's thread gone takes the lock over and reports `ownerDied`, like a
//! robust pthread mutex's `EOWNERDEAD`: the protected data may be half-updated and should be
//! repaired. Gone: `kill(tid, 0)` is `ESRCH` (checked when a lock call first finds the lock held),
//! or the thread is a zombie, not yet reaped (`/proc/<tid>/stat`; checked by `tryLock` and every
//! 100 ms while waiting). A hand-off between live threads costs no check at all.

use crate::error::{Error, Kind, Result};
use crate::region::Region;
use crate::sync::{Canceller, Word};
use crate::sys::{self, errno, AsyncWait};
use std::time::{Duration, Instant};

/// Set while threads wait for the lock.
pub const WAITERS: u32 = 0x8000_0000;
/// The owner's thread id.
pub const TID_MASK: u32 = 0x3fff_ffff;
/// The calling thread's id as the lock word records it: the OS thread id (`gettid()` on Linux) in
/// the low 30 bits.
pub fn thread_id() -> u32 {
  sys::thread_id() & TID_MASK
}

/// The lock word, read and changed only through the checked atomics of `sys`: on a file or POSIX
/// object another process truncated, a lock call gives `EFAULT` where a plain access would raise
/// `SIGBUS` and kill the process.
#[derive(Clone, Copy)]
pub(crate) struct LockWord(*mut u32);

impl LockWord {
  /// # Safety
  /// `addr` must be an aligned, writable word of a mapping that stays mapped (live or inert) while
  /// the `LockWord` is used.
  pub(crate) unsafe fn new(addr: usize) -> Self {
    LockWord(addr as *mut u32)
  }

  pub(crate) fn load(self) -> Result<u32> {
    // SAFETY: `new`'s contract.
    unsafe { sys::atomic_load32(self.0, "lock") }
  }

  /// Compare-and-swap: whether the word held `expected` (and now holds `new`).
  pub(crate) fn cas(self, expected: u32, new: u32) -> Result<bool> {
    // SAFETY: `new`'s contract.
    Ok(unsafe { sys::atomic_cas32(self.0, expected, new, "lock") }? == expected)
  }

  /// Stores `new`, returning what the word held.
  fn swap(self, new: u32) -> Result<u32> {
    let mut v = self.load()?;
    loop {
      // SAFETY: `new`'s contract.
      let found = unsafe { sys::atomic_cas32(self.0, v, new, "unlock") }?;
      if found == v {
        return Ok(v);
      }
      v = found;
    }
  }
}

/// How often a waiter checks that the owner still lives.
const LIVENESS_CHECK: Duration = Duration::from_millis(100);

/// How much `try_once` checks that a held lock's owner still lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerCheck {
  /// Not at all: the owner was checked a moment ago.
  Skip,
  /// `kill(tid, 0)`: one system call; misses a zombie.
  Exists,
  /// `kill` and the zombie check (`/proc`).
  Full,
}

/// How a lock attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
  /// Acquired; `owner_died` when taken over from a dead owner.
  Yes { owner_died: bool },
  /// Not acquired: `try_lock` found it held, or the timeout passed.
  No,
  /// A cancellable attempt was cancelled with this reason.
  Cancelled(u32),
}

impl Region {
  fn lock_word(&self, offset: u64) -> Result<LockWord> {
    if !sys::FEATURES.robust_lock {
      return Err(Error::unsupported("the cross-process Mutex is implemented on Linux only"));
    }
    let p = self.word(offset, 4, true)?;
    // SAFETY: `p` is an aligned, writable 4-byte word inside this live mapping, used only for the
    // call that asked for it (`&self` keeps the mapping).
    Ok(unsafe { LockWord::new(p as usize) })
  }

  /// One attempt: takes a free lock or one whose owner died.
  pub fn mutex_try_lock(&self, offset: u64, tid: u32) -> Result<Locked> {
    try_once(self.lock_word(offset)?, tid, 0, OwnerCheck::Full)
  }

  /// Releases the lock held by `tid`; `ERR_MAPSHARE_NOT_OWNER` if `tid` does not hold it.
  pub fn mutex_unlock(&self, offset: u64, tid: u32) -> Result<()> {
    let word = self.lock_word(offset)?;
    let v = word.load()?;
    if v & TID_MASK != tid {
      let owner = v & TID_MASK;
      return Err(Error {
        kind: Kind::NotOwner,
        syscall: None,
        path: None,
        detail: Some(if owner == 0 {
          "the lock is not held: unlock() needs a matching lock()".into()
        } else {
          format!("the lock is held by thread {owner}, not by this thread ({tid})")
        }),
      });
    }
    release(word)
  }

  /// The lock word at `offset`, held, for a lock attempt that may block (on any thread).
  pub fn lock_handle(&self, offset: u64) -> Result<Word> {
    self.lock_word(offset)?;
    self.word_handle(offset, true)
  }
}

impl Word {
  /// Blocks until `tid` holds the lock, `timeout` passes, or `cancel` is cancelled. `resumed` is
  /// for a caller that waits in slices and has slept before: it takes the lock as a former sleeper.
  pub fn lock(
    &self,
    tid: u32,
    timeout: Option<Duration>,
    cancel: Option<&Canceller>,
    resumed: bool,
  ) -> Result<Locked> {
    // SAFETY: the word's hold keeps `addr` mapped (live or inert) while `self` lives.
    unsafe { lock_loop(self.addr, tid, timeout, cancel, if resumed { WAITERS } else { 0 }) }
  }
}

/// One attempt. `mark` is `WAITERS` for a thread that has slept: it cannot know whether others
/// still sleep, so it takes the lock with the bit set and its unlock wakes the next one (Drepper,
/// "Futexes Are Tricky", mutex #3); otherwise a hand-off would wake nobody.
pub(crate) fn try_once(word: LockWord, tid: u32, mark: u32, check: OwnerCheck) -> Result<Locked> {
  loop {
    let v = word.load()?;
    let owner = v & TID_MASK;
    if owner == tid {
      return Err(
        Error::os(errno::EDEADLK, "lock")
          .detail("resource deadlock avoided: this thread already holds the lock"),
      );
    }
    if owner == 0 {
      // Keep WAITERS: others may still sleep on the word.
      if word.cas(v, tid | (v & WAITERS) | mark)? {
        return Ok(Locked::Yes { owner_died: false });
      }
      continue;
    }
    let dead = match check {
      OwnerCheck::Skip => false,
      OwnerCheck::Exists => !sys::thread_exists(owner),
      OwnerCheck::Full => !sys::thread_alive(owner),
    };
    if dead {
      if word.cas(v, tid | (v & WAITERS) | mark)? {
        return Ok(Locked::Yes { owner_died: true });
      }
      continue;
    }
    return Ok(Locked::No);
  }
}

/// The lock loop, shared by `lock` and `lockAsync`.
///
/// # Safety
/// `addr` is an aligned word of a mapping that stays mapped until the call returns or `cancel` is
/// cancelled.
unsafe fn lock_loop(
  addr: usize,
  tid: u32,
  timeout: Option<Duration>,
  cancel: Option<&Canceller>,
  mut mark: u32,
) -> Result<Locked> {
  // SAFETY: `addr` is an aligned, writable word that stays mapped while this runs (the caller's
  // contract).
  let word = unsafe { LockWord::new(addr) };
  let deadline = crate::sync::deadline(timeout);
  // The first time the lock is found held, a cheap check of its owner (a full one when resuming a
  // wait made in slices); then a full one each LIVENESS_CHECK, and none on the wake-ups in between
  // (a hand-off between live threads).
  let mut check = if mark == WAITERS { OwnerCheck::Full } else { OwnerCheck::Exists };
  let mut next_full = Instant::now() + LIVENESS_CHECK;
  loop {
    if let Some(c) = cancel {
      if c.reason() != 0 {
        return Ok(Locked::Cancelled(c.reason()));
      }
    }
    let now = Instant::now();
    if now >= next_full {
      check = OwnerCheck::Full;
      next_full = now + LIVENESS_CHECK;
    }
    let attempt = try_once(word, tid, mark, check)?;
    check = OwnerCheck::Skip;
    match attempt {
      Locked::No => {}
      Locked::Yes { .. } if cancel.is_some_and(|c| c.reason() != 0) => {
        // Cancelled (the region is closing) while we took it: give it back, so no lock is left
        // held on behalf of a promise that rejects.
        release(word)?;
        return Ok(Locked::Cancelled(cancel.map_or(1, Canceller::reason)));
      }
      done => return Ok(done),
    }
    // Held by a live thread: announce we wait, then sleep until woken, the liveness check, or the
    // deadline.
    let v = word.load()?;
    if v & TID_MASK == 0 {
      continue;
    }
    if v & WAITERS == 0 && !word.cas(v, v | WAITERS)? {
      continue;
    }
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    if left == Some(Duration::ZERO) {
      return Ok(Locked::No);
    }
    let to_check = next_full.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let slice = left.map_or(to_check, |l| l.min(to_check));
    let seen = (v | WAITERS) as i32;
    match cancel {
      Some(c) => {
        // SAFETY: `addr` is an aligned word that stays mapped until this returns or `c` is
        // cancelled (the caller's contract); `c.word` is the canceller's own live word.
        let waited = unsafe { sys::futex_wait_cancellable(addr as *mut u32, seen, Some(slice), &c.word)? };
        if let AsyncWait::Cancelled(reason) = waited {
          return Ok(Locked::Cancelled(reason));
        }
      }
      None => {
        // SAFETY: `addr` is an aligned word that stays mapped until this returns (the caller's
        // contract).
        unsafe { sys::futex_wait(addr as *mut u32, seen, Some(slice))? };
      }
    }
    mark = WAITERS;
  }
}

/// Unlocks a word this thread holds: clears it and wakes one sleeper if any announced itself.
pub(crate) fn release(word: LockWord) -> Result<()> {
  if word.swap(0)? & WAITERS != 0 {
    // SAFETY: the word is an aligned word of a live (or inert) mapping held by the caller.
    let _ = unsafe { sys::futex_wake(word.0, 1) };
  }
  Ok(())
}
