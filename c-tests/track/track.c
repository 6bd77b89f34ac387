/* track: scenarios for the two ways liblooms learns which clean pages were
 * written (LOOMS_TRACKING=mprotect|uffd). Each command prints what it
 * checked; a line starting "bad: " is a failed check. Exit status: 0 when
 * every check holds, 1 when one fails, 2 when the host cannot run, 3 when
 * u3e_fault did not handle a store outside a probe.
 *
 *   track uffd-kernel
 *       whether this kernel offers userfaultfd with asynchronous write
 *       protection (asked directly, not through the library)
 *   track granule
 *       the loom pages in the library's granule, as the tests compute it
 *       (host_granule): 1 on kernels with pages of 16 KiB or less, 4 under
 *       LOOMS_TEST_GRANULE=65536
 *
 * The library protects, maps and tracks in granules: every count below
 * (faults, dirty pages, the guard's place) is what the granule makes it,
 * page by page in 16 KiB granules.
 *   track which DIR FLAGS
 *       boot a new pier (wag_w = FLAGS), save 4 pages, store once to a
 *       clean page; prints "behaves: mprotect" (one fault) or
 *       "behaves: uffd" (none)
 *   track write DIR SEED PAGES STRIDE EXPECT [FLAGS]
 *       a new pier of PAGES saved pages; a store to every STRIDE-th page,
 *       counted against EXPECT (mprotect: one fault per page, uffd: none);
 *       the dirty bitmap after u3e_toss; a second save (wag_w = FLAGS)
 *   track rewrite DIR SEED PAGES STRIDE EXPECT [FLAGS]
 *       boot that pier; the guard page where boot placed it, protected;
 *       store to every page one past a multiple of STRIDE, in scattered
 *       order, counted against EXPECT; the bitmap after u3e_toss (exactly
 *       the stored pages); a save
 *   track verify DIR SEED PAGES STRIDE [FLAGS [REWRITTEN]]
 *       boot that pier and compare every byte of the loom and of image.bin
 *       (REWRITTEN 1: after rewrite); the reads raise no fault and dirty no
 *       page
 *   rewrite and verify print "huge: N KiB", the image's memory in
 *   transparent huge pages right after boot
 *   track yolo DIR EXPECT
 *       u3e_yolo, stores, u3e_foul, a save; tracking resumes after it
 *   track scatter DIR LOG2WORDS STORES EXPECT SEED [FLAGS [LEAVE]]
 *       a loom of 2^LOG2WORDS words; STORES first stores, in scattered
 *       order, to one page of every other granule of a clean image; the
 *       bitmap after u3e_toss; a save (wag_w = FLAGS). LEAVE: during the
 *       stores the process holds all but LEAVE of the mappings the kernel
 *       allows (vm.max_map_count), and under mprotect some stores must
 *       land in runs widened for want of mappings
 *   track scatter-verify DIR LOG2WORDS STORES SEED [FLAGS]
 *       boot that pier and compare every byte of the saved pages
 *   track guard DIR EXPECT
 *       stores into the guard page: moved up, moved down, exhausted, bogus
 *   track scan-fails DIR
 *       with uffd, when scanning for written pages fails (run it under
 *       libnoscan.so): every later store lands and is saved, and mprotect
 *       tracks from the next save on */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#include <unistd.h>

#include "host.h"

static int failures;

static void bad(const char *format, ...) {
  va_list args;
  va_start(args, format);
  printf("bad: ");
  vprintf(format, args);
  printf("\n");
  va_end(args);
  fflush(stdout);
  failures++;
}

static int finish(const char *what) {
  printf("%s: %s\n", what, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

enum expect { EXPECT_MPROTECT, EXPECT_UFFD };

static enum expect parse_expect(const char *text) {
  if (strcmp(text, "mprotect") == 0) {
    return EXPECT_MPROTECT;
  }
  if (strcmp(text, "uffd") == 0) {
    return EXPECT_UFFD;
  }
  fprintf(stderr, "track: EXPECT is mprotect or uffd, not %s\n", text);
  exit(2);
}

static uint32_t number(const char *text) {
  char *end;
  errno = 0;
  unsigned long value = strtoul(text, &end, 0);
  if (errno != 0 || *end != '\0' || value > UINT32_MAX) {
    fprintf(stderr, "track: not a number: %s\n", text);
    exit(2);
  }
  return (uint32_t)value;
}

static u3_post words(uint32_t page) { return page << u3a_page; }

static long file_size(const char *dir) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/.urb/chk/image.bin", dir);
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int open_image(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/.urb/chk/image.bin", dir);
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    host_die(path);
  }
  return fd;
}

/* Pages in [from, to) that u3e_Pool marks dirty. */
static uint32_t count_dirty(uint32_t from, uint32_t to) {
  uint32_t count = 0;
  for (uint32_t page = from; page < to; page++) {
    count += (uint32_t)host_dirty(page);
  }
  return count;
}

/* ---- granules -------------------------------------------------------- */

/* The library's granules (host_granule: one page on a kernel whose pages
 * are at most 16 KiB, 4 pages under LOOMS_TEST_GRANULE=65536). Every
 * expected number below is computed from them, so the same checks hold
 * page by page in 16 KiB granules and granule by granule in larger ones. */
static uint32_t granule_floor(uint32_t page) { return page / host_granule() * host_granule(); }

/* Where the guard goes between heap page LOW and stack page HIGH: the
 * middle granule between theirs (its first page). */
static uint32_t guard_place(uint32_t low, uint32_t high) {
  uint32_t g = host_granule();
  return (low / g + (high / g - low / g) / 2) * g;
}

/* The library's dirty bits of an image's pages [0, pages), as the test
 * expects them: after a save or a boot only the image's last, partial
 * granule is dirty; a store to a clean granule dirties all of it (and,
 * under mprotect, is the one store in it that faults). */
typedef struct model {
  uint32_t pages;
  unsigned char *dirty;
} model;

static model model_new(uint32_t pages) {
  model m = {.pages = pages, .dirty = calloc(pages ? pages : 1, 1)};
  if (m.dirty == NULL) {
    host_die("calloc");
  }
  return m;
}

/* After a save, or a boot: clean but for the last, partial granule. */
static void model_saved(model *m) {
  for (uint32_t page = 0; page < m->pages; page++) {
    m->dirty[page] = page >= granule_floor(m->pages);
  }
}

/* A store to PAGE; 1 when it is the first to its clean granule. */
static int model_store(model *m, uint32_t page) {
  if (m->dirty[page]) {
    return 0;
  }
  uint32_t first = granule_floor(page);
  for (uint32_t p = first; p < first + host_granule() && p < m->pages; p++) {
    m->dirty[p] = 1;
  }
  return 1;
}

static uint32_t model_count(const model *m) {
  uint32_t count = 0;
  for (uint32_t page = 0; page < m->pages; page++) {
    count += m->dirty[page];
  }
  return count;
}

/* Checks u3e_Pool's dirty bits of the image's pages against the model;
 * says WHEN on a difference. */
static void model_check(const model *m, const char *when) {
  for (uint32_t page = 0; page < m->pages; page++) {
    if (host_dirty(page) != (m->dirty[page] != 0)) {
      bad("%s: page %u is %s, want %s (%u image pages dirty, want %u)", when, page,
          host_dirty(page) ? "dirty" : "clean", m->dirty[page] ? "dirty" : "clean",
          count_dirty(0, m->pages), model_count(m));
      return;
    }
  }
}

/* KiB of the loom's first PAGES pages in transparent huge pages: the
 * AnonHugePages of the mappings /proc/self/smaps shows inside that range. */
static long huge_kib(uint32_t pages) {
  FILE *in = fopen("/proc/self/smaps", "r");
  if (in == NULL) {
    return -1;
  }
  uintptr_t from = RT_LOOM_BASE;
  uintptr_t to = RT_LOOM_BASE + (uintptr_t)pages * HOST_PAGE_BYTES;
  char line[512];
  int inside = 0;
  long kib = 0;
  while (fgets(line, sizeof line, in) != NULL) {
    unsigned long start, end;
    long value;
    if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, ' ') > strchr(line, '-')) {
      inside = start >= from && end <= to;
    } else if (inside && sscanf(line, "AnonHugePages: %ld kB", &value) == 1) {
      kib += value;
    }
  }
  fclose(in);
  return kib;
}

