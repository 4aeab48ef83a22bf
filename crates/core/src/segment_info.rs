//! What `shmctl(IPC_STAT)` reports about a System V segment (shared by every platform's `sysv`).

/// Times are seconds since the epoch, 0 for never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
  pub key: i32,
  pub size: u64,
  pub mode: u32,
  pub uid: u32,
  pub gid: u32,
  pub cuid: u32,
  pub cgid: u32,
  pub cpid: i32,
  pub lpid: i32,
  pub nattch: u64,
  pub atime: i64,
  pub dtime: i64,
  pub ctime: i64,
}
