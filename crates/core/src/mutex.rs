//! A lock that survives its owner's death, in a 32-bit word of a shared region.
//!
//! Layout (C peers can use it; it is the kernel's robust futex word): the word is 0 when free;
//! otherwise it holds the owner's thread id (`gettid()`, as the owner's own PID namespace numbers
//! it) in its low 30 bits, with bit 31 set while other threads wait (`WAITERS`). Lock:
//! compare-and-swap 0 -> tid, else set `WAITERS` and `FUTEX_WAIT` (shared) on the word. Unlock: swap
//! 0 and, if `WAITERS` was set, `FUTEX_WAKE` one. Every holder keeps the word in its robust futex
//! list (`robust`): when it dies, in whatever PID namespace, the kernel writes `OWNER_DIED` (bit 30)
//! with no owner and wakes a waiter, which takes the lock and reports `ownerDied`, like a robust
//! pthread mutex's `EOWNERDEAD`: the protected data may be half-updated and should be repaired.
//! No thread id is ever checked for liveness (ids repeat across PID namespaces): a holder that dies
//! without a robust list entry (a C peer that does not register one) is never seen dead.
//!
//! Where there is no robust list (macOS, Windows), the word holds the owner's process id instead and
//! lockers ask whether that process still runs (the liveness policy, see `robust`).

use crate::error::{Error, Kind, Result};
use crate::region::Region;
use crate::robust::{liveness_policy, reap_dead_owner, Owner, Slot, LIVENESS_SLICE, OWNER_DIED};
use crate::sync::{Canceller, Word};
use crate::sys::{self, errno, AsyncWait};
use std::time::{Duration, Instant};

/// Set while threads wait for the lock.
pub const WAITERS: u32 = 0x8000_0000;
pub use crate::robust::TID_MASK;
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

/// The lock word at an offset of a region, with its entry for the owners' robust lists: what a lock
/// attempt that may block (on any thread) holds.
#[derive(Debug)]
pub struct LockHandle {
  word: Word,
  slot: Slot,
}

impl Region {
  fn lock_word(&self, offset: u64) -> Result<(LockWord, Slot)> {
    if !sys::FEATURES.futex {
      return Err(Error::unsupported(
        "the cross-process Mutex sleeps on cross-process wait/notify, which this platform lacks",
      ));
    }
    let p = self.word(offset, 4, true)?;
    // The thread's robust list first: where the kernel has none, the lock is refused before anything
    // is mapped for it.
    Owner::current()?;
    let slot = self.lock_slot(p as usize)?;
    // SAFETY: `p` is an aligned, writable 4-byte word inside this live mapping, used only for the
    // call that asked for it (`&self` keeps the mapping).
    Ok((unsafe { LockWord::new(p as usize) }, slot))
  }

  /// One attempt: takes a free lock, or one whose owner died.
  pub fn mutex_try_lock(&self, offset: u64, owner: &Owner) -> Result<Locked> {
    let (word, slot) = self.lock_word(offset)?;
    try_once(word, &slot, owner, 0)
  }

  /// Releases the lock `owner` holds; `ERR_MAPSHARE_NOT_OWNER` if it does not hold it.
  pub fn mutex_unlock(&self, offset: u64, owner: &Owner) -> Result<()> {
    let (word, slot) = self.lock_word(offset)?;
    release(word, &slot, owner)
  }

  /// The lock word at `offset`, held, for a lock attempt that may block (on any thread).
  pub fn lock_handle(&self, offset: u64) -> Result<LockHandle> {
    let (_, slot) = self.lock_word(offset)?;
    Ok(LockHandle { word: self.word_handle(offset, true)?, slot })
  }
}

impl LockHandle {
  /// Blocks until `owner` holds the lock, `timeout` passes, or `cancel` is cancelled. `resumed` is
  /// for a caller that waits in slices and has slept before: it takes the lock as a former sleeper.
  pub fn lock(
    &self,
    owner: &Owner,
    timeout: Option<Duration>,
    cancel: Option<&Canceller>,
    resumed: bool,
  ) -> Result<Locked> {
    // SAFETY: the word's hold keeps `addr` mapped (live or inert) while `self` lives.
    unsafe {
      lock_loop(self.word.addr, &self.slot, owner, timeout, cancel, if resumed { WAITERS } else { 0 })
    }
  }

  /// One attempt, for a hub that waits on the word itself (`mark` as in [`try_once`]).
  pub(crate) fn try_once(&self, owner: &Owner, mark: u32) -> Result<Locked> {
    try_once(self.cell(), &self.slot, owner, mark)
  }

  /// Gives back a lock this attempt took for `owner` (its promise will not be there to own it).
  pub(crate) fn release(&self, owner: &Owner) -> Result<()> {
    release(self.cell(), &self.slot, owner)
  }

  pub(crate) fn cell(&self) -> LockWord {
    // SAFETY: the word's hold keeps `addr` mapped (live or inert) while `self` lives, and a lock's
    // word is writable and aligned (lock_word checked).
    unsafe { LockWord::new(self.word.addr) }
  }

  pub(crate) fn addr(&self) -> usize {
    self.word.addr
  }
}

