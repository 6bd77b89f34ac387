/* looms_bench: one measurement of liblooms per run, in a fresh process.
 *
 *   looms_bench store DIR default|no_demand word|page PAGES STRIDE
 *       makes a new pier, writes PAGES * STRIDE pages, saves them (they are
 *       now clean), then times the first store to every STRIDE-th page:
 *       microseconds per page stored
 *   looms_bench make DIR PAGES
 *       makes a new pier holding PAGES pages (contents under seed 1)
 *   looms_bench save DIR PAGES
 *       new pier: times the first save of PAGES dirty pages (fresh), then
 *       rewrites the same pages and times the second save (rewrite)
 *   looms_bench save DIR PAGES IMAGE
 *       new pier with IMAGE pages saved, then PAGES of them rewritten at an
 *       even stride: times that save
 *   looms_bench live DIR default|no_demand
 *       times u3e_live on an existing pier (made by `make`), then the first
 *       reads of every 4 KiB page of the image (reads); the resident set and
 *       the memory in huge pages after the boot (rss, huge); stores and
 *       dirty pages the reads caused (faults, dirty; both must be 0)
 *   looms_bench bootstore DIR STRIDE
 *       boots an existing pier in no_demand mode (the image read into huge
 *       pages where the kernel allows), then times the first store of one
 *       word to every STRIDE-th image page: microseconds per page
 *   looms_bench session DIR default|no_demand READ% INTERVALS STORES
 *       the session model, on an existing pier: u3e_live (boot), the first
 *       reads of READ% of the image's pages (reads), then INTERVALS times
 *       STORES first stores to scattered image pages (stores) and a save
 *       (saves); total is the sum, in ms. Each store puts back the word the
 *       page holds, so that the pier keeps its contents
 *   looms_bench toss DIR LOOM IMAGE STRIDE existing|sparse
 *       boots a pier of IMAGE pages in a loom of LOOM pages (sparse: the
 *       image is made here as a sparse file), stores one word to every
 *       STRIDE-th image page, times u3e_toss
 *   looms_bench save1 DIR LOOM IMAGE existing|sparse
 *       boots a pier of IMAGE pages in a loom of LOOM pages, rewrites one
 *       page with the bytes it already holds and times u3e_save: the fixed
 *       cost of a save (harvest, patch, syncs, remap and re-arm of the
 *       whole image)
 *   looms_bench bgsave DIR PAGES
 *       new pier, saves PAGES dirty pages twice (fresh, then rewritten),
 *       each time timing u3e_save (the runtime's pause) and u3e_save plus
 *       looms_save_wait (until durable), in the mode LOOMS_SAVE says; then
 *       the peak RSS and the RSS once the saved pages are mapped back; then
 *       a third save, with first stores to a tenth of its pages right after
 *       u3e_save (us each, and the RSS they added per page) beside first
 *       stores to as many pages once it is durable
 *   looms_bench unchanged DIR STAT IMAGE PAGES SAVES PERMILLE
 *       new pier of IMAGE pages, then SAVES rounds, each of two synced
 *       saves taking turns going first: PAGES dirty pages (runs of 4 at an
 *       even stride) of which PERMILLE in a thousand are stored to with the
 *       bytes they hold (as it is), and the same pages' changes without
 *       those (what a save that skipped them would write). Before each
 *       save, the PAGES pages' old bytes are read from image.bin (pread,
 *       POSIX_FADV_RANDOM: no read-ahead) and compared with the loom
 *       (memcmp), once with the image dropped from the page cache
 *       (POSIX_FADV_DONTNEED; cold) and once cached (warm): what finding
 *       the unchanged pages costs (ms per pass, averaged over both saves).
 *       Bytes are sectors the device whose stat file is STAT wrote ("-":
 *       none counted) per save; ms per save until durable
 *
 * Prints one line of key=value pairs on stdout; `value` is the measurement,
 * the other keys are checks the smoke suite reads. LOOMS_TRACKING chooses
 * the library's tracking backend. */
#define _GNU_SOURCE
#include "host.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

