/* A C peer of mapshare's channel, through include/mapshare_channel.h, on a file the test maps too.
 * Usage: channel_peer send <file> <count>     sends "c <i>" for i in 0..count-1, waiting for room, then ends
 *        channel_peer receive <file>          prints each message on a line until the channel ends */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "../../include/mapshare_channel.h"

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int fd = open(argv[2], O_RDWR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) { perror("open"); return 1; }
  void *mem = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 1; }
  struct msch ch = msch_open(mem, (size_t)st.st_size);
  if (!ch.h) { fprintf(stderr, "not a channel\n"); return 1; }
  if (strcmp(argv[1], "send") == 0) {
    long n = atol(argv[3]);
    char msg[64];
    for (long i = 0; i < n; i++) {
      int len = snprintf(msg, sizeof msg, "c %ld", i);
      while (msch_try_send(&ch, msg, (uint32_t)len) == 0) msch_wait_space(&ch, (uint32_t)len, 1000);
    }
    msch_end(&ch);
    return 0;
  }
  char buf[65536];
  for (;;) {
    long len = msch_try_receive(&ch, buf, sizeof buf);
    if (len < 0) { fprintf(stderr, "corrupt (%ld)\n", len); return 1; }
    if (len > 0) { printf("%.*s\n", (int)len, buf); continue; }
    if (atomic_load(&ch.h->ended) && atomic_load(&ch.h->head) == atomic_load(&ch.h->tail)) return 0;
    msch_wait_data(&ch, 1000);
  }
}
