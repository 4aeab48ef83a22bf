//! Atomics and cross-process wait/notify on a region's memory.
//!
//! Atomics are sequentially consistent operations on naturally aligned 32-bit and 64-bit words
//! (`AtomicI32`/`AtomicI64` over the mapped bytes), the same instructions C11 atomics and JS `Atomics`
//! use, so they interoperate with both. `wait`/`notify` are futexes *without* `FUTEX_PRIVATE_FLAG`:
//! the kernel keys them by the backing page, so every process that maps the same file, POSIX object,
//! memfd or System V segment waits on and wakes the same word.

use crate::error::{Error, Kind, Result};
use crate::region::Region;
use crate::span::Hold;
use crate::sys;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering::SeqCst};
use std::time::{Duration, Instant};

pub use crate::sys::{deadline, AsyncWait, WaitResult, FOREVER};

/// An atomic read-modify-write (or load/store) operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtomicOp {
  Load,
  Store,
  Add,
  Sub,
  And,
  Or,
  Xor,
  Exchange,
  /// `expected` in the first value, `replacement` in the second.
  CompareExchange,
}

/// Applies `op` through the checked atomics of `sys` (`EFAULT` instead of `SIGBUS` on a page a
/// truncated file lost): a load, or a compare-and-swap loop computing the new value from the old.
/// Returns what `apply!` returns.
macro_rules! apply_checked {
  ($addr:expr, $load:path, $cas:path, $u:ty, $i:ty, $op:expr, $a:expr, $b:expr) => {{
    let addr = $addr;
    let (a, b): ($i, $i) = ($a, $b);
    let load = || {
      // SAFETY: the caller's word is aligned and stays mapped for this call.
      unsafe { $load(addr, "atomics") }
    };
    let cas = |expected: $u, new: $u| {
      // SAFETY: the caller's word is aligned, writable (every op but Load, which never swaps, asked
      // for a writable word) and stays mapped for this call.
      unsafe { $cas(addr, expected, new, "atomics") }
    };
    match $op {
      AtomicOp::Load => load().map(|v| v as $i),
      AtomicOp::CompareExchange => cas(a as $u, b as $u).map(|v| v as $i),
      op => {
        let mut old = load()?;
        loop {
          let new = match op {
            AtomicOp::Store | AtomicOp::Exchange => a,
            AtomicOp::Add => (old as $i).wrapping_add(a),
            AtomicOp::Sub => (old as $i).wrapping_sub(a),
            AtomicOp::And => (old as $i) & a,
            AtomicOp::Or => (old as $i) | a,
            AtomicOp::Xor => (old as $i) ^ a,
            AtomicOp::Load | AtomicOp::CompareExchange => unreachable!(),
          };
          let found = cas(old, new as $u)?;
          if found == old {
            break Ok(if op == AtomicOp::Store { a } else { old as $i });
          }
          old = found;
        }
      }
    }
  }};
}

/// Applies `op` to an atomic word of either width (the same code for `AtomicI32` and `AtomicI64`).
macro_rules! apply {
  ($w:expr, $op:expr, $a:expr, $b:expr) => {{
    let w = $w;
    match $op {
      AtomicOp::Load => w.load(SeqCst),
      AtomicOp::Store => {
        w.store($a, SeqCst);
        $a
      }
      AtomicOp::Add => w.fetch_add($a, SeqCst),
      AtomicOp::Sub => w.fetch_sub($a, SeqCst),
      AtomicOp::And => w.fetch_and($a, SeqCst),
      AtomicOp::Or => w.fetch_or($a, SeqCst),
      AtomicOp::Xor => w.fetch_xor($a, SeqCst),
      AtomicOp::Exchange => w.swap($a, SeqCst),
      AtomicOp::CompareExchange => w.compare_exchange($a, $b, SeqCst, SeqCst).unwrap_or_else(|v| v),
    }
  }};
}