/* A 1 GiB loom: room for the largest image (50k pages), a stack and a gap. */
#define DEFAULT_LOOM 65536u

static uint32_t flags_of(const char *mode) {
  if (strcmp(mode, "default") == 0) {
    return 0;
  }
  if (strcmp(mode, "no_demand") == 0) {
    return BENCH_NO_DEMAND;
  }
  bench_fail("mode is default or no_demand");
}

static uint32_t loom_for(uint32_t pages) {
  return pages + 2 * BENCH_STACK_PAGES + 1024 <= DEFAULT_LOOM ? DEFAULT_LOOM
                                                               : 2 * pages + 4096;
}

static void boot(char *dir, uint32_t loom, uint32_t flags, c3_o expect_new) {
  host_start(dir, loom, flags);
  if (u3e_live(c3n, dir) != expect_new) {
    bench_fail(expect_new == c3y ? "u3e_live: pier is not new" : "u3e_live: pier is new");
  }
}

static void fill(uint32_t from, uint32_t to, uint32_t stride, uint32_t seed) {
  for (uint32_t page = from; page < to; page += stride) {
    bench_fill(bench_page(page), page, seed);
  }
}

static void save(void) { u3e_save(host_low(), host_high()); }

static long max_rss_kib(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

static char *image_path(const char *dir) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/.urb/chk/image.bin", dir);
  return path;
}

/* Whether image.bin holds PAGES pages and page PAGE's bytes are the loom's. */
static int image_holds(const char *dir, uint32_t pages, uint32_t page) {
  int fd = open(image_path(dir), O_RDONLY);
  if (fd < 0) {
    return 0;
  }
  struct stat st;
  static uint32_t buf[BENCH_PAGE_WORDS];
  int ok = fstat(fd, &st) == 0 && (uint64_t)st.st_size == (uint64_t)pages * BENCH_PAGE_BYTES &&
           pread(fd, buf, BENCH_PAGE_BYTES, (off_t)page * BENCH_PAGE_BYTES) ==
               (ssize_t)BENCH_PAGE_BYTES &&
           memcmp(buf, bench_page(page), BENCH_PAGE_BYTES) == 0;
  close(fd);
  return ok;
}

static int run_store(char *dir, const char *mode, const char *kind, uint32_t pages,
                     uint32_t stride) {
  int whole = strcmp(kind, "page") == 0;
  if (!whole && strcmp(kind, "word") != 0) {
    bench_fail("kind is word or page");
  }
  if (stride == 0) {
    bench_fail("stride is at least 1");
  }
  uint32_t image = pages * stride;
  boot(dir, loom_for(image), flags_of(mode), c3y);
  host_heap(image);
  fill(0, image, 1, 1);
  save();
  if (host_dirty(0, image) != 0) {
    bench_fail("pages still dirty after a save");
  }
  uint64_t faults = host_faults();
  uint64_t from = bench_now();
  bench_first_stores(image, stride, whole);
  uint64_t to = bench_now();
  faults = host_faults() - faults;
  /* Brings the bitmap up to date (uffd harvests here). */
  u3e_toss(host_low(), host_high());
  printf("value=%.3f faults=%llu dirty=%u pages=%u\n", bench_us(from, to) / pages,
         (unsigned long long)faults, host_dirty(0, image), pages);
  return 0;
}

static int run_make(char *dir, uint32_t pages) {
  boot(dir, loom_for(pages), 0, c3y);
  host_heap(pages);
  fill(0, pages, 1, 1);
  save();
  printf("value=%u verified=%d\n", pages, image_holds(dir, pages, pages - 1));
  return 0;
}

