/* The test host: see host.h. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(host_config) == 88, "u3o_config is 88 bytes");

/* ---- what the runtime defines ------------------------------------------ */

host_config u3o_Config;
static uint8_t road_y[HOST_ROAD_BYTES] __attribute__((aligned(8)));
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
  fprintf(stderr, "host: bail %x\n", mote);
  fflush(NULL);
  _exit(3);
}

/* ---- the loom ----------------------------------------------------------- */

static size_t loom_bytes;
static volatile u3_post low_p;
static volatile u3_post hig_p;

/* Fault accounting, written by the handler: plain stores only. */
static volatile uint64_t faults;
static uint8_t page_faults[1u << 20];

/* A store made through host_try_store, and what its fault said. */
static sigjmp_buf probe_jump;
static volatile sig_atomic_t probing;
static volatile int probe_flaw;

_Noreturn void host_die(const char *what) {
  fprintf(stderr, "host: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* Appends VALUE in decimal to BUF at *AT. */
static void put_dec(char *buf, size_t *at, uint64_t value) {
  char digits[24];
  size_t len = 0;
  do {
    digits[len++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (len > 0) {
    buf[(*at)++] = digits[--len];
  }
}

static void put_str(char *buf, size_t *at, const char *text) {
  while (*text != '\0') {
    buf[(*at)++] = *text++;
  }
}

/* A fault u3e_fault did not handle, outside host_try_store: say so from
 * inside the handler (async-signal-safe) and stop. */
static _Noreturn void unhandled(u3_post off_p, int flaw) {
  char buf[256];
  size_t at = 0;
  put_str(buf, &at, "host: u3e_fault(");
  put_dec(buf, &at, low_p);
  put_str(buf, &at, ", ");
  put_dec(buf, &at, hig_p);
  put_str(buf, &at, ", ");
  put_dec(buf, &at, off_p);
  put_str(buf, &at, ") returned ");
  put_dec(buf, &at, (uint64_t)flaw);
  put_str(buf, &at, " at fault #");
  put_dec(buf, &at, faults);
  put_str(buf, &at, " (page ");
  put_dec(buf, &at, off_p >> u3a_page);
  put_str(buf, &at, ")\n");
  ssize_t wrote = write(2, buf, at);
  (void)wrote;
  _exit(3);
}

static void on_fault(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)context;
  uintptr_t addr = (uintptr_t)info->si_addr;
  if (addr < HOST_LOOM_BASE || addr >= HOST_LOOM_BASE + loom_bytes) {
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return;
  }
  u3_post off_p = (u3_post)((addr - HOST_LOOM_BASE) / 4);
  uint32_t page = off_p >> u3a_page;
  faults = faults + 1;
  if (page_faults[page] < 255) {
    page_faults[page]++;
  }
  int flaw = (int)u3e_fault(low_p, hig_p, off_p);
  if (flaw == (int)u3e_flaw_good) {
    return;
  }
  if (probing) {
    probe_flaw = flaw;
    siglongjmp(probe_jump, 1);
  }
  unhandled(off_p, flaw);
}

static void make_dir(const char *dir, const char *sub) {
  char path[4096];
  snprintf(path, sizeof path, "%s%s", dir, sub);
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    host_die(path);
  }
}

void host_start(char *dir, size_t words, uint32_t flags) {
  make_dir(dir, "");
  make_dir(dir, "/.urb");
  make_dir(dir, "/.urb/chk");
  u3o_Config.dir_c = dir;
  u3o_Config.wor_i = words;
  u3o_Config.wag_w = flags;
  loom_bytes = words * 4;
  void *got = mmap((void *)HOST_LOOM_BASE, loom_bytes, PROT_READ | PROT_WRITE,
                   MAP_ANON | MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (got == MAP_FAILED) {
    host_die("mmap loom");
  }
  static uint8_t alt_stack[1 << 16];
  stack_t stack = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
  if (sigaltstack(&stack, NULL) != 0) {
    host_die("sigaltstack");
  }
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  if (sigaction(SIGSEGV, &action, NULL) != 0) {
    host_die("sigaction");
  }
}

uint32_t host_pages(void) { return (uint32_t)(loom_bytes / HOST_PAGE_BYTES); }

void host_marks(u3_post low, u3_post high) {
  low_p = low;
  hig_p = high;
}

static void road_word(size_t offset, uint32_t value) { memcpy(road_y + offset, &value, 4); }

void host_road(u3_post rut_p, u3_post hat_p, u3_post cap_p, uint32_t len_w, u3_post pag_p) {
  road_word(12, cap_p);
  road_word(16, hat_p);
  road_word(20, cap_p);
  road_word(24, rut_p);
  road_word(1220, len_w);
  road_word(1224, pag_p);
}

uint32_t *host_page(uint32_t page) {
  return (uint32_t *)(HOST_LOOM_BASE + (uintptr_t)page * HOST_PAGE_BYTES);
}

int host_dirty(uint32_t page) { return (u3e_Pool.dit_w[page >> 5] >> (page & 31)) & 1; }

uint64_t host_faults(void) { return faults; }

unsigned host_page_faults(uint32_t page) { return page_faults[page]; }

void host_reset_faults(void) {
  faults = 0;
  memset(page_faults, 0, sizeof page_faults);
}

int host_try_store(volatile uint32_t *word, uint32_t value) {
  uint64_t before = faults;
  if (sigsetjmp(probe_jump, 1) == 0) {
    probing = 1;
    *word = value;
    probing = 0;
    return faults == before ? HOST_NO_FAULT : (int)u3e_flaw_good;
  }
  probing = 0;
  return probe_flaw;
}

uint32_t host_mix(uint32_t seed, uint32_t page, uint32_t i) {
  uint64_t x = ((uint64_t)seed << 44) ^ ((uint64_t)page << 12) ^ i;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return (uint32_t)x;
}

double host_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}
