/* host: see host.h. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef _WIN32
#include <sys/mman.h>
#endif

#ifdef HOST_LIBSIGSEGV
#include <sigsegv.h>
#endif

/* ---- the calls the library made ------------------------------------------- */

static char calls_c[1 << 16];
static size_t calls_len;

static void record(const char *line) {
  int n = snprintf(calls_c + calls_len, sizeof calls_c - calls_len, "%s\n", line);
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

/* ---- loom pages ------------------------------------------------------------ */

void host_fill(uint32_t seed, uint32_t page) { rt_fill(seed, page, rt_page(page)); }

void host_poke(uint32_t seed, uint32_t page) {
  rt_store_ready(rt_page(page));
  rt_page(page)[page % HOST_PAGE_WORDS] = rt_pattern(seed, page, 0);
}

/* ---- the handler through libsigsegv ---------------------------------------- */

#ifdef HOST_LIBSIGSEGV
static void escape(void *a, void *b, void *c) {
  (void)a;
  (void)b;
  (void)c;
  rt_escape();
}

/* libsigsegv's handler: 1 resumes the store, 0 leaves the fault to the
 * default action; an escape must leave the handler through libsigsegv. */
static int on_fault(void *address, int serious) {
  (void)serious;
  uintptr_t addr = (uintptr_t)address;
  switch (rt_fault(addr)) {
  case RT_RESUME:
    return 1;
  case RT_ESCAPE:
    return sigsegv_leave_handler(escape, NULL, NULL, NULL);
  case RT_OUTSIDE:
    return 0;
  default:
    rt_unhandled(addr);
    return 0;
  }
}

static void install_libsigsegv(void) {
  if (sigsegv_install_handler(on_fault) < 0) {
    errno = ENOSYS;
    rt_die("sigsegv_install_handler");
  }
}
#endif

/* ---- boot ----------------------------------------------------------------- */

void host_start(char *dir, const host_options *opt, bool make_dirs) {
  static const host_options none;
  if (!opt) {
    opt = &none;
  }
  rt_setup setup = {
      .name = "host",
      .words = opt->words,
      .flags = opt->flags,
      .bail_exit = HOST_EXIT_BAIL,
      .unhandled_exit = HOST_EXIT_UNHANDLED,
      .on_call = record,
#ifdef HOST_LIBSIGSEGV
      .install = install_libsigsegv,
#endif
  };
  rt_start(&setup);
  if (make_dirs) {
    rt_mkdirs(dir);
  }
  u3o_Config.dir_c = dir;
}

c3_o host_boot(char *dir, const host_options *opt) {
  host_start(dir, opt, true);
  return u3e_live(c3n, dir);
}

void host_boot_road(char *dir, const host_options *opt, uint32_t heap, uint32_t stack) {
  host_boot(dir, opt);
  host_road(heap, stack);
  u3e_ward(host_low(), host_high());
}

void host_options_from_env(host_options *opt) {
  const char *flags = getenv("SCN_FLAGS");
  if (flags) {
    if (strstr(flags, "verbose")) opt->flags |= HOST_VERBOSE;
    if (strstr(flags, "dryrun")) opt->flags |= HOST_DRYRUN;
    if (strstr(flags, "no_demand")) opt->flags |= HOST_NO_DEMAND;
    if (strstr(flags, "swap")) opt->flags |= HOST_SWAP;
  }
  const char *words = getenv("SCN_WORDS");
  if (words) opt->words = strtoull(words, NULL, 0);
}

void host_check_image(const char *dir, uint32_t pages, uint32_t (*seed_of)(uint32_t)) {
  char path[8400];
  size_t len;
  uint8_t *img = host_slurp(host_chk(path, sizeof path, dir, "image.bin"), &len);
  host_check(img != NULL, "image.bin missing");
  host_check(len == (size_t)pages * HOST_PAGE_BYTES, "image.bin has %zu bytes, expected %zu",
             len, (size_t)pages * HOST_PAGE_BYTES);
  for (uint32_t p = 0; p < pages; p++) {
    uint32_t seed = seed_of(p);
    const uint8_t *bytes = img + (size_t)p * HOST_PAGE_BYTES;
    if (seed == UINT32_MAX) {
      host_check(host_zero(bytes), "image.bin page %u is not zero", p);
    } else {
      host_check(host_holds(seed, p, bytes), "image.bin page %u does not hold seed %u", p, seed);
    }
  }
  free(img);
}

int host_run_step(const char *program, const host_step *steps, size_t count, host_options *opt,
                  int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 3) {
    fprintf(stderr, "usage: %s STEP DIR [ARGS...]\n", program);
    return 2;
  }
  host_options_from_env(opt);
  for (size_t i = 0; i < count; i++) {
    if (strcmp(steps[i].name, argv[1]) == 0) {
      steps[i].run(argv[2], argc, argv);
      return 0;
    }
  }
  fprintf(stderr, "%s: unknown step %s\n", program, argv[1]);
  return 2;
}