/* ---- uffd-kernel -------------------------------------------------------- */

/* The userfaultfd ABI (linux/userfaultfd.h), spelled out so the test does
 * not depend on the installed kernel headers. */
struct test_uffdio_api {
  uint64_t api;
  uint64_t features;
  uint64_t ioctls;
};
#define TEST_UFFD_USER_MODE_ONLY 1
#define TEST_UFFD_API 0xaaULL
#define TEST_UFFD_FEATURE_WP_UNPOPULATED (1ULL << 13)
#define TEST_UFFD_FEATURE_WP_ASYNC (1ULL << 15)
#define TEST_UFFDIO_API _IOWR(0xaa, 0x3f, struct test_uffdio_api)

static int cmd_uffd_kernel(void) {
#ifdef SYS_userfaultfd
  long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | TEST_UFFD_USER_MODE_ONLY);
  if (fd < 0) {
    printf("uffd-kernel: no (userfaultfd: %s)\n", strerror(errno));
    return 1;
  }
  uint64_t wanted = TEST_UFFD_FEATURE_WP_ASYNC | TEST_UFFD_FEATURE_WP_UNPOPULATED;
  struct test_uffdio_api api = {.api = TEST_UFFD_API, .features = wanted};
  int rc = ioctl((int)fd, TEST_UFFDIO_API, &api);
  close((int)fd);
  if (rc != 0 || (api.features & wanted) != wanted) {
    printf("uffd-kernel: no (UFFDIO_API without asynchronous write-protect)\n");
    return 1;
  }
  printf("uffd-kernel: yes\n");
  return 0;
#else
  printf("uffd-kernel: no (no SYS_userfaultfd)\n");
  return 1;
#endif
}

/* ---- which -------------------------------------------------------------- */

static int cmd_which(char *dir, uint32_t flags) {
  host_start(dir, (size_t)1 << 24, flags);
  if (u3e_live(c3n, dir) != c3y) {
    bad("u3e_live did not report a new pier");
  }
  u3_post high = words(host_pages() - 1);
  host_marks(0, high);
  for (uint32_t page = 0; page < 4; page++) {
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      host_page(page)[i] = host_mix(1, page, i);
    }
  }
  host_road(0, words(4), high, 0, 0);
  u3e_save(words(4), high);
  if (u3e_Pool.img_u.pgs_w != 4) {
    bad("img_u.pgs_w %u after saving 4 pages", u3e_Pool.img_u.pgs_w);
  }
  host_reset_faults();
  host_page(2)[5] = 77;
  uint64_t got = host_faults();
  u3e_toss(words(4), high);
  if (!host_dirty(2)) {
    bad("the stored page is not dirty after u3e_toss");
  }
  u3e_stop();
  printf("behaves: %s\n", got == 1 ? "mprotect" : got == 0 ? "uffd" : "other");
  return finish("which");
}

/* ---- write / verify ----------------------------------------------------- */

/* The word the pier holds at (PAGE, I) after `write SEED PAGES STRIDE`
 * and, when REWRITTEN, `rewrite` after it. */
static uint32_t written_word(uint32_t seed, uint32_t stride, uint32_t page, uint32_t i,
                             int rewritten) {
  if (rewritten && page % stride == 1) {
    return host_mix(seed + 2, page, i);
  }
  return host_mix(page % stride == 0 ? seed + 1 : seed, page, i);
}