static int run_save(char *dir, uint32_t pages, uint32_t image) {
  if (image <= pages) {
    boot(dir, loom_for(pages), 0, c3y);
    host_heap(pages);
    fill(0, pages, 1, 1);
    long rss_before = max_rss_kib();
    uint64_t t0 = bench_now();
    save();
    uint64_t t1 = bench_now();
    long rss_after = max_rss_kib();
    int fresh_ok = image_holds(dir, pages, pages / 2) && host_dirty(0, pages) == 0;
    fill(0, pages, 1, 2);
    uint64_t t2 = bench_now();
    save();
    uint64_t t3 = bench_now();
    int rewrite_ok = image_holds(dir, pages, pages - 1) && host_dirty(0, pages) == 0;
    printf("fresh=%.3f rewrite=%.3f rss_before=%.1f rss_after=%.1f verified=%d\n",
           bench_ms(t0, t1), bench_ms(t2, t3), rss_before / 1024.0, rss_after / 1024.0,
           fresh_ok && rewrite_ok);
    return 0;
  }
  boot(dir, loom_for(image), 0, c3y);
  host_heap(image);
  fill(0, image, 1, 1);
  save();
  uint32_t stride = image / pages;
  fill(0, stride * pages, stride, 2);
  uint64_t t0 = bench_now();
  save();
  uint64_t t1 = bench_now();
  int ok = image_holds(dir, image, stride * (pages - 1)) && host_dirty(0, image) == 0;
  printf("value=%.3f verified=%d\n", bench_ms(t0, t1), ok);
  return 0;
}

/* Whether the loom's pages PROBE[0..COUNT) hold what `make` wrote (seed 1). */
static int loom_holds_made(const uint32_t *probe, int count) {
  static uint32_t want[BENCH_PAGE_WORDS];
  for (int i = 0; i < count; i++) {
    bench_fill(want, probe[i], 1);
    if (memcmp(want, bench_page(probe[i]), BENCH_PAGE_BYTES) != 0) {
      return 0;
    }
  }
  return 1;
}

static int run_live(char *dir, const char *mode) {
  host_start(dir, DEFAULT_LOOM, flags_of(mode));
  uint64_t t0 = bench_now();
  c3_o nuu = u3e_live(c3n, dir);
  uint64_t t1 = bench_now();
  if (nuu != c3n) {
    bench_fail("u3e_live: expected an existing pier");
  }
  uint32_t pages = u3e_Pool.img_u.pgs_w;
  double rss = bench_rss_mib();
  double huge = bench_huge_mib();
  uint64_t faults = host_faults();
  uint64_t t2 = bench_now();
  uint32_t sum = bench_read_pages(bench_page(0), (size_t)pages * BENCH_PAGE_BYTES);
  uint64_t t3 = bench_now();
  faults = host_faults() - faults;
  /* Reads dirty nothing. */
  host_heap(pages);
  u3e_toss(host_low(), host_high());
  uint32_t probe[3] = {0, pages / 2, pages - 1};
  int ok = pages > 0 && loom_holds_made(probe, 3);
  printf("value=%.3f reads=%.3f rss=%.1f huge=%.1f pages=%u faults=%llu dirty=%u verified=%d "
         "sum=%u\n",
         bench_ms(t0, t1), bench_ms(t2, t3), rss, huge, pages, (unsigned long long)faults,
         host_dirty(0, pages), ok, sum);
  return 0;
}

static int run_bootstore(char *dir, uint32_t stride) {
  if (stride == 0) {
    bench_fail("stride is at least 1");
  }
  host_start(dir, DEFAULT_LOOM, BENCH_NO_DEMAND);
  if (u3e_live(c3n, dir) != c3n) {
    bench_fail("u3e_live: expected an existing pier");
  }
  uint32_t pages = u3e_Pool.img_u.pgs_w;
  host_heap(pages);
  double huge = bench_huge_mib();
  uint32_t stores = 0;
  uint64_t faults = host_faults();
  uint64_t from = bench_now();
  for (uint32_t page = 0; page < pages; page += stride) {
    bench_store_word(bench_page(page), bench_first_word(page, 1));
    stores++;
  }
  uint64_t to = bench_now();
  faults = host_faults() - faults;
  u3e_toss(host_low(), host_high());
  uint32_t strays = 0;
  for (uint32_t page = 0; page < pages; page++) {
    int dirty = (u3e_Pool.dit_w[page >> 5] >> (page & 31)) & 1;
    strays += dirty != (page % stride == 0);
  }
  printf("value=%.3f faults=%llu dirty=%u stores=%u strays=%u huge=%.1f\n",
         bench_us(from, to) / stores, (unsigned long long)faults, host_dirty(0, pages), stores,
         strays, huge);
  return 0;
}

