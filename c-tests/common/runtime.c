/* runtime: the stand-in runtime's symbols, loom, fault path and road; see
 * runtime.h. */
#define _GNU_SOURCE
#include "runtime.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <sys/mman.h>
#endif

_Static_assert(sizeof(rt_config) == 88, "u3o_config is 88 bytes");
_Static_assert(offsetof(rt_config, dir_c) == 8, "u3o_config.dir_c at 8");
_Static_assert(offsetof(rt_config, eph_c) == 16, "u3o_config.eph_c at 16");
_Static_assert(offsetof(rt_config, wag_w) == 24, "u3o_config.wag_w at 24");
_Static_assert(offsetof(rt_config, wor_i) == 32, "u3o_config.wor_i at 32");
_Static_assert(offsetof(rt_config, tos_w) == 40, "u3o_config.tos_w at 40");

/* What rt_start was given; read by the imports and the fault path. */
static rt_setup setup;
static size_t loom_bytes;

static const char *name(void) { return setup.name != NULL ? setup.name : "host"; }

/* ---- messages from a signal handler ------------------------------------------ */

/* A line built without stdio or allocation, for the fault path and bail,
 * which may run inside the SIGSEGV handler. */
typedef struct line {
  char text[256];
  size_t len;
} line;

static void put(line *l, const char *text) {
  while (*text != '\0' && l->len < sizeof l->text) {
    l->text[l->len++] = *text++;
  }
}

static void put_num(line *l, uint64_t value, unsigned base) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value % base];
    value /= base;
  } while (value != 0);
  while (n > 0 && l->len < sizeof l->text) {
    l->text[l->len++] = digits[--n];
  }
}

static void say(line *l) {
  put(l, "\n");
  ssize_t wrote = write(STDERR_FILENO, l->text, l->len);
  (void)wrote;
}

/* ---- what the runtime defines ---------------------------------------------------- */

rt_config u3o_Config;

/* The road: 1368 bytes, of which the module reads the root and the page
 * directory; the watermarks are kept too, as the runtime keeps them. */
#define ROAD_BYTES 1368
#define ROAD_CAP_P 12
#define ROAD_HAT_P 16
#define ROAD_MAT_P 20
#define ROAD_RUT_P 24
#define ROAD_HEP_LEN_W 1220
#define ROAD_HEP_PAG_P 1224
static uint8_t road_y[ROAD_BYTES] __attribute__((aligned(16)));
void *u3a_Road = road_y;

