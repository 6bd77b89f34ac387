/* background: steps for saves that do not stop the runtime
 * (LOOMS_SAVE=background; scripts/suites/24-background.sh).
 *
 *   background STEP DIR [ARGS...]
 *
 * SCN_FLAGS (verbose, no_demand, swap) sets the runtime's flags, as for the
 * scenario steps. Each step checks what it can see from inside the process
 * and exits 0; a failed check exits HOST_EXIT_CHECK; u3m_bail exits
 * HOST_EXIT_BAIL. Files are read with the host's own reader of the format. */
#define _GNU_SOURCE
#include "host.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static host_options opts;
static char path_a[8400];

#define arg host_arg

/* Fills heap pages [from, to) with SEED. */
static void fill(uint32_t seed, uint32_t from, uint32_t to) {
  for (uint32_t p = from; p < to; p++) host_fill(seed, p);
}

#define check_image host_check_image

static void check_loom(uint32_t pages, uint32_t (*seed_of)(uint32_t)) {
  for (uint32_t p = 0; p < pages; p++) {
    host_check(host_holds(seed_of(p), p, host_page(p)), "loom page %u does not hold seed %u", p,
               seed_of(p));
  }
}

static void check_no_patch(const char *dir) {
  host_check(host_size(host_chk(path_a, sizeof path_a, dir, "control.bin")) < 0,
             "control.bin left behind");
  host_check(host_size(host_chk(path_a, sizeof path_a, dir, "memory.bin")) < 0,
             "memory.bin left behind");
}

static uint32_t the_seed;
static uint32_t one_seed(uint32_t p) {
  (void)p;
  return the_seed;
}
static uint32_t half_a, half_b, half_at;
static uint32_t halves(uint32_t p) { return p < half_at ? half_a : half_b; }

static void wait_ok(const char *what) {
  int rc = looms_save_wait();
  host_check(rc == 0, "%s: looms_save_wait returned %d", what, rc);
}

/* Whether loom pages [0, pages) are mapped from image.bin (the anonymous
 * copies released), from /proc/self/maps. */
static bool mapped_from_image(uint32_t pages) {
  FILE *maps = fopen("/proc/self/maps", "r");
  host_check(maps != NULL, "open /proc/self/maps");
  uint64_t at = RT_LOOM_BASE, end = RT_LOOM_BASE + (uint64_t)pages * HOST_PAGE_BYTES;
  char line[9000];
  while (at < end && fgets(line, sizeof line, maps)) {
    unsigned long long lo, hi;
    if (sscanf(line, "%llx-%llx", &lo, &hi) != 2 || hi <= at || lo > at) continue;
    if (!strstr(line, "/image.bin")) break;
    at = hi;
  }
  fclose(maps);
  return at >= end;
}

/* The process's resident anonymous memory (kB): RssAnon in /proc/self/status. */
static long anon_total_kb(void) {
  FILE *status = fopen("/proc/self/status", "r");
  host_check(status != NULL, "open /proc/self/status");
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, status)) {
    if (sscanf(line, "RssAnon: %ld kB", &kb) == 1) break;
  }
  fclose(status);
  host_check(kb >= 0, "no RssAnon in /proc/self/status");
  return kb;
}

/* Anonymous memory (kB) in the mappings that hold loom pages [0, pages),
 * from /proc/self/smaps: copies of pages not yet mapped back. */
static unsigned long long anon_kb(uint32_t pages) {
  FILE *smaps = fopen("/proc/self/smaps", "r");
  host_check(smaps != NULL, "open /proc/self/smaps");
  uint64_t end = RT_LOOM_BASE + (uint64_t)pages * HOST_PAGE_BYTES;
  unsigned long long total = 0, kb;
  bool inside = false;
  char line[9000];
  while (fgets(line, sizeof line, smaps)) {
    unsigned long long lo, hi;
    if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      inside = lo < end && hi > RT_LOOM_BASE;
    } else if (inside && sscanf(line, "Anonymous: %llu kB", &kb) == 1) {
      total += kb;
    }
  }
  fclose(smaps);
  return total;
}

/* stores DIR N: the runtime stores to every page of a background save
 * while the worker writes it; the save holds the values at u3e_save, the
 * next save the later ones; unstored pages come back onto the image.
 * SCN_FAULTS: the store faults expected while the worker writes;
 * SCN_LATER_FAULTS: those expected for first stores once it is done. */
static void step_stores(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  fill(1, 0, n);
  u3e_save(host_low(), host_high());
  host_faults = 0;
  fill(2, 0, n);
  uint64_t faults = host_faults;
  wait_ok("first save");
  check_no_patch(dir);
  the_seed = 1;
  check_image(dir, n, one_seed);
  host_check(u3e_Pool.img_u.pgs_w == n, "pgs_w %u after the barrier", u3e_Pool.img_u.pgs_w);
  the_seed = 2;
  check_loom(n, one_seed);
  const char *expect = getenv("SCN_FAULTS");
  if (expect && *expect) {
    host_check(faults == strtoull(expect, NULL, 0),
               "%llu store faults on the copied pages, expected %s", (unsigned long long)faults,
               expect);
  }
  /* The later stores are the next save's, pages [0, n/2) once more after it. */
  u3e_save(host_low(), host_high());
  fill(3, 0, n / 2);
  wait_ok("second save");
  check_image(dir, n, one_seed);
  half_a = 3, half_b = 2, half_at = n / 2;
  check_loom(n, halves);
  if (!(opts.flags & HOST_NO_DEMAND)) {
    /* Nothing was stored to [n/2, n) since the second save: it is the image again. */
    host_check(!mapped_from_image(n), "pages stored to since the save are mapped from the image");
    u3e_save(host_low(), host_high());
    long before = anon_total_kb();
    wait_ok("third save");
    if (!(opts.flags & HOST_SWAP)) {
      /* The copies of the n/2 pages mapped back are freed, by a thread of
       * the library: the process's anonymous memory falls by (nearly) as
       * much within a few seconds. */
      long want = before - (long)(n / 2) * (HOST_PAGE_BYTES / 1024) * 3 / 4, now = before;
      for (int tries = 0; tries < 500 && (now = anon_total_kb()) > want; tries++) usleep(10000);
      host_check(now <= want, "anonymous memory %ld kB before the end of the save, %ld kB after",
                 before, now);
    }
    host_check(looms_save_wait() == 0, "a second wait");
    host_check(mapped_from_image(n), "saved pages not mapped back onto image.bin");
    unsigned long long anon = anon_kb(n);
    host_check(anon == 0, "%llu kB of copies left under the saved pages", anon);
  } else {
    u3e_save(host_low(), host_high());
    wait_ok("third save");
  }
  check_image(dir, n, halves);
  check_loom(n, halves);
  /* Once no save is being written, a first store costs what the backend
   * costs: a fault under mprotect, none under userfaultfd. */
  const char *later = getenv("SCN_LATER_FAULTS");
  if (later && *later) {
    host_faults = 0;
    fill(4, 0, n);
    host_check(host_faults == strtoull(later, NULL, 0),
               "%llu store faults after the barrier, expected %s", (unsigned long long)host_faults,
               later);
  }
  printf("stores while the worker wrote: %llu faults; every byte as at each save\n",
         (unsigned long long)faults);
}

