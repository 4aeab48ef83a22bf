/* C's own layout of the seed structs and of structs that need padding, written by hand (not from
 * mapshare's header): one line per struct, "name sizeof offsetof(field)...", for the layout tests. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct st_setting { char agen[10]; unsigned char file_no; };     /* seed 002 (System V) */
struct go_ints { int64_t a, b, c; };                              /* seed 003: three Go ints */
struct file_rec { int a; char b[64]; };                           /* seed 004 (file) */
struct inner { uint8_t tag; double value; };
struct outer {
  uint8_t a; int64_t b; int32_t xs[3]; char name[5]; struct inner in2[2]; uint16_t last;
};
struct mixed { char c; int16_t s; char d; float f; uint8_t g[3]; uint64_t u; int8_t h; };
struct nested_arrays { uint16_t grid[2][3]; uint8_t flag; };

#define S(T) printf("%s %zu", #T, sizeof(struct T))
#define O(T, f) printf(" %zu", offsetof(struct T, f))
int main(void) {
  S(st_setting); O(st_setting, agen); O(st_setting, file_no); puts("");
  S(go_ints); O(go_ints, a); O(go_ints, b); O(go_ints, c); puts("");
  S(file_rec); O(file_rec, a); O(file_rec, b); puts("");
  S(inner); O(inner, tag); O(inner, value); puts("");
  S(outer); O(outer, a); O(outer, b); O(outer, xs); O(outer, name); O(outer, in2); O(outer, last); puts("");
  S(mixed); O(mixed, c); O(mixed, s); O(mixed, d); O(mixed, f); O(mixed, g); O(mixed, u); O(mixed, h); puts("");
  S(nested_arrays); O(nested_arrays, grid); O(nested_arrays, flag); puts("");
  return 0;
}