static uint32_t gcd(uint32_t a, uint32_t b) {
  while (b != 0) {
    uint32_t r = a % b;
    a = b;
    b = r;
  }
  return a;
}

static int run_session(char *dir, const char *mode, uint32_t percent, uint32_t intervals,
                       uint32_t stores) {
  host_start(dir, DEFAULT_LOOM, flags_of(mode));
  uint64_t t0 = bench_now();
  if (u3e_live(c3n, dir) != c3n) {
    bench_fail("u3e_live: expected an existing pier");
  }
  uint64_t t1 = bench_now();
  uint32_t pages = u3e_Pool.img_u.pgs_w;
  if (percent > 100 || stores == 0 || stores > pages) {
    bench_fail("READ% is at most 100, STORES in [1, image pages]");
  }
  host_heap(pages);
  size_t read_bytes = (size_t)((uint64_t)pages * percent / 100) * BENCH_PAGE_BYTES;
  uint64_t t2 = bench_now();
  uint32_t sum = bench_read_pages(bench_page(0), read_bytes);
  uint64_t t3 = bench_now();
  /* Stores go to a permutation of the image's pages: distinct within an
   * interval, scattered over the whole image. */
  uint32_t step = 7919;
  while (gcd(step, pages) != 1) {
    step += 2;
  }
  double store_ms = 0;
  double save_ms = 0;
  uint64_t faults = host_faults();
  for (uint32_t k = 0; k < intervals; k++) {
    uint64_t a = bench_now();
    for (uint32_t j = 0; j < stores; j++) {
      uint32_t index = (uint32_t)(((uint64_t)k * stores + j) % pages);
      uint32_t page = (uint32_t)((uint64_t)index * step % pages);
      bench_store_word(bench_page(page), bench_first_word(page, 1));
    }
    uint64_t b = bench_now();
    save();
    uint64_t c = bench_now();
    store_ms += bench_ms(a, b);
    save_ms += bench_ms(b, c);
  }
  faults = host_faults() - faults;
  uint32_t probe[3] = {0, step % pages, pages - 1};
  int ok = loom_holds_made(probe, 3) && host_dirty(0, pages) == 0 &&
           image_holds(dir, pages, step % pages);
  double boot = bench_ms(t0, t1);
  double reads = bench_ms(t2, t3);
  printf("value=%.3f boot=%.3f reads=%.3f stores=%.3f saves=%.3f faults=%llu verified=%d "
         "sum=%u\n",
         boot + reads + store_ms + save_ms, boot, reads, store_ms, save_ms,
         (unsigned long long)faults, ok, sum);
  return 0;
}

/* Boots the pier DIR of IMAGE pages in a loom of LOOM pages; KIND "sparse"
 * first makes its image here as a sparse file. */
static void boot_image(char *dir, uint32_t loom, uint32_t image, const char *kind) {
  if (strcmp(kind, "sparse") == 0) {
    rt_mkdirs(dir);
    int fd = open(image_path(dir), O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)image * BENCH_PAGE_BYTES) != 0) {
      bench_die("sparse image");
    }
    close(fd);
  } else if (strcmp(kind, "existing") != 0) {
    bench_fail("kind is existing or sparse");
  }
  boot(dir, loom, 0, c3n);
  if (u3e_Pool.img_u.pgs_w != image) {
    bench_fail("the pier's image has another size");
  }
  host_heap(image);
}

static int run_toss(char *dir, uint32_t loom, uint32_t image, uint32_t stride,
                    const char *kind) {
  boot_image(dir, loom, image, kind);
  uint32_t stores = 0;
  for (uint32_t page = 0; page < image; page += stride) {
    bench_store_word(bench_page(page), page);
    stores++;
  }
  uint64_t t0 = bench_now();
  u3e_toss(host_low(), host_high());
  uint64_t t1 = bench_now();
  printf("value=%.3f dirty=%u stores=%u\n", bench_ms(t0, t1), host_dirty(0, image), stores);
  return 0;
}