impl Region {
  /// The address of a naturally aligned word of `size` bytes at `offset`, checked for range and
  /// alignment, and for writability when `write`.
  pub fn word(&self, offset: u64, size: usize, write: bool) -> Result<*mut u8> {
    let (off, _) = self.range(offset, Some(size as u64))?;
    let addr = self.as_ptr() as usize + off;
    if !addr.is_multiple_of(size) {
      return Err(Error {
        kind: Kind::Unaligned,
        syscall: None,
        path: None,
        detail: Some(format!(
          "byte offset {offset} is not a multiple of {size}: {}-bit atomics need an aligned word",
          size * 8
        )),
      });
    }
    if write && self.is_read_only() {
      return Err(Error::read_only());
    }
    Ok(addr as *mut u8)
  }

  /// A sequentially consistent 32-bit atomic operation; returns what `Atomics` returns (the old
  /// value, or the stored value for `Store`).
  /// On a backing that can shrink (a file, a POSIX object), through the checked atomics: a page
  /// another process truncated away gives `EFAULT`, as the copies do, not `SIGBUS`.
  pub fn atomic32(&self, offset: u64, op: AtomicOp, a: i32, b: i32) -> Result<i32> {
    let p = self.word(offset, 4, op != AtomicOp::Load)?;
    if self.is_truncatable() {
      return apply_checked!(p as *mut u32, sys::atomic_load32, sys::atomic_cas32, u32, i32, op, a, b);
    }
    // SAFETY: `p` is 4-byte aligned and inside this live mapping (checked above); AtomicI32 has the
    // layout of i32, and other processes touch the word only through atomics too (the API contract).
    Ok(apply!(unsafe { &*(p as *const AtomicI32) }, op, a, b))
  }

  /// The 64-bit twin of [`Region::atomic32`].
  pub fn atomic64(&self, offset: u64, op: AtomicOp, a: i64, b: i64) -> Result<i64> {
    let p = self.word(offset, 8, op != AtomicOp::Load)?;
    if self.is_truncatable() {
      return apply_checked!(p as *mut u64, sys::atomic_load64, sys::atomic_cas64, u64, i64, op, a, b);
    }
    // SAFETY: `p` is 8-byte aligned and inside this live mapping (checked above); AtomicI64 has the
    // layout of i64, and other processes touch the word only through atomics too (the API contract).
    Ok(apply!(unsafe { &*(p as *const AtomicI64) }, op, a, b))
  }

  /// Sleeps until another process (or thread) calls `notify` on the word at `offset`, if it holds
  /// `expected`; `timeout` None waits forever. Restarts after signals with the time that is left.
  pub fn wait(&self, offset: u64, expected: i32, timeout: Option<Duration>) -> Result<WaitResult> {
    let p = self.word(offset, 4, false)?;
    // SAFETY: `p` is an aligned 4-byte word inside this live mapping.
    unsafe { sys::futex_wait(p.cast(), expected, timeout) }
  }
}

/// A wait that another thread can cancel (`waitAsync` with an `AbortSignal`, or `close()`).
#[derive(Debug, Default)]
pub struct Canceller {
  pub(crate) word: std::sync::atomic::AtomicU32,
  hook: Hook,
}

/// What a cancellation runs, given its reason.
type OnCancel = Box<dyn FnOnce(u32) + Send>;

/// What to run once when a [`Canceller`] is cancelled (a grouped wait settles itself).
#[derive(Default)]
struct Hook(std::sync::Mutex<Option<OnCancel>>);

impl std::fmt::Debug for Hook {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("Hook")
  }
}

impl Hook {
  fn take(&self) -> Option<OnCancel> {
    self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
  }
}

impl Canceller {
  /// Interrupts the wait: it ends with `Cancelled(reason)` (reason must be non-zero).
  /// The reason given to `cancel`, 0 while not cancelled.
  pub fn reason(&self) -> u32 {
    self.word.load(SeqCst)
  }