/* Tells rt_setup.on_call of a call the library made. */
static void tell_call(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void tell_call(const char *format, ...) {
  if (setup.on_call == NULL) {
    return;
  }
  char text[1100];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  setup.on_call(text);
}

void u3a_loom_sane(void) { tell_call("loom_sane"); }

void u3a_print_memory(FILE *fil_u, char *cap_c, uint32_t wor_w) {
  tell_call("print_memory %s %u", cap_c, wor_w);
  if (!setup.quiet) {
    fprintf(fil_u, "%s: %u words\r\n", cap_c, wor_w);
  }
}

/* The runtime ends each log line with "\r\n" (its terminal is raw). */
void u3l_log(const char *format, ...) {
  char text[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(text, sizeof text, format, args);
  va_end(args);
  tell_call("log %s", text);
  if (!setup.quiet) {
    fprintf(stderr, "%s\r\n", text);
  }
}

_Noreturn void u3m_bail(uint32_t mote) {
  line l = {.len = 0};
  put(&l, name());
  put(&l, ": bail ");
  put_num(&l, mote, 16);
  say(&l);
  fflush(NULL);
  if (setup.bail_exit != 0) {
    _exit(setup.bail_exit);
  }
  abort();
}

_Noreturn void rt_die(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", name(), what, strerror(errno));
  fflush(NULL);
  _exit(2);
}

#ifdef _WIN32
/* rt_die for a Windows call, with its GetLastError. */
static _Noreturn void die_windows(const char *what) {
  fprintf(stderr, "%s: %s: Windows error %lu\n", name(), what, (unsigned long)GetLastError());
  fflush(NULL);
  _exit(2);
}
#endif

/* ---- the road --------------------------------------------------------------------- */

static volatile u3_post low_p;
static volatile u3_post hig_p;

static void road_set(size_t offset, uint32_t value) { memcpy(road_y + offset, &value, 4); }

uint32_t rt_pages(void) { return (uint32_t)(loom_bytes / RT_PAGE_BYTES); }

void rt_marks(u3_post low, u3_post high) {
  low_p = low;
  hig_p = high;
  road_set(ROAD_HAT_P, low);
  road_set(ROAD_CAP_P, high);
}

void rt_road(uint32_t heap_pages, uint32_t stack) {
  road_set(ROAD_RUT_P, 0);
  road_set(ROAD_MAT_P, (uint32_t)(loom_bytes / 4 - 1));
  rt_marks(heap_pages << u3a_page, (rt_pages() - stack) << u3a_page);
}

u3_post rt_low(void) { return low_p; }
u3_post rt_high(void) { return hig_p; }

void rt_directory(u3_post pag_p, uint32_t len_w) {
  road_set(ROAD_HEP_PAG_P, pag_p);
  road_set(ROAD_HEP_LEN_W, len_w);
}

/* ---- store faults ----------------------------------------------------------------- */

volatile uint64_t rt_faults;
volatile int rt_last_flaw = -1;
/* Per loom page (u3a_pages of them), written by the handler. */
static volatile uint8_t page_faults[1u << 20];

/* rt_try's way back out of a fault the library did not handle. On
 * Windows the jump is GCC's, which restores the registers and unwinds no
 * frames: the C library's longjmp would walk the stack through the
 * exception dispatcher's frames. */
#ifdef _WIN32
static void *escape_jump[5];
#define ESCAPE_SET() __builtin_setjmp(escape_jump)
#define ESCAPE_JUMP() __builtin_longjmp(escape_jump, 1)
#else
static sigjmp_buf escape_jump;
#define ESCAPE_SET() sigsetjmp(escape_jump, 1)
#define ESCAPE_JUMP() siglongjmp(escape_jump, 1)
#endif
static volatile sig_atomic_t escape_armed;

unsigned rt_page_faults(uint32_t page) { return page_faults[page]; }

void rt_reset_faults(void) {
  rt_faults = 0;
  memset((void *)page_faults, 0, sizeof page_faults);
}

static bool in_loom(uintptr_t addr) {
  return addr >= RT_LOOM_BASE && addr - RT_LOOM_BASE < loom_bytes;
}

rt_verdict rt_fault(uintptr_t addr) {
  if (!in_loom(addr)) {
    return RT_OUTSIDE;
  }
  u3_post off_p = (u3_post)((addr - RT_LOOM_BASE) / 4);
  uint32_t page = off_p >> u3a_page;
  rt_faults = rt_faults + 1;
  if (page_faults[page] < 255) {
    page_faults[page] = (uint8_t)(page_faults[page] + 1);
  }
  u3e_flaw flaw = u3e_fault(low_p, hig_p, off_p);
  rt_last_flaw = (int)flaw;
  if (flaw == u3e_flaw_good) {
    return RT_RESUME;
  }
  return escape_armed ? RT_ESCAPE : RT_UNHANDLED;
}

_Noreturn void rt_escape(void) {
  escape_armed = 0;
  ESCAPE_JUMP();
}

void rt_unhandled(uintptr_t addr) {
  line l = {.len = 0};
  put(&l, name());
  if (!in_loom(addr)) {
    put(&l, ": a fault outside the loom at 0x");
    put_num(&l, addr, 16);
  } else {
    u3_post off_p = (u3_post)((addr - RT_LOOM_BASE) / 4);
    put(&l, ": u3e_fault(");
    put_num(&l, low_p, 10);
    put(&l, ", ");
    put_num(&l, hig_p, 10);
    put(&l, ", ");
    put_num(&l, off_p, 10);
    put(&l, ") returned ");
    put_num(&l, (uint64_t)rt_last_flaw, 10);
    put(&l, " at fault #");
    put_num(&l, rt_faults, 10);
    put(&l, " (page ");
    put_num(&l, off_p >> u3a_page, 10);
    put(&l, ")");
  }
  say(&l);
  if (setup.unhandled_exit != 0) {
    _exit(setup.unhandled_exit);
  }
#ifdef _WIN32
  /* The status of a process killed by an unhandled access violation,
   * without the debugger Windows (or wine) would start for one. */
  TerminateProcess(GetCurrentProcess(), (UINT)EXCEPTION_ACCESS_VIOLATION);
#else
  /* Blocked while the handler runs: delivered, with the default action,
   * as soon as it returns, whatever the store would do if run again. */
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
#endif
}

bool rt_try(void (*fn)(void *), void *arg) {
  if (ESCAPE_SET() != 0) {
    return false;
  }
  escape_armed = 1;
  fn(arg);
  escape_armed = 0;
  return true;
}

#ifdef _WIN32
/* Where the handler resumes a store it abandons: a frame of its own below
 * the faulting one, which jumps back into rt_try. */
static void escape_continuation(void) { rt_escape(); }

/* The runtime's vectored handler: a store (ExceptionInformation[0] == 1)
 * to the loom goes to u3e_fault; anything else is left to the next
 * handler. */
static LONG CALLBACK on_access_violation(EXCEPTION_POINTERS *info) {
  const EXCEPTION_RECORD *rec = info->ExceptionRecord;
  if (rec->ExceptionCode != EXCEPTION_ACCESS_VIOLATION || rec->NumberParameters < 2 ||
      rec->ExceptionInformation[0] != 1) {
    return EXCEPTION_CONTINUE_SEARCH;
  }
  uintptr_t addr = (uintptr_t)rec->ExceptionInformation[1];
  switch (rt_fault(addr)) {
  case RT_RESUME:
    return EXCEPTION_CONTINUE_EXECUTION;
  case RT_ESCAPE: {
    CONTEXT *ctx = info->ContextRecord;
    /* A call's alignment (16 bytes, less the return address), clear of
     * the faulting frame. */
    ctx->Rsp = ((ctx->Rsp - 256) & ~(DWORD64)15) - 8;
    ctx->Rip = (DWORD64)(uintptr_t)escape_continuation;
    return EXCEPTION_CONTINUE_EXECUTION;
  }
  case RT_OUTSIDE:
    return EXCEPTION_CONTINUE_SEARCH;
  default:
    rt_unhandled(addr);
    return EXCEPTION_CONTINUE_SEARCH;
  }
}

static void install_handler(void) {
  if (AddVectoredExceptionHandler(1, on_access_violation) == NULL) {
    die_windows("AddVectoredExceptionHandler");
  }
}
#else
static void on_segv(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)context;
  uintptr_t addr = (uintptr_t)info->si_addr;
  rt_verdict verdict = rt_fault(addr);
  if (verdict == RT_ESCAPE) {
    rt_escape();
  }
  if (verdict != RT_RESUME) {
    rt_unhandled(addr);
  }
}

/* The runtime's handler runs on its own stack: a fault near the end of the
 * C stack must still be handled. */
static void install_handler(void) {
  static uint8_t alt_stack_y[1 << 16];
  const stack_t alt = {.ss_sp = alt_stack_y, .ss_size = sizeof alt_stack_y, .ss_flags = 0};
  if (sigaltstack(&alt, NULL) != 0) {
    rt_die("sigaltstack");
  }
  struct sigaction act = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK};
  sigemptyset(&act.sa_mask);
  if (sigaction(SIGSEGV, &act, NULL) != 0) {
    rt_die("sigaction");
  }
}

