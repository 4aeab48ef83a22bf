/* Seed 002's System V peer: a segment holding struct st_setting at a key.
 * Usage: sysv_seed002 write <key> <agen> <file_no>   (shmget IPC_CREAT 0640 size 1028, shmat, write, shmdt)
 *        sysv_seed002 read <key>                      (prints "agen=<agen> file_no=<n> nattch=<n>") */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

typedef struct st_setting {
  char agen[10];
  unsigned char file_no;
} st_setting;

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  key_t key = (key_t)strtoul(argv[2], NULL, 0);
  if (strcmp(argv[1], "write") == 0) {
    int id = shmget(key, 1028, 0640 | IPC_CREAT);
    if (id == -1) { perror("shmget"); return 1; }
    st_setting *p = (st_setting *)shmat(id, NULL, 0);
    if (p == (void *)-1) { perror("shmat"); return 1; }
    memset(p->agen, 0, sizeof p->agen); /* the seed's strncpy(agen, name, 10) */
    memcpy(p->agen, argv[3], strnlen(argv[3], sizeof p->agen));
    p->file_no = (unsigned char)atoi(argv[4]);
    printf("id=%d\n", id);
    if (shmdt(p) == -1) { perror("shmdt"); return 1; }
    return 0;
  }
  int id = shmget(key, 0, 0);
  if (id == -1) { perror("shmget"); return 1; }
  st_setting *p = (st_setting *)shmat(id, NULL, SHM_RDONLY);
  if (p == (void *)-1) { perror("shmat"); return 1; }
  struct shmid_ds ds;
  shmctl(id, IPC_STAT, &ds);
  printf("agen=%.10s file_no=%d nattch=%lu\n", p->agen, p->file_no, (unsigned long)ds.shm_nattch);
  shmdt(p);
  return 0;
}
