//! System V shared memory does not exist on Windows: every call fails with
//! `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`, and the types still exist so callers compile everywhere.

use crate::sys::{Error, Result, SegmentInfo};

/// `IPC_PRIVATE`.
pub const IPC_PRIVATE: i32 = 0;

/// A System V attachment: none can exist here.
#[derive(Debug)]
pub enum SysvAttach {}

impl SysvAttach {
  pub fn ptr(&self) -> *mut u8 {
    match *self {}
  }
}

fn unavailable<T>() -> Result<T> {
  Err(Error::unsupported(
    "System V shared memory (shmget/shmat) does not exist on this platform; use SharedMemory",
  ))
}

pub fn ftok(_path: &str, _project_id: i32) -> Result<i32> {
  unavailable()
}
pub fn shmget_create(_key: i32, _size: u64, _mode: u32, _exclusive: bool) -> Result<i32> {
  unavailable()
}
pub fn shmget_existing(_key: i32) -> Result<i32> {
  unavailable()
}
pub fn shmat(_id: i32, _readonly: bool) -> Result<SysvAttach> {
  unavailable()
}
pub fn shm_stat(_id: i32) -> Result<SegmentInfo> {
  unavailable()
}
pub fn shm_set(_id: i32, _mode: Option<u32>, _uid: Option<u32>, _gid: Option<u32>) -> Result<()> {
  unavailable()
}
pub fn shm_remove(_id: i32) -> Result<()> {
  unavailable()
}
