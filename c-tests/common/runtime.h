/* runtime: the stand-in for Urbit's runtime that every C suite links when
 * it plays the runtime around liblooms (c-tests/host, crash, track, bench,
 * cli). One copy of the runtime's side of the contract (../shared/ABI.md,
 * "Imported from the runtime" and "How the runtime drives it"), so that a
 * new mode is taught to one host, not five:
 *
 *   runtime.c  the six symbols the library imports, with the runtime's
 *              layouts; the loom mapped at the runtime's base; the SIGSEGV
 *              handler on an alternate stack that passes store faults to
 *              u3e_fault with the watermarks; the road and its page
 *              directory; page contents by seed
 *   format.c   the snapshot's files read and written with this code, never
 *              the library's: paths, whole files, MurmurHash3_x86_32, the
 *              control block's encoding
 *
 * A suite fills an rt_setup with what it needs (loom size, flags, how a
 * bail or an unhandled fault ends, whether the library's log lines are
 * printed or recorded) and calls rt_start. Link the executable with
 * -rdynamic so that liblooms resolves the imports against it; the rules of
 * common/runtime.mk do that. On Windows (mingw-w64) the loom is a view of
 * a section the paging file backs and store faults come through a
 * vectored exception handler, as the runtime has them there; the host
 * links liblooms.a statically (c-tests/windows). Hosts that test something else keep their own
 * code: c-tests/abi/minihost.c is the least a runtime needs, and the
 * LD_PRELOAD host (c-tests/preload) is built on it. */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "looms.h"

/* Where the runtime maps the loom (U3_OS_LoomBase): 64-bit Linux on any
 * CPU, or macOS and Windows. The AddressSanitizer build passes
 * 0x10007ffff000, out of ASan's shadow. */
#ifndef RT_LOOM_BASE
#if defined(__APPLE__) || defined(_WIN32)
#define RT_LOOM_BASE 0x28000000000ULL
#else
#define RT_LOOM_BASE 0x200000000ULL
#endif
#endif
#define RT_PAGE_WORDS ((uint32_t)1 << u3a_page)
#define RT_PAGE_BYTES ((size_t)RT_PAGE_WORDS * 4)

/* u3o_Config.wag_w flags the library honours. */
#define RT_VERBOSE (1u << 4)
#define RT_DRYRUN (1u << 5)
#define RT_NO_DEMAND (1u << 9)
#define RT_SWAP (1u << 12)

/* ---- what the runtime defines --------------------------------------------- */

/* The runtime's u3o_config (88 bytes): the fields the module reads at the
 * offsets it reads them, the alignment gaps spelled out. */
typedef struct rt_config {
  uint32_t who_w;     /* 0 */
  uint32_t pad0_w;    /* 4 */
  char *dir_c;        /* 8: the pier */
  char *eph_c;        /* 16: the ephemeral file; the module fills it in */
  uint32_t wag_w;     /* 24: flags */
  uint32_t pad1_w;    /* 28 */
  size_t wor_i;       /* 32: the loom's length in words */
  uint32_t tos_w;     /* 40 */
  uint8_t rest_y[44]; /* 44..88: fields the module never reads */
} rt_config;

extern rt_config u3o_Config;
extern void *u3a_Road;

/* ---- starting ------------------------------------------------------------- */

/* What a suite wants of the stand-in; zero is the default of every field. */
typedef struct rt_setup {
  /* The start of the host's own stderr lines ("NAME: bail 73706f6f");
   * default "host". */
  const char *name;
  /* The loom's length in words (u3o_Config.wor_i); default 1 << 24, 64 MiB. */
  size_t words;
  /* u3o_Config.wag_w. */
  uint32_t flags;
  /* u3l_log and u3a_print_memory print nothing. */
  bool quiet;
  /* u3m_bail exits with this status; 0: abort(), as a runtime crashes. */
  int bail_exit;
  /* A fault u3e_fault did not handle, outside rt_try, exits with this
   * status; 0: the process dies of SIGSEGV, as the runtime would. */
  int unhandled_exit;
  /* Told of every u3a_loom_sane, u3a_print_memory and u3l_log call, as
   * "loom_sane", "print_memory CAP WORDS" or "log TEXT". */
  void (*on_call)(const char *line);
  /* Installs the SIGSEGV handler (libsigsegv, say) in place of the
   * stand-in's sigaction on an alternate stack (on Windows, its vectored
   * exception handler); see rt_fault. */
  void (*install)(void);
} rt_setup;

/* Maps the loom (MAP_ANON | MAP_FIXED | MAP_PRIVATE, read-write, as the
 * runtime boots; on Windows one view of a pagefile-backed section, at the
 * same base), installs the fault handler, sets u3o_Config.wor_i and
 * wag_w, and sets the road: an empty heap, a one-page stack, no page
 * directory. Once per process. */
void rt_start(const rt_setup *setup);

/* Makes DIR, DIR/.urb and DIR/.urb/chk (those that exist are kept). */
void rt_mkdirs(const char *dir);

/* Prints "NAME: WHAT: strerror(errno)" and exits 2: the host itself failed. */
_Noreturn void rt_die(const char *what);

/* ---- the road ------------------------------------------------------------- */

/* The loom's pages. */
uint32_t rt_pages(void);