/* Loom pages [0, 2n) of the `maplimit_end` step: [0, n) stored to before
 * the save, page n/2 once more after it, the rest as saved first. */
static uint32_t limit_n;
static uint32_t limit_saved(uint32_t p) { return p < limit_n ? 2 : 1; }
static uint32_t limit_loom(uint32_t p) { return p == limit_n / 2 ? 3 : limit_saved(p); }

/* maplimit_end DIR N SPARE: a background save ends at the kernel's mapping
 * limit. An image of 2N pages; the first N stored to and saved in the
 * background; page N/2 stored to while the worker writes; then the
 * process's mappings taken up to vm.max_map_count but SPARE. Ending the
 * save maps the clean pages back onto the image where the kernel lets it
 * (moving their copies out to be freed needs a mapping or two more, and
 * falls back, or moves them back, where there is none); the image and the
 * loom hold what they must, and later stores at the limit are saved. */
static void step_maplimit_end(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  long spare = (long)arg(argc, argv, 4);
  limit_n = n;
  host_boot_road(dir, &opts, 2 * n, 2);
  fill(1, 0, 2 * n);
  u3e_save(host_low(), host_high());
  wait_ok("the first save");
  fill(2, 0, n);
  u3e_save(host_low(), host_high());
  host_fill(3, n / 2);
  long kept = host_exhaust_mappings(spare);
  wait_ok("the save at the limit");
  check_no_patch(dir);
  check_image(dir, 2 * n, limit_saved);
  check_loom(2 * n, limit_loom);
  fill(4, 0, 2 * n);
  u3e_save(host_low(), host_high());
  wait_ok("the next save");
  the_seed = 4;
  check_image(dir, 2 * n, one_seed);
  check_loom(2 * n, one_seed);
  printf("a background save ended at the mapping limit (%ld spare, %ld made, %ld in all)\n", spare,
         kept, host_map_count());
}

/* Fills loom pages [0, n) with bytes from a xorshift generator at *state. */
static void fill_varied(uint64_t *state, uint32_t n) {
  uint64_t x = *state;
  uint64_t *words = (uint64_t *)host_page(0);
  for (size_t w = 0; w < (size_t)n * HOST_PAGE_BYTES / 8; w++) {
    if (w % (HOST_PAGE_BYTES / 8) == 0) rt_store_ready(words + w);
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    words[w] = x;
  }
  *state = x;
}

/* Compares image.bin's first N pages with COPY, byte for byte. */
static void check_image_bytes(const char *dir, uint32_t n, const uint8_t *copy, const char *what) {
  size_t len;
  uint8_t *img = host_slurp(host_chk(path_a, sizeof path_a, dir, "image.bin"), &len);
  host_check(img != NULL && len >= (size_t)n * HOST_PAGE_BYTES, "%s: image.bin has %zu bytes", what,
             img ? len : 0);
  for (uint32_t p = 0; p < n; p++) {
    size_t at = (size_t)p * HOST_PAGE_BYTES;
    host_check(memcmp(img + at, copy + at, HOST_PAGE_BYTES) == 0,
               "%s: image.bin page %u is not the page as it was at u3e_save", what, p);
  }
  free(img);
}

/* Page sets of the `exact` step: every third page, then every sixth page
 * after the first, then the pages left. */
static bool in_first(uint32_t p) { return p % 3 == 0; }
static bool in_second(uint32_t p) { return p % 6 == 1; }
static bool in_third(uint32_t p) { return !in_first(p) && !in_second(p); }

/* Stores SEED to the pages of [0, n) in SET; how many store faults that took. */
static uint64_t store_set(uint32_t seed, uint32_t n, bool (*set)(uint32_t)) {
  uint64_t before = host_faults;
  for (uint32_t p = 0; p < n; p++) {
    if (set(p)) host_fill(seed, p);
  }
  return host_faults - before;
}

/* Checks that the pages of [0, n) dirty in u3e_Pool's bitmap are exactly
 * those in A or B, after u3e_toss brought it up to date (userfaultfd
 * reports stores at a harvest). */
static void check_dirty_exactly(uint32_t n, bool (*a)(uint32_t), bool (*b)(uint32_t),
                                const char *when) {
  u3e_toss(host_low(), host_high());
  for (uint32_t p = 0; p < n; p++) {
    bool want = a(p) || (b != NULL && b(p));
    host_check(rt_dirty(p) == want, "%s: page %u is %s, expected %s", when, p,
               rt_dirty(p) ? "dirty" : "clean", want ? "dirty" : "clean");
  }
}

/* exact DIR N [quiet]: tracking stays exact across a background save.
 * While the worker writes a save of N pages (the disk slowed, when the
 * crash interposer is preloaded), the runtime stores to every third page
 * and (unless quiet: no harvest before the save ends) calls u3e_toss;
 * once it is done, to every sixth page after the first.
 * After each, exactly the pages stored to are dirty: none of the save's
 * other pages (read-only while the worker reads them) is taken for
 * written, and none stored to is missed. Under userfaultfd the later
 * stores take no fault (the clean pages are tracked by the kernel again),
 * under mprotect one each. The next save holds every store, and after it
 * only the pages stored to since are dirty. */
