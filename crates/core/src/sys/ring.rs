//! An io_uring whose completions wake a pipe (Linux 6.7+: `IORING_OP_FUTEX_WAITV`): a JS thread's
//! event loop polls the pipe's read end like any stream, so a futex wake reaches the loop with one
//! thread wake-up instead of two (a waiter thread, then the loop).
//!
//! Every operation is submitted hard-linked to a one-byte write to the pipe, which the kernel runs as
//! soon as the operation completes, whatever its result. The futex words' values are copied by the
//! kernel when the operation is submitted, and a wait keys on the words' addresses (or backing pages),
//! never on our memory afterwards, so nothing submitted points into memory we must keep.

use super::WaitvEntry;
use crate::error::{Error, Result};
use io_uring::{opcode, squeue, types, IoUring};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// What the pipe receives on every completion; any byte would do.
static BYTE: u8 = 1;
/// The tag of the pipe writes (whose failures, if any, are ignored).
const WRITE_TAG: u64 = u64::MAX;

/// The ring and its pipe.
pub struct Ring {
  ring: IoUring,
  read: OwnedFd,
  write: OwnedFd,
}

impl std::fmt::Debug for Ring {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Ring").field("read", &self.read).finish()
  }
}

impl Ring {
  /// A ring of 256 entries and a non-blocking pipe; `ENOSYS` (as `Unsupported`) where io_uring is
  /// missing, disabled (`kernel.io_uring_disabled`, seccomp) or lacks `FUTEX_WAITV`.
  pub fn new() -> Result<Ring> {
    let unsupported =
      |why: String| Error::unsupported(format!("io_uring futex waits are unavailable: {why}"));
    let ring = IoUring::builder().setup_cqsize(4096).build(256).map_err(|e| unsupported(e.to_string()))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe).map_err(|e| unsupported(e.to_string()))?;
    for code in [opcode::FutexWaitV::CODE, opcode::Write::CODE, opcode::LinkTimeout::CODE] {
      if !probe.is_supported(code) {
        return Err(unsupported(format!("the kernel lacks operation {code}")));
      }
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid out-array of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
      return Err(Error::last_os("pipe2"));
    }
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok(Ring { ring, read, write })
  }

  /// A new descriptor for the pipe's read end (the caller owns it): readable whenever completions
  /// are waiting.
  pub fn read_fd(&self) -> Result<RawFd> {
    // SAFETY: F_DUPFD_CLOEXEC on our own open descriptor.
    let fd = unsafe { libc::fcntl(self.read.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
      return Err(Error::last_os("fcntl"));
    }
    Ok(fd)
  }

  /// Submits `ops` as one hard-linked chain ending in the pipe write.
  fn submit(&mut self, ops: &[squeue::Entry]) -> Result<()> {
    let wake = opcode::Write::new(types::Fd(self.write.as_raw_fd()), &BYTE, 1)
      .build()
      .user_data(WRITE_TAG)
      .flags(squeue::Flags::SKIP_SUCCESS);
    let chain: Vec<squeue::Entry> = ops
      .iter()
      .map(|op| op.clone().flags(squeue::Flags::IO_HARDLINK))
      .chain(std::iter::once(wake))
      .collect();
    // SAFETY: the entries point only at memory that outlives the submission (`BYTE` is static; the
    // caller keeps what `ops` point to alive until this returns, and the kernel copies it then).
    unsafe {
      let mut sq = self.ring.submission();
      if sq.capacity() - sq.len() < chain.len() {
        drop(sq);
        self.ring.submit().map_err(|e| Error::io(&e, "io_uring_enter"))?;
        sq = self.ring.submission();
      }
      sq.push_multiple(&chain)
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
    // `waitv` and `ts` live until `submit` returns; the kernel copies them when preparing the chain.
    match timeout {
      None => self.submit(&[wait]),
      Some(t) => {
        let ts = types::Timespec::from(t);
        self.submit(&[wait, opcode::LinkTimeout::new(&ts).build().user_data(tag + 1)])
      }
    }
  }

  /// Empties the pipe, then appends every waiting completion's `(tag, result)` to `out` (the pipe
  /// writes' left out). In that order: a completion is posted before its byte is written, so one
  /// whose byte is drained here is already in the queue, and any later one leaves a byte behind (the
  /// pipe stays readable and the loop comes back).
  pub fn reap(&mut self, out: &mut Vec<(u64, i32)>) {
    let mut sink = [0u8; 4096];
    // SAFETY: reads into a local buffer from our own non-blocking descriptor.
    while unsafe { libc::read(self.read.as_raw_fd(), sink.as_mut_ptr().cast(), sink.len()) } > 0 {}
    loop {
      for cqe in self.ring.completion() {
        if cqe.user_data() != WRITE_TAG {
          out.push((cqe.user_data(), cqe.result()));
        }
      }
      // More completions than the queue holds wait in the kernel (IORING_FEAT_NODROP) until an
      // io_uring_enter moves them in (their bytes were written, and drained, already).
      if !self.ring.submission().cq_overflow() {
        break;
      }
      if self.ring.submit_and_wait(0).is_err() {
        break;
      }
    }
  }
}
