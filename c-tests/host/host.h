/* host: a stand-in for the runtime around liblooms, for tests and the demo.
 *
 * It defines the six symbols the library imports with the runtime's
 * layouts, maps the loom at the base the runtime uses, and forwards store
 * faults to u3e_fault from a SIGSEGV handler on an alternate stack (or, built
 * with -DHOST_LIBSIGSEGV, through libsigsegv as the runtime does). It keeps
 * its own road: a heap growing up from page 0 and a stack growing down from
 * the loom's end, whose watermarks it passes to the library.
 *
 * Every host call the library makes is recorded, in order, so tests can
 * compare the sequence with the reference's. */
#ifndef HOST_H
#define HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "looms.h"

#ifndef HOST_LOOM_BASE
#define HOST_LOOM_BASE 0x200000000ULL
#endif
#define HOST_PAGE_WORDS ((uint32_t)1 << u3a_page)
#define HOST_PAGE_BYTES ((size_t)HOST_PAGE_WORDS * 4)

/* u3o_Config flags the library honours. */
#define HOST_VERBOSE (1u << 4)
#define HOST_DRYRUN (1u << 5)
#define HOST_NO_DEMAND (1u << 9)
#define HOST_SWAP (1u << 12)

/* u3m_bail exits with this status after printing "host: bail <mote>". */
#define HOST_EXIT_BAIL 3
/* A failed check exits with this status. */
#define HOST_EXIT_CHECK 4

/* The runtime's u3o_config (88 bytes), the fields the module reads. */
typedef struct host_config {
  uint32_t who_w;
  char *dir_c;
  char *eph_c;
  uint32_t wag_w;
  size_t wor_i;
  uint32_t tos_w;
  uint8_t rest_y[44];
} host_config;

extern host_config u3o_Config;
extern void *u3a_Road;

/* Options a test sets before host_boot. */
typedef struct host_options {
  size_t words;   /* loom length in words; 0: 1 << 24 (64 MiB) */
  uint32_t flags; /* u3o_Config.wag_w */
} host_options;

/* Maps the loom, installs the fault handler, creates DIR/.urb/chk (unless
 * NO_DIRS), sets u3o_Config. Does not call u3e_live. */
void host_start(char *dir, const host_options *opt, bool make_dirs);

/* host_start, then u3e_live(c3n, dir); returns what u3e_live returned. */
c3_o host_boot(char *dir, const host_options *opt);

/* The loom's pages. */
uint32_t host_pages(void);

/* Sets the road: heap pages [0, heap) and stack pages [pages - stack, pages),
 * and the watermarks the fault handler passes on. */
void host_road(uint32_t heap, uint32_t stack);
/* The current watermarks (low_p: top of the heap, hig_p: bottom of the stack). */
u3_post host_low(void);
u3_post host_high(void);
/* Sets the watermarks directly. */
void host_marks(u3_post low_p, u3_post hig_p);
/* Points the road's page directory at loom word PAG_P with LEN entries
 * describing pages from rut_p (0). */
void host_directory(u3_post pag_p, uint32_t len);

/* Loom page PAGE as bytes / words. */
uint8_t *host_page(uint32_t page);
uint32_t *host_words(uint32_t page);

/* Fills page PAGE with SEED's pattern (every word), or one word. */
void host_fill(uint32_t seed, uint32_t page);
void host_poke(uint32_t seed, uint32_t page);
/* Whether page PAGE holds SEED's pattern; whether it is all zero. */
bool host_holds(uint32_t seed, uint32_t page, const uint8_t *bytes);
bool host_zero(const uint8_t *bytes);
/* Word I of SEED's pattern for page PAGE. */
uint32_t host_pattern(uint32_t seed, uint32_t page, uint32_t i);

/* Store faults handled (u3e_fault returned good), and the last flaw. */
extern volatile uint64_t host_faults;
extern volatile int host_last_flaw;
/* Runs FN(ARG); returns true if it completed, false if a fault ended in
 * meme (the handler jumps back here, as the runtime does with %meme). */
bool host_try(void (*fn)(void *), void *arg);

/* The host calls the library made, one per line ("log <text>",
 * "print_memory <cap> <words>", "loom_sane"), since the last reset. */
const char *host_calls(void);
void host_calls_reset(void);

/* Checks: print "check failed: <why>" and exit HOST_EXIT_CHECK. */
#define host_check(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      host_fail(__FILE__, __LINE__, __VA_ARGS__);                              \
    }                                                                          \
  } while (0)
_Noreturn void host_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void host_die(const char *what);

/* ---- the file format, read and written independently of the library ---- */

uint32_t host_murmur3(const void *data, size_t len, uint32_t seed);
#define HOST_SEED 0xcafebabeu

/* Reads a whole file into malloc'd memory; NULL (errno set) if missing. */
uint8_t *host_slurp(const char *path, size_t *len);
/* Size of PATH in bytes, or -1 if it does not exist. */
long long host_size(const char *path);
/* DIR/.urb/chk/NAME into BUF. */
const char *host_chk(char *buf, size_t len, const char *dir, const char *name);

#endif /* HOST_H */