static int cmd_write(char *dir, uint32_t seed, uint32_t pages, uint32_t stride,
                     enum expect expect, uint32_t flags) {
  host_start(dir, (size_t)1 << 24, flags);
  uint32_t loom = host_pages();
  if (pages == 0 || stride == 0 || pages >= loom / 2 - 1) {
    fprintf(stderr, "track: PAGES must be in [1, %u), STRIDE at least 1\n", loom / 2 - 1);
    return 2;
  }
  if (u3e_live(c3n, dir) != c3y) {
    bad("u3e_live did not report a new pier");
  }
  u3_post high = words(loom - 1);
  host_marks(words(pages), high);
  host_road(0, words(pages), high, 0, 0);
  model m = model_new(pages);

  /* A new pier: every page is dirty and writable, so nothing faults. */
  host_reset_faults();
  for (uint32_t page = 0; page < pages; page++) {
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      host_page(page)[i] = host_mix(seed, page, i);
    }
  }
  if (host_faults() != 0) {
    bad("%llu faults writing a new pier's pages", (unsigned long long)host_faults());
  }
  u3e_save(words(pages), high);
  if (u3e_Pool.img_u.pgs_w != pages || file_size(dir) != (long)(pages * HOST_PAGE_BYTES)) {
    bad("after the first save: img_u.pgs_w %u, image.bin %ld bytes, want %u pages",
        u3e_Pool.img_u.pgs_w, file_size(dir), pages);
  }
  model_saved(&m);
  model_check(&m, "after the first save");

  /* Reads are not stores: reading every image page dirties none. */
  uint32_t misread = 0;
  for (uint32_t page = 0; page < pages; page++) {
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      misread += host_page(page)[i] != host_mix(seed, page, i);
    }
  }
  u3e_toss(words(pages), high);
  if (misread != 0 || host_faults() != 0) {
    bad("reading the saved pages: %u words differ, %llu faults", misread,
        (unsigned long long)host_faults());
  }
  model_check(&m, "after reading the saved pages and u3e_toss");

  /* First stores to clean pages, from the top down, each a whole page.
   * Under mprotect the first of them into each clean granule faults. */
  unsigned char *first_in_granule = calloc(pages, 1);
  if (first_in_granule == NULL) {
    host_die("calloc");
  }
  host_reset_faults();
  uint32_t stored = 0;
  uint32_t granules = 0;
  for (uint32_t page = (pages - 1) / stride * stride;; page -= stride) {
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      host_page(page)[i] = host_mix(seed + 1, page, i);
    }
    stored++;
    first_in_granule[page] = (unsigned char)model_store(&m, page);
    granules += first_in_granule[page];
    if (page < stride) {
      break;
    }
  }
  uint64_t want = expect == EXPECT_MPROTECT ? granules : 0;
  uint64_t first_faults = host_faults();
  if (first_faults != want) {
    bad("%u first stores to clean pages: %llu faults, want %llu", stored,
        (unsigned long long)host_faults(), (unsigned long long)want);
  }
  for (uint32_t page = 0; page < loom; page++) {
    unsigned one = expect == EXPECT_MPROTECT && page < pages && first_in_granule[page];
    if (host_page_faults(page) != one) {
      bad("page %u faulted %u times, want %u", page, host_page_faults(page), one);
      break;
    }
  }
  free(first_in_granule);
  /* Stores to pages already written raise nothing. */
  uint64_t before = host_faults();
  for (uint32_t page = 0; page < pages; page += stride) {
    host_page(page)[HOST_PAGE_WORDS - 1] = host_mix(seed + 1, page, HOST_PAGE_WORDS - 1);
  }
  if (host_faults() != before) {
    bad("second stores raised %llu faults", (unsigned long long)(host_faults() - before));
  }

  /* After u3e_toss the bitmap holds exactly the stored image pages' granules. */
  u3e_toss(words(pages), high);
  model_check(&m, "after the stores and u3e_toss");
  if (count_dirty(pages, loom) != loom - pages) {
    bad("%u pages above the image are clean", loom - pages - count_dirty(pages, loom));
  }

  u3e_save(words(pages), high);
  if (u3e_Pool.img_u.pgs_w != pages || file_size(dir) != (long)(pages * HOST_PAGE_BYTES)) {
    bad("after the second save: img_u.pgs_w %u, image.bin %ld bytes", u3e_Pool.img_u.pgs_w,
        file_size(dir));
  }
  model_saved(&m);
  model_check(&m, "after the second save");

  /* Tracking starts again after a save: a store to a saved page is seen
   * (the image's last page: when its granule is partial it stayed dirty,
   * and the store raises nothing). */
  host_reset_faults();
  uint32_t again = pages - 1;
  host_page(again)[3] = ~host_page(again)[3];
  int again_first = model_store(&m, again);
  uint64_t again_faults = expect == EXPECT_MPROTECT ? (uint64_t)again_first : 0;
  if (host_faults() != again_faults) {
    bad("a store after the second save raised %llu faults, want %llu",
        (unsigned long long)host_faults(), (unsigned long long)again_faults);
  }
  u3e_toss(words(pages), high);
  if (!host_dirty(again)) {
    bad("after a store to page %u and u3e_toss that page is clean", again);
  }
  model_check(&m, "after a store to the last image page and u3e_toss");
  /* That store is never saved: the pier keeps the second save. */
  u3e_stop();
  free(m.dirty);
  printf("write: %u pages saved, %u first stores to clean pages, %llu faults", pages, stored,
         (unsigned long long)first_faults);
  if (host_granule() > 1) {
    printf(" (%u granules of %u pages stored to)", granules, host_granule());
  }
  printf("\n");
  return finish("write");
}

/* A step near 97 with no common factor with N: k * step % N visits every
 * k < N once. */
static uint32_t coprime_step(uint32_t n) {
  for (uint32_t step = 97;; step++) {
    uint32_t a = step, b = n;
    while (b != 0) {
      uint32_t r = a % b;
      a = b;
      b = r;
    }
    if (a == 1) {
      return step;
    }
  }
}

/* Boots the pier `write` made and stores to every page one past a
 * multiple of STRIDE: tracking armed at boot, not by a save. */
static int cmd_rewrite(char *dir, uint32_t seed, uint32_t pages, uint32_t stride,
                       enum expect expect, uint32_t flags) {
  host_start(dir, (size_t)1 << 24, flags);
  uint32_t loom = host_pages();
  if (stride < 2 || pages < 2 || pages >= loom / 2 - 1) {
    fprintf(stderr, "track: rewrite needs STRIDE at least 2, PAGES in [2, %u)\n", loom / 2 - 1);
    return 2;
  }
  if (u3e_live(c3n, dir) != c3n) {
    bad("u3e_live reported a new pier");
  }
  u3_post high = words(loom - 1);
  host_marks(words(pages), high);
  host_road(0, words(pages), high, 0, 0);
  if (u3e_Pool.img_u.pgs_w != pages) {
    bad("after boot: img_u.pgs_w %u, want %u", u3e_Pool.img_u.pgs_w, pages);
  }
  model m = model_new(pages);
  model_saved(&m);
  model_check(&m, "after boot");
  printf("huge: %ld KiB\n", huge_kib(pages));
  /* The guard is where boot puts it (the middle granule between the image
   * and the loom's top), and protected: a store into it between the
   * watermarks is a bogus fault, and does not move it; so is a store into
   * the last page of its granule. */
  uint32_t guard = guard_place(pages, loom);
  if (u3e_Pool.gar_w != guard) {
    bad("after boot the guard is at page %u, want %u", u3e_Pool.gar_w, guard);
  }
  host_reset_faults();
  int flaw = host_try_store(&host_page(guard)[1], 1);
  if (flaw != (int)u3e_flaw_sham || u3e_Pool.gar_w != guard) {
    bad("a store into the guard page %u gave %d, guard now at %u", guard, flaw,
        u3e_Pool.gar_w);
  }
  uint32_t guard_last = guard + host_granule() - 1;
  flaw = host_try_store(&host_page(guard_last)[2], 1);
  if (flaw != (int)u3e_flaw_sham || u3e_Pool.gar_w != guard) {
    bad("a store into page %u, the guard's granule's last, gave %d, guard now at %u", guard_last,
        flaw, u3e_Pool.gar_w);
  }
  host_reset_faults();
  /* The pages one past a multiple of STRIDE, visited in a scattered order
   * (a step coprime with their number). */
  uint32_t targets = (pages - 1 + stride - 1) / stride;
  uint32_t step = coprime_step(targets);
  uint32_t stored = 0;
  uint32_t granules = 0;
  for (uint32_t k = 0; k < targets; k++) {
    uint32_t page = 1 + (uint32_t)((uint64_t)k * step % targets) * stride;
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      host_page(page)[i] = host_mix(seed + 2, page, i);
    }
    stored++;
    granules += (uint32_t)model_store(&m, page);
  }
  uint64_t want = expect == EXPECT_MPROTECT ? granules : 0;
  uint64_t faults = host_faults();
  if (faults != want) {
    bad("%u first stores after boot: %llu faults, want %llu", stored,
        (unsigned long long)faults, (unsigned long long)want);
  }
  u3e_toss(words(pages), high);
  model_check(&m, "after the stores and u3e_toss");
  u3e_save(words(pages), high);
  model_saved(&m);
  model_check(&m, "after the save");
  free(m.dirty);
  u3e_stop();
  printf("rewrite: %u first stores after boot, %llu faults", stored, (unsigned long long)faults);
  if (host_granule() > 1) {
    printf(" (%u granules of %u pages stored to)", granules, host_granule());
  }
  printf("\n");
  return finish("rewrite");
}

