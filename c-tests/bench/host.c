/* The runtime's side of liblooms, as small as a benchmark needs: the
 * configuration and road the library reads, quiet logging, and a SIGSEGV
 * handler that forwards loom faults to u3e_fault. The loom's size is set at
 * start, so that workloads can use looms of up to 16 GiB. */
#define _GNU_SOURCE
#include "host.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bench_config u3o_Config;
_Static_assert(sizeof(bench_config) == 88, "u3o_config is 88 bytes");

/* A road whose page directory is empty: no heap page counts as free. */
static uint8_t road_y[1368] __attribute__((aligned(8)));
void *u3a_Road = road_y;

void u3a_loom_sane(void) {}

void u3a_print_memory(FILE *fil_u, char *cap_c, uint32_t wor_w) {
  (void)fil_u;
  (void)cap_c;
  (void)wor_w;
}

void u3l_log(const char *format, ...) { (void)format; }

_Noreturn void u3m_bail(uint32_t mote) {
  fprintf(stderr, "bench: bail %x\n", mote);
  abort();
}

static volatile u3_post low_p;
static volatile u3_post hig_p;
static size_t loom_bytes;
static volatile uint64_t faults;

static void on_fault(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)context;
  uintptr_t addr = (uintptr_t)info->si_addr;
  if (addr >= BENCH_LOOM_BASE && addr < BENCH_LOOM_BASE + loom_bytes) {
    faults = faults + 1;
    u3_post off_p = (u3_post)((addr - BENCH_LOOM_BASE) / 4);
    if (u3e_fault(low_p, hig_p, off_p) == u3e_flaw_good) {
      return;
    }
  }
  static const char msg[] = "bench: unhandled fault\n";
  ssize_t put = write(2, msg, sizeof msg - 1);
  (void)put;
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
}

void host_start(char *dir, uint32_t pages, uint32_t flags) {
  bench_make_pier(dir);
  memset(&u3o_Config, 0, sizeof u3o_Config);
  u3o_Config.dir_c = dir;
  u3o_Config.wag_w = flags;
  u3o_Config.wor_i = (size_t)pages * BENCH_PAGE_WORDS;
  loom_bytes = (size_t)pages * BENCH_PAGE_BYTES;
  bench_map_loom(loom_bytes);

  static uint8_t alt_stack[1 << 16];
  stack_t stack = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
  if (sigaltstack(&stack, NULL) != 0) {
    bench_die("sigaltstack");
  }
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  if (sigaction(SIGSEGV, &action, NULL) != 0) {
    bench_die("sigaction");
  }
}

void host_heap(uint32_t heap_pages) {
  uint32_t pages = (uint32_t)(loom_bytes / BENCH_PAGE_BYTES);
  low_p = (u3_post)(heap_pages * BENCH_PAGE_WORDS);
  hig_p = (u3_post)((pages - BENCH_STACK_PAGES) * BENCH_PAGE_WORDS);
  u3e_ward(low_p, hig_p);
}

u3_post host_low(void) { return low_p; }
u3_post host_high(void) { return hig_p; }
uint64_t host_faults(void) { return faults; }

uint32_t host_dirty(uint32_t from, uint32_t to) {
  uint32_t count = 0;
  for (uint32_t page = from; page < to; page++) {
    count += (u3e_Pool.dit_w[page >> 5] >> (page & 31)) & 1;
  }
  return count;
}
