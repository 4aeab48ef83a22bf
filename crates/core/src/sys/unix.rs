//! POSIX implementation (Linux and macOS).

use super::{Advice, FileInfo, FileKind};
use crate::error::{Error, Result};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
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

/// The C name of an errno value.
pub fn errno_name(e: i32) -> Option<&'static str> {
  Some(match e {
    libc::EPERM => "EPERM",
    libc::ENOENT => "ENOENT",
    libc::EINTR => "EINTR",
    libc::EIO => "EIO",
    libc::ENXIO => "ENXIO",
    libc::E2BIG => "E2BIG",
    libc::EBADF => "EBADF",
    libc::EAGAIN => "EAGAIN",
    libc::ENOMEM => "ENOMEM",
    libc::EACCES => "EACCES",
    libc::EFAULT => "EFAULT",
    libc::EBUSY => "EBUSY",
    libc::EEXIST => "EEXIST",
    libc::EXDEV => "EXDEV",
    libc::ENODEV => "ENODEV",
    libc::ENOTDIR => "ENOTDIR",
    libc::EISDIR => "EISDIR",
    libc::EINVAL => "EINVAL",
    libc::ENFILE => "ENFILE",
    libc::EMFILE => "EMFILE",
    libc::ETXTBSY => "ETXTBSY",
    libc::EFBIG => "EFBIG",
    libc::ENOSPC => "ENOSPC",
    libc::ESPIPE => "ESPIPE",
    libc::EROFS => "EROFS",
    libc::ERANGE => "ERANGE",
    libc::ENAMETOOLONG => "ENAMETOOLONG",
    libc::ENOSYS => "ENOSYS",
    libc::ELOOP => "ELOOP",
    libc::EOVERFLOW => "EOVERFLOW",
    libc::ENOTSUP => "ENOTSUP",
    libc::EIDRM => "EIDRM",
    libc::ETIMEDOUT => "ETIMEDOUT",
    libc::EDQUOT => "EDQUOT",
    libc::ESTALE => "ESTALE",
    _ => return None,
  })
}

/// The C library's text for an errno value, lower-cased at the start like libuv's messages.
pub fn strerror(e: i32) -> String {
  let text = std::io::Error::from_raw_os_error(e).to_string();
  // std appends " (os error N)"; Node's messages do not.
  let text = text.split(" (os error").next().unwrap_or_default();
  let mut chars = text.chars();
  match chars.next() {
    Some(c) => c.to_lowercase().chain(chars).collect(),
    None => format!("error {e}"),
  }
}

/// `fstat(fd)`: the kind and size of the object behind a descriptor.
pub fn fstat(fd: BorrowedFd<'_>) -> Result<FileInfo> {
  let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
  // SAFETY: `st` is a valid out-pointer for one `struct stat`; fd is a live descriptor.
  let rc = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
  if rc != 0 {
    return Err(Error::last_os("fstat"));
  }
  // SAFETY: fstat returned 0, so it filled `st`.
  let st = unsafe { st.assume_init() };
  let kind = match st.st_mode & libc::S_IFMT {
    libc::S_IFREG => FileKind::Regular,
    libc::S_IFDIR => FileKind::Directory,
    libc::S_IFCHR => FileKind::CharDevice,
    libc::S_IFBLK => FileKind::BlockDevice,
    libc::S_IFIFO => FileKind::Fifo,
    libc::S_IFSOCK => FileKind::Socket,
    _ => FileKind::Other,
  };
  #[allow(clippy::unnecessary_cast)] // dev_t/ino_t widths differ between platforms
  Ok(FileInfo { kind, size: st.st_size as u64, id: (st.st_dev as u64, st.st_ino as u64) })
}

/// Checks that `fd` is an open descriptor, without taking it over (`fcntl(F_GETFD)`).
pub fn borrow_fd(fd: RawFd) -> Result<BorrowedFd<'static>> {
  // SAFETY: F_GETFD only reads the descriptor's flags; any integer is a valid argument.
  if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
    return Err(Error::os(libc::EBADF, "fcntl").detail(format!("{fd} is not an open file descriptor")));
  }
  // SAFETY: the descriptor is open (checked above); the caller keeps it open while it is borrowed,
  // which the binding documents as the contract of `fromFd`.
  Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a private copy of a descriptor.
pub fn dup_cloexec(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
  // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor and touches no memory.
  let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
  if new < 0 {
    return Err(Error::last_os("fcntl"));
  }
  // SAFETY: `new` is a fresh descriptor that nothing else owns.
  Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `ftruncate(fd, len)`.
pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> Result<()> {
  let len = libc::off_t::try_from(len)
    .map_err(|_| Error::os(libc::EFBIG, "ftruncate").detail(format!("size {len} is too large")))?;
  loop {
    // SAFETY: ftruncate on a live descriptor touches no memory of ours.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len) } == 0 {
      return Ok(());
    }
    let err = Error::last_os("ftruncate");
    if err.errno() != Some(libc::EINTR) {
      return Err(err);
    }
  }
}

/// A mapping made directly with `mmap` (shared anonymous memory), unmapped on drop.
#[derive(Debug)]
pub struct RawMap {
  ptr: *mut u8,
  len: usize,
}

// SAFETY: a RawMap is plain address space; access is synchronised by its owner.
unsafe impl Send for RawMap {}
// SAFETY: as above; &RawMap only exposes the pointer value.
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
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Advice::HugePage => libc::MADV_HUGEPAGE,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Advice::NoHugePage => libc::MADV_NOHUGEPAGE,
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    Advice::HugePage | Advice::NoHugePage => {
      return Err(Error::unsupported("advice 'hugepage'/'nohugepage' exists on Linux only"))
    }
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