static void step_exact(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  bool quiet = argc > 4 && !strcmp(argv[4], "quiet");
  fill(1, 0, n);
  u3e_save(host_low(), host_high());
  store_set(2, n, in_first);
  if (!quiet) check_dirty_exactly(n, in_first, NULL, "during the save");
  wait_ok("the save");
  check_dirty_exactly(n, in_first, NULL, "once it is written");
  const char *tracking = getenv("LOOMS_TRACKING");
  bool uffd = tracking != NULL && !strcmp(tracking, "uffd") && !(opts.flags & HOST_SWAP);
  uint32_t second = 0;
  for (uint32_t p = 0; p < n; p++) second += in_second(p);
  uint64_t faults = store_set(3, n, in_second);
  host_check(faults == (uffd ? 0 : second), "%llu faults for %u first stores after the save",
             (unsigned long long)faults, second);
  check_dirty_exactly(n, in_first, in_second, "after later stores");
  uint8_t *loom = malloc((size_t)n * HOST_PAGE_BYTES);
  host_check(loom != NULL, "no memory for the copy");
  memcpy(loom, host_page(0), (size_t)n * HOST_PAGE_BYTES);
  u3e_save(host_low(), host_high());
  wait_ok("the next save");
  check_image_bytes(dir, n, loom, "the next save");
  free(loom);
  store_set(4, n, in_third);
  check_dirty_exactly(n, in_third, NULL, "after the next save");
  printf("exact tracking across a background save: %u and %u pages stored to, %llu faults\n",
         n / 3 + (n % 3 != 0), second, (unsigned long long)faults);
}

/* storm DIR N ROUNDS [DELAY_US [PAUSE_US]]: a store storm while the worker writes a save of N
 * pages of varied bytes: every page of the save rewritten ROUNDS times
 * (first stores, then stores to pages already copied or written), sweeping
 * from both ends so that the runtime meets the worker's batch. The image
 * then holds, byte for byte, the copy the test took at u3e_save; the next
 * save holds the last stores. DELAY_US: the storm starts that long after
 * u3e_save returns, and pauses PAUSE_US after every 64 pages, so that it
 * meets the worker at other places (with a slow disk, CRASHIO_DELAY_US). */
static void step_storm(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), rounds = arg(argc, argv, 4);
  uint32_t delay = argc > 5 ? arg(argc, argv, 5) : 0;
  uint32_t pause = argc > 6 ? arg(argc, argv, 6) : 0;
  host_boot_road(dir, &opts, n, 2);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  fill_varied(&state, n);
  size_t bytes = (size_t)n * HOST_PAGE_BYTES;
  uint8_t *copy = malloc(bytes);
  host_check(copy != NULL, "no memory for the copy");
  memcpy(copy, host_page(0), bytes);
  u3e_save(host_low(), host_high());
  if (delay) usleep(delay);
  for (uint32_t r = 0; r < rounds; r++) {
    for (uint32_t i = 0; i < n; i++) {
      uint32_t p = (r & 1) ? n - 1 - i : i;
      uint64_t *words = (uint64_t *)host_page(p);
      rt_store_ready(words);
      for (size_t w = 0; w < HOST_PAGE_BYTES / 8; w += 64) words[w] ^= state + r + p;
      words[HOST_PAGE_BYTES / 8 - 1] = state ^ p;
      if (pause && i % 64 == 63) usleep(pause);
    }
  }
  wait_ok("the save under the storm");
  check_no_patch(dir);
  check_image_bytes(dir, n, copy, "first save");
  memcpy(copy, host_page(0), bytes);
  u3e_save(host_low(), host_high());
  wait_ok("the save after the storm");
  check_image_bytes(dir, n, copy, "second save");
  host_check(memcmp(copy, host_page(0), bytes) == 0, "the loom changed under the second save");
  free(copy);
  printf("storm of %u rounds over %u pages: every page saved as it was at u3e_save\n", rounds, n);
}

/* The crash interposer (c-tests/crash/crashio.c), when preloaded. */
static int (*crash_arm)(void);
static void (*crash_disarm)(void);
static long (*crash_calls)(void);
static void find_interposer(void) {
  *(void **)&crash_arm = dlsym(RTLD_DEFAULT, "crashio_arm");
  *(void **)&crash_disarm = dlsym(RTLD_DEFAULT, "crashio_disarm");
  *(void **)&crash_calls = dlsym(RTLD_DEFAULT, "crashio_calls");
  host_check(crash_arm && crash_disarm && crash_calls, "the crash interposer is not loaded");
}

/* Rewrites every word-64 of pages [from, to) (a first store to each). */
static void storm_over(uint32_t from, uint32_t to, uint64_t salt) {
  for (uint32_t p = from; p < to; p++) {
    uint64_t *words = (uint64_t *)host_page(p);
    for (size_t w = 0; w < HOST_PAGE_BYTES / 8; w += 64) words[w] ^= salt + p;
  }
}

/* during DIR N OP: a save of N pages of varied bytes; while the worker
 * writes it (the disk slowed by the interposer, when preloaded), the
 * runtime stores to the first half of the pages and then calls OP: toss,
 * ward, yolo_foul (u3e_yolo then u3e_foul), save (a second save), shrink
 * (the heap shrinks to a quarter, then u3e_ward and u3e_toss), stop, exit (exit(0): the next
 * `same` step checks the image), _exit or kill:US (the second half stored
 * to, SIGKILL after US microseconds; the next `same` step finds the old or
 * the new snapshot). The copy taken at u3e_save goes to DIR.copy.
 * After OP, the stores to the second half; the image then holds the copy
 * byte for byte, and the loom every later store. */
