//! What a backend uses where its OS lacks the native call (macOS and Windows; Linux has them all):
//! no io_uring, no multi-word wait, cancellable waits in slices, plain copies. Each such backend
//! declares this file as its own child module and re-exports what it takes from it.

use crate::sys::wait::wait_in_slices;
use crate::sys::{AsyncWait, CopyFault, Error, Result, Waitv, WaitvEntry};
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

/// No io_uring here: [`Ring::new`] says so, and waits keep their threads.
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

/// No multi-word wait outside Linux.
///
/// # Safety
/// Touches nothing.
pub unsafe fn futex_waitv_many(_entries: &[WaitvEntry], _deadline: Option<Instant>) -> Result<Waitv> {
  Ok(Waitv::Unsupported)
}

/// Without `futex_waitv`: waits in 20 ms slices of the backend's `futex_wait`, checking `cancel`
/// between them.
///
/// # Safety
/// `addr` must be an aligned word of a live mapping for the whole wait.
pub unsafe fn futex_wait_cancellable(
  addr: *mut u32,
  expected: i32,
  timeout: Option<Duration>,
  cancel: &AtomicU32,
) -> Result<AsyncWait> {
  // SAFETY: `addr` is an aligned word of a live mapping for the whole wait (the caller's contract).
  unsafe { wait_in_slices(addr, expected, timeout, cancel) }
}

/// Wakes a canceller's private word: the slice loop above notices the cancel by itself.
///
/// # Safety
/// Never dereferences `addr`.
pub unsafe fn futex_wake_private(_addr: *mut u32) -> Result<u32> {
  Ok(0)
}

/// Plain `memmove` where the OS offers no checked copy (a truncated mapped file can still raise
/// `SIGBUS` there; the README says so).
///
/// # Safety
/// Both ranges must be mapped, readable (`src`) and writable (`dst`).
pub unsafe fn copy_checked(dst: *mut u8, src: *const u8, n: usize) -> std::result::Result<(), CopyFault> {
  // SAFETY: the caller guarantees both ranges; memmove handles overlap.
  unsafe { std::ptr::copy(src, dst, n) };
  Ok(())
}

macro_rules! plain_atomics {
  ($load:ident, $cas:ident, $t:ty, $atomic:ty) => {
    /// A plain atomic load where the OS offers no checked access (a truncated mapped file can still
    /// raise `SIGBUS` there; the README says so).
    ///
    /// # Safety
    /// `addr` must be an aligned word of a mapping that stays mapped for the call.
    pub unsafe fn $load(addr: *const $t, _what: &'static str) -> Result<$t> {
      // SAFETY: the caller's contract; the atomic type has the layout of the word.
      Ok(unsafe { &*(addr as *const $atomic) }.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// A plain compare-and-swap: the value found (swapped if it was `expected`).
    ///
    /// # Safety
    /// `addr` must be an aligned, writable word of a mapping that stays mapped for the call.
    pub unsafe fn $cas(addr: *mut $t, expected: $t, new: $t, _what: &'static str) -> Result<$t> {
      use std::sync::atomic::Ordering::SeqCst;
      // SAFETY: the caller's contract; the atomic type has the layout of the word.
      let word = unsafe { &*(addr as *const $atomic) };
      Ok(word.compare_exchange(expected, new, SeqCst, SeqCst).unwrap_or_else(|v| v))
    }
  };
}
plain_atomics!(atomic_load32, atomic_cas32, u32, std::sync::atomic::AtomicU32);
plain_atomics!(atomic_load64, atomic_cas64, u64, std::sync::atomic::AtomicU64);

/// No robust futex list here (`FEATURES.robust_lock` is false): lock calls fail before this.
///
/// # Safety
/// Touches nothing.
pub unsafe fn robust_register(_head: *mut crate::sys::RobustHead) -> Result<()> {
  Err(Error::unsupported(
    "the kernel's robust futex list exists on Linux only (elsewhere the lock follows the liveness policy)",
  ))
}

/// See [`robust_register`].
///
/// # Safety
/// Touches nothing.
pub unsafe fn alias_page(_page: *mut u8, _page_size: usize) -> Result<*mut u8> {
  Err(Error::unsupported(
    "the kernel's robust futex list exists on Linux only (elsewhere the lock follows the liveness policy)",
  ))
}

/// See [`robust_register`].
pub fn mapping_identity(_addr: usize) -> Result<crate::sys::MapIdentity> {
  Err(Error::unsupported(
    "the kernel's robust futex list exists on Linux only (elsewhere the lock follows the liveness policy)",
  ))
}

/// See [`robust_register`]: nothing to redo after a `fork()` here.
pub fn at_fork_child(_f: extern "C" fn()) {}
