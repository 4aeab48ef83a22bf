/* A C process on the same word as Node, through a shared mapped file: plain futex syscalls. Neither
 * side changes the word, so only a real wake-up can end a wait: a lost wake shows as a timeout.
 * Usage: futex_peer wake <file> <offset>   FUTEX_WAKEs one waiter, every 10 ms until one was woken
 *                                          (10 s at most); prints "woke <n>"
 *        futex_peer wait <file> <offset>   prints "waiting", then one FUTEX_WAIT while the word is 0
 *                                          (30 s at most); prints how it ended: "woken", "timed out",
 *                                          "interrupted" or "changed" */
#include <errno.h>
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
    for (int i = 0; i < 1000; i++) {
      long n = syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
      if (n > 0) {
        printf("woke %ld\n", n);
        return 0;
      }
      struct timespec t = {0, 10 * 1000000L};
      nanosleep(&t, NULL);
    }
    printf("woke 0\n");
    return 1;
  }
  printf("waiting\n");
  fflush(stdout);
  struct timespec limit = {30, 0};
  long r = syscall(SYS_futex, word, FUTEX_WAIT, 0, &limit, NULL, 0);
  const char *how = r == 0 ? "woken" : errno == ETIMEDOUT ? "timed out" : errno == EINTR ? "interrupted" : "changed";
  printf("%s\n", how);
  return r == 0 ? 0 : 1;
}