static void step_during(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_check(argc > 4, "during needs OP");
  const char *op = argv[4];
  host_boot_road(dir, &opts, n, 2);
  uint64_t state = 0x2545f4914f6cdd1dull;
  fill_varied(&state, n);
  size_t bytes = (size_t)n * HOST_PAGE_BYTES;
  uint8_t *copy = malloc(bytes), *later = malloc(bytes);
  host_check(copy != NULL && later != NULL, "no memory for the copies");
  memcpy(copy, host_page(0), bytes);
  char name[8400];
  snprintf(name, sizeof name, "%s.copy", dir);
  FILE *out = fopen(name, "w");
  host_check(out != NULL && fwrite(copy, 1, bytes, out) == bytes && fclose(out) == 0,
             "cannot write %s", name);
  bool crash = getenv("CRASHIO_ROOT") != NULL;
  if (crash) {
    find_interposer();
    crash_arm();
  }
  u3e_save(host_low(), host_high());
  storm_over(0, n / 2, 1);
  if (!strcmp(op, "toss")) {
    u3e_toss(host_low(), host_high());
  } else if (!strcmp(op, "ward")) {
    u3e_ward(host_low(), host_high());
  } else if (!strcmp(op, "yolo_foul")) {
    /* As the runtime pairs them: tracking off, every page dirty. */
    host_check(u3e_yolo() == c3y, "u3e_yolo refused");
    u3e_foul();
  } else if (!strcmp(op, "save")) {
    memcpy(later, host_page(0), bytes);
    u3e_save(host_low(), host_high());
  } else if (!strcmp(op, "shrink")) {
    /* The heap shrinks to a quarter: the guard moves into pages the save
     * still writes, and u3e_toss drops them from the loom. */
    host_road(n / 4, 2);
    u3e_ward(host_low(), host_high());
    u3e_toss(host_low(), host_high());
    wait_ok(op);
    if (crash) crash_disarm();
    check_no_patch(dir);
    check_image_bytes(dir, n, copy, op);
    /* The heap that is left holds its stores. */
    memcpy(later, copy, bytes / 4);
    for (uint32_t p = 0; p < n / 4; p++) {
      uint64_t *words = (uint64_t *)(later + (size_t)p * HOST_PAGE_BYTES);
      for (size_t w = 0; w < HOST_PAGE_BYTES / 8; w += 64) words[w] ^= 1 + p;
    }
    host_check(memcmp(later, host_page(0), bytes / 4) == 0, "the heap lost a store");
    printf("shrink during the save: every page saved as it was at u3e_save\n");
    return;
  } else if (!strcmp(op, "stop")) {
    u3e_stop();
    check_image_bytes(dir, n, copy, "after u3e_stop");
    check_no_patch(dir);
    printf("stopped during the save: every page saved as it was at u3e_save\n");
    return;
  } else if (!strcmp(op, "exit")) {
    exit(0);
  } else if (!strcmp(op, "_exit")) {
    _exit(0);
  } else if (!strncmp(op, "kill:", 5)) {
    storm_over(n / 2, n, 2);
    usleep((useconds_t)strtoul(op + 5, NULL, 10));
    raise(SIGKILL);
  } else {
    host_fail(__FILE__, __LINE__, "unknown OP %s", op);
  }
  storm_over(n / 2, n, 2);
  wait_ok(op);
  if (crash) crash_disarm();
  check_no_patch(dir);
  check_image_bytes(dir, n, !strcmp(op, "save") ? later : copy, op);
  /* The loom holds every store: the first half rewritten once, the second
   * half once (and, for a second save, the image the first half). */
  memcpy(later, copy, bytes);
  for (uint32_t p = 0; p < n; p++) {
    uint64_t *words = (uint64_t *)(later + (size_t)p * HOST_PAGE_BYTES);
    for (size_t w = 0; w < HOST_PAGE_BYTES / 8; w += 64) words[w] ^= (p < n / 2 ? 1 : 2) + p;
  }
  host_check(memcmp(later, host_page(0), bytes) == 0, "the loom lost a store made during the save");
  /* And the next save has them all. */
  u3e_save(host_low(), host_high());
  wait_ok("the next save");
  check_image_bytes(dir, n, later, "the next save");
  free(copy);
  free(later);
  printf("%s during the save: every page saved as it was at u3e_save\n", op);
}

/* same DIR N [old]: boots the pier and compares its image with DIR.copy
 * (written by `during`), or, with `old`, accepts the image before it too
 * (nothing saved yet: no image, or an empty one). */
static void step_same(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  bool old_ok = argc > 4 && !strcmp(argv[4], "old");
  host_boot_road(dir, &opts, n, 2);
  size_t bytes = (size_t)n * HOST_PAGE_BYTES, len;
  char name[8400];
  snprintf(name, sizeof name, "%s.copy", dir);
  uint8_t *copy = host_slurp(name, &len);
  host_check(copy != NULL && len == bytes, "%s missing", name);
  size_t have;
  uint8_t *img = host_slurp(host_chk(path_a, sizeof path_a, dir, "image.bin"), &have);
  if (old_ok && (img == NULL || have == 0)) {
    printf("booted the old snapshot\n");
    return;
  }
  check_image_bytes(dir, n, copy, "after the process ended");
  host_check(memcmp(copy, host_page(0), bytes) == 0, "the booted loom is not the saved one");
  free(img);
  free(copy);
  printf("booted the new snapshot\n");
}

/* backtoback DIR N: three saves in a row without waiting. */
static void step_backtoback(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  fill(1, 0, n);
  u3e_save(host_low(), host_high());
  fill(2, 0, n);
  u3e_save(host_low(), host_high());
  fill(3, 0, n / 2);
  u3e_save(host_low(), host_high());
  wait_ok("three saves");
  half_a = 3, half_b = 2, half_at = n / 2;
  check_image(dir, n, halves);
  check_loom(n, halves);
  check_no_patch(dir);
  printf("three saves back to back\n");
}

/* backup DIR N: u3e_backup right after a background save copies it. */
static void step_backup(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  fill(4, 0, n);
  u3e_save(host_low(), host_high());
  char chk[8300], epoch[8300];
  snprintf(chk, sizeof chk, "%s/.urb/chk", dir);
  snprintf(epoch, sizeof epoch, "%s/.urb/epoch", dir);
  host_check(u3e_backup(chk, epoch, c3n) == c3y, "backup failed");
  size_t len;
  snprintf(path_a, sizeof path_a, "%s/image.bin", epoch);
  uint8_t *copy = host_slurp(path_a, &len);
  host_check(copy && len == (size_t)n * HOST_PAGE_BYTES, "backup has %zu bytes", len);
  for (uint32_t p = 0; p < n; p++) {
    host_check(host_holds(4, p, copy + (size_t)p * HOST_PAGE_BYTES), "backup page %u", p);
  }
  free(copy);
  printf("backup right after a background save holds it\n");
}

