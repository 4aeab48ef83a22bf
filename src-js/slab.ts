// Copies handed out by a Channel, cut from shared slabs as Node's own Buffer pool and socket reads
// cut theirs: one allocation per 128 KiB instead of one per message (a message's Buffer then shares
// its ArrayBuffer with others: `m.buffer` is not the message alone, as with Node's pooled Buffers).
const SLAB = 128 * 1024
/** Larger messages get an ArrayBuffer of their own. */
const OWN = 16 * 1024

let slab: ArrayBuffer | null = null
let used = 0

/** A new Buffer holding a copy of `src`. */
export function copyOut(src: Uint8Array): Buffer<ArrayBuffer> {
  const len = src.length
  if (len > OWN) {
    const own = Buffer.allocUnsafeSlow(len)
    own.set(src)
    return own
  }
  // A user may transfer a copy's `buffer` (postMessage, structuredClone), which detaches the whole
  // slab (its byteLength becomes 0): start a new one then, as when it is full.
  if (slab === null || slab.byteLength === 0 || used + len > SLAB) {
    slab = new ArrayBuffer(SLAB) // zero-filled: no other memory's old bytes ever reach a user
    used = 0
  }
  const out = Buffer.from(slab, used, len)
  out.set(src)
  used = (used + len + 7) & ~7 // 8-byte aligned, as Node's pool keeps its slices
  return out
}
