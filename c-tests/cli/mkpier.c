/* mkpier: makes, checks and holds real piers through liblooms, for the
 * `looms` command's tests. The host side of the contract is the smallest
 * that drives the library the way the runtime does.
 *
 *   mkpier save  DIR HEAP SEED FIRST COUNT   boot, fill pages [FIRST, FIRST+COUNT)
 *                                            with SEED's pattern, save with a heap
 *                                            of HEAP pages, stop
 *   mkpier dump  DIR OUT                     boot, write the loom's image pages to OUT
 *   mkpier hold  DIR READY                   boot, create READY, sleep until killed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "looms.h"

#define LOOM_BASE ((uintptr_t)0x200000000ULL)
#define LOOM_WORDS ((size_t)1 << 26)
#define PAGE_WORDS ((uint32_t)1 << u3a_page)
#define ROAD_BYTES 1368

/* ---- what the runtime defines ------------------------------------------ */

typedef struct host_config {
  uint32_t who_w;
  char *dir_c;
  char *eph_c;
  uint32_t wag_w;
  size_t wor_i;
  uint32_t tos_w;
  uint8_t rest[44];
} host_config;
_Static_assert(sizeof(host_config) == 88, "u3o_config is 88 bytes");

host_config u3o_Config;
static uint8_t road_bytes[ROAD_BYTES] __attribute__((aligned(8)));
void *u3a_Road = road_bytes;

void u3a_loom_sane(void) {}

void u3a_print_memory(FILE *fil_u, char *cap_c, uint32_t wor_w) {
  fprintf(fil_u, "%s: %u words\n", cap_c, wor_w);
}

void u3l_log(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
}

void u3m_bail(uint32_t mote) {
  fprintf(stderr, "mkpier: bail %x\n", mote);
  abort();
}

/* ---- the loom and its fault handler ------------------------------------- */

static u3_post low_p;
static u3_post hig_p;

static void on_fault(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)context;
  uintptr_t addr = (uintptr_t)info->si_addr;
  if (addr >= LOOM_BASE && addr < LOOM_BASE + LOOM_WORDS * 4) {
    u3_post off_p = (u3_post)((addr - LOOM_BASE) / 4);
    if (u3e_fault(low_p, hig_p, off_p) == u3e_flaw_good) {
      return;
    }
  }
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
}

static _Noreturn void fail(const char *what) {
  fprintf(stderr, "mkpier: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void map_loom(void) {
  void *got = mmap((void *)LOOM_BASE, LOOM_WORDS * 4, PROT_READ | PROT_WRITE,
                   MAP_ANON | MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (got == MAP_FAILED) {
    fail("mmap loom");
  }
  static uint8_t alt_stack[1 << 16];
  stack_t stack = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
  if (sigaltstack(&stack, NULL) != 0) {
    fail("sigaltstack");
  }
  struct sigaction action = {0};
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  if (sigaction(SIGSEGV, &action, NULL) != 0) {
    fail("sigaction");
  }
}

static void boot(char *dir) {
  u3o_Config.dir_c = dir;
  u3o_Config.wor_i = LOOM_WORDS;
  map_loom();
  u3e_live(c3n, dir);
  uint32_t pages = u3e_Pool.pag_w;
  low_p = 0;
  hig_p = (pages - 1) * PAGE_WORDS;
}

static uint32_t *page_words(uint32_t page) {
  return (uint32_t *)(LOOM_BASE + (uintptr_t)page * PAGE_WORDS * 4);
}

/* Word `i` of page `page` under `seed`: distinct for every page and seed. */
static uint32_t pattern(uint32_t seed, uint32_t page, uint32_t i) {
  uint32_t x = seed * 0x9e3779b9u ^ (page << 12 | i);
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  return x ^ (x >> 13);
}

/* ---- commands ------------------------------------------------------------ */

static int make_dirs(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s", dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/.urb", dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/.urb/chk", dir);
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    fail(path);
  }
  return 0;
}

static int cmd_save(char *dir, uint32_t heap, uint32_t seed, uint32_t first,
                    uint32_t count) {
  make_dirs(dir);
  boot(dir);
  for (uint32_t page = first; page < first + count; page++) {
    uint32_t *words = page_words(page);
    for (uint32_t i = 0; i < PAGE_WORDS; i++) {
      words[i] = pattern(seed, page, i);
    }
  }
  low_p = heap * PAGE_WORDS;
  u3e_save(low_p, hig_p);
  printf("%u\n", u3e_Pool.img_u.pgs_w);
  u3e_stop();
  return 0;
}

static int cmd_dump(char *dir, const char *out) {
  boot(dir);
  uint32_t pages = u3e_Pool.img_u.pgs_w;
  FILE *file = fopen(out, "wb");
  if (file == NULL) {
    fail(out);
  }
  size_t bytes = (size_t)pages * PAGE_WORDS * 4;
  if (bytes > 0 && fwrite(page_words(0), 1, bytes, file) != bytes) {
    fail(out);
  }
  if (fclose(file) != 0) {
    fail(out);
  }
  printf("%u\n", pages);
  u3e_stop();
  return 0;
}

static int cmd_hold(char *dir, const char *ready) {
  boot(dir);
  FILE *file = fopen(ready, "w");
  if (file == NULL) {
    fail(ready);
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