/* stop_live DIR N: u3e_stop right after a background save, then u3e_live
 * again in the same process, then another save. */
static void step_stop_live(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  fill(5, 0, n);
  u3e_save(host_low(), host_high());
  u3e_stop();
  the_seed = 5;
  check_image(dir, n, one_seed);
  check_no_patch(dir);
  host_check(u3e_live(c3n, dir) == c3n, "second u3e_live says the pier is new");
  host_check(u3e_Pool.img_u.pgs_w == n, "pgs_w %u after the second boot", u3e_Pool.img_u.pgs_w);
  check_loom(n, one_seed);
  host_road(n, 2);
  u3e_ward(host_low(), host_high());
  fill(6, 0, n);
  u3e_save(host_low(), host_high());
  wait_ok("save after the second boot");
  the_seed = 6;
  check_image(dir, n, one_seed);
  printf("stop right after a save, live again, saved again\n");
}

/* end DIR N HOW: over a snapshot of N pages of seed 1 (saved and waited
 * for), writes N + 8 pages of seed 2 and saves in the background with the
 * interposer armed (when preloaded), then ends as HOW says: wait (and
 * print the worker's file calls), exit (exit(0)), _exit (_exit(0)), or
 * kill:US (SIGKILL after US microseconds). */
static void step_end(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_check(argc > 4, "end needs HOW");
  const char *how = argv[4];
  bool crash = getenv("CRASHIO_ROOT") != NULL;
  if (crash) find_interposer();
  host_boot_road(dir, &opts, n, 2);
  fill(1, 0, n);
  u3e_save(host_low(), host_high());
  wait_ok("the old snapshot");
  host_road(n + 8, 2);
  u3e_ward(host_low(), host_high());
  fill(2, 0, n + 8);
  if (crash) crash_arm();
  u3e_save(host_low(), host_high());
  if (!strcmp(how, "wait")) {
    int rc = looms_save_wait();
    long calls = crash ? crash_calls() : 0;
    if (crash) crash_disarm();
    if (rc != 0) {
      /* Nothing written: the old snapshot is whole, and the pages are
       * saved by the next save. */
      the_seed = 1;
      check_image(dir, n, one_seed);
      check_no_patch(dir);
      u3e_save(host_low(), host_high());
      wait_ok("the save after a failed one");
      printf("failed save kept the old snapshot; the next save wrote the pages\n");
    } else {
      printf("worker calls: %ld\n", calls);
    }
    /* A patch whose removal failed may be left (the next save or boot
     * removes it); the suite's next boot checks that. */
    the_seed = 2;
    check_image(dir, n + 8, one_seed);
    return;
  }
  if (!strcmp(how, "exit")) exit(0);
  if (!strcmp(how, "_exit")) _exit(0);
  if (!strncmp(how, "kill:", 5)) {
    usleep((useconds_t)strtoul(how + 5, NULL, 10));
    raise(SIGKILL);
  }
  host_fail(__FILE__, __LINE__, "unknown HOW %s", how);
}

/* either DIR: boots and finds exactly the old snapshot of step_end (N
 * pages of seed 1) or exactly the new one (N + 8 pages of seed 2), whole;
 * with NEW only the new one. No patch is left after boot. */
static void step_either(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  bool only_new = argc > 4 && !strcmp(argv[4], "new");
  host_boot(dir, &opts);
  check_no_patch(dir);
  uint32_t pages = u3e_Pool.img_u.pgs_w;
  host_check(pages == n || pages == n + 8, "booted %u pages, expected %u or %u", pages, n,
             n + 8);
  host_check(!only_new || pages == n + 8, "booted the old snapshot, expected the new one");
  the_seed = pages == n ? 1 : 2;
  check_loom(pages, one_seed);
  check_image(dir, pages, one_seed);
  printf("booted the %s snapshot\n", pages == n ? "old" : "new");
}

/* sync DIR N: a save that runs synchronously (without threads, or sync
 * mode): the image holds it when u3e_save returns. */
static void step_sync(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  fill(7, 0, n);
  u3e_save(host_low(), host_high());
  the_seed = 7;
  check_image(dir, n, one_seed);
  check_no_patch(dir);
  host_check(u3e_Pool.img_u.pgs_w == n, "pgs_w %u", u3e_Pool.img_u.pgs_w);
  fill(8, 0, n);
  wait_ok("a synchronous save");
  printf("saved synchronously\n");
}

/* soft DIR N: the worker finds no space (libspace, SPACE_FREE): nothing
 * written, looms_save_wait says so, u3e_backup refuses an older copy; with
 * space again the next save writes every page. */
static void step_soft(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  fill(9, 0, n);
  u3e_save(host_low(), host_high());
  host_check(looms_save_wait() == -1, "a save without space did not fail");
  host_check(looms_save_wait() == -1, "the failure was forgotten");
  host_check(host_size(host_chk(path_a, sizeof path_a, dir, "image.bin")) == 0,
             "image.bin written");
  check_no_patch(dir);
  the_seed = 9;
  check_loom(n, one_seed);
  void (*set_free)(long long) = (void (*)(long long))dlsym(RTLD_DEFAULT, "space_set_free");
  host_check(set_free != NULL, "libspace is not loaded");
  set_free(-1);
  u3e_save(host_low(), host_high());
  wait_ok("the save with space");
  check_image(dir, n, one_seed);
  printf("no space: nothing written; space again: every page saved\n");
}

/* ---- threads, forks and signals around a background save ------------------------------ */

static atomic_bool waiter_stop;
static atomic_ulong waiter_calls;
static const char *waiter_call = "wait";
static char waiter_chk[8400], waiter_dest[8400];
static void *waiter(void *unused) {
  (void)unused;
  while (!atomic_load(&waiter_stop)) {
    if (!strcmp(waiter_call, "backup")) {
      u3e_backup(waiter_chk, waiter_dest, c3y);
      usleep(2000); /* each copy is written and synced: keep the writes small */
    } else if (!strcmp(waiter_call, "open_any")) {
      c3_z len = 0;
      c3_i fd = u3e_image_open_any((char *)"image", waiter_chk, &len);
      if (fd >= 0) close(fd);
    } else {
      looms_save_wait();
    }
    atomic_fetch_add(&waiter_calls, 1);
  }
  return NULL;
}

