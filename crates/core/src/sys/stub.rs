//! Platforms without an implementation yet: every call fails with `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`.
//! (The Windows backend replaces this for Windows targets.)

use super::Advice;
use crate::error::{Error, Result};

pub fn page_size() -> usize {
  4096
}

pub fn allocation_granularity() -> usize {
  65536
}

pub fn errno_name(_e: i32) -> Option<&'static str> {
  None
}

pub fn strerror(e: i32) -> String {
  let text = std::io::Error::from_raw_os_error(e).to_string();
  text.split(" (os error").next().unwrap_or_default().to_owned()
}

fn unsupported<T>() -> Result<T> {
  Err(Error::unsupported("mapshare has no implementation for this platform yet"))
}

#[derive(Debug)]
pub struct RawMap;

impl RawMap {
  pub fn ptr(&self) -> *mut u8 {
    std::ptr::null_mut()
  }
}

pub fn map_shared_anon(_len: usize) -> Result<RawMap> {
  unsupported()
}

/// # Safety
/// Never dereferences anything.
pub unsafe fn msync(_ptr: *mut u8, _len: usize) -> Result<()> {
  unsupported()
}

/// # Safety
/// Never dereferences anything.
pub unsafe fn madvise(_ptr: *mut u8, _len: usize, _advice: Advice) -> Result<()> {
  unsupported()
}

/// # Safety
/// Never dereferences anything.
pub unsafe fn mlock(_ptr: *mut u8, _len: usize, _lock: bool) -> Result<()> {
  unsupported()
}

/// # Safety
/// Never dereferences anything.
pub unsafe fn mincore(_ptr: *mut u8, _len: usize) -> Result<Vec<bool>> {
  unsupported()
}
