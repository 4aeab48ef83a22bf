/* 4 processes x N locked increments of a plain counter under a process-shared robust pthread mutex
 * in MAP_SHARED anonymous memory: the baseline for mapshare's lock. Prints ns per increment. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
  pthread_mutex_t lock;
  long counter;
};

int main(int argc, char **argv) {
  int procs = 4;
  long n = argc > 1 ? atol(argv[1]) : 100000;
  struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) return 1;
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&s->lock, &a);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int p = 0; p < procs; p++) {
    if (fork() == 0) {
      for (long i = 0; i < n; i++) {
        if (pthread_mutex_lock(&s->lock) == EOWNERDEAD) pthread_mutex_consistent(&s->lock);
        s->counter++;
        pthread_mutex_unlock(&s->lock);
      }
      _exit(0);
    }
  }
  for (int p = 0; p < procs; p++) wait(NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (s->counter != procs * n) return 2;
  double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
  printf("%.1f\n", ns / (procs * n));
  return 0;
}
