/* Seed 004's file peer: a mapped file holding struct { int a; char b[64]; }.
 * Usage: file_seed004 write <path> <a> <b>   (open O_CREAT|O_TRUNC, ftruncate, mmap, close(fd), memcpy)
 *        file_seed004 read <path>              (prints "a = <a>, b = <b>") */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct _data {
  int a;
  char b[64];
} Data;

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  if (strcmp(argv[1], "write") == 0) {
    Data data = { atoi(argv[3]), "" };
    strncpy(data.b, argv[4], sizeof data.b - 1);
    int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd == -1) { perror("open"); return 1; }
    if (ftruncate(fd, sizeof data) != 0) { perror("ftruncate"); return 1; }
    Data *addr = mmap(NULL, sizeof data, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) { perror("mmap"); return 1; }
    close(fd);
    memcpy(addr, &data, sizeof data);
    munmap(addr, sizeof data);
    return 0;
  }
  int fd = open(argv[2], O_RDONLY);
  if (fd == -1) { perror("open"); return 1; }
  Data *addr = mmap(NULL, sizeof(Data), PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) { perror("mmap"); return 1; }
  close(fd);
  printf("a = %d, b = %s\n", addr->a, addr->b);
  munmap(addr, sizeof(Data));
  return 0;
}