static int cmd_verify(char *dir, uint32_t seed, uint32_t pages, uint32_t stride,
                      uint32_t flags, int rewritten) {
  host_start(dir, (size_t)1 << 24, flags);
  if (u3e_live(c3n, dir) != c3n) {
    bad("u3e_live reported a new pier");
  }
  if (u3e_Pool.img_u.pgs_w != pages) {
    bad("img_u.pgs_w %u, want %u", u3e_Pool.img_u.pgs_w, pages);
  }
  printf("huge: %ld KiB\n", huge_kib(pages));
  host_reset_faults();
  int fd = open_image(dir);
  static uint32_t file_page[HOST_PAGE_WORDS];
  uint32_t wrong = 0;
  for (uint32_t page = 0; page < pages && wrong < 5; page++) {
    const uint32_t *loom = host_page(page);
    if (pread(fd, file_page, HOST_PAGE_BYTES, (off_t)page * HOST_PAGE_BYTES) !=
        (ssize_t)HOST_PAGE_BYTES) {
      bad("image.bin: short read at page %u", page);
      break;
    }
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      uint32_t want = written_word(seed, stride, page, i, rewritten);
      if (loom[i] != want || file_page[i] != want) {
        bad("page %u word %u: loom %08x, image.bin %08x, want %08x", page, i, loom[i],
            file_page[i], want);
        wrong++;
        break;
      }
    }
  }
  close(fd);
  /* Reading is not storing: no fault, and no page dirty once tracking has
   * caught up (u3e_toss), but for the image's last granule when partial. */
  u3_post high = words(host_pages() - 1);
  host_marks(words(pages), high);
  host_road(0, words(pages), high, 0, 0);
  u3e_toss(words(pages), high);
  if (host_faults() != 0) {
    bad("reading the image after boot: %llu faults", (unsigned long long)host_faults());
  }
  model m = model_new(pages);
  model_saved(&m);
  model_check(&m, "reading the image after boot and u3e_toss");
  free(m.dirty);
  u3e_stop();
  printf("verify: %u pages compared word by word, in the loom and in image.bin\n", pages);
  return finish("verify");
}

/* ---- scatter ------------------------------------------------------------ */

/* Where scatter puts things. Only image pages are clean (every page above
 * the image is dirty from boot), so the stores must go into the image.
 * Pages [0, span) are heap pages the page directory marks free at the
 * first save: the image covers them without writing them (a hole), and
 * the stores go to one page of every other granule (the even pages in
 * 16 KiB granules), so that each first store is alone in its granule.
 * The directory follows them, then a few pages the second save adds. */
typedef struct layout {
  uint32_t loom;      /* pages in the loom */
  uint32_t stores;    /* first stores */
  uint32_t span;      /* pages the stores spread over */
  uint32_t dir_pages; /* pages of the page directory, from page span */
  uint32_t entries;   /* directory entries: pages [0, entries) */
  uint32_t grow;      /* pages the second save adds to the image */
  uint32_t top;       /* the image's pages after the second save */
} layout;

static layout plan(uint32_t log2_words, uint32_t stores) {
  layout l;
  if (log2_words < 20 || log2_words > 32 || stores == 0) {
    fprintf(stderr, "track: LOG2WORDS must be in [20, 32], STORES at least 1\n");
    exit(2);
  }
  l.loom = (uint32_t)(((uint64_t)1 << log2_words) >> u3a_page);
  l.stores = stores;
  l.span = 2 * host_granule() * stores;
  if (l.span / 2 / host_granule() != stores) {
    fprintf(stderr, "track: %u stores need more than %u pages\n", stores, l.loom);
    exit(2);
  }
  l.dir_pages = (l.span + HOST_PAGE_WORDS - 1) / HOST_PAGE_WORDS + 1;
  l.entries = l.span + l.dir_pages;
  l.grow = 8;
  l.top = l.entries + l.grow;
  if ((uint64_t)l.top + 4 >= l.loom) {
    fprintf(stderr, "track: %u stores need more than %u pages\n", stores, l.loom);
    exit(2);
  }
  return l;
}

/* The page of the N-th store (in page order): in the N-th even granule,
 * at an offset that walks through the granule. */
static uint32_t scatter_page(uint32_t n) {
  uint32_t g = host_granule();
  return 2 * g * n + n % g;
}

/* The second stored word's place in PAGE. */
static uint32_t scatter_slot(uint32_t page) { return 1 + page % (HOST_PAGE_WORDS - 1); }

/* The word (PAGE, I) after scatter, for pages not in [0, span). */
static uint32_t scatter_upper(const layout *l, uint32_t seed, uint32_t page, uint32_t i) {
  if (page < l->entries) {
    uint64_t entry = (uint64_t)(page - l->span) * HOST_PAGE_WORDS + i;
    return entry < l->span ? 0 : entry < l->entries ? 1 : 0;
  }
  return host_mix(seed + 7, page, i);
}

/* Whether every page of PAGE's aligned run of 64 is dirty (but the
 * guard's granule): what widening leaves behind when the kernel runs out
 * of mappings. */
static int widened_run(const layout *l, uint32_t page) {
  uint32_t first = page & ~63u;
  uint32_t end = first + 64 < l->loom ? first + 64 : l->loom;
  for (uint32_t p = first; p < end; p++) {
    if (!host_dirty(p) && granule_floor(p) != u3e_Pool.gar_w) {
      return 0;
    }
  }
  return 1;
}

/* Whether scatter stores to PAGE. */
static int scatter_stored(const layout *l, uint32_t page) {
  uint32_t g = host_granule();
  return page < l->span && page / g % 2 == 0 && page % g == page / (2 * g) % g;
}

