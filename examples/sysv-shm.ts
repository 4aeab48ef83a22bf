// Seed 002: System V shared memory at key 0x366378 holding struct st_setting { char agen[10];
// unsigned char file_no; }. Removes a leftover segment, creates it with IPC_CREAT|IPC_EXCL, writes,
// shows nattch going 1 -> 0 on detach, and removes it.
// Usage: node --import @oxc-node/core/register examples/sysv-shm.ts
import { ShmSegment, c, struct } from 'mapshare'

const IPCKEY = 0x366378
// typedef struct st_setting { char agen[10]; unsigned char file_no; } st_setting;
const StSetting = struct('st_setting', { agen: c.char(10), file_no: c.u8 })

// First check whether the segment exists; if it does, delete it.
try {
  const old = ShmSegment.open(IPCKEY)
  old.remove()
  old.detach()
} catch {}

const seg = ShmSegment.create(IPCKEY, 1028, { mode: 0o640, exclusive: true })
const setting = StSetting.at(seg) // p_setting = (st_setting *)shmat(...)
setting.agen = 'gatieme' // strncpy(p_setting->agen, "gatieme", 10)
setting.file_no = 1
console.log(`agen : ${setting.agen}`)
console.log(`file_no : ${setting.file_no}`)
console.log(`nattch while attached: ${seg.stat().nattch}`)
seg.detach()
console.log(`nattch after detach: ${seg.stat().nattch}`)
seg.remove()
try {
  ShmSegment.open(IPCKEY)
} catch (e) {
  console.log(`after remove: ${(e as NodeJS.ErrnoException).code}`)
}