/* wait_other_thread DIR N ROUNDS [CALL DEST]: another thread calls CALL
 * (looms_save_wait; or u3e_backup of the pier into DEST, or
 * u3e_image_open_any of its image) without pause while the runtime's
 * thread stores to every page of each save it has just made; no store is
 * lost from memory, and once the runtime's own barrier has run, the image
 * holds the last stores. */
static void step_wait_other_thread(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), rounds = arg(argc, argv, 4);
  if (argc > 6) {
    waiter_call = argv[5];
    snprintf(waiter_chk, sizeof waiter_chk, "%s/.urb/chk/", dir);
    snprintf(waiter_dest, sizeof waiter_dest, "%s", argv[6]);
  }
  host_boot_road(dir, &opts, n, 2);
  fill(1, 0, n);
  pthread_t other;
  host_check(pthread_create(&other, NULL, waiter, NULL) == 0, "pthread_create");
  for (uint32_t r = 0; r < rounds; r++) {
    u3e_save(host_low(), host_high());
    /* Stores while the worker writes and the other thread waits. */
    fill(10 + r, 0, n);
    the_seed = 10 + r;
    check_loom(n, one_seed);
  }
  atomic_store(&waiter_stop, true);
  pthread_join(other, NULL);
  u3e_save(host_low(), host_high());
  wait_ok("last save");
  the_seed = 10 + rounds - 1;
  check_loom(n, one_seed);
  check_image(dir, n, one_seed);
  printf("another thread called %s %lu times; %u rounds of stores kept and saved\n", waiter_call,
         atomic_load(&waiter_calls), rounds);
}

/* fork_entry DIR N WHICH [DIR2]: forks right after a background save of N
 * pages, and the child calls WHICH: exit, _exit, save, wait, stop, live
 * (on DIR2) or backup (of DIR into DIR2). The child must not abort, not
 * write DIR, and exit as WHICH documents; the parent's save completes. */
static void step_fork_entry(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_check(argc > 4, "fork_entry DIR N WHICH [DIR2]");
  const char *which = argv[4];
  const char *other = argc > 5 ? argv[5] : "";
  host_boot_road(dir, &opts, n, 2);
  fill(1, 0, n);
  u3e_save(host_low(), host_high());
  wait_ok("first save");
  fill(2, 0, n);
  u3e_save(host_low(), host_high());
  fflush(NULL);
  pid_t child = fork();
  host_check(child >= 0, "fork");
  if (child == 0) {
    if (!strcmp(which, "exit")) exit(0);
    if (!strcmp(which, "_exit")) _exit(0);
    if (!strcmp(which, "save")) {
      fill(7, 0, n);
      u3e_save(host_low(), host_high());
      int rc = looms_save_wait();
      printf("child: save, then looms_save_wait %d\n", rc);
      exit(rc == -1 ? 0 : 9);
    }
    if (!strcmp(which, "wait")) {
      int rc = looms_save_wait();
      printf("child: looms_save_wait %d\n", rc);
      exit(rc == -1 || rc == 0 ? 0 : 9);
    }
    if (!strcmp(which, "stop")) {
      u3e_stop();
      printf("child: stopped\n");
      exit(0);
    }
    if (!strcmp(which, "live")) {
      u3e_live(c3n, (char *)other);
      host_road(n, 2);
      u3e_ward(host_low(), host_high());
      fill(5, 0, n);
      u3e_save(host_low(), host_high());
      wait_ok("child's save of its own pier");
      check_image(other, n, (the_seed = 5, one_seed));
      printf("child: booted and saved %s\n", other);
      exit(0);
    }
    if (!strcmp(which, "backup")) {
      char chk[8400];
      snprintf(chk, sizeof chk, "%s/.urb/chk", dir);
      c3_o done = u3e_backup(chk, (char *)other, c3y);
      printf("child: backup %s\n", done == c3y ? "copied" : "refused");
      exit(0);
    }
    fprintf(stderr, "unknown WHICH %s\n", which);
    _exit(8);
  }
  int status = 0;
  host_check(waitpid(child, &status, 0) == child, "waitpid");
  host_check(!WIFSIGNALED(status), "the child (%s) died of signal %d", which, WTERMSIG(status));
  host_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child (%s) exited %d", which,
             WEXITSTATUS(status));
  wait_ok("the parent's save");
  the_seed = 2;
  check_image(dir, n, one_seed);
  check_loom(n, one_seed);
  check_no_patch(dir);
  fill(3, 0, n);
  u3e_save(host_low(), host_high());
  wait_ok("a save after the fork");
  the_seed = 3;
  check_image(dir, n, one_seed);
  printf("fork during a background save: child %s exited 0; parent's saves whole\n", which);
}

/* A timer signal whose handler saves (or waits) while the runtime's
 * thread is inside the library. */
static atomic_ulong handler_calls;
static uint32_t handler_alternate;
static void on_alarm(int sig) {
  (void)sig;
  int saved = errno;
  if (handler_alternate++ % 2) {
    u3e_save(host_low(), host_high());
  } else {
    looms_save_wait();
  }
  atomic_fetch_add(&handler_calls, 1);
  errno = saved;
}

static void alarm_mask(int how) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  sigprocmask(how, &set, NULL);
}

/* signal_save DIR N ROUNDS: a 200 us timer whose handler calls u3e_save or
 * looms_save_wait, delivered only while the runtime's thread is inside
 * u3e_save or looms_save_wait (stores, which fault, keep it blocked, as a
 * runtime's fault handler would). Nothing blocks forever; the last stores
 * are saved. */
