// The floor for a cross-process wake: two processes (fork) ping-pong over one word of shared
// anonymous memory with FUTEX_WAIT/FUTEX_WAKE (shared, as mapshare uses them).
// Usage: futex_pingpong <round trips> [spin µs]; prints nanoseconds per round trip. With a spin, each
// wait first watches the word for that long (64 pause hints, then sched_yield, between looks), as
// mapshare's wait() does, before it sleeps.
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long spin_ns;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void wait_for(_Atomic uint32_t *w, uint32_t value) {
  uint32_t seen;
  if (spin_ns > 0 && atomic_load(w) != value) {
    long until = now_ns() + spin_ns;
    do {
      for (int i = 0; i < 64; i++) cpu_relax();
      if (atomic_load(w) == value) return;
      sched_yield();
    } while (now_ns() < until);
  }
  while ((seen = atomic_load(w)) != value) syscall(SYS_futex, w, FUTEX_WAIT, seen, NULL, NULL, 0);
}

static void set_and_wake(_Atomic uint32_t *w, uint32_t value) {
  atomic_store(w, value);
  syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  spin_ns = argc > 2 ? atol(argv[2]) * 1000 : 0;
  _Atomic uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (w == MAP_FAILED) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    for (long i = 0; i < n; i++) {
      wait_for(w, 2 * i + 1);
      set_and_wake(w, 2 * i + 2);
    }
    _exit(0);
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    set_and_wake(w, 2 * i + 1);
    wait_for(w, 2 * i + 2);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  waitpid(pid, NULL, 0);
  printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
  return 0;
}
