/* host: the scenarios' and the demo's host of liblooms, on the stand-in
 * runtime of c-tests/common (the imports, the loom, the fault handler on an
 * alternate stack, the road, page contents, the file format).
 *
 * What this host adds: every host call the library makes is recorded, in
 * order, so tests can compare the sequence with the reference's; failed
 * checks and unhandled faults end the step with their own exit statuses;
 * and, built with -DHOST_LIBSIGSEGV, the fault handler is installed through
 * libsigsegv's sigsegv_install_handler, as the runtime installs it. */
#ifndef HOST_H
#define HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runtime.h"

/* The stand-in runtime (c-tests/common/runtime.h) under the names the
 * scenarios and the demo use. */
#define HOST_PAGE_WORDS RT_PAGE_WORDS
#define HOST_PAGE_BYTES RT_PAGE_BYTES
#define HOST_VERBOSE RT_VERBOSE
#define HOST_DRYRUN RT_DRYRUN
#define HOST_NO_DEMAND RT_NO_DEMAND
#define HOST_SWAP RT_SWAP
#define host_pages rt_pages
#define host_road rt_road
#define host_low rt_low
#define host_high rt_high
#define host_marks rt_marks
#define host_directory rt_directory
#define host_words rt_page
#define host_pattern rt_pattern
#define host_holds rt_holds
#define host_zero rt_zero
#define host_die rt_die
/* Store faults u3e_fault was asked about, and the last flaw it returned. */
#define host_faults rt_faults
#define host_last_flaw rt_last_flaw

/* u3m_bail exits with this status after printing "host: bail <mote>". */
#define HOST_EXIT_BAIL 3
/* A failed check exits with this status. */
#define HOST_EXIT_CHECK 4
/* A store fault u3e_fault did not handle exits with this status. */
#define HOST_EXIT_UNHANDLED 5

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

/* host_boot, then a heap of HEAP pages and a stack of STACK, the guard
 * between them (u3e_ward). */
void host_boot_road(char *dir, const host_options *opt, uint32_t heap, uint32_t stack);

/* Options from the environment of a step: SCN_FLAGS (comma-separated:
 * verbose, dryrun, no_demand, swap) and SCN_WORDS (loom words). */
void host_options_from_env(host_options *opt);

/* Argument I of a step as a number; a missing one fails the step. */
uint32_t host_arg(int argc, char **argv, int i);

/* DIR's image.bin holds exactly PAGES pages; page p holds SEED_OF(p)'s
 * pattern, every byte, or zeros where SEED_OF(p) is UINT32_MAX. */
void host_check_image(const char *dir, uint32_t pages, uint32_t (*seed_of)(uint32_t));

/* A step of a program of steps ("PROGRAM STEP DIR [ARGS...]"). */
typedef struct host_step {
  const char *name;
  void (*run)(char *dir, int argc, char **argv);
} host_step;

/* Reads the options from the environment into OPT, runs the step argv[1]
 * of STEPS on the pier argv[2]; returns main's status (2: usage). */
int host_run_step(const char *program, const host_step *steps, size_t count, host_options *opt,
                  int argc, char **argv);

/* Loom page PAGE as bytes. */
static inline uint8_t *host_page(uint32_t page) { return (uint8_t *)rt_page(page); }

/* Fills page PAGE with SEED's pattern (every word), or one word. Calls,
 * not inline stores: a test reads host_faults right after them. */
void host_fill(uint32_t seed, uint32_t page);
void host_poke(uint32_t seed, uint32_t page);

/* Runs FN(ARG); returns true if it completed, false if a fault the library
 * did not handle (meme) ended it: the handler jumps back here, as the
 * runtime does with %meme. */
#define host_try rt_try

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
/* mingw-w64's printf (__USE_MINGW_ANSI_STDIO) is GNU's, not the one GCC
 * checks formats against there by default. */
#ifdef __MINGW32__
#define HOST_PRINTF gnu_printf
#else
#define HOST_PRINTF printf
#endif
_Noreturn void host_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(HOST_PRINTF, 3, 4)));

/* ---- the file format, read and written independently of the library ---- */

#define host_murmur3 rt_murmur3
#define HOST_SEED RT_SEED
#define host_slurp rt_slurp
#define host_size rt_size
#define host_chk rt_chk

/* Mappings this process has (lines of /proc/self/maps). Linux only. */
long host_map_count(void);
/* Takes the process's mappings up to vm.max_map_count (one-page mappings
 * far from the loom) and gives SPARE back; returns how many it kept. */
long host_exhaust_mappings(long spare);

#endif /* HOST_H */
