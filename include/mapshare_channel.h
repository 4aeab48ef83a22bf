/* mapshare's message channel, for C peers (Linux): the same layout and protocol as src-js/channel.ts.
 * One consumer and one producer (a channel made with producers 'single'); a channel with many
 * producers also needs its lock (offset 76, see the README's lock word) around msch_try_send and
 * msch_reserve ... msch_commit.
 *
 * Which words are atomic, and how they are ordered (Node uses JS Atomics, which are sequentially
 * consistent; the functions here use C11 seq_cst atomics, so they are the same):
 *   - tail: written by the producer (or the lock's holder) with a release store after the record and
 *     its payload are written; read with an acquire load before reading any record (the message
 *     exists from the store on). head: the same for the consumer, after the message was read (the room
 *     is free from the store on).
 *   - record headers (length, kind) and payloads: plain accesses, ordered by tail and head.
 *   - sent (producer) and received (consumer): one writer each, bumped after tail or head moved;
 *     statistics only (a peer killed in between leaves them off by one).
 *   - data_waiters (consumer sleeping, 0/1), space_waiters (a count), space_wanted, data_seq,
 *     space_seq, ended: atomic read-modify-writes or stores, sequentially consistent: the protocol
 *     below depends on a sleeper's flag store being seen before it re-reads the position.
 *
 * Layout at the channel's offset (a multiple of 64) of the shared memory; u32 words in the machine's
 * byte order, positions running freely mod 2^32:
 *   header (256 bytes): magic 'MSCH', version 2, capacity (a power of two), flags (1: many producers),
 *   largest message; tail (published after a message is complete), data sequence (futex), consumer
 *   sleeping; head (published after a message is released), space sequence (futex), producers
 *   sleeping, free bytes they wait for; counts of messages sent and received; ended.
 *   The futex words change only to wake a sleeper (see channel.cjs for the whole protocol): a producer
 *   that finds the consumer sleeping swaps that flag to 0 and wakes it; a consumer that frees the room
 *   sleeping producers wait for swaps the wanted bytes to 0xffffffff and wakes them.
 *   data (capacity bytes): records { u32 length; u32 kind (1 message, 2 padding to the end) } plus the
 *   payload, 8-aligned; a message never wraps (a padding record sends it to the start).
 */
#ifndef MAPSHARE_CHANNEL_H
#define MAPSHARE_CHANNEL_H
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

long syscall(long number, ...); /* unistd.h declares it only with _DEFAULT_SOURCE; the same declaration */

#define MSCH_MAGIC 0x4843534du
#define MSCH_VERSION 2u
#define MSCH_NO_WANT 0xffffffffu
#define MSCH_HEADER 256u
#define MSCH_KIND_MESSAGE 1u
#define MSCH_KIND_PAD 2u

/* What the functions below return besides a message's length (>= 0): distinct negative results. */
#define MSCH_OK 0            /* sent, committed, released */
#define MSCH_CORRUPT (-1)    /* the channel's memory is not a valid channel (a peer wrote over it) */
#define MSCH_TOO_LARGE (-2)  /* the message is larger than the channel takes, or than the buffer given */
#define MSCH_EMPTY (-3)      /* no message now */
#define MSCH_FULL (-4)       /* no room now */
#define MSCH_ENDED (-5)      /* the channel was ended: no more messages (receiving: and none is left) */
#define MSCH_TIMEDOUT (-6)   /* msch_lock: the lock stayed held for the whole timeout */
#define MSCH_NOT_OWNER (-7)  /* msch_unlock: this thread does not hold the lock */
#define MSCH_DEADLOCK (-8)   /* msch_lock: this thread holds the lock already */
#define MSCH_SYSTEM (-9)     /* msch_lock: the robust list could not be set up (errno says why) */
#define MSCH_OWNER_DIED 1    /* msch_lock: taken over from an owner that died holding it */

struct msch_header {
  uint32_t magic, version, capacity, flags, max_message;
  uint32_t _pad0[11];
  _Atomic uint32_t tail, data_seq, data_waiters, lock, sent, ended;
  uint32_t _pad1[10];
  _Atomic uint32_t head, space_seq, space_waiters, received, space_wanted;
  uint32_t _pad2[27];
};
_Static_assert(sizeof(struct msch_header) == MSCH_HEADER, "mapshare channel header");
_Static_assert(offsetof(struct msch_header, tail) == 64, "tail");
_Static_assert(offsetof(struct msch_header, ended) == 84, "ended");
_Static_assert(offsetof(struct msch_header, head) == 128, "head");
_Static_assert(offsetof(struct msch_header, received) == 140, "received");
_Static_assert(offsetof(struct msch_header, space_wanted) == 144, "space_wanted");