uint32_t host_arg(int argc, char **argv, int i) {
  host_check(i < argc, "missing argument %d", i);
  return (uint32_t)strtoul(argv[i], NULL, 0);
}

/* ---- the mapping limit ----------------------------------------------------------- */

#ifndef _WIN32

/* Mappings this process has (lines of /proc/self/maps). */
long host_map_count(void) {
  int fd = open("/proc/self/maps", O_RDONLY);
  host_check(fd >= 0, "open /proc/self/maps");
  static char buf[1 << 16];
  long lines = 0;
  ssize_t got;
  while ((got = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < got; i++) lines += buf[i] == '\n';
  }
  close(fd);
  return lines;
}

static long max_map_count(void) {
  FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
  long max = 65530;
  if (f) {
    host_check(fscanf(f, "%ld", &max) == 1, "read max_map_count");
    fclose(f);
  }
  return max;
}

/* Whether the kernel refuses to split a mapping now (what every first
 * store under mprotect tracking and every guard placement needs). */
static bool splits_refused(void) {
  static uint8_t *probe;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (probe == NULL) {
    probe = mmap(NULL, 3 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    host_check(probe != MAP_FAILED, "mmap probe");
  }
  if (mprotect(probe + page, page, PROT_NONE) == 0) {
    host_check(mprotect(probe + page, page, PROT_READ) == 0, "undo probe");
    return false;
  }
  host_check(errno == ENOMEM, "probe mprotect: %s", strerror(errno));
  return true;
}

/* Takes the process's mappings up to the kernel's limit with one-page
 * mappings far from the loom, two pages apart so that none merges, until
 * the kernel refuses a split; then gives SPARE of them back (the kernel
 * then allows SPARE more mappings); returns how many it kept. */
long host_exhaust_mappings(long spare) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  host_check(!splits_refused(), "the kernel refuses splits before any were made");
  long want = max_map_count() - host_map_count() + 8;
  host_check(want > 0, "already past the mapping limit");
  size_t span = (size_t)(want + 16) * 2 * page;
  uint8_t *area = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  host_check(area != MAP_FAILED, "reserve %zu bytes", span);
  /* One mapping, split into readable pages with gaps: each split adds two. */
  long made = 0;
  for (long i = 0; i < want + 16; i++) {
    if (mprotect(area + (size_t)(2 * i + 1) * page, page, PROT_READ) != 0) {
      host_check(errno == ENOMEM, "mprotect: %s", strerror(errno));
      break;
    }
    made++;
  }
  host_check(splits_refused(), "the kernel still splits mappings after %ld", made);
  for (long i = 0; i < spare && i < made; i++) {
    host_check(munmap(area + (size_t)(2 * i + 1) * page, page) == 0, "munmap: %s",
               strerror(errno));
  }
  return made - (spare < made ? spare : made);
}
#endif
