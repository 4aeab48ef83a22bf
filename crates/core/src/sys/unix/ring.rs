//! An io_uring for futex waits (Linux 6.7+: `IORING_OP_FUTEX_WAITV`) that a JS thread's event loop
//! polls directly: the ring's descriptor is readable while completions wait in its queue, so a futex
//! wake reaches the loop with one thread wake-up (the loop's own) and no other hop.
//!
//! The futex words' values are copied by the kernel when an operation is submitted, and a wait keys
//! on the words' addresses (or backing pages), never on our memory afterwards, so nothing submitted
//! points into memory we must keep.

use crate::sys::{Error, Result, WaitvEntry};
use io_uring::{opcode, squeue, types, IoUring};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// The ring.
pub struct Ring {
  ring: IoUring,
}

impl std::fmt::Debug for Ring {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Ring").field("fd", &self.ring.as_raw_fd()).finish()
  }
}

impl Ring {
  /// A ring of 256 entries; `ENOSYS` (as `Unsupported`) where io_uring is missing, disabled
  /// (`kernel.io_uring_disabled`, seccomp) or lacks `FUTEX_WAITV`.
  pub fn new() -> Result<Ring> {
    let unsupported =
      |why: String| Error::unsupported(format!("io_uring futex waits are unavailable: {why}"));
    let ring = IoUring::builder().setup_cqsize(4096).build(256).map_err(|e| unsupported(e.to_string()))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe).map_err(|e| unsupported(e.to_string()))?;
    for code in [opcode::FutexWaitV::CODE, opcode::LinkTimeout::CODE] {
      if !probe.is_supported(code) {
        return Err(unsupported(format!("the kernel lacks operation {code}")));
      }
    }
    Ok(Ring { ring })
  }

  /// The ring's descriptor (the ring owns it), for the event loop to poll: readable while
  /// completions wait to be reaped.
  pub fn fd(&self) -> RawFd {
    self.ring.as_raw_fd()
  }

  /// Submits `ops` (a wait, and maybe its linked timeout) as one chain.
  fn submit(&mut self, ops: &[squeue::Entry]) -> Result<()> {
    // SAFETY: the entries point only at memory the caller keeps alive until this returns (the
    // kernel copies it then).
    unsafe {
      let mut sq = self.ring.submission();
      if sq.capacity() - sq.len() < ops.len() {
        drop(sq);
        self.ring.submit().map_err(|e| Error::io(&e, "io_uring_enter"))?;
        sq = self.ring.submission();
      }
      sq.push_multiple(ops)
        .map_err(|_| Error::invalid(libc::EBUSY, "io_uring_enter", "the submission queue is full"))?;
    }
    self.ring.submit().map_err(|e| Error::io(&e, "io_uring_enter"))?;
    Ok(())
  }

  /// Waits until one of `entries` is woken (its index is the result), one differs (`-EAGAIN`), or
  /// `timeout` passes (`-ECANCELED`, by a linked timeout tagged `tag + 1`, whose own completion
  /// means nothing).
  ///
  /// # Safety
  /// Every entry's address must be an aligned word of this process's memory when this is called.
  pub unsafe fn wait(&mut self, tag: u64, entries: &[WaitvEntry], timeout: Option<Duration>) -> Result<()> {
    const FUTEX2_SIZE_U32: u32 = 0x02;
    const FUTEX2_PRIVATE: u32 = 128;
    let waitv: Vec<types::FutexWaitV> = entries
      .iter()
      .map(|e| {
        types::FutexWaitV::new()
          .val(u64::from(e.expected))
          .uaddr(e.addr as u64)
          .flags(FUTEX2_SIZE_U32 | if e.private { FUTEX2_PRIVATE } else { 0 })
      })
      .collect();
    let wait = opcode::FutexWaitV::new(waitv.as_ptr(), waitv.len() as u32).build().user_data(tag);
    let linked = wait.clone().flags(squeue::Flags::IO_LINK);
    // `waitv` and `ts` live until `submit` returns; the kernel copies them when preparing the chain.
    match timeout {
      None => self.submit(&[wait]),
      Some(t) => {
        let ts = types::Timespec::from(t);
        self.submit(&[linked, opcode::LinkTimeout::new(&ts).build().user_data(tag + 1)])
      }
    }
  }

  /// Appends every waiting completion's `(tag, result)` to `out`.
  pub fn reap(&mut self, out: &mut Vec<(u64, i32)>) {
    loop {
      out.extend(self.ring.completion().map(|cqe| (cqe.user_data(), cqe.result())));
      // More completions than the queue holds wait in the kernel (IORING_FEAT_NODROP) until an
      // io_uring_enter moves them in.
      if !self.ring.submission().cq_overflow() {
        break;
      }
      if self.ring.submit_and_wait(0).is_err() {
        break;
      }
    }
  }
}