/// One attempt. `mark` is `WAITERS` for a thread that has slept: it cannot know whether others
/// still sleep, so it takes the lock with the bit set and its unlock wakes the next one (Drepper,
/// "Futexes Are Tricky", mutex #3); otherwise a hand-off would wake nobody.
fn try_once(word: LockWord, slot: &Slot, owner: &Owner, mark: u32) -> Result<Locked> {
  if owner.holds(slot) {
    return Err(
      Error::os(errno::EDEADLK, "lock")
        .detail("resource deadlock avoided: this thread already holds the lock"),
    );
  }
  loop {
    let v = word.load()?;
    if v & TID_MASK != 0 {
      // Held by a live thread, in this PID namespace or another: were it dead, the kernel would
      // have cleared its id. Under the liveness policy, its process is asked after instead.
      if reap_dead_owner(v, |new| word.cas(v, new))? {
        continue;
      }
      return Ok(Locked::No);
    }
    // Free, or freed by the kernel for a dead owner (OWNER_DIED). Keep WAITERS: others may still
    // sleep on the word.
    if owner.acquire(slot, || word.cas(v, owner.tid() | (v & WAITERS) | mark))? {
      return Ok(Locked::Yes { owner_died: v & OWNER_DIED != 0 });
    }
  }
}

/// The lock loop, shared by `lock` and `lockAsync`.
///
/// # Safety
/// `addr` is an aligned word of a mapping that stays mapped until the call returns or `cancel` is
/// cancelled.
unsafe fn lock_loop(
  addr: usize,
  slot: &Slot,
  owner: &Owner,
  timeout: Option<Duration>,
  cancel: Option<&Canceller>,
  mut mark: u32,
) -> Result<Locked> {
  // SAFETY: `addr` is an aligned, writable word that stays mapped while this runs (the caller's
  // contract).
  let word = unsafe { LockWord::new(addr) };
  let deadline = crate::sync::deadline(timeout);
  loop {
    if let Some(c) = cancel {
      if c.reason() != 0 {
        return Ok(Locked::Cancelled(c.reason()));
      }
    }
    match try_once(word, slot, owner, mark)? {
      Locked::No => {}
      Locked::Yes { .. } if cancel.is_some_and(|c| c.reason() != 0) => {
        // Cancelled (the region is closing) while we took it: give it back, so no lock is left
        // held on behalf of a promise that rejects.
        release(word, slot, owner)?;
        return Ok(Locked::Cancelled(cancel.map_or(1, Canceller::reason)));
      }
      done => return Ok(done),
    }
    // Held by a live thread: announce we wait, then sleep until woken (by its unlock, or by the
    // kernel when it dies) or the deadline; under the liveness policy, in slices, to see again
    // whether the owner still runs.
    let v = word.load()?;
    if v & TID_MASK == 0 {
      continue;
    }
    if v & WAITERS == 0 && !word.cas(v, v | WAITERS)? {
      continue;
    }
    let mut left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    if left == Some(Duration::ZERO) {
      return Ok(Locked::No);
    }
    if liveness_policy() {
      left = Some(left.map_or(LIVENESS_SLICE, |l| l.min(LIVENESS_SLICE)));
    }
    let seen = (v | WAITERS) as i32;
    match cancel {
      Some(c) => {
        // SAFETY: `addr` is an aligned word that stays mapped until this returns or `c` is
        // cancelled (the caller's contract); `c.word` is the canceller's own live word.
        let waited = unsafe { sys::futex_wait_cancellable(addr as *mut u32, seen, left, &c.word)? };
        if let AsyncWait::Cancelled(reason) = waited {
          return Ok(Locked::Cancelled(reason));
        }
      }
      None => {
        // SAFETY: `addr` is an aligned word that stays mapped until this returns (the caller's
        // contract).
        unsafe { sys::futex_wait(addr as *mut u32, seen, left)? };
      }
    }
    mark = WAITERS;
  }
}

/// Unlocks a word `owner` holds: takes its entry off the owner's list, clears the word and wakes
/// one sleeper if any announced itself. `ERR_MAPSHARE_NOT_OWNER` if `owner` does not hold it.
fn release(word: LockWord, slot: &Slot, owner: &Owner) -> Result<()> {
  let tid = owner.tid();
  let cleared = owner.release(slot, || {
    let v = word.load()?;
    if v & TID_MASK != tid {
      // Not ours any more (a peer broke the protocol): leave the word alone, drop the entry.
      return Ok(Err(v));
    }
    word.swap(0).map(Ok)
  })?;
  let found = match cleared {
    Some(Ok(old)) => {
      if old & WAITERS != 0 {
        // SAFETY: the word is an aligned word of a live (or inert) mapping held by the caller.
        let _ = unsafe { sys::futex_wake(word.0, 1) };
      }
      return Ok(());
    }
    Some(Err(v)) => v,
    None => word.load()?,
  };
  let holder = found & TID_MASK;
  Err(Error {
    kind: Kind::NotOwner,
    syscall: None,
    path: None,
    detail: Some(if holder == 0 {
      "the lock is not held by this thread: unlock() needs a matching lock()".into()
    } else if holder == tid {
      format!(
        "the lock is held by thread {holder} of another process or PID namespace (the same number as this thread's), not by this thread"
      )
    } else {
      format!("the lock is held by thread {holder}, not by this thread ({tid})")
    }),
  })
}
