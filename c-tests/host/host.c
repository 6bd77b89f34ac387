/* host: see host.h. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HOST_LIBSIGSEGV
#include <sigsegv.h>
#endif

/* ---- what the runtime defines ------------------------------------------- */

host_config u3o_Config;

/* The road: 1368 bytes; the module reads the fields at these offsets. */
#define ROAD_BYTES 1368
#define ROAD_CAP_P 12
#define ROAD_HAT_P 16
#define ROAD_MAT_P 20
#define ROAD_RUT_P 24
#define ROAD_HEP_LEN_W 1220
#define ROAD_HEP_PAG_P 1224
static uint8_t road_y[ROAD_BYTES] __attribute__((aligned(16)));
void *u3a_Road = road_y;

static char calls_c[1 << 16];
static size_t calls_len;

static void record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void record(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(calls_c + calls_len, sizeof calls_c - calls_len, fmt, args);
  va_end(args);
  if (n > 0) {
    calls_len += (size_t)n;
    if (calls_len >= sizeof calls_c) {
      calls_len = sizeof calls_c - 1;
    }
  }
}

const char *host_calls(void) { return calls_c; }

void host_calls_reset(void) {
  calls_len = 0;
  calls_c[0] = 0;
}

void u3a_loom_sane(void) { record("loom_sane\n"); }

void u3a_print_memory(FILE *fil_u, char *cap_c, uint32_t wor_w) {
  record("print_memory %s %u\n", cap_c, wor_w);
  fprintf(fil_u, "%s: %u words\r\n", cap_c, wor_w);
}

void u3l_log(const char *format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(line, sizeof line, format, args);
  va_end(args);
  record("log %s\n", line);
  fprintf(stderr, "%s\r\n", line);
}

_Noreturn void u3m_bail(uint32_t mote) {
  fprintf(stderr, "host: bail %x\n", mote);
  fflush(NULL);
  _exit(HOST_EXIT_BAIL);
}

/* ---- checks --------------------------------------------------------------- */

_Noreturn void host_fail(const char *file, int line, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "check failed at %s:%d: ", file, line);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputc('\n', stderr);
  fflush(NULL);
  _exit(HOST_EXIT_CHECK);
}

_Noreturn void host_die(const char *what) {
  fprintf(stderr, "host: %s: %s\n", what, strerror(errno));
  fflush(NULL);
  _exit(2);
}

/* ---- the road ------------------------------------------------------------- */

static void road_set(size_t offset, uint32_t value) {
  memcpy(road_y + offset, &value, sizeof value);
}

static volatile u3_post low_p;
static volatile u3_post hig_p;

uint32_t host_pages(void) { return (uint32_t)(u3o_Config.wor_i >> u3a_page); }

void host_marks(u3_post low, u3_post high) {
  low_p = low;
  hig_p = high;
  road_set(ROAD_HAT_P, low);
  road_set(ROAD_CAP_P, high);
}

void host_road(uint32_t heap, uint32_t stack) {
  road_set(ROAD_RUT_P, 0);
  road_set(ROAD_MAT_P, (uint32_t)(u3o_Config.wor_i - 1));
  host_marks(heap << u3a_page, (uint32_t)((host_pages() - stack) << u3a_page));
}

u3_post host_low(void) { return low_p; }
u3_post host_high(void) { return hig_p; }

void host_directory(u3_post pag_p, uint32_t len) {
  road_set(ROAD_HEP_PAG_P, pag_p);
  road_set(ROAD_HEP_LEN_W, len);
}

/* ---- pages and patterns --------------------------------------------------- */

uint8_t *host_page(uint32_t page) {
  return (uint8_t *)(uintptr_t)(HOST_LOOM_BASE + (uint64_t)page * HOST_PAGE_BYTES);
}

uint32_t *host_words(uint32_t page) { return (uint32_t *)host_page(page); }

uint32_t host_pattern(uint32_t seed, uint32_t page, uint32_t i) {
  uint32_t x = (seed + 1) * 0x9e3779b9u ^ (page * 0x85ebca6bu) ^ (i * 0xc2b2ae35u);
  x ^= x >> 15;
  x *= 0x2c1b3c6du;
  x ^= x >> 12;
  return x | 1; /* never zero: a zero page is never mistaken for a pattern */
}

void host_fill(uint32_t seed, uint32_t page) {
  uint32_t *w = host_words(page);
  for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
    w[i] = host_pattern(seed, page, i);
  }
}

void host_poke(uint32_t seed, uint32_t page) {
  host_words(page)[page % HOST_PAGE_WORDS] = host_pattern(seed, page, 0);
}

bool host_holds(uint32_t seed, uint32_t page, const uint8_t *bytes) {
  for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
    uint32_t w;
    memcpy(&w, bytes + 4 * (size_t)i, 4);
    if (w != host_pattern(seed, page, i)) {
      return false;
    }
  }
  return true;
}

bool host_zero(const uint8_t *bytes) {
  for (size_t i = 0; i < HOST_PAGE_BYTES; i++) {
    if (bytes[i]) {
      return false;
    }
  }
  return true;
}

/* ---- faults --------------------------------------------------------------- */

volatile uint64_t host_faults;
volatile int host_last_flaw = -1;
static sigjmp_buf meme_jmp;
static volatile int meme_armed;

static bool in_loom(uintptr_t addr) {
  return addr >= HOST_LOOM_BASE && addr < HOST_LOOM_BASE + u3o_Config.wor_i * 4;
}

