/* A C user of mapshare's lock word through include/mapshare_channel.h (msch_lock/msch_unlock), driven
 * by lines on stdin as __test__/fixtures/lock-peer.ts is, on the word at byte 76 of a file (where a
 * channel keeps its producers' lock). Usage: lock_peer <file> */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "../../include/mapshare_channel.h"

static const char *result(int r) {
  switch (r) {
    case MSCH_OK: return "{\"ownerDied\":false}";
    case MSCH_OWNER_DIED: return "{\"ownerDied\":true}";
    case MSCH_TIMEDOUT: return "null";
    case MSCH_DEADLOCK: return "error EDEADLK";
    case MSCH_NOT_OWNER: return "error ERR_MAPSHARE_NOT_OWNER";
    default: return "error MSCH_SYSTEM";
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) { perror("open"); return 1; }
  void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 1; }
  struct msch ch = {(struct msch_header *)mem, 0, NULL}; /* only the lock word is used */
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("tid %u\n", msch_tid());
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "lockt ", 6) == 0) printf("lockt %s\n", result(msch_lock(&ch, atol(line + 6))));
    else if (strncmp(line, "lock", 4) == 0) printf("lock %s\n", result(msch_lock(&ch, -1)));
    else if (strncmp(line, "trylock", 7) == 0) printf("trylock %s\n", result(msch_lock(&ch, 0)));
    else if (strncmp(line, "unlock", 6) == 0) {
      int r = msch_unlock(&ch);
      printf("unlock %s\n", r == MSCH_OK ? "ok" : result(r));
    } else if (strncmp(line, "die", 3) == 0) kill(getpid(), SIGKILL);
  }
  return 0;
}
