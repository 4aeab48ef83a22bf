/* Prints ftok(path, id) as C computes it, in hex. Usage: ftok <path> <id> */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  key_t k = ftok(argv[1], atoi(argv[2]));
  if (k == -1) { perror("ftok"); return 1; }
  printf("0x%08x\n", (unsigned)k);
  return 0;
}
