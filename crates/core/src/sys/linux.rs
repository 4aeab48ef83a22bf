//! What Linux does differently from other POSIX systems.

use super::CopyFault;
use std::sync::atomic::{AtomicBool, Ordering};

/// False once the kernel refused `process_vm_readv` on ourselves (seccomp, old kernel): copies then
/// fall back to plain memory copies.
static KERNEL_COPY: AtomicBool = AtomicBool::new(true);

/// Copies `n` bytes from `src` to `dst` so that a page that cannot be read or written — a mapped file
/// truncated by another process, which raises `SIGBUS` on a plain load — fails the copy with
/// `EFAULT` instead of killing the process: with the SIGBUS-recovering routine of `fault_copy` where
/// it exists, else through the kernel (`process_vm_readv` on our own pid, about 3x slower).
/// Overlapping ranges are copied as `memmove` does.
///
/// # Safety
/// `src..src+n` and `dst..dst+n` must be addresses in this process that the caller may read and write
/// (mapped or not: unmapped or unbacked pages give `EFAULT`).
pub unsafe fn copy_checked(dst: *mut u8, src: *const u8, n: usize) -> Result<(), CopyFault> {
  if n == 0 {
    return Ok(());
  }
  if !KERNEL_COPY.load(Ordering::Relaxed) {
    // SAFETY: the caller guarantees both ranges; memmove handles overlap.
    unsafe { std::ptr::copy(src, dst, n) };
    return Ok(());
  }
  let (s, d) = (src as usize, dst as usize);
  let overlap = s < d + n && d < s + n;
  #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
  if !overlap || d <= s {
    // SAFETY: the caller guarantees both ranges; a forward copy is right unless dst follows src.
    if let Some(result) = unsafe { super::fault_copy::copy(dst, src, n) } {
      return result;
    }
  }
  if overlap {
    // Overlap: the kernel copies forward page by page, so bounce through a buffer like memmove.
    let mut tmp = vec![0u8; n];
    // SAFETY: `tmp` is a fresh buffer of n bytes; the caller guarantees `src` and `dst`.
    unsafe {
      copy_checked(tmp.as_mut_ptr(), src, n)?;
      return copy_checked(dst, tmp.as_ptr(), n).map_err(|f| CopyFault { done: 0, ..f });
    }
  }
  // SAFETY: getpid has no preconditions.
  let pid = unsafe { libc::getpid() };
  let mut done = 0usize;
  while done < n {
    let local = libc::iovec { iov_base: (d + done) as *mut libc::c_void, iov_len: n - done };
    let remote = libc::iovec { iov_base: (s + done) as *mut libc::c_void, iov_len: n - done };
    // SAFETY: reads our own memory into our own memory through the kernel, which checks every page
    // and reports EFAULT rather than faulting; the iovecs describe the caller's ranges.
    let got = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if got > 0 {
      done += got as usize;
      continue;
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match errno {
      libc::EINTR => continue,
      libc::ENOSYS | libc::EPERM => {
        KERNEL_COPY.store(false, Ordering::Relaxed);
        // SAFETY: as above; the rest of the range is copied with memmove.
        unsafe { std::ptr::copy(src.add(done), dst.add(done), n - done) };
        return Ok(());
      }
      _ => return Err(CopyFault { done, errno }),
    }
  }
  Ok(())
}

/// `memfd_create(name, MFD_CLOEXEC | MFD_NOEXEC_SEAL)`: anonymous memory with a descriptor. Kernels
/// before 6.3 reject MFD_NOEXEC_SEAL (EINVAL); the call is then made without it.
pub fn memfd_create(name: &str) -> crate::error::Result<std::os::fd::OwnedFd> {
  use std::os::fd::FromRawFd;
  let c = std::ffi::CString::new(name)
    .map_err(|_| crate::error::Error::invalid(libc::EINVAL, "memfd_create", "NUL in name"))?;
  for flags in [libc::MFD_CLOEXEC | libc::MFD_NOEXEC_SEAL, libc::MFD_CLOEXEC] {
    // SAFETY: `c` is a valid NUL-terminated string; the call returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c.as_ptr(), flags) };
    if fd >= 0 {
      // SAFETY: `fd` is a fresh descriptor that nothing else owns.
      return Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
    }
    let err = crate::error::Error::last_os("memfd_create");
    if err.errno() != Some(libc::EINVAL) {
      return Err(err);
    }
  }
  Err(crate::error::Error::last_os("memfd_create"))
}
