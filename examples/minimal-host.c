/* A minimal runtime host for liblooms: a starting point for a runtime.
 *
 * liblooms is the runtime's snapshot module (the events.c of Urbit's
 * runtime). A host does three things, in the order of this file:
 *
 *  1. It defines the six symbols the library imports (u3o_Config, u3a_Road,
 *     u3a_loom_sane, u3a_print_memory, u3l_log, u3m_bail) and exports them:
 *     link with -rdynamic. A real runtime already has all six.
 *  2. It maps the loom at its fixed base and sends every SIGSEGV inside it
 *     to u3e_fault: that is how the library learns which pages were written.
 *  3. It boots the pier with u3e_live, stores into the loom, snapshots with
 *     u3e_save, waits for the snapshot to be on disk with looms_save_wait
 *     (an extension: see README.md), and ends with u3e_stop.
 *
 * This one keeps a counter in the loom's first word: every run adds one and
 * saves, so the count survives restarts.
 *
 *   cc -std=c11 $(pkg-config --cflags looms) minimal-host.c -rdynamic \
 *      $(pkg-config --libs looms) -Wl,-rpath,$(pkg-config --variable=libdir looms) \
 *      -o minimal-host
 *   ./minimal-host PIER       prints "new pier: counter 1", then 2, 3, ...
 *   ./minimal-host -v PIER    the same in verbose mode (the runtime's -v):
 *                             the library says what it does on stderr
 *
 * Exits 0 on success, 1 when the counter did not come back, 2 when the host
 * cannot run (it says why). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <looms.h>

/* Where the runtime maps the loom on x86-64 Linux, and a 64 MiB loom
 * (the runtime's default is 2 GiB; any power of two up to 16 GiB works). */
#define LOOM_BASE ((uintptr_t)0x200000000ULL)
#define LOOM_WORDS ((size_t)1 << 24)
#define PAGE_WORDS ((uint32_t)1 << u3a_page) /* 4096 words: 16 KiB pages */
#define LOOM_PAGES ((uint32_t)(LOOM_WORDS / PAGE_WORDS))
#define FLAG_VERBOSE (1u << 4)               /* u3o_verbose in wag_w */

/* ---- 1. what the runtime defines and the library imports ---------------- */

/* The runtime's u3o_config: 88 bytes, of which the library reads these. */
struct host_config {
  uint32_t who_w;
  char *dir_c;      /* the pier */
  char *eph_c;      /* the swap file; the library fills it in when null */
  uint32_t wag_w;   /* flags: u3o_verbose 1<<4, u3o_no_demand 1<<9, ... */
  size_t wor_i;     /* the loom's length in words */
  uint32_t tos_w;
  uint8_t rest_y[44];
};
struct host_config u3o_Config;

/* The runtime's current road (u3R), 1368 bytes. All zero: one empty home
 * road, nothing allocated. A runtime points it at its real road. */
static uint8_t road_y[1368] __attribute__((aligned(8)));
void *u3a_Road = road_y;

/* Called before each save; the runtime checks its heap here. */
void u3a_loom_sane(void) {}

/* Verbose mode's size lines. */
void u3a_print_memory(FILE *fil_u, char *cap_c, uint32_t wor_w) {
  fprintf(fil_u, "%s: %u words\r\n", cap_c, wor_w);
}

/* The library's messages ("loom: ..."); the runtime ends each line. */
void u3l_log(const char *format, ...) {
  va_list args;
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputs("\r\n", stderr);
}

/* Where the library's fatal errors end; the runtime unwinds to its event
 * loop or exits. */
_Noreturn void u3m_bail(uint32_t mote) {
  fprintf(stderr, "minimal-host: bail %x\n", mote);
  abort();
}

/* ---- 2. the loom and its fault handler ----------------------------------- */

/* The heap's top and the stack's bottom, as word offsets: u3e_fault needs
 * them to tell a store between them from one that met the guard page. */
static u3_post low_p, hig_p;

static _Noreturn void die(const char *what) {
  fprintf(stderr, "minimal-host: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void on_fault(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)context;
  uintptr_t addr = (uintptr_t)info->si_addr;
  if (addr >= LOOM_BASE && addr < LOOM_BASE + LOOM_WORDS * 4 &&
      u3e_fault(low_p, hig_p, (u3_post)((addr - LOOM_BASE) / 4)) == u3e_flaw_good) {
    return; /* the library made the page writable: the store runs again */
  }
  signal(SIGSEGV, SIG_DFL); /* a real crash, or the heap met the stack */
  raise(SIGSEGV);
}

static void start(char *pier, int verbose) {
  if (mmap((void *)LOOM_BASE, LOOM_WORDS * 4, PROT_READ | PROT_WRITE,
           MAP_ANON | MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
    die("mmap loom");
  }
  static uint8_t alt_stack[1 << 16];
  stack_t stack = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  if (sigaltstack(&stack, NULL) != 0 || sigaction(SIGSEGV, &action, NULL) != 0) {
    die("signal handler");
  }
  /* The library keeps its files in PIER/.urb/chk; the runtime creates it. */
  const char *subs[] = {"", "/.urb", "/.urb/chk"};
  char path[4096];
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s%s", pier, subs[i]);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
      die(path);
    }
  }
  u3o_Config.dir_c = pier;
  u3o_Config.wor_i = LOOM_WORDS;
  u3o_Config.wag_w = verbose ? FLAG_VERBOSE : 0;
}

/* ---- 3. boot, store, save, stop ------------------------------------------ */

int main(int argc, char **argv) {
  int verbose = argc == 3 && strcmp(argv[1], "-v") == 0;
  if (argc != 2 + verbose) {
    fprintf(stderr, "usage: minimal-host [-v] PIER\n");
    return 2;
  }
  char *pier = argv[1 + verbose];
  start(pier, verbose);

  /* Boot: c3y for a new pier, c3n when the snapshot was loaded. */
  c3_o nuu_o = u3e_live(c3n, pier);

  /* The heap is page 0, the stack the loom's last page. */
  low_p = PAGE_WORDS;
  hig_p = (LOOM_PAGES - 1) * PAGE_WORDS;

  uint32_t *counter = (uint32_t *)LOOM_BASE;
  if (nuu_o == c3n && *counter == 0) {
    fprintf(stderr, "minimal-host: %s: the counter did not come back\n", pier);
    return 1;
  }
  *counter += 1; /* the first store to a saved page faults into u3e_fault */

  /* Snapshot everything below low_p and from hig_p up. */
  u3e_save(low_p, hig_p);
  /* 0: on disk (with LOOMS_SAVE=background, u3e_save returns before). */
  if (looms_save_wait() != 0) {
    fprintf(stderr, "minimal-host: %s: the save wrote nothing (see the loom: lines)\n", pier);
    return 2;
  }
  printf("%s pier: counter %u\n", nuu_o == c3y ? "new" : "existing", *counter);
  u3e_stop();
  return 0;
}