/* A channel opened by msch_open: its header and the capacity checked then (what the functions use,
 * whatever another process writes into the header later). */
struct msch {
  struct msch_header *h;
  uint32_t cap;
  unsigned char *window; /* msch_lock's alias window (see there); NULL until the first msch_lock */
};

/* Opens the channel at `mem`, `size` bytes mapped from there: `.h` is NULL if they hold no valid
 * channel. Every function below checks what it reads against the capacity and the record headers, so
 * corrupt memory gives -1, never an access outside the `size` bytes. */
static inline struct msch msch_open(void *mem, size_t size) {
  struct msch c = {NULL, 0, NULL};
  struct msch_header *h = (struct msch_header *)mem;
  if (size < MSCH_HEADER + 64) return c;
  uint32_t cap = h->capacity;
  if (h->magic != MSCH_MAGIC || h->version != MSCH_VERSION || cap < 64 || cap > (1u << 30) ||
      (cap & (cap - 1)) != 0 || MSCH_HEADER + (size_t)cap > size)
    return c;
  c.h = h;
  c.cap = cap;
  return c;
}

static inline unsigned char *msch_data(struct msch_header *h) { return (unsigned char *)h + MSCH_HEADER; }

static inline void msch_wake(_Atomic uint32_t *word) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

/* After the head moved to `head`: wakes sleeping producers once the room they wait for is free. */
static inline void msch_wake_producers(const struct msch *c, uint32_t head) {
  struct msch_header *h = c->h;
  if (!atomic_load(&h->space_waiters)) return;
  uint32_t want = atomic_load(&h->space_wanted);
  uint32_t used = atomic_load(&h->tail) - head;
  if (used > c->cap || c->cap - used < want) return;
  if (atomic_compare_exchange_strong(&h->space_wanted, &want, MSCH_NO_WANT)) {
    atomic_fetch_add(&h->space_seq, 1);
    msch_wake(&h->space_seq);
  }
}

/* Room for one message, written in place: msch_reserve gives it, msch_commit publishes it. */
struct msch_reservation {
  unsigned char *data; /* where the payload goes: `len` bytes */
  uint32_t len, tail, pos, pad;
};

/* Room for a message of `len` bytes in place: MSCH_OK with `r->data` to write to, MSCH_FULL if there
 * is no room now, MSCH_TOO_LARGE, MSCH_ENDED or MSCH_CORRUPT. Nothing is sent until msch_commit. */
static inline int msch_reserve(const struct msch *c, uint32_t len, struct msch_reservation *r) {
  struct msch_header *h = c->h;
  uint32_t cap = c->cap;
  if (len > cap / 2 - 8) return MSCH_TOO_LARGE;
  if (atomic_load(&h->ended)) return MSCH_ENDED;
  uint32_t head = atomic_load(&h->head), tail = atomic_load(&h->tail);
  if ((uint32_t)(tail - head) > cap || ((head | tail) & 7) != 0) return MSCH_CORRUPT;
  uint32_t need = 8 + ((len + 7) & ~7u), pos = tail & (cap - 1);
  uint32_t pad = pos + need > cap ? cap - pos : 0;
  if ((uint64_t)(uint32_t)(tail - head) + pad + need > cap) return MSCH_FULL;
  r->data = msch_data(h) + (pad ? 0 : pos) + 8;
  r->len = len;
  r->tail = tail;
  r->pos = pos;
  r->pad = pad;
  return MSCH_OK;
}

/* Publishes the reserved message with its first `used` bytes (at most the reserved length), and wakes
 * a sleeping consumer. MSCH_TOO_LARGE if `used` is more than was reserved (nothing is sent). */
static inline int msch_commit(const struct msch *c, const struct msch_reservation *r, uint32_t used) {
  struct msch_header *h = c->h;
  if (used > r->len) return MSCH_TOO_LARGE;
  unsigned char *d = msch_data(h);
  if (r->pad) {
    *(uint32_t *)(d + r->pos) = r->pad - 8;
    *(uint32_t *)(d + r->pos + 4) = MSCH_KIND_PAD;
  }
  uint32_t at = r->pad ? 0 : r->pos;
  *(uint32_t *)(d + at) = used;
  *(uint32_t *)(d + at + 4) = MSCH_KIND_MESSAGE;
  atomic_store(&h->tail, r->tail + r->pad + 8 + ((used + 7) & ~7u)); /* the message exists from here */
  atomic_fetch_add(&h->sent, 1);
  if (atomic_load(&h->data_waiters) && atomic_exchange(&h->data_waiters, 0)) {
    atomic_fetch_add(&h->data_seq, 1);
    msch_wake(&h->data_seq);
  }
  return MSCH_OK;
}