static void step_signal_save(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), rounds = arg(argc, argv, 4);
  host_boot_road(dir, &opts, n, 2);
  struct sigaction act = {.sa_handler = on_alarm};
  sigemptyset(&act.sa_mask);
  host_check(sigaction(SIGALRM, &act, NULL) == 0, "sigaction");
  alarm_mask(SIG_BLOCK);
  struct itimerval every = {{0, 200}, {0, 200}};
  host_check(setitimer(ITIMER_REAL, &every, NULL) == 0, "setitimer");
  for (uint32_t r = 0; r < rounds; r++) {
    fill(20 + r, 0, n);
    alarm_mask(SIG_UNBLOCK);
    u3e_save(host_low(), host_high());
    looms_save_wait();
    alarm_mask(SIG_BLOCK);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  alarm_mask(SIG_UNBLOCK);
  u3e_save(host_low(), host_high());
  wait_ok("last save");
  the_seed = 20 + rounds - 1;
  check_loom(n, one_seed);
  check_image(dir, n, one_seed);
  printf("signal handler called %lu times; the last stores saved\n", atomic_load(&handler_calls));
}

/* Loom pages of the `granule_tail` step: the image of 2N pages saved under
 * seed 1, page 0 stored to again (2), the tail's pages [N, TAIL) stored to
 * while the shrinking save is written (3), its last page once more after
 * the barrier (4). */
static uint32_t tail_n, tail_end;
static uint32_t tail_seed(uint32_t p) {
  if (p == 0) return 2;
  if (p < tail_n) return 1;
  return p + 1 == tail_end ? 4 : 3;
}

/* granule_tail DIR N: a save that shrinks the image from 2N pages (N a
 * multiple of 4) to N + G - 1, G the granule in pages
 * (LOOMS_TEST_GRANULE), so that it ends inside a granule whose pages were
 * clean, saved and protected. The stores to that last, partial granule,
 * while the save is written and after its barrier, are in the next save:
 * image.bin, as a boot reads it, holds every page's last store. The same
 * in either kind of save (LOOMS_SAVE). */
static void step_granule_tail(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  const char *g = getenv("LOOMS_TEST_GRANULE");
  uint32_t granule = g && *g ? (uint32_t)(strtoul(g, NULL, 0) / HOST_PAGE_BYTES) : 1;
  host_check(n % 4 == 0 && n > 0, "N must be a multiple of 4");
  tail_n = n;
  tail_end = n + (granule > 1 ? granule - 1 : 1);
  host_boot_road(dir, &opts, 2 * n, 2);
  fill(1, 0, 2 * n);
  u3e_save(host_low(), host_high());
  wait_ok("the first save");
  host_fill(2, 0);
  host_road(tail_end, 2);
  u3e_ward(host_low(), host_high());
  u3e_save(host_low(), host_high());
  fill(3, n, tail_end);
  wait_ok("the shrinking save");
  host_fill(4, tail_end - 1);
  u3e_save(host_low(), host_high());
  wait_ok("the next save");
  check_no_patch(dir);
  check_loom(tail_end, tail_seed);
  check_image(dir, tail_end, tail_seed);
  printf("an image that ends inside a granule of %u pages keeps every store to it\n", granule);
}

/* The `signal_store` step's handler: a store to a loom page, mirrored in a
 * model of the loom's first words. */
#define SIGNAL_PAGES 64
static volatile uint32_t signal_model[SIGNAL_PAGES];
static volatile uint32_t signal_next = 1;
static atomic_ulong signal_stores;
static void on_alarm_store(int sig) {
  (void)sig;
  int saved = errno;
  uint32_t value = signal_next++;
  uint32_t page = (value * 7) % SIGNAL_PAGES;
  signal_model[page] = value;
  rt_page(page)[0] = value;
  atomic_fetch_add(&signal_stores, 1);
  errno = saved;
}

/* signal_store DIR ROUNDS WHERE: a 50 us timer whose handler stores to a
 * page of the loom (64 pages, each a value of its own), delivered only
 * while the runtime's thread is inside looms_save_wait (WHERE "wait") or
 * u3e_save ("save"), round after round of saves of some of those pages.
 * No store is lost: the loom and then image.bin hold the model, word for
 * word, and the dirty pages are saved by the last save. */
