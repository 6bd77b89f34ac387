/* mkpier: makes, checks and holds real piers through liblooms, for the
 * `looms` command's tests, on the stand-in runtime of c-tests/common.
 *
 *   mkpier save  DIR HEAP SEED FIRST COUNT   boot, fill pages [FIRST, FIRST+COUNT)
 *                                            with SEED's pattern (rt_fill), save with
 *                                            a heap of HEAP pages, stop
 *   mkpier dump  DIR OUT                     boot, write the loom's image pages to OUT
 *   mkpier hold  DIR READY                   boot, create READY, sleep until killed
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

/* A 256 MiB loom. */
#define LOOM_WORDS ((size_t)1 << 26)

/* Boots DIR (which must have .urb/chk) the way the runtime does: the loom
 * mapped, the handler installed, u3e_live; the heap empty, the stack the
 * loom's last page. A bail aborts, as it aborts the runtime. */
static void boot(char *dir) {
  rt_setup setup = {.name = "mkpier", .words = LOOM_WORDS};
  rt_start(&setup);
  u3o_Config.dir_c = dir;
  u3e_live(c3n, dir);
}

/* ---- commands ------------------------------------------------------------ */

static int cmd_save(char *dir, uint32_t heap, uint32_t seed, uint32_t first,
                    uint32_t count) {
  rt_mkdirs(dir);
  boot(dir);
  for (uint32_t page = first; page < first + count; page++) {
    rt_fill(seed, page, rt_page(page));
  }
  rt_road(heap, 1);
  u3e_save(rt_low(), rt_high());
  printf("%u\n", u3e_Pool.img_u.pgs_w);
  u3e_stop();
  return 0;
}

static int cmd_dump(char *dir, const char *out) {
  boot(dir);
  uint32_t pages = u3e_Pool.img_u.pgs_w;
  FILE *file = fopen(out, "wb");
  if (file == NULL) {
    rt_die(out);
  }
  size_t bytes = (size_t)pages * RT_PAGE_BYTES;
  if (bytes > 0 && fwrite(rt_page(0), 1, bytes, file) != bytes) {
    rt_die(out);
  }
  if (fclose(file) != 0) {
    rt_die(out);
  }
  printf("%u\n", pages);
  u3e_stop();
  return 0;
}

static int cmd_hold(char *dir, const char *ready) {
  boot(dir);
  FILE *file = fopen(ready, "w");
  if (file == NULL) {
    rt_die(ready);
  }
  fprintf(file, "%d\n", (int)getpid());
  fclose(file);
  for (;;) {
    pause();
  }
  return 0;
}

static uint32_t number(const char *text) {
  return (uint32_t)strtoul(text, NULL, 10);
}

int main(int argc, char **argv) {
  if (argc == 7 && strcmp(argv[1], "save") == 0) {
    return cmd_save(argv[2], number(argv[3]), number(argv[4]), number(argv[5]),
                    number(argv[6]));
  }
  if (argc == 4 && strcmp(argv[1], "dump") == 0) {
    return cmd_dump(argv[2], argv[3]);
  }
  if (argc == 4 && strcmp(argv[1], "hold") == 0) {
    return cmd_hold(argv[2], argv[3]);
  }
  fprintf(stderr, "usage: mkpier save DIR HEAP SEED FIRST COUNT | dump DIR OUT"
                  " | hold DIR READY\n");
  return 2;
}
