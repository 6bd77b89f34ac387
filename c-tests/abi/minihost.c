/* minihost: see minihost.h. */
#define _GNU_SOURCE
#include "minihost.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* ---- what the runtime defines ------------------------------------------ */

minihost_config u3o_Config;
static uint8_t road_y[MINIHOST_ROAD_BYTES] __attribute__((aligned(8)));
void *u3a_Road = road_y;

void u3a_loom_sane(void) {}

void u3a_print_memory(FILE *fil_u, char *cap_c, uint32_t wor_w) {
  fprintf(fil_u, "%s: %u words\r\n", cap_c, wor_w);
}

void u3l_log(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputs("\r\n", stderr);
}

_Noreturn void u3m_bail(uint32_t mote) {
  fprintf(stderr, "minihost: bail %x\n", mote);
  abort();
}

/* ---- the loom and its fault handler ------------------------------------- */

static u3_post low_p;
static u3_post hig_p;

_Noreturn void minihost_die(const char *what) {
  fprintf(stderr, "minihost: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void on_fault(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)context;
  uintptr_t addr = (uintptr_t)info->si_addr;
  uintptr_t end = MINIHOST_LOOM_BASE + MINIHOST_LOOM_WORDS * 4;
  if (addr >= MINIHOST_LOOM_BASE && addr < end) {
    u3_post off_p = (u3_post)((addr - MINIHOST_LOOM_BASE) / 4);
    if (u3e_fault(low_p, hig_p, off_p) == u3e_flaw_good) {
      return;
    }
  }
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
}

static void map_loom(void) {
  void *got = mmap((void *)MINIHOST_LOOM_BASE, MINIHOST_LOOM_WORDS * 4, PROT_READ | PROT_WRITE,
                   MAP_ANON | MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (got == MAP_FAILED) {
    minihost_die("mmap loom");
  }
}

static void install_handler(void) {
  static uint8_t alt_stack[1 << 16];
  stack_t stack = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
  if (sigaltstack(&stack, NULL) != 0) {
    minihost_die("sigaltstack");
  }
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  if (sigaction(SIGSEGV, &action, NULL) != 0) {
    minihost_die("sigaction");
  }
}

static void make_dir(const char *dir, const char *sub) {
  char path[4096];
  snprintf(path, sizeof path, "%s%s", dir, sub);
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    minihost_die(path);
  }
}

void minihost_start(char *dir) {
  make_dir(dir, "");
  make_dir(dir, "/.urb");
  make_dir(dir, "/.urb/chk");
  u3o_Config.dir_c = dir;
  u3o_Config.wor_i = MINIHOST_LOOM_WORDS;
  map_loom();
  install_handler();
}

void minihost_watermarks(u3_post low, u3_post high) {
  low_p = low;
  hig_p = high;
}

uint32_t *minihost_page(uint32_t page) {
  return (uint32_t *)(MINIHOST_LOOM_BASE + (uintptr_t)page * MINIHOST_PAGE_BYTES);
}

uint32_t minihost_pattern(uint32_t seed, uint32_t page, uint32_t i) {
  uint32_t x = (seed * 0x9e3779b9u) ^ (page << 12 | i);
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  return x ^ (x >> 13);
}