static int run_save1(char *dir, uint32_t loom, uint32_t image, const char *kind) {
  boot_image(dir, loom, image, kind);
  uint32_t page = image / 2;
  static uint32_t same[BENCH_PAGE_WORDS];
  memcpy(same, bench_page(page), BENCH_PAGE_BYTES);
  memcpy(bench_page(page), same, BENCH_PAGE_BYTES);
  uint64_t t0 = bench_now();
  save();
  uint64_t t1 = bench_now();
  printf("value=%.3f verified=%d\n", bench_ms(t0, t1),
         image_holds(dir, image, page) && host_dirty(0, image) == 0);
  return 0;
}
/* Resident memory now (KiB), from /proc/self/statm. */
static long rss_kib(void) {
  long size = 0, resident = 0;
  FILE *statm = fopen("/proc/self/statm", "r");
  if (statm == NULL || fscanf(statm, "%ld %ld", &size, &resident) != 2) {
    bench_fail("read /proc/self/statm");
  }
  fclose(statm);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Waits for the pending save from a thread other than the runtime's: the
 * save is then durable, and its end (mapping back) is left to the next
 * call on the runtime's thread. */
static void *wait_elsewhere(void *unused) {
  (void)unused;
  looms_save_wait();
  return NULL;
}

static int run_bgsave(char *dir, uint32_t pages) {
  boot(dir, loom_for(pages), 0, c3y);
  host_heap(pages);
  fill(0, pages, 1, 1);
  uint64_t t0 = bench_now();
  save();
  uint64_t t1 = bench_now();
  int waited = looms_save_wait();
  uint64_t t2 = bench_now();
  int fresh_ok = waited == 0 && image_holds(dir, pages, pages / 2);
  fill(0, pages, 1, 2);
  uint64_t t3 = bench_now();
  save();
  uint64_t t4 = bench_now();
  waited = looms_save_wait();
  uint64_t t5 = bench_now();
  int rewrite_ok = waited == 0 && image_holds(dir, pages, pages - 1);
  double rss_peak = max_rss_kib() / 1024.0;
  /* The copies a save leaves are released once it is mapped back: at once
   * by a synchronous save, by a thread of the library after a background
   * one. Resident memory is read every 5 ms until it has not fallen for
   * four readings (or for two seconds); released_ms: when it last fell. */
  double rss_after = rss_kib() / 1024.0;
  uint64_t released_at = bench_now();
  for (int still = 0; still < 4 && bench_ms(t5, bench_now()) < 2000; still++) {
    usleep(5000);
    double now = rss_kib() / 1024.0;
    if (now < rss_after - 0.5) {
      rss_after = now, released_at = bench_now(), still = -1;
    }
  }
  /* First stores while a save is being written (a tenth of its pages, one
   * word each, right after u3e_save), beside first stores to as many other
   * pages once it is durable; and the memory the first ones added. */
  uint32_t some = pages / 10 ? pages / 10 : 1;
  fill(0, pages, 1, 3);
  save();
  long rss0 = rss_kib();
  uint64_t t6 = bench_now();
  for (uint32_t p = 0; p < some; p++) bench_page(p)[7] ^= 1;
  uint64_t t7 = bench_now();
  long rss1 = rss_kib();
  waited = looms_save_wait();
  int during_ok = waited == 0 && image_holds(dir, pages, pages - 1);
  uint64_t t8 = bench_now();
  for (uint32_t p = some; p < 2 * some; p++) bench_page(p)[7] ^= 1;
  uint64_t t9 = bench_now();
  /* The pause of the next save as a runtime meets it: the previous save
   * durable but not yet ended (no looms_save_wait on the runtime's thread),
   * a tenth of the pages stored to since; u3e_save ends the previous one
   * (maps its pages back) and saves that tenth. */
  fill(0, pages, 1, 4);
  save();
  pthread_t waiter;
  if (pthread_create(&waiter, NULL, wait_elsewhere, NULL) != 0 ||
      pthread_join(waiter, NULL) != 0) {
    bench_fail("a thread to wait for the save");
  }
  fill(0, some, 1, 5);
  uint64_t t10 = bench_now();
  save();
  uint64_t t11 = bench_now();
  waited = looms_save_wait();
  int next_ok = waited == 0 && image_holds(dir, pages, some - 1) &&
                image_holds(dir, pages, pages - 1);
  printf("pause_fresh=%.3f durable_fresh=%.3f pause=%.3f durable=%.3f rss_peak=%.1f "
         "rss_after=%.1f released_ms=%.1f store_drain=%.3f store_idle=%.3f "
         "extra_kib_per_store=%.1f pages_per_ms=%.0f pause_next=%.3f verified=%d\n",
         bench_ms(t0, t1), bench_ms(t0, t2), bench_ms(t3, t4), bench_ms(t3, t5), rss_peak,
         rss_after, bench_ms(t5, released_at), 1000.0 * bench_ms(t6, t7) / some, 1000.0 * bench_ms(t8, t9) / some,
         (double)(rss1 - rss0) / some, pages / bench_ms(t3, t4), bench_ms(t10, t11),
         fresh_ok && rewrite_ok && during_ok && next_ok);
  return 0;
}

/* Sectors written to the device whose stat file is STAT, once everything
 * of the file system holding DIR is on it. */
static unsigned long long sectors_written(const char *stat, const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0 || syncfs(fd) != 0) {
    bench_die(dir);
  }
  close(fd);
  FILE *file = fopen(stat, "r");
  unsigned long long field[7];
  if (file == NULL) {
    bench_die(stat);
  }
  for (int i = 0; i < 7; i++) {
    if (fscanf(file, "%llu", &field[i]) != 1) {
      bench_fail("the stat file has fewer than 7 fields");
    }
  }
  fclose(file);
  return field[6];
}

