//! Whether the thread that holds a lock still lives (its id is what the lock word records).

use super::kernel::is_zombie;

/// Whether a thread (or process) with this id exists: `kill(id, 0)` is `ESRCH` once it is gone
/// (`EPERM` means it exists but belongs to someone else).
///
/// On Linux a process killed while holding a lock stays a zombie until its parent reaps it, and
/// `kill` still finds it: its state in `/proc/<id>/stat` (`Z`, or `X` while being reaped) says it is
/// dead, so a parent blocked in `lock()` (whose event loop would reap the child) is not stuck forever.
pub fn thread_alive(id: u32) -> bool {
  thread_exists(id) && !is_zombie(id)
}

/// `kill(id, 0)` alone: one system call, false once the thread is gone and reaped (a zombie still
/// exists: [`thread_alive`] tells those apart).
pub fn thread_exists(id: u32) -> bool {
  // SAFETY: signal 0 only checks for existence and permission; nothing is delivered.
  let rc = unsafe { libc::kill(id as libc::pid_t, 0) };
  rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}
