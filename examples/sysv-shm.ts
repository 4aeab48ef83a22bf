// Seed 002: System V shared memory at key 0x366378 holding struct st_setting { char agen[10];
// unsigned char file_no; }. Removes a leftover segment, creates it with IPC_CREAT|IPC_EXCL, writes,
// shows nattch going 1 -> 0 on detach, and removes it.
// Usage: node --import @oxc-node/core/register examples/sysv-shm.ts
import { ShmSegment } from '../index.js'

const IPCKEY = 0x366378

// First check whether the segment exists; if it does, delete it.
try {
  const old = ShmSegment.open(IPCKEY)
  old.remove()
  old.detach()
} catch {}

const seg = ShmSegment.create(IPCKEY, 1028, { mode: 0o640, exclusive: true })
seg.buffer.write('gatieme\0', 0, 'latin1') // strncpy(p_setting->agen, "gatieme", 10)
seg.buffer[10] = 1 // p_setting->file_no = 1
console.log(`agen : ${seg.buffer.toString('latin1', 0, 7)}`)
console.log(`file_no : ${seg.buffer[10]}`)
console.log(`nattch while attached: ${seg.stat().nattch}`)
seg.detach()
console.log(`nattch after detach: ${seg.stat().nattch}`)
seg.remove()
try {
  ShmSegment.open(IPCKEY)
} catch (e) {
  console.log(`after remove: ${(e as NodeJS.ErrnoException).code}`)
}
