/* A C peer of mapshare's channel, through include/mapshare_channel.h, on a file the test maps too.
 * Usage: channel_peer send <file> <count>     sends "c <i>" for i in 0..count-1 (every 7th one in place,
 *                                             every 100th empty), waiting for room, then ends
 *        channel_peer receive <file>          prints each message on a line ("<empty>" for an empty one,
 *                                             every 3rd one read in place) until the channel ends
 *        channel_peer send-ended <file>       prints what msch_try_send and msch_reserve say
 *        channel_peer send-many <file> <count> <tag>   sends "<tag> <i>" under the producers' lock
 *        channel_peer die-holding <file>      takes the producers' lock, prints "held", waits to be killed */
#define _GNU_SOURCE
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
  if (strcmp(argv[1], "send-ended") == 0) {
    struct msch_reservation r;
    printf("%d %d\n", msch_try_send(&ch, "x", 1), msch_reserve(&ch, 1, &r));
    return 0;
  }
  if (strcmp(argv[1], "die-holding") == 0) {
    int r = msch_lock(&ch, 10000);
    printf("held %d\n", r);
    fflush(stdout);
    for (;;) pause();
  }
  if (strcmp(argv[1], "send-many") == 0) {
    long n = atol(argv[3]);
    char msg[64];
    for (long i = 0; i < n; i++) {
      int len = snprintf(msg, sizeof msg, "%s %ld", argv[4], i);
      for (;;) {
        int locked = msch_lock(&ch, 10000);
        if (locked != MSCH_OK && locked != MSCH_OWNER_DIED) { fprintf(stderr, "lock: %d\n", locked); return 1; }
        int result = msch_try_send(&ch, msg, (uint32_t)len);
        int unlocked = msch_unlock(&ch);
        if (unlocked != MSCH_OK) { fprintf(stderr, "unlock: %d\n", unlocked); return 1; }
        if (result == MSCH_OK) break;
        if (result != MSCH_FULL) { fprintf(stderr, "send: %d\n", result); return 1; }
        msch_wait_space(&ch, (uint32_t)len, 10); /* outside the lock */
      }
    }
    return 0;
  }
  if (strcmp(argv[1], "send") == 0) {
    long n = atol(argv[3]);
    char msg[64];
    for (long i = 0; i < n; i++) {
      int len = i % 100 == 99 ? 0 : snprintf(msg, sizeof msg, "c %ld", i);
      for (;;) {
        int result;
        if (i % 7 == 0) {
          struct msch_reservation r;
          result = msch_reserve(&ch, (uint32_t)len + 16, &r); /* more room than used */
          if (result == MSCH_OK) {
            memcpy(r.data, msg, (size_t)len);
            result = msch_commit(&ch, &r, (uint32_t)len);
          }
        } else {
          result = msch_try_send(&ch, msg, (uint32_t)len);
        }
        if (result == MSCH_OK) break;
        if (result != MSCH_FULL) { fprintf(stderr, "send: %d\n", result); return 1; }
        msch_wait_space(&ch, (uint32_t)len + 16, 1000);
      }
    }
    msch_end(&ch);
    return 0;
  }
  char buf[65536];
  for (long i = 0;; i++) {
    long len;
    if (i % 3 == 0) {
      uint32_t n;
      int result;
      const unsigned char *m = msch_peek(&ch, &n, &result);
      if (m) {
        memcpy(buf, m, n);
        len = n;
        result = msch_release(&ch);
        if (result != MSCH_OK) len = result;
      } else {
        len = result;
      }
    } else {
      len = msch_try_receive(&ch, buf, sizeof buf);
    }
    if (len == MSCH_ENDED) return 0;
    if (len == MSCH_EMPTY) { msch_wait_data(&ch, 1000); continue; }
    if (len < 0) { fprintf(stderr, "receive: %ld\n", len); return 1; }
    if (len == 0) printf("<empty>\n");
    else printf("%.*s\n", (int)len, buf);
  }
}
