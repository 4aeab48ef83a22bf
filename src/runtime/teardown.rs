//! Waits and locks end when their JS environment goes away (`worker.terminate()`, `process.exit()`
//! with workers blocked, a worker that ends with a `waitAsync` pending).
//!
//! - Every wait registers its canceller with its environment; the environment's cleanup hook
//!   cancels them all, so waiter threads let go of their memory and descriptors.
//! - A blocking `wait()`/`lock()` cannot be interrupted by V8's termination (it sits in the kernel,
//!   not in JS), so it sleeps in slices and, between slices, checks that its environment can still
//!   run JS; when it cannot, the call ends and the termination proceeds.

use super::pending::CLOSED;
use crate::weak_list::WeakList;
use mapshare_core::sync::Canceller;
use napi::bindgen_prelude::Function;
use napi::{Env, Result};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a blocking call sleeps between checks of its environment.
pub const SLICE: Duration = Duration::from_millis(50);

thread_local! {
  /// The waits of the environment running on this thread (one JS environment per thread), and
  /// whether its cleanup hook is installed.
  static WAITS: RefCell<(WeakList, bool)> = const { RefCell::new((WeakList::new(), false)) };
}

/// Registers `canceller` with the environment of this thread; its teardown cancels it.
pub fn register(env: &Env, canceller: &Arc<Canceller>) {
  let install = WAITS.with(|w| {
    let mut w = w.borrow_mut();
    w.0.push(canceller);
    !std::mem::replace(&mut w.1, true)
  });
  if install {
    let hooked = env.add_env_cleanup_hook((), |()| {
      let waits = WAITS.with(|w| w.borrow_mut().0.take_live());
      for c in waits {
        c.cancel(CLOSED);
      }
    });
    if hooked.is_err() {
      WAITS.with(|w| w.borrow_mut().1 = false);
    }
  }
}

/// What one slice of a blocking call gave.
pub enum Step<R> {
  Done(R),
  /// The slice ended with nothing to report: sleep again if time is left.
  Again,
}

/// Runs `step(slice)` until it is done, `timeout` passes (`on_timeout`), or the environment can no
/// longer run JS (the call then fails; the termination's exception is already pending).
pub fn blocking<R>(
  env: &Env,
  timeout: Option<Duration>,
  on_timeout: impl FnOnce() -> R,
  mut step: impl FnMut(Duration) -> Result<Step<R>>,
) -> Result<R> {
  let deadline = mapshare_core::sync::deadline(timeout);
  let mut probe: Option<Function<(), ()>> = None;
  let mut first = true;
  loop {
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    // The first slice always runs, even with no time left: it still compares the word ('not-equal'
    // before 'timed-out', as Atomics.wait with a zero timeout).
    if left == Some(Duration::ZERO) && !std::mem::replace(&mut first, false) {
      return Ok(on_timeout());
    }
    first = false;
    if let Step::Done(r) = step(left.map_or(SLICE, |l| l.min(SLICE)))? {
      return Ok(r);
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
      return Ok(on_timeout());
    }
    // Can this environment still run JS? A terminating worker (or an exiting process) cannot.
    if probe.is_none() {
      probe = Some(env.create_function_from_closure::<(), (), _>("mapshareProbe", |_| Ok(()))?);
    }
    if let Some(f) = &probe {
      f.call(())?;
    }
  }
}
