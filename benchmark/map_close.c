// The floor for MmapFile.open + close: the same open/fstat/mmap/close(fd)/munmap loop in C.
// Usage: map_close <file> <iterations> [at-once]; prints nanoseconds per iteration. With `at-once`,
// all <iterations> mappings are made (and their first byte read) before any is unmapped.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* open, fstat, mmap the whole file (private), close: the mapping, its size in *size; NULL on error. */
static unsigned char *map_file(const char *path, off_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { perror("open"); return NULL; }
  struct stat st;
  if (fstat(fd, &st) != 0) { perror("fstat"); return NULL; }
  void *p = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) { perror("mmap"); return NULL; }
  *size = st.st_size;
  return p;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  long n = atol(argv[2]);
  struct timespec t0, t1;
  volatile unsigned char sink = 0;
  if (argc > 3) {
    void **maps = calloc(n, sizeof(void *));
    off_t size = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
      if (!(maps[i] = map_file(argv[1], &size))) return 1;
      sink ^= ((unsigned char *)maps[i])[0];
    }
    for (long i = 0; i < n; i++) munmap(maps[i], size);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.1f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
    free(maps);
    return sink == 255 ? 3 : 0;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    off_t size;
    unsigned char *p = map_file(argv[1], &size);
    if (!p) return 1;
    sink ^= p[0];
    munmap(p, size);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
  printf("%.1f\n", ns / n);
  return sink == 255 ? 3 : 0;
}