/* Copies `len` bytes in as one message: MSCH_OK if sent, MSCH_FULL if there is no room now,
 * MSCH_TOO_LARGE, MSCH_ENDED (the channel was ended: Node's producers refuse too) or MSCH_CORRUPT. */
static inline int msch_try_send(const struct msch *c, const void *msg, uint32_t len) {
  struct msch_reservation r;
  int result = msch_reserve(c, len, &r);
  if (result != MSCH_OK) return result;
  memcpy(r.data, msg, len);
  return msch_commit(c, &r, len);
}

/* The next message, in place: `*len` bytes at the pointer returned, valid (and in the channel) until
 * msch_release. NULL with `*result` MSCH_EMPTY (none now), MSCH_ENDED (ended and none left) or
 * MSCH_CORRUPT. An empty message is a message: a pointer with `*len` 0. */
static inline const unsigned char *msch_peek(const struct msch *c, uint32_t *len, int *result) {
  struct msch_header *h = c->h;
  uint32_t cap = c->cap;
  unsigned char *d = msch_data(h);
  for (;;) {
    uint32_t head = atomic_load(&h->head), tail = atomic_load(&h->tail), avail = tail - head;
    if (avail > cap || ((head | tail) & 7) != 0) { /* records are 8-aligned */
      *result = MSCH_CORRUPT;
      return NULL;
    }
    if (avail == 0) {
      /* Ended counts once the tail is seen not to move: ended is set after the last message. */
      *result = atomic_load(&h->ended) && atomic_load(&h->tail) == tail ? MSCH_ENDED : MSCH_EMPTY;
      return NULL;
    }
    uint32_t pos = head & (cap - 1);
    uint32_t n = *(uint32_t *)(d + pos), kind = *(uint32_t *)(d + pos + 4);
    if (kind == MSCH_KIND_PAD) {
      if (n != cap - pos - 8 || cap - pos > avail) {
        *result = MSCH_CORRUPT;
        return NULL;
      }
      atomic_store(&h->head, head + (cap - pos));
      msch_wake_producers(c, head + (cap - pos));
      continue;
    }
    uint32_t rec = 8 + ((n + 7) & ~7u);
    if (kind != MSCH_KIND_MESSAGE || n > cap / 2 - 8 || pos + rec > cap || rec > avail) {
      *result = MSCH_CORRUPT;
      return NULL;
    }
    *len = n;
    *result = MSCH_OK;
    return d + pos + 8;
  }
}

/* Frees the message msch_peek gave (the next msch_peek or msch_try_receive gives the one after it). */
static inline int msch_release(const struct msch *c) {
  struct msch_header *h = c->h;
  uint32_t cap = c->cap, head = atomic_load(&h->head), tail = atomic_load(&h->tail);
  if (head == tail || ((head | tail) & 7) != 0 || (uint32_t)(tail - head) > cap) return MSCH_CORRUPT;
  uint32_t n = *(uint32_t *)(msch_data(h) + (head & (cap - 1)));
  uint32_t rec = 8 + ((n + 7) & ~7u);
  if (n > cap / 2 - 8 || rec > (uint32_t)(tail - head)) return MSCH_CORRUPT;
  atomic_store(&h->head, head + rec);
  atomic_fetch_add(&h->received, 1);
  msch_wake_producers(c, head + rec);
  return MSCH_OK;
}

/* Copies the next message out (at most `size` bytes): its length (0 for an empty message), or
 * MSCH_EMPTY (none now), MSCH_ENDED (ended and none left), MSCH_TOO_LARGE (`size` is too small: the
 * message stays) or MSCH_CORRUPT. */
static inline long msch_try_receive(const struct msch *c, void *out, uint32_t size) {
  uint32_t len;
  int result;
  const unsigned char *m = msch_peek(c, &len, &result);
  if (!m) return result;
  if (len > size) return MSCH_TOO_LARGE;
  memcpy(out, m, len);
  int released = msch_release(c);
  return released == MSCH_OK ? (long)len : released;
}

/* Sleeps until a message may have arrived (or the channel ended), or `ms` milliseconds pass. Keep
 * `ms` bounded (the Node consumer looks again every 200 ms): a producer killed between taking the
 * 'consumer sleeping' flag and waking the consumer leaves nobody else to wake it. */