static uint64_t gcd(uint64_t a, uint64_t b) {
  while (b != 0) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Mappings this process holds beside the loom's, to bring the kernel's
 * limit (vm.max_map_count) near: a region of pages of alternating
 * protection, one mapping per page. */
typedef struct crowd {
  char *base;
  size_t bytes;
  long limit;
  long left;
} crowd;

/* The mappings of this process (lines of /proc/self/maps). */
static long mappings(void) {
  FILE *in = fopen("/proc/self/maps", "r");
  if (in == NULL) {
    host_die("/proc/self/maps");
  }
  long count = 0;
  int c;
  while ((c = getc(in)) != EOF) {
    count += c == '\n';
  }
  fclose(in);
  return count;
}

/* Takes mappings until LEAVE of the limit are left (0: takes none). */
static crowd crowd_up(uint32_t leave) {
  crowd c = {.base = NULL, .bytes = 0, .limit = 0, .left = 0};
  if (leave == 0) {
    return c;
  }
  FILE *in = fopen("/proc/sys/vm/max_map_count", "r");
  if (in == NULL || fscanf(in, "%ld", &c.limit) != 1) {
    host_die("/proc/sys/vm/max_map_count");
  }
  fclose(in);
  long take = c.limit - mappings() - (long)leave;
  if (take > 1) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    c.bytes = (size_t)take * page;
    c.base = mmap(NULL, c.bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c.base == MAP_FAILED) {
      host_die("mmap (crowding)");
    }
    for (long i = 1; i < take; i += 2) {
      if (mprotect(c.base + (size_t)i * page, page, PROT_READ) != 0) {
        if (errno == ENOMEM) {
          break; /* at the limit already */
        }
        host_die("mprotect (crowding)");
      }
    }
  }
  c.left = c.limit - mappings();
  return c;
}

static void crowd_release(crowd *c) {
  if (c->base != NULL && munmap(c->base, c->bytes) != 0) {
    host_die("munmap (crowding)");
  }
  c->base = NULL;
}

static int cmd_scatter(char *dir, uint32_t log2_words, uint32_t stores, enum expect expect,
                       uint32_t seed, uint32_t flags, uint32_t leave) {
  layout l = plan(log2_words, stores);
  host_start(dir, (size_t)1 << log2_words, flags);
  if (u3e_live(c3n, dir) != c3y) {
    bad("u3e_live did not report a new pier");
  }
  u3_post high = words(l.loom - 1);

  /* The first save: a heap of span free pages and the directory. */
  uint32_t *directory = host_page(l.span);
  for (uint32_t e = 0; e < l.entries; e++) {
    directory[e] = e < l.span ? 0 : 1;
  }
  host_road(0, words(l.entries), high, l.entries, words(l.span));
  host_marks(words(l.entries), high);
  u3e_ward(words(l.entries), high);
  uint32_t guard = u3e_Pool.gar_w;
  if (guard <= l.top || guard >= l.loom - 1) {
    bad("u3e_ward put the guard at page %u, not between %u and %u", guard, l.top, l.loom - 1);
  }
  double t0 = host_ms();
  u3e_save(words(l.entries), high);
  double t_first = host_ms() - t0;
  if (u3e_Pool.img_u.pgs_w != l.entries ||
      file_size(dir) != (long)((uint64_t)l.entries * HOST_PAGE_BYTES)) {
    bad("after the first save: img_u.pgs_w %u, image.bin %ld bytes, want %u pages",
        u3e_Pool.img_u.pgs_w, file_size(dir), l.entries);
  }
  /* Only the image's last granule, when partial, stays dirty. */
  uint32_t tail = granule_floor(l.entries);
  if (count_dirty(0, l.entries) != l.entries - tail ||
      count_dirty(tail, l.entries) != l.entries - tail) {
    bad("%u image pages dirty after the first save, want the %u of its last granule",
        count_dirty(0, l.entries), l.entries - tail);
  }

  /* First stores to every other clean granule, in a scattered order,
   * with all but LEAVE of the kernel's mappings taken when asked. */
  crowd c = crowd_up(leave);
  uint64_t step = 2654435761u % stores;
  if (step == 0) {
    step = 1;
  }
  while (gcd(step, stores) != 1) {
    step++;
  }
  host_reset_faults();
  t0 = host_ms();
  for (uint64_t n = 0; n < stores; n++) {
    uint32_t page = scatter_page((uint32_t)((n * step) % stores));
    uint32_t *w = host_page(page);
    w[0] = host_mix(seed, page, 0) | 1;
    w[scatter_slot(page)] = host_mix(seed, page, 1) | 1;
  }
  double t_stores = host_ms() - t0;
  uint64_t faults = host_faults();
  crowd_release(&c);

  /* Pages above the image are dirty already: stores there never fault. */
  for (uint32_t page = l.entries; page < l.top; page++) {
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      host_page(page)[i] = scatter_upper(&l, seed, page, i);
    }
  }
  if (host_faults() != faults) {
    bad("stores above the image raised %llu faults", (unsigned long long)(host_faults() - faults));
  }

  /* Every fault was for a stored page, and once; at most one in a granule
   * (the first store there makes all of it writable). */
  for (uint32_t page = 0; page < l.loom; page++) {
    unsigned count = host_page_faults(page);
    if (count > 1 || (count == 1 && !scatter_stored(&l, page))) {
      bad("page %u faulted %u times", page, count);
      break;
    }
  }
  if (expect == EXPECT_UFFD && faults != 0) {
    bad("uffd: %llu faults for %u first stores, want none", (unsigned long long)faults, stores);
  }
  if (expect == EXPECT_MPROTECT && faults == 0) {
    bad("mprotect: no fault for %u first stores to clean pages", stores);
  }

  t0 = host_ms();
  u3e_toss(words(l.top), high);
  double t_toss = host_ms() - t0;

  /* The bitmap, granule by granule (a granule is a page in 16 KiB
   * granules): every page of a granule stored to is dirty. With uffd
   * nothing else in the image is. With mprotect a granule stored to faults
   * once, unless it lies in a run that was widened because the kernel ran
   * out of mappings; so must an unstored dirty granule. The image's last,
   * partial granule was dirty before the stores: no fault there. */
  uint32_t g = host_granule();
  uint32_t extra = 0;
  uint32_t absorbed = 0;
  uint32_t touched = 0;
  uint32_t faulted = 0;
  uint32_t widened_granules = 0;
  uint32_t reported = 0;
  for (uint32_t first = 0; first < l.entries && reported < 5; first += g) {
    uint32_t end = first + g < l.entries ? first + g : l.entries;
    uint32_t stored = 0;
    uint32_t dirty = 0;
    uint32_t count = 0;
    for (uint32_t page = first; page < end; page++) {
      stored += (uint32_t)scatter_stored(&l, page);
      dirty += (uint32_t)host_dirty(page);
      count += host_page_faults(page);
    }
    if (first >= tail) {
      if (dirty != end - first || count != 0) {
        bad("the image's last granule, from page %u: %u pages dirty, %u faults", first, dirty,
            count);
        reported++;
      }
    } else if (stored > 0 && dirty != end - first) {
      bad("granule from page %u: %u pages stored to, %u of its %u pages dirty after u3e_toss",
          first, stored, dirty, end - first);
      reported++;
    } else if (stored > 0 && count > 1) {
      bad("granule from page %u faulted %u times", first, count);
      reported++;
    } else if (stored > 0) {
      touched++;
      faulted += count;
      if (count == 0 && expect == EXPECT_MPROTECT) {
        widened_granules++;
        absorbed += stored;
        if (!widened_run(&l, first)) {
          bad("stored page %u's granule never faulted and is not in a widened run", first);
          reported++;
        }
      }
    } else if (dirty != 0) {
      extra += dirty;
      if (expect == EXPECT_UFFD || !widened_run(&l, first)) {
        bad("granule from page %u was not stored to but has %u pages dirty after u3e_toss",
            first, dirty);
        reported++;
      }
    }
  }
  if (expect == EXPECT_MPROTECT && reported == 0 && faulted + widened_granules != touched) {
    bad("mprotect: %u granules faulted and %u were widened, for %u granules stored to", faulted,
        widened_granules, touched);
  }
  if (leave != 0 && expect == EXPECT_MPROTECT && widened_granules == 0) {
    bad("with %ld of vm.max_map_count %ld left for the stores, no store landed in a widened run",
        c.left, c.limit);
  }
  if (count_dirty(l.entries, l.loom) != l.loom - l.entries) {
    bad("%u pages above the image are clean", l.loom - l.entries - count_dirty(l.entries, l.loom));
  }

  /* The second save: no page is free, the image grows by grow pages. */
  host_road(0, words(l.top), high, 0, 0);
  host_marks(words(l.top), high);
  uint32_t saving = count_dirty(0, l.top);
  t0 = host_ms();
  u3e_save(words(l.top), high);
  double t_save = host_ms() - t0;
  if (u3e_Pool.img_u.pgs_w != l.top ||
      file_size(dir) != (long)((uint64_t)l.top * HOST_PAGE_BYTES)) {
    bad("after the second save: img_u.pgs_w %u, image.bin %ld bytes, want %u pages",
        u3e_Pool.img_u.pgs_w, file_size(dir), l.top);
  }
  uint32_t top_tail = granule_floor(l.top);
  if (count_dirty(0, l.top) != l.top - top_tail ||
      count_dirty(top_tail, l.top) != l.top - top_tail) {
    bad("%u image pages dirty after the second save, want the %u of its last granule",
        count_dirty(0, l.top), l.top - top_tail);
  }
  u3e_stop();
  printf("scatter: %u-page loom, %u first stores over pages [0, %u) in %u granules: %llu "
         "faults, %u stores absorbed by widened runs, %u unstored pages dirtied by them\n",
         l.loom, stores, l.span, touched, (unsigned long long)faults, absorbed, extra);
  if (leave != 0) {
    printf("scatter: crowded: %ld of vm.max_map_count %ld left for the stores\n", c.left,
           c.limit);
  }
  printf("scatter: saved %u dirty pages; image.bin %u pages\n", saving, l.top);
  printf("scatter: ms: first save %.0f, stores %.0f, toss %.0f, second save %.0f\n", t_first,
         t_stores, t_toss, t_save);
  return finish("scatter");
}

