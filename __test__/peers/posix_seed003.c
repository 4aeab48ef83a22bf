/* Seed 003's POSIX peer: an object holding three 64-bit integers (Go's `int` on 64-bit targets).
 * Usage: posix_seed003 write <name> <size> <c1> <c2> <c3>   (shm_open O_CREAT, ftruncate, mmap, close)
 *        posix_seed003 read <name>                            (prints "c1 c2 c3") */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct { int64_t col1, col2, col3; } my_data;

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int writing = strcmp(argv[1], "write") == 0;
  int fd = shm_open(argv[2], writing ? O_RDWR | O_CREAT : O_RDONLY, 0600);
  if (fd == -1) { perror("shm_open"); return 1; }
  off_t size;
  if (writing) {
    size = (off_t)strtoll(argv[3], NULL, 0);
    if (ftruncate(fd, size) != 0) { perror("ftruncate"); return 1; }
  } else {
    struct stat st;
    fstat(fd, &st);
    size = st.st_size;
  }
  my_data *d = mmap(NULL, size, writing ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  if (d == MAP_FAILED) { perror("mmap"); return 1; }
  close(fd);
  if (writing) {
    d->col1 = atoll(argv[4]);
    d->col2 = atoll(argv[5]);
    d->col3 = atoll(argv[6]);
  } else {
    printf("%lld %lld %lld\n", (long long)d->col1, (long long)d->col2, (long long)d->col3);
  }
  munmap(d, size);
  return 0;
}
