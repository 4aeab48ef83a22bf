//! Descriptors and files: opening, `fstat`, `ftruncate`, borrowing a caller's descriptor, and the
//! space left on a filesystem.

use crate::sys::{Error, FileInfo, FileKind, Result};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// A descriptor borrowed for one call; `Keep` is one a region owns.
pub type Handle<'a> = BorrowedFd<'a>;
pub type Keep = OwnedFd;

/// The descriptor of an open file.
pub fn handle(file: &std::fs::File) -> Handle<'_> {
  use std::os::fd::AsFd;
  file.as_fd()
}

/// The descriptor a region keeps, borrowed for one call.
pub fn borrow(k: &Keep) -> Handle<'_> {
  use std::os::fd::AsFd;
  k.as_fd()
}

/// What memmap2 maps for a handle.
pub fn raw_desc(h: Handle<'_>) -> RawFd {
  h.as_raw_fd()
}

/// Open options for `open`: `O_CLOEXEC`, and `O_NONBLOCK` so that opening a FIFO never waits for a
/// writer (it has no effect on regular files); `mode` for a created file.
pub fn open_options(writable: bool, create: bool, mode: u32) -> std::fs::OpenOptions {
  use std::os::unix::fs::OpenOptionsExt;
  let mut o = std::fs::OpenOptions::new();
  o.read(true)
    .write(writable)
    .create(create)
    .truncate(create)
    .mode(mode)
    .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK);
  o
}

/// The raw descriptor number of a kept handle, for JS (`shm.fd`).
pub fn keep_number(k: &Keep) -> Option<i32> {
  Some(k.as_raw_fd())
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

/// Bytes an unprivileged process may still allocate on the filesystem of `fd` (`fstatvfs`:
/// `f_bavail * f_frsize`); `None` when the filesystem does not say.
pub fn free_space(fd: BorrowedFd<'_>) -> Option<u64> {
  let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
  // SAFETY: `st` is a valid out-pointer for one statvfs; fd is a live descriptor.
  if unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
    return None;
  }
  // SAFETY: fstatvfs returned 0, so it filled `st`.
  let st = unsafe { st.assume_init() };
  #[allow(clippy::unnecessary_cast)] // field widths differ between platforms
  (st.f_blocks != 0).then(|| (st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// A C string of a name or path, `EINVAL` for one with a NUL byte.
pub(super) fn cstring(s: &str, syscall: &'static str) -> Result<std::ffi::CString> {
  std::ffi::CString::new(s).map_err(|_| Error::invalid(libc::EINVAL, syscall, "the name contains a NUL byte"))
}

/// memmap2 maps files here (`None`); Windows maps them itself, into placeholders.
pub fn map_file(
  _h: Handle<'_>,
  _offset: u64,
  _len: usize,
  _how: crate::sys::FileView,
) -> crate::sys::Result<Option<super::RawMap>> {
  Ok(None)
}

/// Whether `close()` can cut a mapping off while others hold it (`replace_inert`): always here.
pub fn retires_views() -> bool {
  true
}