/* Sets the road: a heap of HEAP_PAGES pages from page 0 and a stack of STACK
 * pages below the loom's end; the watermarks follow. */
void rt_road(uint32_t heap_pages, uint32_t stack);

/* Sets the watermarks the fault handler passes to u3e_fault (low_p: the
 * heap's top, hig_p: the stack's bottom), and the road's hat_p and cap_p. */
void rt_marks(u3_post low_p, u3_post hig_p);
u3_post rt_low(void);
u3_post rt_high(void);

/* Points the road's page directory at loom word PAG_P, LEN_W entries; entry
 * i describes loom page i (the heap's root is page 0). */
void rt_directory(u3_post pag_p, uint32_t len_w);

/* ---- store faults --------------------------------------------------------- */

/* Calls to u3e_fault so far (a test may set it to 0), and what the last
 * one returned (-1: none yet). */
extern volatile uint64_t rt_faults;
extern volatile int rt_last_flaw;
/* Calls to u3e_fault for one loom page (at most 255), and a reset of
 * these counts and rt_faults. */
unsigned rt_page_faults(uint32_t page);
void rt_reset_faults(void);

/* Runs FN(ARG). A fault u3e_fault does not handle meanwhile abandons FN, as
 * the runtime abandons a computation that ends in %meme: rt_try returns
 * false and rt_last_flaw says why. True when FN completed. */
bool rt_try(void (*fn)(void *), void *arg);

/* The fault path, for a handler of any kind (rt_setup.install). */
typedef enum rt_verdict {
  RT_RESUME,    /* u3e_fault handled it: the store runs again */
  RT_ESCAPE,    /* not handled inside rt_try: leave the handler by rt_escape */
  RT_UNHANDLED, /* not handled: rt_unhandled */
  RT_OUTSIDE,   /* not a loom address: u3e_fault was not asked */
} rt_verdict;
/* Passes a fault at ADDR to u3e_fault with the watermarks and counts it.
 * Async-signal-safe, as the runtime's handler must be. */
rt_verdict rt_fault(uintptr_t addr);
/* Leaves the handler back into rt_try (from the handler itself, or from a
 * continuation that runs after it). */
_Noreturn void rt_escape(void);
/* Says on stderr that the fault at ADDR was not handled, then exits with
 * rt_setup.unhandled_exit or, when that is 0, makes the process die of
 * SIGSEGV when the handler returns (on Windows: ends it at once with the
 * status of an unhandled access violation, 0xc0000005). */
void rt_unhandled(uintptr_t addr);

/* ---- loom pages and their contents ---------------------------------------- */

/* Loom page PAGE. */
uint32_t *rt_page(uint32_t page);

/* Whether u3e_Pool's bitmap marks PAGE dirty; the dirty pages in [FROM, TO). */
bool rt_dirty(uint32_t page);
uint32_t rt_dirty_pages(uint32_t from, uint32_t to);

/* Word I of page PAGE under SEED: distinct for every page and seed, never
 * zero, except under seed 0, whose pages are all zero. */
uint32_t rt_pattern(uint32_t seed, uint32_t page, uint32_t i);
/* Writes SEED's page PAGE into WORDS (a loom page or a buffer). */
void rt_fill(uint32_t seed, uint32_t page, uint32_t *words);
/* Before the first store to a loom page: under ThreadSanitizer, takes the
 * store's fault (if any) in a store TSan does not see; elsewhere nothing. */
void rt_store_ready(void *page);
/* The first word of BYTES (a whole page) that is not SEED's page PAGE, or
 * -1 when it is; whether it is; whether BYTES is all zero. */
long rt_mismatch(uint32_t seed, uint32_t page, const void *bytes);
bool rt_holds(uint32_t seed, uint32_t page, const void *bytes);
bool rt_zero(const void *bytes);

/* ---- the snapshot's files (format.c) --------------------------------------- */

/* MurmurHash3_x86_32, and the seed of every checksum in the files. */
uint32_t rt_murmur3(const void *data, size_t len, uint32_t seed);
#define RT_SEED 0xcafebabeu
/* The patch version control.bin holds (U3P_VERLAT). */
#define RT_VERSION 2u

/* A page's checksum, as a control.bin line holds it. */
uint32_t rt_page_sum(const void *page);
/* The control block's checksum (has_w): over tot_w, pgs_w and LINES lines,
 * from byte 8 to the block's end. */
uint32_t rt_control_sum(const uint8_t *control, uint32_t lines);
/* Stores VALUE at AT, little-endian, as every field of the files is. */
void rt_put32(uint8_t *at, uint32_t value);

/* DIR/.urb/chk/NAME into BUF. */
const char *rt_chk(char *buf, size_t len, const char *dir, const char *name);
/* What open() needs for a file of bytes: Windows' C library translates
 * line ends in a file opened without O_BINARY. */
#ifdef _WIN32
#define RT_BINARY O_BINARY /* from <fcntl.h> */
#else
#define RT_BINARY 0
#endif

/* A whole file in malloc'd memory; NULL (errno set) when it cannot be opened. */
uint8_t *rt_slurp(const char *path, size_t *len);
/* PATH's size in bytes, or -1 when it does not exist. */
long long rt_size(const char *path);
/* Reads page PAGE of the image open at FD into WORDS; false on a short read. */
bool rt_read_page(int fd, uint32_t page, uint32_t *words);

#endif /* RUNTIME_H */
