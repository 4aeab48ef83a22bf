//! One error type for every failure: an OS errno with the call that gave it, or a validation
//! failure with a Node-style `ERR_*` code. The binding turns it into a JS `Error`.

use super::errno;
use std::fmt;

/// What went wrong, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
  /// An OS error number (positive, as in C's `errno`).
  Os(i32),
  /// A number outside its allowed range (`ERR_OUT_OF_RANGE`).
  OutOfRange,
  /// A value of the right type that cannot be used (`ERR_INVALID_ARG_VALUE`).
  InvalidArgValue,
  /// A write into a region mapped read-only (`ERR_MAPSHARE_READ_ONLY`).
  ReadOnly,
  /// A call on a region after `close()` (`ERR_MAPSHARE_CLOSED`).
  Closed,
  /// Not available on this platform (`ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`).
  Unsupported,
  /// An atomic word at an offset that is not a multiple of its size (`ERR_MAPSHARE_UNALIGNED`).
  Unaligned,
  /// Unlocking a lock this thread does not hold (`ERR_MAPSHARE_NOT_OWNER`).
  NotOwner,
}

/// An error with the syscall and object it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
  pub kind: Kind,
  /// The C call that failed or would fail (`"mmap"`, `"open"`).
  pub syscall: Option<&'static str>,
  /// The file path or object name the call was about.
  pub path: Option<String>,
  /// A sentence replacing the generic errno text, e.g. "offset 5000 is past the end (4096 bytes)".
  pub detail: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
  /// An error from `errno` as the OS reported it.
  pub fn os(errno: i32, syscall: &'static str) -> Self {
    Error { kind: Kind::Os(errno), syscall: Some(syscall), path: None, detail: None }
  }

  /// The current thread's `errno` (Windows: `GetLastError`), read right after a failed call.
  pub fn last_os(syscall: &'static str) -> Self {
    Self::io(&std::io::Error::last_os_error(), syscall)
  }

  /// An error from a `std::io::Error` (memmap2 and std report through it).
  pub fn io(err: &std::io::Error, syscall: &'static str) -> Self {
    match err.raw_os_error() {
      Some(code) => Self::os(errno::from_os(code), syscall),
      None => Self::os(errno::EINVAL, syscall).detail(err.to_string()),
    }
  }

  /// An OS-style error that we detect before the kernel would (same errno as the kernel gives).
  pub fn invalid(errno: i32, syscall: &'static str, detail: impl Into<String>) -> Self {
    Self::os(errno, syscall).detail(detail)
  }

  pub fn out_of_range(detail: impl Into<String>) -> Self {
    Error { kind: Kind::OutOfRange, syscall: None, path: None, detail: Some(detail.into()) }
  }

  pub fn invalid_value(detail: impl Into<String>) -> Self {
    Error { kind: Kind::InvalidArgValue, syscall: None, path: None, detail: Some(detail.into()) }
  }

  pub fn read_only() -> Self {
    Error {
      kind: Kind::ReadOnly,
      syscall: None,
      path: None,
      detail: Some("the region is mapped read-only; open it with mode 'r+' or private: true to write".into()),
    }
  }

  pub fn closed() -> Self {
    Error {
      kind: Kind::Closed,
      syscall: None,
      path: None,
      detail: Some("the region is closed; its memory was unmapped by close()".into()),
    }
  }

  pub fn unsupported(detail: impl Into<String>) -> Self {
    Error { kind: Kind::Unsupported, syscall: None, path: None, detail: Some(detail.into()) }
  }

  /// Attaches the path or name the error is about.
  pub fn path(mut self, path: impl Into<String>) -> Self {
    self.path = Some(path.into());
    self
  }

  /// Attaches the path if none is set yet.
  pub fn or_path(self, path: Option<&str>) -> Self {
    match (&self.path, path) {
      (None, Some(p)) => self.path(p),
      _ => self,
    }
  }

  pub fn detail(mut self, detail: impl Into<String>) -> Self {
    self.detail = Some(detail.into());
    self
  }

  /// The OS error number, if this is an OS error.
  pub fn errno(&self) -> Option<i32> {
    match self.kind {
      Kind::Os(e) => Some(e),
      _ => None,
    }
  }

  /// The `errno` Node would put on this error, if it is an OS error: so that
  /// `util.getSystemErrorName(err.errno)` gives the same name as [`Error::code`].
  pub fn node_errno(&self) -> Option<i32> {
    self.errno().map(errno::node_errno)
  }

  /// The stable code: a POSIX name (`"ENOENT"`) or a Node-style `ERR_*` code.
  pub fn code(&self) -> String {
    match self.kind {
      Kind::Os(e) => errno_name(e).map_or_else(|| format!("E{e}"), str::to_owned),
      Kind::OutOfRange => "ERR_OUT_OF_RANGE".into(),
      Kind::InvalidArgValue => "ERR_INVALID_ARG_VALUE".into(),
      Kind::ReadOnly => "ERR_MAPSHARE_READ_ONLY".into(),
      Kind::Closed => "ERR_MAPSHARE_CLOSED".into(),
      Kind::Unsupported => "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM".into(),
      Kind::Unaligned => "ERR_MAPSHARE_UNALIGNED".into(),
      Kind::NotOwner => "ERR_MAPSHARE_NOT_OWNER".into(),
    }
  }
}