static void say_unhandled(uintptr_t addr, int flaw) {
  char msg[96];
  int n = snprintf(msg, sizeof msg, "host: unhandled fault at 0x%lx (flaw %d)\n",
                   (unsigned long)addr, flaw);
  if (n > 0) {
    ssize_t ignored = write(2, msg, (size_t)n);
    (void)ignored;
  }
}

#ifdef HOST_LIBSIGSEGV
static void meme_continue(void *a, void *b, void *c) {
  (void)a;
  (void)b;
  (void)c;
  siglongjmp(meme_jmp, 1);
}

static int on_fault(void *address, int serious) {
  (void)serious;
  uintptr_t addr = (uintptr_t)address;
  if (!in_loom(addr)) {
    return 0;
  }
  u3_post off = (u3_post)((addr - HOST_LOOM_BASE) / 4);
  u3e_flaw flaw = u3e_fault(low_p, hig_p, off);
  host_last_flaw = (int)flaw;
  if (flaw == u3e_flaw_good) {
    host_faults++;
    return 1;
  }
  if (flaw == u3e_flaw_meme && meme_armed) {
    meme_armed = 0;
    return sigsegv_leave_handler(meme_continue, NULL, NULL, NULL);
  }
  say_unhandled(addr, (int)flaw);
  _exit(5);
}

static void install_handler(void) {
  if (sigsegv_install_handler(on_fault) < 0) {
    errno = ENOSYS;
    host_die("sigsegv_install_handler");
  }
}
#else
static void on_fault(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)context;
  uintptr_t addr = (uintptr_t)info->si_addr;
  if (in_loom(addr)) {
    u3_post off = (u3_post)((addr - HOST_LOOM_BASE) / 4);
    u3e_flaw flaw = u3e_fault(low_p, hig_p, off);
    host_last_flaw = (int)flaw;
    if (flaw == u3e_flaw_good) {
      host_faults++;
      return;
    }
    if (flaw == u3e_flaw_meme && meme_armed) {
      meme_armed = 0;
      siglongjmp(meme_jmp, 1);
    }
    say_unhandled(addr, (int)flaw);
  } else {
    say_unhandled(addr, -1);
  }
  _exit(5);
}

static void install_handler(void) {
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
#endif

bool host_try(void (*fn)(void *), void *arg) {
  if (sigsetjmp(meme_jmp, 1)) {
    return false;
  }
  meme_armed = 1;
  fn(arg);
  meme_armed = 0;
  return true;
}

/* ---- boot ----------------------------------------------------------------- */

static void make_dir(const char *dir, const char *sub) {
  char path[8192];
  snprintf(path, sizeof path, "%s%s", dir, sub);
  if (mkdir(path, 0700) != 0 && errno != EEXIST) {
    host_die(path);
  }
}

void host_start(char *dir, const host_options *opt, bool make_dirs) {
  static const host_options none;
  if (!opt) {
    opt = &none;
  }
  if (make_dirs) {
    make_dir(dir, "");
    make_dir(dir, "/.urb");
    make_dir(dir, "/.urb/chk");
  }
  u3o_Config.dir_c = dir;
  u3o_Config.wor_i = opt->words ? opt->words : (size_t)1 << 24;
  u3o_Config.wag_w = opt->flags;
  void *want = (void *)(uintptr_t)HOST_LOOM_BASE;
  void *got = mmap(want, u3o_Config.wor_i * 4, PROT_READ | PROT_WRITE,
                   MAP_ANON | MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (got != want) {
    host_die("mmap loom");
  }
  install_handler();
  host_road(0, 1);
  host_directory(0, 0);
}

c3_o host_boot(char *dir, const host_options *opt) {
  host_start(dir, opt, true);
  return u3e_live(c3n, dir);
}

/* ---- files ---------------------------------------------------------------- */

uint8_t *host_slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    host_die(path);
  }
  size_t size = (size_t)st.st_size;
  uint8_t *buf = malloc(size ? size : 1);
  size_t done = 0;
  while (done < size) {
    ssize_t got = pread(fd, buf + done, size - done, (off_t)done);
    if (got <= 0) {
      host_die(path);
    }
    done += (size_t)got;
  }
  close(fd);
  *len = size;
  return buf;
}

long long host_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

const char *host_chk(char *buf, size_t len, const char *dir, const char *name) {
  snprintf(buf, len, "%s/.urb/chk/%s", dir, name);
  return buf;
}

/* MurmurHash3_x86_32, written from its published description. */
static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

uint32_t host_murmur3(const void *data, size_t len, uint32_t seed) {
  const uint8_t *p = data;
  const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
  uint32_t h = seed;
  size_t blocks = len / 4;
  for (size_t i = 0; i < blocks; i++) {
    uint32_t k;
    memcpy(&k, p + 4 * i, 4);
    k *= c1;
    k = rotl32(k, 15);
    k *= c2;
    h ^= k;
    h = rotl32(h, 13);
    h = h * 5 + 0xe6546b64u;
  }
  const uint8_t *tail = p + 4 * blocks;
  uint32_t k = 0;
  switch (len & 3) {
  case 3:
    k ^= (uint32_t)tail[2] << 16;
    /* fall through */
  case 2:
    k ^= (uint32_t)tail[1] << 8;
    /* fall through */
  case 1:
    k ^= tail[0];
    k *= c1;
    k = rotl32(k, 15);
    k *= c2;
    h ^= k;
  }
  h ^= (uint32_t)len;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