  pub fn cancel(&self, reason: u32) {
    if self.word.compare_exchange(0, reason.max(1), SeqCst, SeqCst).is_ok() {
      // SAFETY: the word is this heap allocation's own aligned u32, alive as long as `self`.
      let _ = unsafe { sys::futex_wake_private(self.word.as_ptr()) };
      if let Some(f) = self.hook.take() {
        f(self.reason());
      }
    }
  }

  /// Runs `f(reason)` once when this is cancelled (at once if it already is).
  pub fn on_cancel(&self, f: OnCancel) {
    *self.hook.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
    // Cancelled meanwhile (`cancel` took no hook, or took this one): whoever takes it runs it.
    if self.reason() != 0 {
      if let Some(f) = self.hook.take() {
        f(self.reason());
      }
    }
  }
}

/// A 32-bit word of a region that a thread may wait on (or lock) without holding the region: the
/// hold keeps its address mapped — live, or inert once the region is closed — for as long as the
/// `Word` exists, so a wait can never touch unmapped memory. Close the region's waits by
/// cancelling their [`Canceller`].
#[derive(Debug, Clone)]
pub struct Word {
  _hold: Hold,
  pub(crate) addr: usize,
}

impl Region {
  /// The word at `offset` (aligned, in range), held for a wait or lock on any thread.
  pub fn word_handle(&self, offset: u64, write: bool) -> Result<Word> {
    let addr = self.word(offset, 4, write)? as usize;
    Ok(Word { _hold: self.hold(), addr })
  }
}

/// How long a blocking wait watches its word before it sleeps (on machines with more than one CPU).
pub const SPIN: Duration = Duration::from_micros(20);
/// How long a JS thread's event loop keeps from sleeping after a `waitAsync` went to its ring (a
/// notify from another CPU is then seen without waking an idle one).
pub const SPIN_ASYNC: Duration = Duration::from_micros(50);

impl Word {
  /// The word's value, read without faulting on a page lost to truncation (`EFAULT` then).
  pub fn load_checked(&self) -> Result<u32> {
    // SAFETY: `addr` is an aligned word of the span `_hold` keeps mapped.
    unsafe { sys::load_word_checked(self.addr) }
  }

  /// Watches the word for up to `budget` before a wait sleeps: another process running on another
  /// CPU answers in microseconds, far less than waking a sleeping thread costs (tens of µs between
  /// idle CPUs of a virtual machine). Yields the CPU between looks, so that a peer on this CPU runs.
  /// `Some(NotEqual)` if the word differs at once, `Some(Ok)` if it changes meanwhile, `None` if it
  /// did not (then sleep) or the wait was cancelled (the sleep reports it).
  pub fn spin(&self, expected: i32, budget: Duration, canceller: &Canceller) -> Result<Option<WaitResult>> {
    if self.load_checked()? != expected as u32 {
      return Ok(Some(WaitResult::NotEqual));
    }
    if budget.is_zero() || !multi_cpu() {
      return Ok(None);
    }
    let until = Instant::now() + budget;
    loop {
      for _ in 0..64 {
        std::hint::spin_loop();
      }
      if self.load_checked()? != expected as u32 {
        return Ok(Some(WaitResult::Ok));
      }
      if canceller.reason() != 0 || Instant::now() >= until {
        return Ok(None);
      }
      std::thread::yield_now();
    }
  }

  /// Waits like [`Region::wait`] until woken, timed out, or cancelled through `canceller`.
  pub fn wait(
    &self,
    expected: i32,
    timeout: Option<Duration>,
    canceller: &Canceller,
  ) -> Result<sys::AsyncWait> {
    // SAFETY: `addr` is an aligned word of the span `_hold` keeps mapped for as long as `self` lives.
    unsafe { sys::futex_wait_cancellable(self.addr as *mut u32, expected, timeout, &canceller.word) }
  }
}

/// Whether this machine has more than one CPU to run on (a spin only helps a peer on another CPU).
pub fn multi_cpu() -> bool {
  static MULTI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
  *MULTI.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}
