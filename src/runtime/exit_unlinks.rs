//! `unlinkOnClose` names also go when their program ends without `close()`: when their JS
//! environment ends (a worker that returns, exits or is terminated) and when the process exits
//! (`process.exit()`, an uncaught exception, an event loop with nothing left to do: C's `atexit`).
//! A process killed by a signal cannot run either; its names stay (`npx mapshare gc` finds them).

use napi::Env;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;

type Unlink = Box<dyn FnOnce() + Send>;

struct Entry {
  id: u64,
  /// The thread of the environment that made it (one JS environment per thread).
  thread: ThreadId,
  unlink: Unlink,
}

static PENDING: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
#[cfg(unix)]
static AT_EXIT: std::sync::Once = std::sync::Once::new();

thread_local! {
  /// Whether this thread's environment has its cleanup hook.
  static HOOKED: Cell<bool> = const { Cell::new(false) };
}

/// Registers `unlink` to run when this thread's environment or the process ends, unless [`take`]
/// takes it back first. Returns the number that [`take`] takes.
pub fn register(env: &Env, unlink: impl FnOnce() + Send + 'static) -> u64 {
  let id = NEXT.fetch_add(1, Ordering::Relaxed);
  let thread = std::thread::current().id();
  lock().push(Entry { id, thread, unlink: Box::new(unlink) });
  if !HOOKED.with(|h| h.replace(true)) {
    let hooked = env.add_env_cleanup_hook((), |()| {
      let me = std::thread::current().id();
      run_where(|e| e.thread == me);
    });
    if hooked.is_err() {
      HOOKED.with(|h| h.set(false));
    }
  }
  #[cfg(unix)]
  AT_EXIT.call_once(|| {
    // SAFETY: `at_exit` is a plain `extern "C" fn()` that never unwinds (it catches panics).
    unsafe { libc::atexit(at_exit) };
  });
  id
}

/// Takes back the entry `id` (its region is closing and unlinks now): true if it was still there.
pub fn take(id: u64) -> bool {
  let mut pending = lock();
  let before = pending.len();
  pending.retain(|e| e.id != id);
  pending.len() != before
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Entry>> {
  PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs (outside the lock) the unlinks of the entries `pick` picks, and forgets them.
fn run_where(pick: impl Fn(&Entry) -> bool) {
  let picked: Vec<Entry> = {
    let mut pending = lock();
    let (picked, kept) = std::mem::take(&mut *pending).into_iter().partition(|e| pick(e));
    *pending = kept;
    picked
  };
  for e in picked {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(e.unlink));
  }
}

#[cfg(unix)]
extern "C" fn at_exit() {
  let _ = std::panic::catch_unwind(|| run_where(|_| true));
}