static int run_disk(char *dir, const char *stat, uint32_t image, uint32_t pages, uint32_t saves) {
  if (pages == 0 || pages > image || saves == 0) {
    bench_fail("0 < PAGES <= IMAGE and SAVES > 0");
  }
  boot(dir, loom_for(image), 0, c3y);
  host_heap(image);
  fill(0, image, 1, 1);
  save();
  looms_save_wait();
  const uint32_t run = 4;
  uint32_t runs = (pages + run - 1) / run;
  uint32_t stride = image / runs;
  unsigned long long before = sectors_written(stat, dir);
  uint64_t busy = 0;
  for (uint32_t i = 0; i < saves; i++) {
    for (uint32_t r = 0; r < runs; r++) {
      for (uint32_t p = r * stride; p < r * stride + run && p < image; p++) {
        bench_fill(bench_page(p), p, 2 + i);
      }
    }
    uint64_t t0 = bench_now();
    save();
    looms_save_wait();
    busy += bench_now() - t0;
  }
  unsigned long long after = sectors_written(stat, dir);
  int ok = image_holds(dir, image, (runs - 1) * stride) && host_dirty(0, image) == 0;
  printf("value=%.0f ms=%.2f verified=%d\n", (after - before) * 512.0 / saves,
         busy / 1e6 / saves, ok);
  return 0;
}

/* Sectors read from the device whose stat file is STAT ("-": 0). */
static unsigned long long sectors_read(const char *stat) {
  if (strcmp(stat, "-") == 0) {
    return 0;
  }
  FILE *file = fopen(stat, "r");
  unsigned long long field[3];
  if (file == NULL) {
    bench_die(stat);
  }
  for (int i = 0; i < 3; i++) {
    if (fscanf(file, "%llu", &field[i]) != 1) {
      bench_fail("the stat file has fewer than 3 fields");
    }
  }
  fclose(file);
  return field[2];
}

/* Sectors written, as sectors_written, or 0 for STAT "-" (the file
 * system synced all the same). */