static void step_signal_store(char *dir, int argc, char **argv) {
  uint32_t rounds = arg(argc, argv, 3);
  host_check(argc > 4, "signal_store needs WHERE");
  bool in_wait = !strcmp(argv[4], "wait");
  host_boot_road(dir, &opts, SIGNAL_PAGES, 2);
  fill(1, 0, SIGNAL_PAGES);
  for (uint32_t p = 0; p < SIGNAL_PAGES; p++) signal_model[p] = rt_page(p)[0];
  u3e_save(host_low(), host_high());
  wait_ok("the first save");
  struct sigaction act = {.sa_handler = on_alarm_store};
  sigemptyset(&act.sa_mask);
  host_check(sigaction(SIGALRM, &act, NULL) == 0, "sigaction");
  alarm_mask(SIG_BLOCK);
  struct itimerval every = {{0, 50}, {0, 50}};
  host_check(setitimer(ITIMER_REAL, &every, NULL) == 0, "setitimer");
  for (uint32_t r = 0; r < rounds; r++) {
    /* A few pages stored to by the runtime itself, so each save has work. */
    for (uint32_t k = 0; k < 4; k++) {
      uint32_t p = (r * 5 + k * 11) % SIGNAL_PAGES;
      uint32_t value = 0x80000000u | (r << 8) | k;
      rt_store_ready(rt_page(p));
      rt_page(p)[0] = value;
      signal_model[p] = value;
    }
    if (!in_wait) alarm_mask(SIG_UNBLOCK);
    u3e_save(host_low(), host_high());
    if (in_wait) alarm_mask(SIG_UNBLOCK);
    looms_save_wait();
    alarm_mask(SIG_BLOCK);
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  alarm_mask(SIG_UNBLOCK);
  for (uint32_t p = 0; p < SIGNAL_PAGES; p++) {
    host_check(rt_page(p)[0] == signal_model[p], "loom page %u holds %u, the model %u", p,
               rt_page(p)[0], signal_model[p]);
  }
  u3e_save(host_low(), host_high());
  wait_ok("the last save");
  size_t len;
  uint8_t *img = host_slurp(host_chk(path_a, sizeof path_a, dir, "image.bin"), &len);
  host_check(img != NULL && len == (size_t)SIGNAL_PAGES * HOST_PAGE_BYTES, "image.bin: %zu bytes",
             img ? len : 0);
  uint32_t lost = 0;
  for (uint32_t p = 0; p < SIGNAL_PAGES; p++) {
    uint32_t word;
    memcpy(&word, img + (size_t)p * HOST_PAGE_BYTES, sizeof word);
    if (word != signal_model[p]) {
      fprintf(stderr, "image.bin page %u holds %u, the model %u\n", p, word, signal_model[p]);
      lost++;
    }
    host_check(memcmp(img + (size_t)p * HOST_PAGE_BYTES + 4, (uint8_t *)rt_page(p) + 4,
                      HOST_PAGE_BYTES - 4) == 0,
               "image.bin page %u is not the loom's", p);
  }
  free(img);
  host_check(lost == 0, "%u stores of signal handlers lost", lost);
  host_check(atomic_load(&signal_stores) > 0, "the handler never ran");
  printf("%lu stores from a signal handler in %s, every one saved\n",
         atomic_load(&signal_stores), in_wait ? "looms_save_wait" : "u3e_save");
}

/* Loom pages of the `maplimit_save` step: [0, n) saved under seed 1; the
 * first half stored to again (2) and saved in the background at the limit;
 * pages 4k and 4k + 1 stored to while that save is pending (3). */
static uint32_t limit_image(uint32_t p) { return p < limit_n / 2 ? 2 : 1; }
static uint32_t limit_after(uint32_t p) { return p % 4 < 2 ? 3 : limit_image(p); }
static bool limit_still;
static uint32_t limit_loom_now(uint32_t p) { return limit_still ? limit_image(p) : limit_after(p); }
static uint32_t one_seed_1(uint32_t p) { return (void)p, 1; }

/* maplimit_save DIR N SPARE [still]: on a fresh pier, an image of N pages
 * (seed 1) and nothing else; on that pier, booted: a background save, the
 * process's first, started at the kernel's mapping limit with SPARE
 * mappings to spare. Whether its worker's thread can be had, and whether
 * that thread then gets a memory arena of its own, depends on SPARE: a
 * sweep meets the worker that starts but finds no memory (the C library
 * can neither make it an arena nor map a block for it). Then, unless
 * `still`, first stores at the limit to pages of the pending save and to
 * clean ones, which widen. Nothing aborts, no store faults unhandled, the
 * save holds the pages as they were at u3e_save and the next one every
 * store. */
static void step_maplimit_save(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  long spare = (long)arg(argc, argv, 4);
  limit_n = n;
  limit_still = argc > 5 && !strcmp(argv[5], "still");
  host_boot_road(dir, &opts, n, 2);
  if (u3e_Pool.img_u.pgs_w == 0) {
    /* A pier to boot first: its worker would leave this process a memory
     * arena for the next one. */
    fill(1, 0, n);
    u3e_save(host_low(), host_high());
    wait_ok("the first save");
    printf("an image of %u pages to boot\n", n);
    return;
  }
  check_loom(n, one_seed_1);
  fill(2, 0, n / 2);
  long kept = host_exhaust_mappings(spare);
  u3e_save(host_low(), host_high());
  for (uint32_t p = 0; p < n && !limit_still; p++) {
    if (p % 4 < 2) host_fill(3, p);
  }
  wait_ok("the save at the limit");
  check_no_patch(dir);
  check_image(dir, n, limit_image);
  check_loom(n, limit_loom_now);
  u3e_save(host_low(), host_high());
  wait_ok("the next save");
  check_image(dir, n, limit_loom_now);
  printf("a background save at the mapping limit (%ld spare, %ld made, %ld in all)\n", spare, kept,
         host_map_count());
}

/* Loom pages of the `maplimit_hole` step: [0, n) saved under seed 1,
 * [40, 70) stored to again (2) and saved in the background past the limit;
 * pages 66 (of that save) and 100 (clean) stored to while it is pending. */
static uint32_t hole_image(uint32_t p) { return p >= 40 && p < 70 ? 2 : 1; }
static uint32_t hole_after(uint32_t p) { return p == 66 || p == 100 ? 3 : hole_image(p); }

/* maplimit_hole DIR N: a background save of loom pages [40, 70) is
 * pending when the process goes one mapping past vm.max_map_count (the
 * kernel lets an mmap take the count to the limit + 1, and then refuses
 * every mmap, even one that replaces others). First stores to a page of
 * the pending save and to a clean one then widen: in swap mode the run
 * [64, 128) around page 66 is moved onto the ephemeral file, and
 * unmapping it first would not lower the count (it splits two mappings
 * and removes two). The stores land, the loom never has a hole, the save
 * holds the pages as they were and the next one every store. */
static void step_maplimit_hole(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_check(n >= 128, "N must be at least 128");
  host_boot_road(dir, &opts, n, 2);
  fill(1, 0, n);
  u3e_save(host_low(), host_high());
  wait_ok("the first save");
  fill(2, 40, 70);
  u3e_save(host_low(), host_high());
  long kept = host_exhaust_mappings(0);
  void *past = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  host_check(past != MAP_FAILED, "one mapping past the limit: %s", strerror(errno));
  host_fill(3, 66);
  host_fill(3, 100);
  wait_ok("the save past the limit");
  check_no_patch(dir);
  check_image(dir, n, hole_image);
  check_loom(n, hole_after);
  u3e_save(host_low(), host_high());
  wait_ok("the next save");
  check_image(dir, n, hole_after);
  printf("stores past the mapping limit during a background save, no hole (%ld made)\n", kept);
}

int main(int argc, char **argv) {
  static const host_step steps[] = {
      {"stores", step_stores},       {"backtoback", step_backtoback}, {"backup", step_backup},
      {"stop_live", step_stop_live}, {"end", step_end},               {"either", step_either},
      {"sync", step_sync},           {"soft", step_soft},
      {"wait_other_thread", step_wait_other_thread},
      {"fork_entry", step_fork_entry},
      {"signal_save", step_signal_save},
      {"storm", step_storm},
      {"during", step_during},
      {"exact", step_exact},
      {"maplimit_end", step_maplimit_end},
      {"same", step_same},
      {"granule_tail", step_granule_tail},
      {"signal_store", step_signal_store},
      {"maplimit_save", step_maplimit_save},
      {"maplimit_hole", step_maplimit_hole},
  };
  return host_run_step("background", steps, sizeof steps / sizeof steps[0], &opts, argc, argv);
}
