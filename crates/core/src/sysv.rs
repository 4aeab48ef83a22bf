//! System V shared memory: `ftok`, `shmget`, `shmat`, `shmdt`, `shmctl`.

use crate::error::{Error, Result};
use crate::region::{check_nonzero, Mapping, Region};
use crate::sys;

pub use crate::segment_info::SegmentInfo;

/// `IPC_PRIVATE`: a key that always makes a new segment.
pub const PRIVATE: i32 = libc::IPC_PRIVATE;

fn key_text(key: i32) -> String {
  format!("0x{:08x}", key as u32)
}

/// `ftok(path, projectId)`: the key C programs compute for the same file and id.
pub fn ftok(path: &str, project_id: i32) -> Result<i32> {
  sys::ftok(path, project_id)
}

/// `shmget(key, size, IPC_CREAT[|IPC_EXCL]|mode)` + `shmat`: returns the id and the attachment.
pub fn create(key: i32, size: u64, mode: u32, exclusive: bool) -> Result<(i32, Region)> {
  check_nonzero(size)?;
  let size_t = usize::try_from(size).map_err(|_| Error::invalid(libc::EINVAL, "shmget", "size too large"))?;
  let mut flags = libc::IPC_CREAT | (mode & 0o777) as libc::c_int;
  if exclusive {
    flags |= libc::IPC_EXCL;
  }
  let id = sys::shmget(key, size_t, flags).map_err(|e| match e.errno() {
    Some(libc::EEXIST) => e.detail(format!(
      "a segment with key {} already exists (IPC_CREAT|IPC_EXCL); pass exclusive: false to attach it",
      key_text(key)
    )),
    Some(libc::EINVAL) => e.detail(format!(
      "invalid argument: size {size} is outside the system's limits (SHMMIN..SHMMAX, see \
       /proc/sys/kernel/shmmax), or the segment with key {} exists and is smaller",
      key_text(key)
    )),
    _ => e,
  })?;
  Ok((id, attach(id, false)?))
}

/// `shmget(key, 0, 0)` + `shmat`: attaches an existing segment.
pub fn open(key: i32, readonly: bool) -> Result<(i32, Region)> {
  let id = sys::shmget(key, 0, 0).map_err(|e| match e.errno() {
    Some(libc::ENOENT) => e.detail(format!("no System V segment has key {}", key_text(key))),
    _ => e,
  })?;
  Ok((id, attach(id, readonly)?))
}

/// `shmat(id)` of the whole segment; `readonly` is `SHM_RDONLY`, whose pages fault on write, so the
/// region offers no Buffer (copies only).
pub fn attach(id: i32, readonly: bool) -> Result<Region> {
  let size = sys::shm_stat(id)
    .map_err(|e| match e.errno() {
      Some(libc::EINVAL) | Some(libc::EIDRM) => {
        e.detail(format!("no System V segment has id {id} (removed?)"))
      }
      _ => e,
    })?
    .size;
  crate::span::check_headroom(1)?;
  let attached = sys::shmat(id, readonly)?;
  let ptr = attached.ptr();
  // SAFETY: shmat attached the whole segment (`size` bytes) at `ptr`, readable, and writable unless
  // SHM_RDONLY (then the region is read-only and offers no Buffer, so nothing writes to it).
  let region = unsafe { Region::new(ptr, size as usize, readonly, true, Mapping::Sysv(attached)) };
  Ok(if readonly { region.without_view() } else { region })
}

/// `shmctl(id, IPC_STAT)`.
pub fn stat(id: i32) -> Result<SegmentInfo> {
  sys::shm_stat(id)
}

/// `shmctl(id, IPC_SET)`.
pub fn set_permissions(id: i32, mode: Option<u32>, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
  sys::shm_set(id, mode, uid, gid)
}

/// `shmctl(id, IPC_RMID)`: the segment is destroyed once the last process detaches.
pub fn remove(id: i32) -> Result<()> {
  sys::shm_remove(id)
}
