// The lock word as the kernel's robust futex list defines it (and mapshare's Mutex and the C header
// use it): 0 when free, else the owner's thread id in the low 30 bits, bit 30 set by the kernel when
// the owner died holding it, bit 31 when a thread sleeps waiting for it.

/** The owner's thread id (as its own PID namespace numbers it). */
export const TID_MASK = 0x3fffffff
/** `FUTEX_OWNER_DIED`: the kernel set it when the owner died holding the lock. */
export const OWNER_DIED = 0x40000000
/** `FUTEX_WAITERS`: a thread sleeps waiting for the lock. */
export const WAITERS = 0x80000000

/** What a lock word says, decoded for people (`npx mapshare inspect --lock`). */
export interface LockWordState {
  /** The word as read (unsigned). */
  word: number
  /** A thread holds it (an owner died holding it counts: the next locker takes it over). */
  held: boolean
  /** The holder's thread id, as its PID namespace numbers it; null when free. */
  owner: number | null
  /** The holder died holding it; the next lock reports `{ ownerDied: true }`. */
  ownerDied: boolean
  /** A thread sleeps waiting for it. */
  waiters: boolean
}

export function decodeLockWord(value: number): LockWordState {
  const word = value >>> 0
  const owner = word & TID_MASK
  return {
    word,
    held: owner !== 0 || (word & OWNER_DIED) !== 0,
    owner: owner === 0 ? null : owner,
    ownerDied: (word & OWNER_DIED) !== 0,
    waiters: (word & WAITERS) !== 0,
  }
}
