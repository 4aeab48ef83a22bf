//! Processes as a lock's liveness check sees them: this one's id, and whether another is alive.

/// This process's id (`getpid()`).
pub fn process_id() -> u32 {
  std::process::id()
}

/// Whether process `pid` exists (`kill(pid, 0)`: `ESRCH` means it is gone; `EPERM` means it exists
/// but belongs to another user). A zombie counts as alive until its parent reaps it.
pub fn process_alive(pid: u32) -> bool {
  let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
  if pid <= 0 {
    return false;
  }
  // SAFETY: signal 0 only checks that the process exists and may be signalled; nothing is sent.
  if unsafe { libc::kill(pid, 0) } == 0 {
    return true;
  }
  std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn this_process_is_alive_and_an_exited_child_is_not() {
    assert!(process_alive(process_id()));
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap(); // reaped: the id names no process now
    assert!(!process_alive(pid));
    assert!(!process_alive(0), "0 would mean the caller's process group");
    assert!(!process_alive(u32::MAX), "-1 would mean every process");
  }
}
