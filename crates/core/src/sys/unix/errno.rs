//! The POSIX error numbers mapshare reports: the C library's. (Windows, where the OS reports Win32
//! codes, maps those onto Linux's values.) Also the text of a number and the number Node reports.

pub use libc::{
  E2BIG, EACCES, EAGAIN, EBADF, EBUSY, EDEADLK, EDQUOT, EEXIST, EFAULT, EFBIG, EIDRM, EINTR, EINVAL, EIO,
  EISDIR, ELOOP, EMFILE, ENAMETOOLONG, ENFILE, ENODEV, ENOENT, ENOMEM, ENOSPC, ENOSYS, ENOTDIR, ENOTSUP,
  ENXIO, EOVERFLOW, EPERM, ERANGE, EROFS, ESPIPE, ESTALE, ETIMEDOUT, ETXTBSY, EXDEV,
};

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

/// The OS error number as this module numbers it (the same on POSIX systems).
pub fn from_os(code: i32) -> i32 {
  code
}

/// The `errno` value Node puts on its errors for an error number, so that
/// `util.getSystemErrorName(err.errno)` gives the same name as `err.code`: the negated number, as
/// libuv reports POSIX errors.
pub fn node_errno(e: i32) -> i32 {
  -e
}
