//! Memory: the page size, shared anonymous mappings, and the calls on a mapped range (`msync`,
//! `madvise`, `mlock`, `mincore`, and the `MAP_FIXED` remap that retires a range).

use super::kernel::hugepage_advice;
use crate::sys::{Advice, Error, Result};
use std::sync::OnceLock;

/// `sysconf(_SC_PAGESIZE)`, read once.
pub fn page_size() -> usize {
  static PAGE: OnceLock<usize> = OnceLock::new();
  // SAFETY: sysconf has no preconditions and only reads a system constant.
  *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

/// The alignment a mapping offset needs: the page size on POSIX systems.
pub fn allocation_granularity() -> usize {
  page_size()
}

/// A mapping made directly with `mmap` (shared anonymous memory), unmapped on drop.
#[derive(Debug)]
pub struct RawMap {
  ptr: *mut u8,
  len: usize,
}

// SAFETY: a RawMap is plain address space; access is synchronised by its owner.
unsafe impl Send for RawMap {}
// SAFETY: a RawMap is plain address space; &RawMap only exposes the pointer value.
unsafe impl Sync for RawMap {}

impl RawMap {
  pub fn ptr(&self) -> *mut u8 {
    self.ptr
  }
}

impl Drop for RawMap {
  fn drop(&mut self) {
    // SAFETY: ptr/len are exactly what mmap returned and nothing else unmaps them. Errors are
    // ignored: the only way to report them would be to panic in drop.
    unsafe { libc::munmap(self.ptr.cast(), self.len) };
  }
}

/// `mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0)`.
pub fn map_shared_anon(len: usize) -> Result<RawMap> {
  // SAFETY: a new mapping with a null address hint modifies no existing memory.
  let ptr = unsafe {
    libc::mmap(
      std::ptr::null_mut(),
      len,
      libc::PROT_READ | libc::PROT_WRITE,
      libc::MAP_SHARED | libc::MAP_ANON,
      -1,
      0,
    )
  };
  if ptr == libc::MAP_FAILED {
    return Err(Error::last_os("mmap"));
  }
  Ok(RawMap { ptr: ptr.cast(), len })
}

/// Rounds `[ptr, ptr+len)` out to whole pages, as msync/madvise/mlock/mincore require.
fn page_span(ptr: *mut u8, len: usize) -> (*mut libc::c_void, usize) {
  let page = page_size();
  let start = ptr as usize & !(page - 1);
  let end = (ptr as usize + len.max(1)).div_ceil(page) * page;
  (start as *mut libc::c_void, end - start)
}

/// `msync(addr, len, MS_SYNC)` over the pages holding `[ptr, ptr+len)`.
///
/// # Safety
/// `[ptr, ptr+len)` must lie inside one live mapping.
pub unsafe fn msync(ptr: *mut u8, len: usize) -> Result<()> {
  let (addr, span) = page_span(ptr, len);
  // SAFETY: the caller guarantees the range is mapped; msync does not change memory contents.
  if unsafe { libc::msync(addr, span, libc::MS_SYNC) } != 0 {
    return Err(Error::last_os("msync"));
  }
  Ok(())
}

/// `madvise(addr, len, advice)` over the pages holding `[ptr, ptr+len)`.
///
/// # Safety
/// `[ptr, ptr+len)` must lie inside one live mapping owned by the caller.
pub unsafe fn madvise(ptr: *mut u8, len: usize, advice: Advice) -> Result<()> {
  let flag = match advice {
    Advice::Normal => libc::MADV_NORMAL,
    Advice::Random => libc::MADV_RANDOM,
    Advice::Sequential => libc::MADV_SEQUENTIAL,
    Advice::WillNeed => libc::MADV_WILLNEED,
    Advice::DontNeed => libc::MADV_DONTNEED,
    Advice::HugePage => hugepage_advice(true)?,
    Advice::NoHugePage => hugepage_advice(false)?,
  };
  let (addr, span) = page_span(ptr, len);
  // SAFETY: the range is inside the caller's mapping; advice values are valid for any mapping
  // (MADV_DONTNEED may zero private pages, which the caller documents; it never unmaps them).
  if unsafe { libc::madvise(addr, span, flag) } != 0 {
    return Err(Error::last_os("madvise"));
  }
  Ok(())
}

/// `mlock` (or `munlock` when `lock` is false) over the pages holding `[ptr, ptr+len)`.
///
/// # Safety
/// `[ptr, ptr+len)` must lie inside one live mapping.
pub unsafe fn mlock(ptr: *mut u8, len: usize, lock: bool) -> Result<()> {
  let (addr, span) = page_span(ptr, len);
  // SAFETY: mlock/munlock only pin or unpin mapped pages; they change no contents.
  let rc = unsafe {
    if lock {
      libc::mlock(addr, span)
    } else {
      libc::munlock(addr, span)
    }
  };
  if rc != 0 {
    return Err(Error::last_os(if lock { "mlock" } else { "munlock" }));
  }
  Ok(())
}

/// `mincore`: one flag per page of `[ptr, ptr+len)`, true when the page is in memory.
///
/// # Safety
/// `[ptr, ptr+len)` must lie inside one live mapping.
pub unsafe fn mincore(ptr: *mut u8, len: usize) -> Result<Vec<bool>> {
  let (addr, span) = page_span(ptr, len);
  let pages = span / page_size();
  let mut vec = vec![0u8; pages];
  // SAFETY: `vec` has one byte per page of the range, as mincore requires; the range is mapped.
  #[allow(clippy::useless_conversion)]
  let rc = unsafe { libc::mincore(addr, span, vec.as_mut_ptr().cast()) };
  if rc != 0 {
    return Err(Error::last_os("mincore"));
  }
  Ok(vec.into_iter().map(|b| b & 1 == 1).collect())
}

/// `mmap(addr, len, PROT_READ|PROT_WRITE, MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE)`: replaces
/// whatever is mapped at `[addr, addr+len)` with zero-filled private memory in one step (no other
/// thread can map anything there in between). A System V attachment replaced this way is detached
/// (`nattch` drops); a file or object mapping no longer refers to its file.
///
/// # Safety
/// `[addr, addr+len)` must be page-aligned and belong to a mapping the caller owns; its old
/// contents are gone afterwards.
pub unsafe fn replace_inert(addr: *mut u8, len: usize) -> Result<()> {
  // SAFETY: the caller owns the range; MAP_FIXED replaces exactly it and nothing else.
  let p = unsafe {
    libc::mmap(
      addr.cast(),
      len,
      libc::PROT_READ | libc::PROT_WRITE,
      libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANON | libc::MAP_NORESERVE,
      -1,
      0,
    )
  };
  if p == libc::MAP_FAILED {
    return Err(Error::last_os("mmap"));
  }
  Ok(())
}

/// `munmap(addr, len)`. Errors are ignored (the only caller is a destructor).
///
/// # Safety
/// The caller owns the range and nothing uses it any more.
pub unsafe fn unmap(addr: *mut u8, len: usize) {
  // SAFETY: the caller owns the range and nothing uses it any more (the caller's contract), so
  // nothing can reach the addresses once they are unmapped.
  unsafe { libc::munmap(addr.cast(), len) };
}