static unsigned long long sectors_or_none(const char *stat, const char *dir) {
  if (strcmp(stat, "-") == 0) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || syncfs(fd) != 0) {
      bench_die(dir);
    }
    close(fd);
    return 0;
  }
  return sectors_written(stat, dir);
}

/* What a save that skips unchanged pages would do first: read the old
 * bytes of each of the COUNT pages in DIRTY from image.bin and compare
 * them with the loom's. Returns how many are equal; *NS the time taken,
 * *READ the sectors the device read meanwhile. COLD: the image is dropped
 * from the page cache first (its pages mapped in the loom stay). */
static uint32_t find_unchanged(const char *dir, const char *stat, const uint32_t *dirty,
                               uint32_t count, int cold, uint64_t *ns,
                               unsigned long long *read) {
  int fd = open(image_path(dir), O_RDONLY);
  if (fd < 0) {
    bench_die(image_path(dir));
  }
  if (cold && (fdatasync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)) {
    bench_die("drop image.bin from the page cache");
  }
  /* Only the pages compared are read: no read-ahead around them. */
  if (posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) != 0) {
    bench_die("posix_fadvise image.bin");
  }
  static uint32_t old[BENCH_PAGE_WORDS];
  unsigned long long before = sectors_read(stat);
  uint32_t equal = 0;
  uint64_t t0 = bench_now();
  for (uint32_t i = 0; i < count; i++) {
    off_t at = (off_t)dirty[i] * (off_t)BENCH_PAGE_BYTES;
    if (pread(fd, old, BENCH_PAGE_BYTES, at) != (ssize_t)BENCH_PAGE_BYTES) {
      bench_die("pread image.bin");
    }
    equal += memcmp(old, bench_page(dirty[i]), BENCH_PAGE_BYTES) == 0;
  }
  *ns += bench_now() - t0;
  *read += sectors_read(stat) - before;
  close(fd);
  return equal;
}

/* Whether the I-th of COUNT dirty pages is one of the PERMILLE in a
 * thousand stored to with the bytes it holds (spread evenly). */
static int unchanged_at(uint32_t i, uint32_t permille) {
  return (uint64_t)(i + 1) * permille / 1000 > (uint64_t)i * permille / 1000;
}