static inline void msch_wait_data(const struct msch *c, long ms) {
  struct msch_header *h = c->h;
  uint32_t seen = atomic_load(&h->data_seq);
  atomic_store(&h->data_waiters, 1);
  if (atomic_load(&h->head) == atomic_load(&h->tail) && !atomic_load(&h->ended)) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    syscall(SYS_futex, (uint32_t *)&h->data_seq, FUTEX_WAIT, seen, ms < 0 ? NULL : &t, NULL, 0);
  }
  atomic_store(&h->data_waiters, 0);
}

/* Sleeps until a message of `len` bytes may fit (the consumer wakes producers once a quarter of the
 * channel, or room for two such messages, is free), or `ms` milliseconds pass. Keep `ms` bounded (Node
 * producers look again every 1 ms): a consumer killed before its wake-up leaves nobody to wake them. */
static inline void msch_wait_space(const struct msch *c, uint32_t len, long ms) {
  struct msch_header *h = c->h;
  uint32_t cap = c->cap, need = 8 + ((len + 7) & ~7u);
  uint32_t want = cap / 4 > 2 * need ? cap / 4 : 2 * need;
  uint32_t seen = atomic_load(&h->space_seq);
  atomic_fetch_add(&h->space_waiters, 1);
  atomic_store(&h->space_wanted, want < cap ? want : cap);
  uint32_t head = atomic_load(&h->head), tail = atomic_load(&h->tail), pos = tail & (cap - 1);
  uint32_t pad = pos + need > cap ? cap - pos : 0;
  if ((uint64_t)(uint32_t)(tail - head) + pad + need > cap) { /* still no room: sleep */
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    syscall(SYS_futex, (uint32_t *)&h->space_seq, FUTEX_WAIT, seen, ms < 0 ? NULL : &t, NULL, 0);
  }
  atomic_fetch_sub(&h->space_waiters, 1);
}

/* No more messages (the consumer reads the rest, then sees the end). */
static inline void msch_end(const struct msch *c) {
  struct msch_header *h = c->h;
  atomic_store(&h->ended, 1);
  atomic_fetch_add(&h->data_seq, 1);
  msch_wake(&h->data_seq);
}
/* The producers' lock of a channel made with producers 'many' (offset 76), the robust lock of
 * mapshare's README, which is the kernel's robust futex word: 0 when free, else the owner's thread id
 * (gettid() & MSCH_TID_MASK, as the owner's PID namespace numbers it) with MSCH_WAITERS set while
 * others sleep, and MSCH_OWNER_DIED_BIT written by the kernel when an owner died holding it. Taking
 * it is a compare-and-swap from a word with no owner that keeps MSCH_WAITERS (a plain swap would lose
 * it, and with it an unlock's wake-up); a waiter sets MSCH_WAITERS and sleeps on the word (FUTEX_WAIT,
 * shared). Owner death is told by the kernel, in any PID namespace: every holder keeps the word in
 * its thread's robust futex list (set_robust_list), so that the kernel, when the thread exits,
 * clears its id, sets MSCH_OWNER_DIED_BIT and wakes a waiter. The list entry lives in an alias window
 * (the word's page mapped a second time, followed by a private page holding the entry), as
 * mapshare's own entries do; this replaces the robust list glibc registered for the thread, so do not
 * use glibc robust mutexes on a thread that takes this lock. "Does this thread hold it?" is answered
 * by the thread's list, never by comparing thread ids (they repeat across PID namespaces). Hold it
 * from msch_reserve (or msch_try_send) to msch_commit. */
#define MSCH_WAITERS 0x80000000u
#define MSCH_OWNER_DIED_BIT 0x40000000u
#define MSCH_TID_MASK 0x3fffffffu
#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS 0x20
#endif

static inline uint32_t msch_tid(void) { return (uint32_t)syscall(SYS_gettid) & MSCH_TID_MASK; }

/* Milliseconds on the monotonic clock (CLOCK_MONOTONIC is 1 on Linux; through syscall() so that no
 * feature-test macro is needed). */