/* The bitwise or of words [from, to) of W. */
static uint32_t or_words(const uint32_t *w, uint32_t from, uint32_t to) {
  uint32_t acc = 0;
  for (uint32_t i = from; i < to; i++) {
    acc |= w[i];
  }
  return acc;
}

static int cmd_scatter_verify(char *dir, uint32_t log2_words, uint32_t stores, uint32_t seed,
                              uint32_t flags) {
  layout l = plan(log2_words, stores);
  host_start(dir, (size_t)1 << log2_words, flags);
  if (u3e_live(c3n, dir) != c3n) {
    bad("u3e_live reported a new pier");
  }
  if (u3e_Pool.img_u.pgs_w != l.top) {
    bad("img_u.pgs_w %u, want %u", u3e_Pool.img_u.pgs_w, l.top);
  }
  double t0 = host_ms();
  uint32_t wrong = 0;
  for (uint32_t page = 0; page < l.top && wrong < 5; page++) {
    const uint32_t *w = host_page(page);
    if (page < l.span) {
      uint32_t slot = scatter_slot(page);
      uint32_t w0 = 0;
      uint32_t ws = 0;
      if (scatter_stored(&l, page)) {
        w0 = host_mix(seed, page, 0) | 1;
        ws = host_mix(seed, page, 1) | 1;
      }
      uint32_t rest = or_words(w, 1, slot) | or_words(w, slot + 1, HOST_PAGE_WORDS);
      if (w[0] != w0 || w[slot] != ws || rest != 0) {
        bad("page %u: words 0 and %u are %08x %08x, want %08x %08x; others %s", page, slot, w[0],
            w[slot], w0, ws, rest == 0 ? "zero" : "not zero");
        wrong++;
      }
      continue;
    }
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      if (w[i] != scatter_upper(&l, seed, page, i)) {
        bad("page %u word %u: %08x, want %08x", page, i, w[i], scatter_upper(&l, seed, page, i));
        wrong++;
        break;
      }
    }
  }
  double t_loom = host_ms() - t0;

  /* image.bin itself, read with pread: the stored words of every stored
   * page, and every word of every 64th page. */
  t0 = host_ms();
  int fd = open_image(dir);
  static uint32_t file_page[HOST_PAGE_WORDS];
  for (uint32_t page = 0; page < l.top && wrong < 5; page++) {
    int stored = scatter_stored(&l, page);
    if (!stored && page % 64 != 0) {
      continue;
    }
    if (pread(fd, file_page, HOST_PAGE_BYTES, (off_t)page * HOST_PAGE_BYTES) !=
        (ssize_t)HOST_PAGE_BYTES) {
      bad("image.bin: short read at page %u", page);
      break;
    }
    if (memcmp(file_page, host_page(page), HOST_PAGE_BYTES) != 0) {
      bad("image.bin page %u differs from the loom", page);
      wrong++;
    }
  }
  close(fd);
  double t_file = host_ms() - t0;
  u3e_stop();
  printf("scatter-verify: %u pages compared in the loom (%.0f ms), image.bin read back (%.0f ms)\n",
         l.top, t_loom, t_file);
  return finish("scatter-verify");
}

/* ---- guard -------------------------------------------------------------- */

static const char *flaw_name(int flaw) {
  switch (flaw) {
  case HOST_NO_FAULT:
    return "no fault";
  case u3e_flaw_sham:
    return "sham";
  case u3e_flaw_base:
    return "base";
  case u3e_flaw_meme:
    return "meme";
  case u3e_flaw_good:
    return "good";
  default:
    return "unknown";
  }
}

/* Stores VALUE at word I of PAGE; checks the fault said WANT. */
static void guard_store(const char *what, uint32_t page, uint32_t i, uint32_t value, int want) {
  uint64_t before = host_faults();
  int got = host_try_store(&host_page(page)[i], value);
  if (got != want) {
    bad("%s: a store to page %u gave %s, want %s", what, page, flaw_name(got), flaw_name(want));
  }
  if (want != HOST_NO_FAULT && host_faults() != before + 1) {
    bad("%s: %llu faults, want 1", what, (unsigned long long)(host_faults() - before));
  }
}

