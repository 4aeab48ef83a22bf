//! macOS: cross-process wait/notify with `os_sync_wait_on_address` and the `OS_SYNC_*_SHARED`
//! flags (macOS 14.4+), looked up at run time so the addon still loads on older systems (where
//! `wait`/`notify` then throw `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`). And the rest of what macOS does
//! differently from Linux: no memfd, no io_uring (see `fallback`), no mapping limit to watch.

#[path = "../fallback.rs"]
mod fallback;

pub use fallback::{
  alias_page, at_fork_child, atomic_cas32, atomic_cas64, atomic_load32, atomic_load64, copy_checked,
  futex_wait_cancellable, futex_waitv_many, futex_wake_private, mapping_identity, robust_register, Ring,
};

use super::shm::{shm_open_fd, shm_unlink_name};
use crate::sys::{errno, Error, Features, Result, WaitResult};
use std::ffi::c_void;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::time::Duration;

/// What macOS can do: no owner check for the cross-process lock (its thread ids are not the ones
/// `kill` checks), and POSIX names of at most 30 characters (`PSHMNAMLEN`).
pub const FEATURES: Features = Features {
  robust_lock: false,
  futex: true,
  shrinks_mapped_files: true,
  maps_past_end: true,
  shm_name_max: 30,
};

const OS_SYNC_WAIT_ON_ADDRESS_SHARED: u32 = 1;
const OS_SYNC_WAKE_BY_ADDRESS_SHARED: u32 = 1;
const OS_CLOCK_MACH_ABSOLUTE_TIME: u32 = 32;

type WaitFn = unsafe extern "C" fn(*mut c_void, u64, usize, u32) -> libc::c_int;
type WaitTimeoutFn = unsafe extern "C" fn(*mut c_void, u64, usize, u32, u32, u64) -> libc::c_int;
type WakeFn = unsafe extern "C" fn(*mut c_void, usize, u32) -> libc::c_int;

struct Api {
  wait: WaitFn,
  wait_timeout: WaitTimeoutFn,
  wake_all: WakeFn,
}

fn api() -> Option<&'static Api> {
  static API: OnceLock<Option<Api>> = OnceLock::new();
  API
    .get_or_init(|| {
      let sym = |name: &[u8]| {
        // SAFETY: RTLD_DEFAULT searches the loaded images; `name` is NUL-terminated.
        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr().cast()) };
        (!p.is_null()).then_some(p)
      };
      let (w, t, k) = (
        sym(b"os_sync_wait_on_address\0")?,
        sym(b"os_sync_wait_on_address_with_timeout\0")?,
        sym(b"os_sync_wake_by_address_all\0")?,
      );
      // SAFETY: these symbols have exactly these C signatures (<os/os_sync_wait_on_address.h>).
      Some(unsafe {
        Api {
          wait: std::mem::transmute::<*mut c_void, WaitFn>(w),
          wait_timeout: std::mem::transmute::<*mut c_void, WaitTimeoutFn>(t),
          wake_all: std::mem::transmute::<*mut c_void, WakeFn>(k),
        }
      })
    })
    .as_ref()
}

fn unavailable<T>() -> Result<T> {
  Err(Error::unsupported("cross-process wait/notify needs macOS 14.4 or later (os_sync_wait_on_address)"))
}