/// Formats like Node's `uvException`: `ENOENT: no such file or directory, open 'data.bin'`.
impl fmt::Display for Error {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let text = match (&self.detail, self.kind) {
      (Some(d), _) => d.clone(),
      (None, Kind::Os(e)) => errno::strerror(e),
      (None, _) => String::new(),
    };
    match self.kind {
      Kind::Os(_) => {
        write!(f, "{}: {}", self.code(), text)?;
        if let Some(s) = self.syscall {
          write!(f, ", {s}")?;
        }
        if let Some(p) = &self.path {
          // A detail that already names the path (`... the end of 'data.bin' ...`) is not repeated.
          if !text.contains(&format!("'{p}'")) {
            write!(f, " '{p}'")?;
          }
        }
        Ok(())
      }
      _ => f.write_str(&text),
    }
  }
}

impl std::error::Error for Error {}

/// The C name of an error number from [`errno`].
fn errno_name(e: i32) -> Option<&'static str> {
  use errno::*;
  Some(match e {
    EPERM => "EPERM",
    ENOENT => "ENOENT",
    EINTR => "EINTR",
    EIO => "EIO",
    ENXIO => "ENXIO",
    E2BIG => "E2BIG",
    EBADF => "EBADF",
    EAGAIN => "EAGAIN",
    ENOMEM => "ENOMEM",
    EACCES => "EACCES",
    EFAULT => "EFAULT",
    EBUSY => "EBUSY",
    EEXIST => "EEXIST",
    EXDEV => "EXDEV",
    ENODEV => "ENODEV",
    ENOTDIR => "ENOTDIR",
    EISDIR => "EISDIR",
    EINVAL => "EINVAL",
    ENFILE => "ENFILE",
    EMFILE => "EMFILE",
    ETXTBSY => "ETXTBSY",
    EFBIG => "EFBIG",
    ENOSPC => "ENOSPC",
    ESPIPE => "ESPIPE",
    EROFS => "EROFS",
    ERANGE => "ERANGE",
    ENAMETOOLONG => "ENAMETOOLONG",
    ENOSYS => "ENOSYS",
    ELOOP => "ELOOP",
    EOVERFLOW => "EOVERFLOW",
    ENOTSUP => "ENOTSUP",
    EIDRM => "EIDRM",
    ETIMEDOUT => "ETIMEDOUT",
    EDQUOT => "EDQUOT",
    EDEADLK => "EDEADLK",
    ESTALE => "ESTALE",
    _ => return None,
  })
}
