//! System V shared memory: `ftok`, `shmget`, `shmat`, `shmdt`, `shmctl` (POSIX systems). The core
//! makes a region of an attachment.

use super::files::cstring;
use super::kernel::ipc_key;
use crate::sys::{errno, Error, Result, SegmentInfo};

/// `IPC_PRIVATE`: a key that always makes a new segment.
pub const IPC_PRIVATE: i32 = libc::IPC_PRIVATE;

fn key_text(key: i32) -> String {
  format!("0x{:08x}", key as u32)
}

/// `ftok(path, proj_id)`, the System V key of a file and a project id.
pub fn ftok(path: &str, proj_id: i32) -> Result<i32> {
  let c = cstring(path, "ftok")?;
  // SAFETY: `c` is a valid NUL-terminated string.
  let key = unsafe { libc::ftok(c.as_ptr(), proj_id) };
  if key == -1 {
    return Err(Error::last_os("ftok").path(path));
  }
  Ok(key)
}

/// `shmget(key, size, flags)`: the id of a System V segment.
pub fn shmget(key: i32, size: usize, flags: libc::c_int) -> Result<i32> {
  // SAFETY: shmget has no memory arguments.
  let id = unsafe { libc::shmget(key, size, flags) };
  if id < 0 {
    return Err(Error::last_os("shmget"));
  }
  Ok(id)
}

/// A System V attachment (`shmat`), detached (`shmdt`) on drop.
#[derive(Debug)]
pub struct SysvAttach {
  addr: *mut u8,
}

// SAFETY: an attachment is plain address space; access is synchronised by its owner.
unsafe impl Send for SysvAttach {}
// SAFETY: an attachment is plain address space; &SysvAttach only exposes the address.
unsafe impl Sync for SysvAttach {}

impl SysvAttach {
  pub fn ptr(&self) -> *mut u8 {
    self.addr
  }
}

impl Drop for SysvAttach {
  fn drop(&mut self) {
    // SAFETY: `addr` is what shmat returned and nothing else detaches it. Errors are ignored: the
    // only way to report them would be to panic in drop.
    unsafe { libc::shmdt(self.addr.cast()) };
  }
}

/// `shmat(id, NULL, readonly ? SHM_RDONLY : 0)`.
pub fn shmat(id: i32, readonly: bool) -> Result<SysvAttach> {
  // SAFETY: a null address lets the kernel choose where to attach; no existing memory changes.
  let addr = unsafe { libc::shmat(id, std::ptr::null(), if readonly { libc::SHM_RDONLY } else { 0 }) };
  if addr as isize == -1 {
    return Err(Error::last_os("shmat"));
  }
  Ok(SysvAttach { addr: addr.cast() })
}

fn shmid_ds(id: i32) -> Result<libc::shmid_ds> {
  let mut ds = std::mem::MaybeUninit::<libc::shmid_ds>::uninit();
  // SAFETY: `ds` is a valid out-pointer for one shmid_ds.
  if unsafe { libc::shmctl(id, libc::IPC_STAT, ds.as_mut_ptr()) } != 0 {
    return Err(Error::last_os("shmctl"));
  }
  // SAFETY: IPC_STAT succeeded, so the kernel filled `ds`.
  Ok(unsafe { ds.assume_init() })
}

/// `shmctl(id, IPC_STAT)`.
#[allow(clippy::unnecessary_cast)] // field widths differ between platforms
pub fn shm_stat(id: i32) -> Result<SegmentInfo> {
  let ds = shmid_ds(id)?;
  let p = &ds.shm_perm;
  Ok(SegmentInfo {
    key: ipc_key(p),
    size: ds.shm_segsz as u64,
    mode: p.mode as u32,
    uid: p.uid as u32,
    gid: p.gid as u32,
    cuid: p.cuid as u32,
    cgid: p.cgid as u32,
    cpid: ds.shm_cpid as i32,
    lpid: ds.shm_lpid as i32,
    nattch: ds.shm_nattch as u64,
    atime: ds.shm_atime as i64,
    dtime: ds.shm_dtime as i64,
    ctime: ds.shm_ctime as i64,
  })
}

/// `shmctl(id, IPC_SET)` with the owner and mode changed where given.
pub fn shm_set(id: i32, mode: Option<u32>, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
  let mut ds = shmid_ds(id)?;
  if let Some(m) = mode {
    ds.shm_perm.mode = (m & 0o777) as _;
  }
  if let Some(u) = uid {
    ds.shm_perm.uid = u as _;
  }
  if let Some(g) = gid {
    ds.shm_perm.gid = g as _;
  }
  // SAFETY: `ds` is a valid shmid_ds read by IPC_STAT and edited in its permission fields.
  if unsafe { libc::shmctl(id, libc::IPC_SET, &mut ds) } != 0 {
    return Err(Error::last_os("shmctl"));
  }
  Ok(())
}

/// `shmctl(id, IPC_RMID, NULL)`: the segment goes once the last process detaches.
pub fn shm_remove(id: i32) -> Result<()> {
  // SAFETY: IPC_RMID takes no buffer.
  if unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) } != 0 {
    return Err(Error::last_os("shmctl"));
  }
  Ok(())
}

/// `shmget(key, size, IPC_CREAT[|IPC_EXCL]|mode)`: the id of a new (or existing) segment.
pub fn shmget_create(key: i32, size: u64, mode: u32, exclusive: bool) -> Result<i32> {
  let size_t =
    usize::try_from(size).map_err(|_| Error::invalid(errno::EINVAL, "shmget", "size too large"))?;
  let mut flags = libc::IPC_CREAT | (mode & 0o777) as libc::c_int;
  if exclusive {
    flags |= libc::IPC_EXCL;
  }
  shmget(key, size_t, flags).map_err(|e| match e.errno() {
    Some(errno::EEXIST) => e.detail(format!(
      "a segment with key {} already exists (IPC_CREAT|IPC_EXCL); pass exclusive: false to attach it",
      key_text(key)
    )),
    Some(errno::EINVAL) => e.detail(format!(
      "invalid argument: size {size} is outside the system's limits (SHMMIN..SHMMAX, see \
       /proc/sys/kernel/shmmax), or the segment with key {} exists and is smaller",
      key_text(key)
    )),
    _ => e,
  })
}

/// `shmget(key, 0, 0)`: the id of an existing segment.
pub fn shmget_existing(key: i32) -> Result<i32> {
  shmget(key, 0, 0).map_err(|e| match e.errno() {
    Some(errno::ENOENT) => e.detail(format!("no System V segment has key {}", key_text(key))),
    _ => e,
  })
}