/// `os_sync_wait_on_address[_with_timeout]` with `OS_SYNC_WAIT_ON_ADDRESS_SHARED`.
///
/// # Safety
/// `addr` must be an aligned word inside a live mapping.
pub unsafe fn futex_wait(addr: *mut u32, expected: i32, timeout: Option<Duration>) -> Result<WaitResult> {
  let Some(api) = api() else { return unavailable() };
  // SAFETY: `addr` is an aligned word (caller); reading it atomically is what the kernel does too.
  if unsafe { (*(addr as *const std::sync::atomic::AtomicU32)).load(std::sync::atomic::Ordering::SeqCst) }
    != expected as u32
  {
    return Ok(WaitResult::NotEqual);
  }
  let rc = match timeout {
    // SAFETY: valid address, size 4, documented flags.
    None => unsafe { (api.wait)(addr.cast(), expected as u32 as u64, 4, OS_SYNC_WAIT_ON_ADDRESS_SHARED) },
    Some(t) => {
      // libc marks the mach time calls deprecated in favour of the mach2 crate; they are the documented
      // clock of OS_CLOCK_MACH_ABSOLUTE_TIME, and one call each does not justify another dependency.
      #[allow(deprecated)]
      let mut info = libc::mach_timebase_info { numer: 0, denom: 0 };
      // SAFETY: `info` is a valid out-pointer.
      #[allow(deprecated)]
      unsafe {
        libc::mach_timebase_info(&mut info)
      };
      // SAFETY: mach_absolute_time has no preconditions.
      #[allow(deprecated)]
      let now = unsafe { libc::mach_absolute_time() };
      #[allow(deprecated)]
      let ticks = (t.as_nanos() as u64).saturating_mul(u64::from(info.denom)) / u64::from(info.numer.max(1));
      // SAFETY: valid address, size 4, documented flags and clock; the deadline is absolute.
      unsafe {
        (api.wait_timeout)(
          addr.cast(),
          expected as u32 as u64,
          4,
          OS_SYNC_WAIT_ON_ADDRESS_SHARED,
          OS_CLOCK_MACH_ABSOLUTE_TIME,
          now.saturating_add(ticks),
        )
      }
    }
  };
  if rc >= 0 {
    return Ok(WaitResult::Ok);
  }
  match std::io::Error::last_os_error().raw_os_error().unwrap_or(0) {
    libc::ETIMEDOUT => Ok(WaitResult::TimedOut),
    libc::EINTR | libc::EFAULT => Ok(WaitResult::Ok), // woken or changed: the caller re-checks
    e => Err(Error::os(e, "os_sync_wait_on_address")),
  }
}

/// `os_sync_wake_by_address_all` with `OS_SYNC_WAKE_BY_ADDRESS_SHARED` (macOS cannot wake a given
/// number of waiters across processes or count them: all are woken and 0 is reported).
///
/// # Safety
/// `addr` must be an aligned word inside a live mapping.
pub unsafe fn futex_wake(addr: *mut u32, _count: u32) -> Result<u32> {
  let Some(api) = api() else { return unavailable() };
  // SAFETY: valid address, size 4, documented flag.
  let rc = unsafe { (api.wake_all)(addr.cast(), 4, OS_SYNC_WAKE_BY_ADDRESS_SHARED) };
  if rc < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
    return Err(Error::last_os("os_sync_wake_by_address_all"));
  }
  Ok(0)
}

/// The calling thread's id: the kernel thread id (`pthread_threadid_np`).
pub fn thread_id() -> u32 {
  let mut tid: u64 = 0;
  // SAFETY: a null thread means the calling thread; `tid` is a valid out-pointer.
  unsafe { libc::pthread_threadid_np(0, &mut tid) };
  tid as u32
}

/// macOS has no per-process mapping limit that runtimes hit in practice.
pub fn map_limit() -> Option<usize> {
  None
}

/// See [`map_limit`].
pub fn map_count() -> Option<usize> {
  None
}

/// Block devices' sizes are not read on macOS: mapping one needs an explicit length.
pub fn block_device_size(_fd: BorrowedFd<'_>) -> Option<u64> {
  None
}

/// Transparent huge pages are a Linux feature.
pub fn hugepage_advice(_on: bool) -> Result<libc::c_int> {
  Err(Error::unsupported("advice 'hugepage'/'nohugepage' exists on Linux only"))
}

/// The key of a System V segment's `struct ipc_perm`.
pub fn ipc_key(p: &libc::ipc_perm) -> libc::key_t {
  p._key
}

/// Anonymous shared memory with a descriptor: macOS has no memfd, so a POSIX object of a new random
/// name, unlinked at once (the descriptor still shares it).
pub fn anonymous_fd() -> Result<OwnedFd> {
  use std::time::{SystemTime, UNIX_EPOCH};
  let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
  for attempt in 0..16u32 {
    let name =
      format!("/mapshare.{}.{:x}", std::process::id(), nanos.wrapping_add(attempt.wrapping_mul(7919)));
    match shm_open_fd(&name, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 0o600) {
      Ok(fd) => {
        shm_unlink_name(&name)?;
        return Ok(fd);
      }
      Err(e) if e.errno() == Some(errno::EEXIST) => continue,
      Err(e) => return Err(e),
    }
  }
  Err(Error::os(errno::EEXIST, "shm_open"))
}
