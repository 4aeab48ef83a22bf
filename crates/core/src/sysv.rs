//! System V shared memory: `ftok`, `shmget`, `shmat`, `shmdt`, `shmctl`. Where it does not exist
//! (Windows), every call fails with `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`.

use crate::error::Result;
use crate::mapping::Mapping;
use crate::region::{check_nonzero, Region};
use crate::span::check_headroom;
use crate::sys::{self, errno};

pub use crate::sys::SegmentInfo;

/// `IPC_PRIVATE`: a key that always makes a new segment.
pub const PRIVATE: i32 = sys::IPC_PRIVATE;

/// `ftok(path, projectId)`: the key C programs compute for the same file and id.
pub fn ftok(path: &str, project_id: i32) -> Result<i32> {
  sys::ftok(path, project_id)
}

/// `shmget(key, size, IPC_CREAT[|IPC_EXCL]|mode)` + `shmat`: returns the id and the attachment.
pub fn create(key: i32, size: u64, mode: u32, exclusive: bool) -> Result<(i32, Region)> {
  check_nonzero(size)?;
  let id = sys::shmget_create(key, size, mode, exclusive)?;
  Ok((id, attach(id, false)?))
}

/// `shmget(key, 0, 0)` + `shmat`: attaches an existing segment.
pub fn open(key: i32, readonly: bool) -> Result<(i32, Region)> {
  let id = sys::shmget_existing(key)?;
  Ok((id, attach(id, readonly)?))
}

/// `shmat(id)` of the whole segment; `readonly` is `SHM_RDONLY` (the region then offers no Buffer).
pub fn attach(id: i32, readonly: bool) -> Result<Region> {
  let size = sys::shm_stat(id)
    .map_err(|e| match e.errno() {
      Some(errno::EINVAL) | Some(errno::EIDRM) => {
        e.detail(format!("no System V segment has id {id} (removed?)"))
      }
      _ => e,
    })?
    .size;
  check_headroom(1)?;
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
