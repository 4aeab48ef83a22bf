/* A C process on the same word as Node, through a shared mapped file: plain futex syscalls.
 * Usage: futex_peer wake <file> <offset> [delay ms]   after the delay, stores 1 into the word, then
 *                                          FUTEX_WAKE (wakes a Node waiter)
 *        futex_peer wait <file> <offset>   prints "waiting", FUTEX_WAITs while the word is 0 (5 s max),
 *                                          then prints "woken <value>" */
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int fd = open(argv[2], O_RDWR);
  if (fd < 0) { perror("open"); return 1; }
  char *base = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) { perror("mmap"); return 1; }
  close(fd);
  _Atomic uint32_t *word = (_Atomic uint32_t *)(base + atoi(argv[3]));
  if (strcmp(argv[1], "wake") == 0) {
    if (argc > 4) usleep(atoi(argv[4]) * 1000);
    atomic_store(word, 1);
    long n = syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
    printf("woke %ld\n", n);
    return 0;
  }
  printf("waiting\n");
  fflush(stdout);
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += 5;
  while (atomic_load(word) == 0) {
    struct timespec now, left;
    clock_gettime(CLOCK_MONOTONIC, &now);
    left.tv_sec = deadline.tv_sec - now.tv_sec;
    left.tv_nsec = deadline.tv_nsec - now.tv_nsec;
    if (left.tv_nsec < 0) { left.tv_nsec += 1000000000; left.tv_sec--; }
    if (left.tv_sec < 0) { printf("timed out\n"); return 1; }
    syscall(SYS_futex, word, FUTEX_WAIT, 0, &left, NULL, 0);
  }
  printf("woken %u\n", atomic_load(word));
  return 0;
}