static int cmd_guard(char *dir, enum expect expect) {
  host_start(dir, (size_t)1 << 24, 0);
  uint32_t loom = host_pages();
  uint32_t image = 8;
  if (u3e_live(c3n, dir) != c3y) {
    bad("u3e_live did not report a new pier");
  }
  u3_post high = words(loom - 1);
  host_marks(words(image), high);
  host_road(0, words(image), high, 0, 0);
  for (uint32_t page = 0; page < image; page++) {
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      host_page(page)[i] = host_mix(3, page, i);
    }
  }
  u3e_save(words(image), high);
  /* Boot put the guard between page 0 and the loom's top; the save's ward
   * left it there, strictly between the watermarks' granules. */
  uint32_t guard = u3e_Pool.gar_w;
  if (guard != guard_place(0, loom)) {
    bad("the guard is at page %u after boot, want %u", guard, guard_place(0, loom));
  }

  /* The backend: a first store to a clean page. */
  host_reset_faults();
  guard_store("clean page", 3, 9, 1234,
              expect == EXPECT_MPROTECT ? (int)u3e_flaw_good : HOST_NO_FAULT);

  /* The heap reaches the guard: it moves to the middle of the gap above,
   * and the store lands. */
  host_marks(words(guard), high);
  guard_store("heap reaches the guard", guard, 7, 0xfeed, u3e_flaw_good);
  uint32_t up = guard_place(guard, loom - 1);
  if (u3e_Pool.gar_w != up) {
    bad("heap reaches the guard: the guard moved to page %u, want %u", u3e_Pool.gar_w, up);
  }
  if (host_page(guard)[7] != 0xfeed) {
    bad("heap reaches the guard: the store did not land (%x)", host_page(guard)[7]);
  }
  if (!host_dirty(up) || !host_dirty(guard)) {
    bad("the old and new guard pages must be dirty (%d, %d)", host_dirty(guard), host_dirty(up));
  }

  /* The stack reaches the guard from above, at the last page of its
   * granule: it moves down. */
  uint32_t up_last = up + host_granule() - 1;
  host_marks(words(image), words(up_last));
  guard_store("stack reaches the guard", up_last, 11, 0xbeef, u3e_flaw_good);
  uint32_t down = guard_place(image, up_last);
  if (u3e_Pool.gar_w != down) {
    bad("stack reaches the guard: the guard moved to page %u, want %u", u3e_Pool.gar_w, down);
  }
  if (host_page(up_last)[11] != 0xbeef) {
    bad("stack reaches the guard: the store did not land (%x)", host_page(up_last)[11]);
  }

  /* A one-granule gap (one page in 16 KiB granules): the loom is
   * exhausted; the guard stays. */
  host_marks(words(down), words(down + host_granule()));
  guard_store("one-granule gap", down, 0, 1, u3e_flaw_meme);
  if (u3e_Pool.gar_w != down) {
    bad("one-granule gap: the guard moved to page %u", u3e_Pool.gar_w);
  }
  /* A two-granule gap is not: the guard moves up to the granule between. */
  host_marks(words(down), words(down + 2 * host_granule()));
  guard_store("two-granule gap", down, 0, 2, u3e_flaw_good);
  if (u3e_Pool.gar_w != down + host_granule()) {
    bad("two-granule gap: the guard moved to page %u, want %u", u3e_Pool.gar_w,
        down + host_granule());
  }
  if (host_page(down)[0] != 2) {
    bad("two-granule gap: the store did not land (%x)", host_page(down)[0]);
  }
  down = u3e_Pool.gar_w;

  /* The guard strictly between the watermarks: a bogus fault. */
  host_marks(words(image), high);
  guard_store("guard between the watermarks", down, 0, 1, u3e_flaw_sham);
  guard_store("guard's last page between the watermarks", down + host_granule() - 1, 0, 1,
              u3e_flaw_sham);
  if (u3e_Pool.gar_w != down) {
    bad("bogus fault: the guard moved to page %u", u3e_Pool.gar_w);
  }

  /* Tracking is unchanged: a save keeps the clean-page store. */
  u3e_save(words(image), high);
  int fd = open_image(dir);
  uint32_t word = 0;
  if (pread(fd, &word, 4, (off_t)3 * HOST_PAGE_BYTES + 9 * 4) != 4 || word != 1234) {
    bad("image.bin page 3 word 9 is %u after the save, want 1234", word);
  }
  close(fd);
  u3e_stop();
  printf("guard: moved up to %u, down, then up one granule at a two-granule gap to %u, meme at "
         "a one-granule gap, sham between",
         up, down);
  if (host_granule() > 1) {
    printf(" (granules of %u pages)", host_granule());
  }
  printf("\n");
  return finish("guard");
}

/* ---- yolo --------------------------------------------------------------- */

static int cmd_yolo(char *dir, enum expect expect) {
  host_start(dir, (size_t)1 << 24, 0);
  uint32_t loom = host_pages();
  uint32_t image = 16;
  if (u3e_live(c3n, dir) != c3y) {
    bad("u3e_live did not report a new pier");
  }
  u3_post high = words(loom - 1);
  host_marks(words(image), high);
  host_road(0, words(image), high, 0, 0);
  for (uint32_t page = 0; page < image; page++) {
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      host_page(page)[i] = host_mix(8, page, i);
    }
  }
  u3e_save(words(image), high);

  /* Untracked: the whole loom is writable, nothing faults. */
  host_reset_faults();
  if (u3e_yolo() != c3y) {
    bad("u3e_yolo failed");
  }
  for (uint32_t page = 1; page < 4; page++) {
    host_page(page)[100] = 0xa000 + page;
  }
  if (host_faults() != 0) {
    bad("%llu faults after u3e_yolo", (unsigned long long)host_faults());
  }
  if (u3e_Pool.gar_w <= image || host_try_store(&host_page(u3e_Pool.gar_w)[0], 1) == HOST_NO_FAULT) {
    bad("after u3e_yolo the guard page (%u) is not protected", u3e_Pool.gar_w);
  }
  host_reset_faults();
  u3e_foul();
  if (count_dirty(0, loom) != loom) {
    bad("after u3e_foul %u pages are clean", loom - count_dirty(0, loom));
  }
  u3e_save(words(image), high);
  if (count_dirty(0, image) != 0) {
    bad("%u image pages dirty after the save", count_dirty(0, image));
  }

  /* Tracked again: one store, seen by the backend and by u3e_toss (which
   * finds page 5's granule dirty). */
  host_page(5)[200] = 0xb005;
  if (host_faults() != (expect == EXPECT_MPROTECT ? 1u : 0u)) {
    bad("a store after the save raised %llu faults", (unsigned long long)host_faults());
  }
  u3e_toss(words(image), high);
  model m = model_new(image);
  model_saved(&m);
  model_store(&m, 5);
  if (!host_dirty(5)) {
    bad("after a store to page 5 and u3e_toss page 5 is clean");
  }
  model_check(&m, "after a store to page 5 and u3e_toss");
  free(m.dirty);
  u3e_save(words(image), high);
  int fd = open_image(dir);
  uint32_t want[][3] = {{1, 100, 0xa001}, {2, 100, 0xa002}, {3, 100, 0xa003}, {5, 200, 0xb005},
                        {4, 100, host_mix(8, 4, 100)}};
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
    uint32_t word = 0;
    off_t at = (off_t)want[k][0] * HOST_PAGE_BYTES + (off_t)want[k][1] * 4;
    if (pread(fd, &word, 4, at) != 4 || word != want[k][2]) {
      bad("image.bin page %u word %u is %x, want %x", want[k][0], want[k][1], word, want[k][2]);
    }
  }
  close(fd);
  u3e_stop();
  printf("yolo: untracked stores saved after u3e_foul; tracking resumed after the save\n");
  return finish("yolo");
}

