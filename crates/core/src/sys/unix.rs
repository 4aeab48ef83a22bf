//! POSIX implementation (Linux and macOS).

use super::{Advice, FileInfo, FileKind};
use super::{Error, Result};
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

/// A descriptor borrowed for one call; `Keep` is one a region owns.
pub type Handle<'a> = BorrowedFd<'a>;
pub type Keep = OwnedFd;

/// The OS error number as [`super::errno`] numbers it (the same on POSIX systems).
pub fn from_os(code: i32) -> i32 {
  code
}

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

pub(super) fn cstring(s: &str, syscall: &'static str) -> Result<std::ffi::CString> {
  std::ffi::CString::new(s).map_err(|_| Error::invalid(libc::EINVAL, syscall, "the name contains a NUL byte"))
}

/// `shm_open(name, oflag, mode)`: `name` is the full name with its leading slash.
pub fn shm_open_fd(name: &str, oflag: libc::c_int, mode: u32) -> Result<OwnedFd> {
  let c = cstring(name, "shm_open")?;
  // SAFETY: `c` is a valid NUL-terminated string; shm_open returns a new descriptor or -1.
  #[cfg(target_os = "linux")]
  let fd = unsafe { libc::shm_open(c.as_ptr(), oflag | libc::O_CLOEXEC, mode as libc::mode_t) };
  // SAFETY: as above; macOS declares shm_open variadic, so the mode is passed promoted to an unsigned int.
  #[cfg(not(target_os = "linux"))]
  let fd = unsafe { libc::shm_open(c.as_ptr(), oflag | libc::O_CLOEXEC, mode as libc::c_uint) };
  if fd < 0 {
    return Err(Error::last_os("shm_open").path(name));
  }
  // SAFETY: `fd` is a fresh descriptor that nothing else owns.
  Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `shm_unlink(name)`.
pub fn shm_unlink_name(name: &str) -> Result<()> {
  let c = cstring(name, "shm_unlink")?;
  // SAFETY: `c` is a valid NUL-terminated string.
  if unsafe { libc::shm_unlink(c.as_ptr()) } != 0 {
    return Err(Error::last_os("shm_unlink").path(name));
  }
  Ok(())
}

/// The calling thread's id: `gettid()` on Linux, the kernel thread id on macOS.
pub fn thread_id() -> u32 {
  #[cfg(target_os = "linux")]
  // SAFETY: the gettid system call has no arguments and no preconditions. Called raw: glibc's
  // gettid() wrapper is 2.30+, and the release binaries promise glibc 2.17.
  let id = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
  #[cfg(not(target_os = "linux"))]
  let id = {
    let mut tid: u64 = 0;
    // SAFETY: a null thread means the calling thread; `tid` is a valid out-pointer.
    unsafe { libc::pthread_threadid_np(0, &mut tid) };
    tid as u32
  };
  id
}

/// Whether a thread (or process) with this id exists: `kill(id, 0)` is `ESRCH` once it is gone
/// (`EPERM` means it exists but belongs to someone else).
///
/// On Linux a process killed while holding a lock stays a zombie until its parent reaps it, and
/// `kill` still finds it: its state in `/proc/<id>/stat` (`Z`, or `X` while being reaped) says it is
/// dead, so a parent blocked in `lock()` (whose event loop would reap the child) is not stuck forever.
pub fn thread_alive(id: u32) -> bool {
  let exists = thread_exists(id);
  #[cfg(target_os = "linux")]
  if exists {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{id}/stat")) {
      // "pid (comm) S ...": the state follows the last ')' (comm may contain anything).
      let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
      if matches!(state, Some('Z') | Some('X') | Some('x')) {
        return false;
      }
    }
  }
  exists
}

/// `kill(id, 0)` alone: one system call, false once the thread is gone and reaped (a zombie still
/// exists: [`thread_alive`] tells those apart).
pub fn thread_exists(id: u32) -> bool {
  // SAFETY: signal 0 only checks for existence and permission; nothing is delivered.
  let rc = unsafe { libc::kill(id as libc::pid_t, 0) };
  rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
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
  // SAFETY: the caller's contract.
  unsafe { libc::munmap(addr.cast(), len) };
}

/// The most mappings a process may have (`/proc/sys/vm/max_map_count`), where the OS has a limit
/// that runtimes hit in practice.
pub fn map_limit() -> Option<usize> {
  static LIMIT: OnceLock<Option<usize>> = OnceLock::new();
  *LIMIT.get_or_init(|| {
    #[cfg(target_os = "linux")]
    {
      std::fs::read_to_string("/proc/sys/vm/max_map_count").ok().and_then(|s| s.trim().parse().ok())
    }
    #[cfg(not(target_os = "linux"))]
    {
      None
    }
  })
}

/// How many mappings the process has now (lines of `/proc/self/maps`).
pub fn map_count() -> Option<usize> {
  #[cfg(target_os = "linux")]
  {
    use std::io::Read;
    let mut f = std::fs::File::open("/proc/self/maps").ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0;
    loop {
      match f.read(&mut buf) {
        Ok(0) => return Some(lines),
        Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
        Err(_) => return None,
      }
    }
  }
  #[cfg(not(target_os = "linux"))]
  {
    None
  }
}

/// The size in bytes of a block device (`ioctl(BLKGETSIZE64)` on Linux); `None` where unknown.
pub fn block_device_size(fd: BorrowedFd<'_>) -> Option<u64> {
  #[cfg(target_os = "linux")]
  {
    const BLKGETSIZE64: libc::c_ulong = 0x8008_1272; // _IOR(0x12, 114, size_t)
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 to the valid out-pointer; fd is a live descriptor.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), BLKGETSIZE64 as _, &mut size) };
    (rc == 0).then_some(size)
  }
  #[cfg(not(target_os = "linux"))]
  {
    let _ = fd;
    None
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
