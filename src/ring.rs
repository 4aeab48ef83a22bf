//! `waitAsync` on this JS thread's io_uring (mapshare-core's `ring_waits`), where the kernel has it
//! (Linux 6.7+): the wait costs no thread, and a notify reaches the event loop with one wake-up.
//! main.cjs opens the ring once per thread, polls a duplicate of its pipe as a stream, and calls
//! `_ringReap` when it turns readable. Elsewhere (or with `MAPSHARE_NO_URING=1`) waits keep using
//! threads (`waiters`, `wait_hub`).

use mapshare_core::ring_waits::{Done, RingWaits};
use mapshare_core::sync::{Canceller, Word};
use napi::Env;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

enum State {
  /// Not asked for yet.
  Closed,
  /// Made: waits go to it.
  Open(Box<RingWaits>),
  /// Cannot be made here; waits use threads.
  Unavailable,
}

thread_local! {
  static RING: RefCell<State> = const { RefCell::new(State::Closed) };
}

fn disabled() -> bool {
  static FLAG: OnceLock<bool> = OnceLock::new();
  *FLAG.get_or_init(|| std::env::var("MAPSHARE_NO_URING").is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// Internal (main.cjs): opens this thread's ring and returns a descriptor for its event loop to
/// poll (a duplicate of the ring's pipe, which the caller owns and closes), or -1 where there is
/// none. Once per thread.
#[napi(js_name = "_ringOpen", skip_typescript, catch_unwind)]
pub fn ring_open(env: &Env) -> i32 {
  if disabled() {
    return -1;
  }
  let fd = RING.with(|r| {
    let mut r = r.borrow_mut();
    if !matches!(*r, State::Closed) {
      return -1;
    }
    match RingWaits::new() {
      Ok(ring) => match ring.read_fd() {
        Ok(fd) => {
          *r = State::Open(Box::new(ring));
          fd
        }
        Err(_) => {
          *r = State::Unavailable;
          -1
        }
      },
      Err(_) => {
        *r = State::Unavailable;
        -1
      }
    }
  });
  if fd >= 0 {
    // The environment's end settles what still waits (their promises reject, unseen, inside a
    // handle scope of their own: no JS runs any more) and closes the ring.
    let raw = env.raw();
    let hooked = env.add_env_cleanup_hook(raw as usize, |raw| {
      let ring = RING.with(|r| std::mem::replace(&mut *r.borrow_mut(), State::Unavailable));
      if let State::Open(mut ring) = ring {
        let raw = raw as napi::sys::napi_env;
        let mut scope = std::ptr::null_mut();
        // SAFETY: this environment's own cleanup hook, on its thread; the scope is closed below.
        let opened =
          unsafe { napi::sys::napi_open_handle_scope(raw, &mut scope) } == napi::sys::Status::napi_ok;
        for (done, outcome) in ring.cancel_all() {
          done(outcome);
        }
        if opened {
          // SAFETY: the scope opened above.
          unsafe { napi::sys::napi_close_handle_scope(raw, scope) };
        }
      }
    });
    if hooked.is_err() {
      RING.with(|r| *r.borrow_mut() = State::Unavailable);
    }
  }
  fd
}

/// Internal (main.cjs): settles the waits that ended; returns how many are still pending.
#[napi(js_name = "_ringReap", skip_typescript, catch_unwind)]
pub fn ring_reap() -> u32 {
  let settled = RING.with(|r| match &mut *r.borrow_mut() {
    State::Open(ring) => ring.reap(),
    _ => Vec::new(),
  });
  // Outside the borrow: settling may start new waits.
  for (done, outcome) in settled {
    done(outcome);
  }
  ring_pending()
}

/// Internal (main.cjs): how many waits on this thread's ring are pending (its stream is referenced
/// while there are any, so that a pending wait keeps the process alive, as a thread did).
#[napi(js_name = "_ringPending", skip_typescript, catch_unwind)]
pub fn ring_pending() -> u32 {
  RING.with(|r| match &*r.borrow() {
    State::Open(ring) => ring.len() as u32,
    _ => 0,
  })
}

/// Whether this thread has a ring (waits then go to it).
pub fn is_open() -> bool {
  RING.with(|r| matches!(&*r.borrow(), State::Open(_)))
}

/// Starts a wait on this thread's ring (see [`is_open`]).
pub fn submit(
  word: Word,
  expected: i32,
  timeout: Option<Duration>,
  canceller: Arc<Canceller>,
  done: impl FnOnce(mapshare_core::Result<mapshare_core::sys::AsyncWait>) + 'static,
) -> mapshare_core::Result<()> {
  RING.with(|r| match &mut *r.borrow_mut() {
    State::Open(ring) => ring.submit(word, expected, timeout, canceller, Box::new(done) as Done),
    _ => Err(mapshare_core::Error::unsupported("no io_uring on this thread")),
  })
}