/* ---- scan-fails --------------------------------------------------------- */

static int cmd_scan_fails(char *dir) {
  host_start(dir, (size_t)1 << 24, 0);
  uint32_t loom = host_pages();
  uint32_t image = 8;
  if (u3e_live(c3n, dir) != c3y) {
    bad("u3e_live did not report a new pier");
  }
  u3_post high = words(loom - 1);
  host_marks(words(image), high);
  host_road(0, words(image), high, 0, 0);
  for (uint32_t page = 0; page < image; page++) {
    for (uint32_t i = 0; i < HOST_PAGE_WORDS; i++) {
      host_page(page)[i] = host_mix(4, page, i);
    }
  }
  /* The save ends with u3e_toss, whose scan fails. */
  u3e_save(words(image), high);
  host_reset_faults();

  int got = host_try_store(&host_page(2)[5], 0x2222);
  if (got != HOST_NO_FAULT && got != (int)u3e_flaw_good) {
    bad("the first store after the failed scan (page 2, %s dirty) gave %s",
        host_dirty(2) ? "marked" : "not", flaw_name(got));
  }
  u3e_toss(words(image), high);
  if (!host_dirty(2)) {
    bad("after u3e_toss the stored page 2 is clean");
  }
  /* Tracking goes on: stores to every image page land. */
  for (uint32_t page = 0; page < image; page++) {
    got = host_try_store(&host_page(page)[6], 0x6000 + page);
    if (got != HOST_NO_FAULT && got != (int)u3e_flaw_good) {
      bad("after the failed scan a store to page %u (%s dirty) gave %s", page,
          host_dirty(page) ? "marked" : "not", flaw_name(got));
    }
  }
  u3e_save(words(image), high);
  int fd = open_image(dir);
  for (uint32_t page = 0; page < image; page++) {
    uint32_t word = 0;
    uint32_t want = host_page(page)[6];
    if (pread(fd, &word, 4, (off_t)page * HOST_PAGE_BYTES + 6 * 4) != 4 || word != want) {
      bad("image.bin page %u word 6 is %x, the loom holds %x", page, word, want);
    }
  }
  /* From this save on the mprotect backend tracks: one fault, then the
   * page is dirty and its store saved. */
  uint64_t before = host_faults();
  got = host_try_store(&host_page(3)[7], 0x7777);
  if (got != (int)u3e_flaw_good || host_faults() != before + 1) {
    bad("after the save a store to a clean page gave %s with %llu faults, want good with 1",
        flaw_name(got), (unsigned long long)(host_faults() - before));
  }
  u3e_toss(words(image), high);
  model m = model_new(image);
  model_saved(&m);
  model_store(&m, 3);
  if (!host_dirty(3)) {
    bad("after a store to page 3 and u3e_toss page 3 is clean");
  }
  model_check(&m, "after a store to page 3 and u3e_toss");
  free(m.dirty);
  u3e_save(words(image), high);
  uint32_t word = 0;
  if (pread(fd, &word, 4, (off_t)3 * HOST_PAGE_BYTES + 7 * 4) != 4 || word != 0x7777) {
    bad("image.bin page 3 word 7 is %x, want 7777", word);
  }
  close(fd);
  u3e_stop();
  printf("scan-fails: %llu faults after the failed scan, mprotect tracking from the next save\n",
         (unsigned long long)host_faults());
  return finish("scan-fails");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *cmd = argc > 1 ? argv[1] : "";
  if (strcmp(cmd, "uffd-kernel") == 0 && argc == 2) {
    return cmd_uffd_kernel();
  }
  if (strcmp(cmd, "granule") == 0 && argc == 2) {
    printf("%u\n", host_granule());
    return 0;
  }
  if (strcmp(cmd, "which") == 0 && argc == 4) {
    return cmd_which(argv[2], number(argv[3]));
  }
  if (strcmp(cmd, "write") == 0 && (argc == 7 || argc == 8)) {
    return cmd_write(argv[2], number(argv[3]), number(argv[4]), number(argv[5]),
                     parse_expect(argv[6]), argc == 8 ? number(argv[7]) : 0);
  }
  if (strcmp(cmd, "rewrite") == 0 && (argc == 7 || argc == 8)) {
    return cmd_rewrite(argv[2], number(argv[3]), number(argv[4]), number(argv[5]),
                       parse_expect(argv[6]), argc == 8 ? number(argv[7]) : 0);
  }
  if (strcmp(cmd, "verify") == 0 && argc >= 6 && argc <= 8) {
    return cmd_verify(argv[2], number(argv[3]), number(argv[4]), number(argv[5]),
                      argc >= 7 ? number(argv[6]) : 0, argc == 8 && number(argv[7]) != 0);
  }
  if (strcmp(cmd, "yolo") == 0 && argc == 4) {
    return cmd_yolo(argv[2], parse_expect(argv[3]));
  }
  if (strcmp(cmd, "scatter") == 0 && argc >= 7 && argc <= 9) {
    return cmd_scatter(argv[2], number(argv[3]), number(argv[4]), parse_expect(argv[5]),
                       number(argv[6]), argc >= 8 ? number(argv[7]) : 0,
                       argc == 9 ? number(argv[8]) : 0);
  }
  if (strcmp(cmd, "scatter-verify") == 0 && (argc == 6 || argc == 7)) {
    return cmd_scatter_verify(argv[2], number(argv[3]), number(argv[4]), number(argv[5]),
                              argc == 7 ? number(argv[6]) : 0);
  }
  if (strcmp(cmd, "scan-fails") == 0 && argc == 3) {
    return cmd_scan_fails(argv[2]);
  }
  if (strcmp(cmd, "guard") == 0 && argc == 4) {
    return cmd_guard(argv[2], parse_expect(argv[3]));
  }
  fprintf(stderr, "usage: see the comment at the top of track.c\n");
  return 2;
}