#endif

/* ---- starting ---------------------------------------------------------------------- */

void rt_start(const rt_setup *given) {
  static const rt_setup defaults;
  setup = given != NULL ? *given : defaults;
  size_t words = setup.words != 0 ? setup.words : (size_t)1 << 24;
  u3o_Config.wor_i = words;
  u3o_Config.wag_w = setup.flags;
  loom_bytes = words * 4;
  void *want = (void *)(uintptr_t)RT_LOOM_BASE;
#ifdef _WIN32
  /* As the runtime maps it on Windows: one view of a section the paging
   * file backs. */
  HANDLE section = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                      (DWORD)((uint64_t)loom_bytes >> 32), (DWORD)loom_bytes, NULL);
  if (section == NULL) {
    die_windows("CreateFileMappingW loom");
  }
  void *got = MapViewOfFileEx(section, FILE_MAP_ALL_ACCESS, 0, 0, loom_bytes, want);
  if (got != want) {
    die_windows("MapViewOfFileEx loom");
  }
#else
  void *got = mmap(want, loom_bytes, PROT_READ | PROT_WRITE,
                   MAP_ANON | MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (got != want) {
    rt_die("mmap loom");
  }
#endif
  if (setup.install != NULL) {
    setup.install();
  } else {
    install_handler();
  }
  rt_road(0, 1);
  rt_directory(0, 0);
}

