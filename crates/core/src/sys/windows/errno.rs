//! The POSIX error numbers mapshare reports. Windows reports Win32 codes: [`from_os`] maps them onto
//! these, which are Linux's values. Also the text of a number and the number Node reports.

use windows_sys::Win32::Foundation as wf;

pub const EPERM: i32 = 1;
pub const ENOENT: i32 = 2;
pub const EINTR: i32 = 4;
pub const EIO: i32 = 5;
pub const ENXIO: i32 = 6;
pub const E2BIG: i32 = 7;
pub const EBADF: i32 = 9;
pub const EAGAIN: i32 = 11;
pub const ENOMEM: i32 = 12;
pub const EACCES: i32 = 13;
pub const EFAULT: i32 = 14;
pub const EBUSY: i32 = 16;
pub const EEXIST: i32 = 17;
pub const EXDEV: i32 = 18;
pub const ENODEV: i32 = 19;
pub const ENOTDIR: i32 = 20;
pub const EISDIR: i32 = 21;
pub const EINVAL: i32 = 22;
pub const ENFILE: i32 = 23;
pub const EMFILE: i32 = 24;
pub const ETXTBSY: i32 = 26;
pub const EFBIG: i32 = 27;
pub const ENOSPC: i32 = 28;
pub const ESPIPE: i32 = 29;
pub const EROFS: i32 = 30;
pub const ERANGE: i32 = 34;
pub const EDEADLK: i32 = 35;
pub const ENAMETOOLONG: i32 = 36;
pub const ENOSYS: i32 = 38;
pub const ELOOP: i32 = 40;
pub const EIDRM: i32 = 43;
pub const EOVERFLOW: i32 = 75;
pub const ENOTSUP: i32 = 95;
pub const ETIMEDOUT: i32 = 110;
pub const ESTALE: i32 = 116;
pub const EDQUOT: i32 = 122;

/// A Win32 error code as the POSIX number Node would report for it (as libuv maps them).
pub fn from_os(code: i32) -> i32 {
  match code as u32 {
    wf::ERROR_FILE_NOT_FOUND | wf::ERROR_PATH_NOT_FOUND | wf::ERROR_INVALID_NAME => ENOENT,
    wf::ERROR_ACCESS_DENIED | wf::ERROR_WRITE_PROTECT => EACCES,
    wf::ERROR_INVALID_HANDLE => EBADF,
    wf::ERROR_NOT_ENOUGH_MEMORY | wf::ERROR_OUTOFMEMORY | wf::ERROR_COMMITMENT_LIMIT => ENOMEM,
    wf::ERROR_FILE_EXISTS | wf::ERROR_ALREADY_EXISTS => EEXIST,
    wf::ERROR_SHARING_VIOLATION | wf::ERROR_LOCK_VIOLATION | wf::ERROR_USER_MAPPED_FILE => EBUSY,
    wf::ERROR_DISK_FULL | wf::ERROR_HANDLE_DISK_FULL => ENOSPC,
    wf::ERROR_FILENAME_EXCED_RANGE => ENAMETOOLONG,
    wf::ERROR_INVALID_ADDRESS | wf::ERROR_NOACCESS => EFAULT,
    wf::ERROR_TOO_MANY_OPEN_FILES => EMFILE,
    wf::ERROR_NOT_SUPPORTED => ENOTSUP,
    wf::ERROR_INVALID_PARAMETER | wf::ERROR_FILE_INVALID => EINVAL,
    wf::ERROR_WORKING_SET_QUOTA => ENOMEM,
    _ => EIO,
  }
}

/// A short description of a POSIX error number, worded like libuv's.
pub fn strerror(e: i32) -> String {
  match e {
    ENOENT => "no such file or directory",
    EACCES => "permission denied",
    EBADF => "bad file descriptor",
    ENOMEM => "not enough memory",
    EEXIST => "file already exists",
    EBUSY => "resource busy or locked",
    ENOSPC => "no space left on device",
    ENAMETOOLONG => "name too long",
    EFAULT => "bad address in system call argument",
    EMFILE => "too many open files",
    ENOTSUP => "operation not supported on socket",
    EINVAL => "invalid argument",
    EISDIR => "illegal operation on a directory",
    ENODEV => "no such device",
    _ => "i/o error",
  }
  .to_owned()
}

/// The `errno` value Node puts on its errors for an error number, so that
/// `util.getSystemErrorName(err.errno)` gives the same name as `err.code`: libuv's own codes on
/// Windows.
pub fn node_errno(e: i32) -> i32 {
  match e {
    E2BIG => -4093,
    EACCES => -4092,
    EAGAIN => -4088,
    EBADF => -4083,
    EBUSY => -4082,
    EEXIST => -4075,
    EFAULT => -4074,
    EINTR => -4072,
    EINVAL => -4071,
    EIO => -4070,
    EISDIR => -4068,
    ELOOP => -4067,
    EMFILE => -4066,
    ENAMETOOLONG => -4064,
    ENFILE => -4061,
    ENODEV => -4059,
    ENOENT => -4058,
    ENOMEM => -4057,
    ENOSPC => -4055,
    ENOSYS => -4054,
    ENOTDIR => -4052,
    ENOTSUP => -4049,
    EPERM => -4048,
    EROFS => -4043,
    ESPIPE => -4041,
    ETIMEDOUT => -4039,
    ETXTBSY => -4038,
    EXDEV => -4037,
    EFBIG => -4036,
    ERANGE => -4034,
    ENXIO => -4033,
    EDEADLK => -4094,
    EOVERFLOW => -4026,
    _ => -4094, // UNKNOWN
  }
}