static int run_unchanged(char *dir, const char *stat, uint32_t image, uint32_t pages,
                         uint32_t saves, uint32_t permille) {
  if (pages == 0 || pages > image || saves == 0 || permille > 1000) {
    bench_fail("0 < PAGES <= IMAGE, SAVES > 0 and PERMILLE <= 1000");
  }
  boot(dir, loom_for(image), 0, c3y);
  host_heap(image);
  fill(0, image, 1, 1);
  save();
  looms_save_wait();
  /* The seed each page's bytes were made with (what the image holds). */
  uint32_t *seed = malloc(image * sizeof *seed);
  uint32_t *dirty = malloc(pages * sizeof *dirty);
  if (seed == NULL || dirty == NULL) {
    bench_fail("no memory");
  }
  for (uint32_t p = 0; p < image; p++) {
    seed[p] = 1;
  }
  const uint32_t run = 4;
  uint32_t runs = (pages + run - 1) / run;
  uint32_t stride = image / runs;
  uint32_t count = 0;
  for (uint32_t r = 0; r < runs; r++) {
    for (uint32_t p = r * stride; p < r * stride + run && p < image && count < pages; p++) {
      dirty[count++] = p;
    }
  }
  uint32_t same = 0;
  for (uint32_t i = 0; i < count; i++) {
    same += unchanged_at(i, permille);
  }
  uint64_t ns[2] = {0, 0}, cold_ns = 0, warm_ns = 0;
  unsigned long long bytes[2] = {0, 0}, cold_read = 0, warm_read = 0;
  uint32_t next_seed = 2;
  int ok = 1;
  for (uint32_t round = 0; round < saves; round++) {
    for (int turn = 0; turn < 2; turn++) {
      /* which 0: the save as it is; 1: the save that skips them. */
      int which = (int)((round + (uint32_t)turn) % 2);
      for (uint32_t i = 0; i < count; i++) {
        uint32_t p = dirty[i];
        if (!unchanged_at(i, permille)) {
          seed[p] = next_seed;
          bench_fill(bench_page(p), p, seed[p]);
        } else if (which == 0) {
          bench_fill(bench_page(p), p, seed[p]);
        }
      }
      next_seed++;
      /* Before both saves, so that both find the page cache alike (the
       * pages not stored to in the second compare equal as well). */
      uint32_t cold = find_unchanged(dir, stat, dirty, count, 1, &cold_ns, &cold_read);
      uint32_t warm = find_unchanged(dir, stat, dirty, count, 0, &warm_ns, &warm_read);
      ok &= cold == same && warm == same;
      unsigned long long before = sectors_or_none(stat, dir);
      uint64_t t0 = bench_now();
      save();
      looms_save_wait();
      ns[which] += bench_now() - t0;
      bytes[which] += (sectors_or_none(stat, dir) - before) * 512;
      ok &= host_dirty(0, image) == 0;
    }
  }
  for (uint32_t i = 0; i < count; i++) {
    ok &= image_holds(dir, image, dirty[i]);
  }
  printf("pages=%u unchanged=%u bytes=%.0f ms=%.3f skip_bytes=%.0f skip_ms=%.3f "
         "cold_ms=%.3f cold_read=%.0f warm_ms=%.3f warm_read=%.0f verified=%d\n",
         count, same, (double)bytes[0] / saves, ns[0] / 1e6 / saves, (double)bytes[1] / saves,
         ns[1] / 1e6 / saves, cold_ns / 2e6 / saves, cold_read * 256.0 / saves,
         warm_ns / 2e6 / saves, warm_read * 256.0 / saves, ok);
  free(seed);
  free(dirty);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *cmd = argc > 1 ? argv[1] : "";
  if (strcmp(cmd, "store") == 0 && argc == 7) {
    return run_store(argv[2], argv[3], argv[4], bench_arg(argv[5]), bench_arg(argv[6]));
  }
  if (strcmp(cmd, "make") == 0 && argc == 4) {
    return run_make(argv[2], bench_arg(argv[3]));
  }
  if (strcmp(cmd, "save") == 0 && (argc == 4 || argc == 5)) {
    return run_save(argv[2], bench_arg(argv[3]), argc == 5 ? bench_arg(argv[4]) : 0);
  }
  if (strcmp(cmd, "disk") == 0 && argc == 7) {
    return run_disk(argv[2], argv[3], bench_arg(argv[4]), bench_arg(argv[5]), bench_arg(argv[6]));
  }
  if (strcmp(cmd, "unchanged") == 0 && argc == 8) {
    return run_unchanged(argv[2], argv[3], bench_arg(argv[4]), bench_arg(argv[5]),
                         bench_arg(argv[6]), bench_arg(argv[7]));
  }
  if (strcmp(cmd, "bgsave") == 0 && argc == 4) {
    return run_bgsave(argv[2], bench_arg(argv[3]));
  }
  if (strcmp(cmd, "live") == 0 && argc == 4) {
    return run_live(argv[2], argv[3]);
  }
  if (strcmp(cmd, "bootstore") == 0 && argc == 4) {
    return run_bootstore(argv[2], bench_arg(argv[3]));
  }
  if (strcmp(cmd, "session") == 0 && argc == 7) {
    return run_session(argv[2], argv[3], bench_arg(argv[4]), bench_arg(argv[5]),
                       bench_arg(argv[6]));
  }
  if (strcmp(cmd, "toss") == 0 && argc == 7) {
    return run_toss(argv[2], bench_arg(argv[3]), bench_arg(argv[4]), bench_arg(argv[5]),
                    argv[6]);
  }
  if (strcmp(cmd, "save1") == 0 && argc == 6) {
    return run_save1(argv[2], bench_arg(argv[3]), bench_arg(argv[4]), argv[5]);
  }
  fprintf(stderr, "usage: see the head of looms_bench.c\n");
  return 2;
}