static inline long msch_now_ms(void) {
  struct timespec t = {0, 0};
  syscall(SYS_clock_gettime, 1, &t);
  return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The kernel's struct robust_list_head, one per thread, registered by the first msch_lock (again in
 * a forked child, which starts with glibc's). */
struct msch_robust_head {
  void *list;
  long futex_offset;
  void *pending;
};
static __thread struct msch_robust_head msch_robust;
static __thread long msch_robust_pid;

static inline int msch_robust_init(void) {
  long pid = syscall(SYS_getpid);
  if (msch_robust_pid == pid) return 0;
  msch_robust.list = &msch_robust;
  msch_robust.futex_offset = -sysconf(_SC_PAGESIZE);
  msch_robust.pending = NULL;
  if (syscall(SYS_set_robust_list, &msch_robust, sizeof msch_robust) != 0) return -1;
  msch_robust_pid = pid;
  return 0;
}

/* The lock word's entry: in the private page after the alias of its page (made on first use). */
static inline void **msch_entry(struct msch *c) {
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t word = (uintptr_t)&c->h->lock, first = word & ~(uintptr_t)(page - 1);
  if (!c->window) {
    void *w = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED) return NULL;
    /* mremap(old_size 0) maps the shared page again, over the window's first page
     * (MREMAP_MAYMOVE | MREMAP_FIXED = 3). */
    if ((void *)syscall(SYS_mremap, (void *)first, 0, (size_t)page, 3, w) == MAP_FAILED) {
      munmap(w, 2 * (size_t)page);
      return NULL;
    }
    c->window = (unsigned char *)w;
  }
  return (void **)(c->window + page + (word - first));
}

/* Whether `entry` is on this thread's list: this thread holds the lock. */
static inline int msch_listed(void **entry) {
  for (void *e = msch_robust.list; e != (void *)&msch_robust; e = *(void **)e)
    if (e == (void *)entry) return 1;
  return 0;
}

/* Takes the producers' lock, waiting `timeout_ms` at most (< 0: no limit): MSCH_OK,
 * MSCH_OWNER_DIED (taken from a dead owner: what it protects may be half-written, but a channel's
 * messages exist only once published, so nothing needs repair), MSCH_TIMEDOUT, MSCH_DEADLOCK, or
 * MSCH_SYSTEM. */
static inline int msch_lock(struct msch *c, long timeout_ms) {
  _Atomic uint32_t *w = &c->h->lock;
  void **entry;
  if (msch_robust_init() != 0 || !(entry = msch_entry(c))) return MSCH_SYSTEM;
  if (msch_listed(entry)) return MSCH_DEADLOCK;
  uint32_t tid = msch_tid(), mark = 0;
  long start = msch_now_ms();
  for (;;) {
    uint32_t v = atomic_load(w);
    if ((v & MSCH_TID_MASK) == 0) {
      /* Announced as pending: were this thread to die right here, the kernel still sees it. */
      msch_robust.pending = entry;
      if (atomic_compare_exchange_strong(w, &v, tid | (v & MSCH_WAITERS) | mark)) {
        *entry = msch_robust.list;
        msch_robust.list = entry;
        msch_robust.pending = NULL;
        return v & MSCH_OWNER_DIED_BIT ? MSCH_OWNER_DIED : MSCH_OK;
      }
      msch_robust.pending = NULL;
      continue;
    }
    long waited = msch_now_ms() - start;
    if (timeout_ms >= 0 && waited >= timeout_ms) return MSCH_TIMEDOUT;
    if (!(v & MSCH_WAITERS) && !atomic_compare_exchange_strong(w, &v, v | MSCH_WAITERS)) continue;
    long left = timeout_ms < 0 ? 1000 : timeout_ms - waited;
    struct timespec t = {left / 1000, (left % 1000) * 1000000L};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, v | MSCH_WAITERS, &t, NULL, 0);
    mark = MSCH_WAITERS; /* a thread that slept cannot know whether others still sleep */
  }
}

/* Releases the producers' lock this thread holds, waking one sleeper: MSCH_OK or MSCH_NOT_OWNER. */
static inline int msch_unlock(struct msch *c) {
  _Atomic uint32_t *w = &c->h->lock;
  void **entry = c->window ? msch_entry(c) : NULL;
  if (!entry || msch_robust_pid != syscall(SYS_getpid) || !msch_listed(entry)) return MSCH_NOT_OWNER;
  msch_robust.pending = entry;
  for (void **p = (void **)&msch_robust.list; *p != (void *)&msch_robust; p = (void **)*p)
    if (*p == (void *)entry) {
      *p = *entry;
      break;
    }
  uint32_t v = atomic_load(w);
  if ((v & MSCH_TID_MASK) == msch_tid() && atomic_exchange(w, 0) & MSCH_WAITERS)
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, 1, NULL, NULL, 0);
  msch_robust.pending = NULL;
  return MSCH_OK;
}
#endif