void rt_mkdirs(const char *dir) {
  static const char *const below[] = {"", "/.urb", "/.urb/chk"};
  for (size_t i = 0; i < sizeof below / sizeof below[0]; i++) {
    char path[8300];
    if (snprintf(path, sizeof path, "%s%s", dir, below[i]) >= (int)sizeof path) {
      errno = ENAMETOOLONG;
      rt_die(dir);
    }
#ifdef _WIN32
    int made = mkdir(path);
#else
    int made = mkdir(path, 0700);
#endif
    if (made != 0 && errno != EEXIST) {
      rt_die(path);
    }
  }
}

/* ---- loom pages and their contents --------------------------------------------------- */

uint32_t *rt_page(uint32_t page) {
  return (uint32_t *)(uintptr_t)(RT_LOOM_BASE + (uint64_t)page * RT_PAGE_BYTES);
}

bool rt_dirty(uint32_t page) { return (u3e_Pool.dit_w[page >> 5] >> (page & 31)) & 1; }

uint32_t rt_dirty_pages(uint32_t from, uint32_t to) {
  uint32_t count = 0;
  for (uint32_t page = from; page < to; page++) {
    count += rt_dirty(page);
  }
  return count;
}

uint32_t rt_pattern(uint32_t seed, uint32_t page, uint32_t i) {
  if (seed == 0) {
    return 0;
  }
  uint32_t x = seed * 0x9e3779b9u ^ (page * 0x85ebca6bu) ^ (i * 0xc2b2ae35u);
  x ^= x >> 15;
  x *= 0x2c1b3c6du;
  x ^= x >> 12;
  return x | 1; /* a seed's page is never taken for a zero page */
}

/* ThreadSanitizer records a store before the instruction runs: a store
 * that faults is recorded before the fault handler, and before whatever
 * the handler waits for (a background save's worker done with the page),
 * though it lands only after. So a build with TSan rewrites one byte of the
 * page with itself, uninstrumented, first: the fault is taken there, and
 * the stores TSan sees follow the handler, as they do on the machine. */
#ifdef __SANITIZE_THREAD__
__attribute__((no_sanitize_thread, noinline)) void rt_store_ready(void *page) {
  volatile uint8_t *byte = page;
  *byte = *byte;
}
#else
void rt_store_ready(void *page) { (void)page; }
#endif

void rt_fill(uint32_t seed, uint32_t page, uint32_t *words) {
  rt_store_ready(words);
  for (uint32_t i = 0; i < RT_PAGE_WORDS; i++) {
    words[i] = rt_pattern(seed, page, i);
  }
}

long rt_mismatch(uint32_t seed, uint32_t page, const void *bytes) {
  const uint8_t *at = bytes;
  for (uint32_t i = 0; i < RT_PAGE_WORDS; i++) {
    uint32_t word;
    memcpy(&word, at + 4 * (size_t)i, 4);
    if (word != rt_pattern(seed, page, i)) {
      return (long)i;
    }
  }
  return -1;
}

bool rt_holds(uint32_t seed, uint32_t page, const void *bytes) {
  return rt_mismatch(seed, page, bytes) < 0;
}

bool rt_zero(const void *bytes) { return rt_holds(0, 0, bytes); }
