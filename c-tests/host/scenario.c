/* scenario: one step of a test scenario, run in its own process.
 *
 *   scenario STEP DIR [ARGS...]
 *
 * The environment sets the host: SCN_FLAGS (comma-separated: verbose,
 * dryrun, no_demand, swap), SCN_WORDS (loom words), SCN_FAULTS (the number
 * of store faults a step must see, where it checks them). Each step checks
 * what it can see from inside the process and exits 0; a failed check exits
 * HOST_EXIT_CHECK with the reason on stderr. The suite script strings steps
 * together and checks what only a second process can see.
 *
 * Files are read with this program's own reader of the format (host.c), not
 * with the library's code.
 *
 * The same steps build for Windows (c-tests/windows, mingw-w64), where a
 * few expect what the Windows build does instead: the image loaded at boot
 * in both modes (image_mapped), tossed pages kept (toss_drops); and where
 * a store that must be refused runs in host_try rather than in a forked
 * child, and hold waits for a file rather than a signal. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <sys/wait.h>
#endif

static host_options opts;
static long expect_faults = -1;
static char path_a[8300], path_b[8300];

#define arg host_arg

static void options_from_env(void) {
  host_options_from_env(&opts);
  const char *faults = getenv("SCN_FAULTS");
  if (faults && *faults) expect_faults = strtol(faults, NULL, 0);
}

static void check_faults(uint64_t got, const char *what) {
  if (expect_faults >= 0) {
    host_check(got == (uint64_t)expect_faults, "%s: %llu store faults, expected %ld", what,
               (unsigned long long)got, expect_faults);
  }
}

/* Whether the loom's clean pages are image.bin's own, mapped (default mode
 * on Linux and macOS), rather than copies read at boot (no_demand, and
 * every mode on Windows, where no file can be mapped into the runtime's
 * view of a section). */
static bool image_mapped(void) {
#ifdef _WIN32
  return false;
#else
  return !(opts.flags & HOST_NO_DEMAND);
#endif
}

/* Whether u3e_toss gives pages back (they read as zeros, or as the image
 * where it is mapped). On Windows it leaves them as they are: a view of a
 * section cannot give pages back in part, and the runtime does nothing
 * there either. */
#ifdef _WIN32
static const bool toss_drops = false;
#else
static const bool toss_drops = true;
#endif

static void check_no_patch(const char *dir) {
  host_check(host_size(host_chk(path_a, sizeof path_a, dir, "control.bin")) < 0,
             "control.bin left behind");
  host_check(host_size(host_chk(path_a, sizeof path_a, dir, "memory.bin")) < 0,
             "memory.bin left behind");
}

#define check_image_file host_check_image

/* The loom's pages [0, pages) under seed_of, as above. */
static void check_loom(uint32_t pages, uint32_t (*seed_of)(uint32_t)) {
  for (uint32_t p = 0; p < pages; p++) {
    uint32_t seed = seed_of(p);
    if (seed == UINT32_MAX) {
      host_check(host_zero(host_page(p)), "loom page %u is not zero", p);
    } else {
      host_check(host_holds(seed, p, host_page(p)), "loom page %u does not hold seed %u", p,
                 seed);
    }
  }
}

static uint32_t the_seed;
static uint32_t one_seed(uint32_t p) {
  (void)p;
  return the_seed;
}

static void check_calls(const char *want) {
  host_check(strcmp(host_calls(), want) == 0, "host calls were:\n%s-- expected:\n%s",
             host_calls(), want);
}

static void fill_stack(uint32_t seed, uint32_t stack) {
  for (uint32_t i = 1; i <= stack; i++) {
    host_fill(seed, host_pages() - i);
  }
}

/* ---- steps ---------------------------------------------------------------- */

/* new DIR: a new pier boots as new, with an empty image and the guard in the
 * middle of the loom. */
static void step_new(char *dir) {
  c3_o nuu = host_boot(dir, &opts);
  host_check(nuu == c3y, "u3e_live returned %d for a new pier", nuu);
  host_check(u3e_Pool.img_u.pgs_w == 0, "pgs_w %u", u3e_Pool.img_u.pgs_w);
  host_check(u3e_Pool.pag_w == host_pages(), "pag_w %u, loom has %u pages", u3e_Pool.pag_w,
             host_pages());
  host_check(u3e_Pool.gar_w == host_pages() / 2, "guard at %u, expected %u", u3e_Pool.gar_w,
             host_pages() / 2);
  host_check(host_size(host_chk(path_a, sizeof path_a, dir, "image.bin")) == 0,
             "image.bin missing or not empty");
  struct stat st;
  host_check(stat(path_a, &st) == 0, "stat image.bin");
  mode_t mask = umask(0);
  umask(mask);
  host_check((st.st_mode & 0777) == (0666 & ~mask), "image.bin mode %o", st.st_mode & 0777);
  check_no_patch(dir);
  check_calls("log boot: protected loom\nlog live: logical boot\n");
  printf("new pier: %u pages, guard at %u\n", u3e_Pool.pag_w, u3e_Pool.gar_w);
}

/* write DIR SEED N [STACK]: fills heap pages [0, N) and STACK (2) stack
 * pages with SEED, saves, and checks the image file. */
static void step_write(char *dir, int argc, char **argv) {
  uint32_t seed = arg(argc, argv, 3), n = arg(argc, argv, 4);
  uint32_t stack = argc > 5 ? arg(argc, argv, 5) : 2;
  host_boot(dir, &opts);
  host_road(n, stack);
  u3e_ward(host_low(), host_high());
  uint32_t had = u3e_Pool.img_u.pgs_w;
  host_faults = 0;
  for (uint32_t p = 0; p < n; p++) {
    host_fill(seed, p);
  }
  uint64_t heap_faults = host_faults;
  /* Stores to pages already dirty never fault again. */
  for (uint32_t p = 0; p < n; p++) {
    host_poke(seed, p);
    host_fill(seed, p);
  }
  host_check(host_faults == heap_faults, "second stores faulted (%llu then %llu)",
             (unsigned long long)heap_faults, (unsigned long long)host_faults);
  check_faults(heap_faults, "heap stores");
  fill_stack(seed, stack);
  host_calls_reset();
  u3e_save(host_low(), host_high());
  if (opts.flags & HOST_VERBOSE) {
    char want[256];
    snprintf(want, sizeof want, "print_memory  pages 0\nloom_sane\nprint_memory sync: save %u\n",
             n << u3a_page);
    check_calls(want);
  } else {
    check_calls("loom_sane\n");
  }
  check_no_patch(dir);
  the_seed = seed;
  check_image_file(dir, n, one_seed);
  host_check(u3e_Pool.img_u.pgs_w == n, "pgs_w %u after saving %u pages", u3e_Pool.img_u.pgs_w,
             n);
  check_loom(n, one_seed);
  printf("wrote %u pages over an image of %u: %llu store faults\n", n, had,
         (unsigned long long)heap_faults);
}

/* verify DIR SEED N: a new process sees exactly the N saved pages. */
static void step_verify(char *dir, int argc, char **argv) {
  uint32_t seed = arg(argc, argv, 3), n = arg(argc, argv, 4);
  c3_o nuu = host_boot(dir, &opts);
  host_check(nuu == (n ? c3n : c3y), "u3e_live returned %d", nuu);
  host_check(u3e_Pool.img_u.pgs_w == n, "pgs_w %u, expected %u", u3e_Pool.img_u.pgs_w, n);
  uint32_t guard = n + (host_pages() - n) / 2;
  host_check(u3e_Pool.gar_w == guard, "guard at %u, expected %u", u3e_Pool.gar_w, guard);
  the_seed = seed;
  check_loom(n, one_seed);
  for (uint32_t p = n; p < n + 4 && p < host_pages() && p != guard; p++) {
    host_check(host_zero(host_page(p)), "page %u above the image is not zero", p);
  }
  check_no_patch(dir);
  char want[256];
  if (n == 0) {
    snprintf(want, sizeof want, "log boot: protected loom\nlog live: logical boot\n");
  } else {
    snprintf(want, sizeof want, "log boot: protected loom\nprint_memory live: %s %u\n",
             image_mapped() ? "mapped" : "loaded", n << u3a_page);
  }
  check_calls(want);
  printf("verified %u pages\n", n);
}

/* resave DIR SAVES N: SAVES saves in one process over N heap pages, save k
 * storing seed k into every page; says when each save returned. */
static void step_resave(char *dir, int argc, char **argv) {
  uint32_t saves = arg(argc, argv, 3), n = arg(argc, argv, 4);
  host_boot(dir, &opts);
  host_road(n, 2);
  u3e_ward(host_low(), host_high());
  for (uint32_t k = 1; k <= saves; k++) {
    for (uint32_t p = 0; p < n; p++) {
      host_fill(k, p);
    }
    u3e_save(host_low(), host_high());
    printf("save %u returned\n", k);
  }
}

/* free DIR SEED N A B: pages [A, B) are free in the road's page directory,
 * so the save skips them although they are dirty. */
static void step_free(char *dir, int argc, char **argv) {
  uint32_t seed = arg(argc, argv, 3), n = arg(argc, argv, 4);
  uint32_t a = arg(argc, argv, 5), b = arg(argc, argv, 6);
  opts.flags |= HOST_VERBOSE;
  host_boot(dir, &opts);
  host_road(n, 2);
  for (uint32_t p = 0; p < n; p++) {
    host_fill(seed, p);
  }
  fill_stack(seed, 1);
  /* The directory lives in the topmost (stack) page. */
  uint32_t top = host_pages() - 1;
  uint32_t *dir_w = host_words(top);
  for (uint32_t i = 0; i < n; i++) {
    dir_w[i] = (i >= a && i < b) ? 0 : 0x80000000u | i;
  }
  host_directory(top << u3a_page, n);
  host_calls_reset();
  u3e_save(host_low(), host_high());
  char want[256];
  snprintf(want, sizeof want, "print_memory  pages %u\nloom_sane\nprint_memory sync: save %u\n",
           (b - a) << u3a_page, (n - (b - a)) << u3a_page);
  check_calls(want);
  size_t len;
  uint8_t *img = host_slurp(host_chk(path_a, sizeof path_a, dir, "image.bin"), &len);
  host_check(img && len == (size_t)n * HOST_PAGE_BYTES, "image.bin size %zu", len);
  for (uint32_t p = 0; p < n; p++) {
    const uint8_t *bytes = img + (size_t)p * HOST_PAGE_BYTES;
    if (p >= a && p < b) {
      host_check(host_zero(bytes), "free page %u was written", p);
    } else {
      host_check(host_holds(seed, p, bytes), "page %u not saved", p);
    }
  }
  if (image_mapped()) {
    /* The free pages are clean now: the loom shows the image's hole there. */
    for (uint32_t p = a; p < b; p++) {
      host_check(host_zero(host_page(p)), "free page %u does not read the image", p);
    }
  }
  printf("saved %u pages, skipped %u free\n", n - (b - a), b - a);
}

/* ---- hand-written patches ------------------------------------------------- */

static void put32(uint8_t *at, uint32_t v) { memcpy(at, &v, 4); }

static void write_file(const char *path, const void *buf, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | RT_BINARY, 0600);
  if (fd < 0) host_die(path);
  host_check(write(fd, buf, len) == (ssize_t)len, "write %s", path);
  close(fd);
}

/* patch DIR KIND: writes a patch over a 64-page image of seed 1: pages 3, 7
 * and 70 of seed 9 in a 72-page image, then spoils it as KIND says. */
static void step_patch(char *dir, int argc, char **argv) {
  host_check(argc > 3, "patch needs a kind");
  const char *kind = argv[3];
  uint32_t pages[] = {3, 7, 70};
  uint32_t count = 3, total = 72, version = 2;
  if (!strcmp(kind, "beyond-total")) pages[2] = 75;
  if (!strcmp(kind, "unsorted")) { pages[0] = 7; pages[1] = 3; }
  if (!strcmp(kind, "duplicate")) pages[1] = 3;
  if (!strcmp(kind, "version")) version = 1;
  size_t mem_len = count * HOST_PAGE_BYTES;
  uint8_t *mem = calloc(1, mem_len + HOST_PAGE_BYTES);
  size_t ctl_len = 16 + 8 * count;
  uint8_t ctl[16 + 8 * 3 + 8];
  memset(ctl, 0, sizeof ctl);
  put32(ctl + 0, version);
  put32(ctl + 8, total);
  put32(ctl + 12, count);
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *page = mem + i * HOST_PAGE_BYTES;
    for (uint32_t w = 0; w < HOST_PAGE_WORDS; w++) {
      put32(page + 4 * w, host_pattern(9, pages[i], w));
    }
    put32(ctl + 16 + 8 * i, pages[i]);
    put32(ctl + 20 + 8 * i, host_murmur3(page, HOST_PAGE_BYTES, HOST_SEED));
  }
  if (!strcmp(kind, "page-checksum")) put32(ctl + 28, 0x12345678);
  /* The control checksum covers the block from tot_w to its end. */
  uint32_t sum = host_murmur3(ctl + 8, 8 + 8 * count, HOST_SEED);
  put32(ctl + 4, !strcmp(kind, "control-checksum") ? sum ^ 1u : sum);
  if (!strcmp(kind, "control-short")) ctl_len -= 4;
  if (!strcmp(kind, "control-long")) ctl_len += 8;
  if (!strcmp(kind, "control-empty")) ctl_len = 0;
  if (!strcmp(kind, "memory-short")) mem_len -= HOST_PAGE_BYTES / 2;
  if (!strcmp(kind, "memory-long")) mem_len += HOST_PAGE_BYTES;
  if (strcmp(kind, "memory-only")) {
    write_file(host_chk(path_a, sizeof path_a, dir, "control.bin"), ctl, ctl_len);
  }
  if (strcmp(kind, "memory-missing")) {
    write_file(host_chk(path_b, sizeof path_b, dir, "memory.bin"), mem, mem_len);
  }
  free(mem);
  printf("wrote a %s patch\n", kind);
}

static uint32_t patched_seed(uint32_t p) {
  if (p == 3 || p == 7 || p == 70) return 9;
  return p < 64 ? 1 : UINT32_MAX;
}
static uint32_t one_seed_1(uint32_t p) {
  (void)p;
  return 1;
}
static uint32_t old_seed(uint32_t p) { return p < 64 ? 1 : UINT32_MAX; }

/* recover DIR valid|spoilt: boots over the patch step's files. */
static void step_recover(char *dir, int argc, char **argv) {
  host_check(argc > 3, "recover needs valid or spoilt");
  bool valid = !strcmp(argv[3], "valid");
  host_boot(dir, &opts);
  check_no_patch(dir);
  uint32_t total = valid ? 72 : 64;
  host_check(u3e_Pool.img_u.pgs_w == total, "pgs_w %u, expected %u", u3e_Pool.img_u.pgs_w,
             total);
  check_loom(total, valid ? patched_seed : old_seed);
  check_image_file(dir, total, valid ? patched_seed : old_seed);
  printf("booted over the patch: %u pages\n", total);
}

/* verify_patched DIR: a later boot sees the recovered patch. */
static void step_verify_patched(char *dir) {
  host_boot(dir, &opts);
  host_check(u3e_Pool.img_u.pgs_w == 72, "pgs_w %u", u3e_Pool.img_u.pgs_w);
  check_loom(72, patched_seed);
  printf("the recovered patch is in the image\n");
}

/* ---- the guard page ------------------------------------------------------- */

static void store_word(void *page) { *(volatile uint32_t *)page = 0xfeedf00du; }

/* guard DIR: the heap runs into the guard, which moves to the middle of the
 * gap; when the gap is one page, the store ends in meme. */
static void step_guard(char *dir) {
  host_boot(dir, &opts);
  uint32_t pages = host_pages();
  host_road(8, 8);
  host_check(u3e_Pool.gar_w == pages / 2, "guard at %u", u3e_Pool.gar_w);
  uint32_t guard = u3e_Pool.gar_w, high_page = pages - 8;
  /* The heap has reached the guard. */
  host_marks((guard << u3a_page) + 5, high_page << u3a_page);
  host_faults = 0;
  host_check(host_try(store_word, host_page(guard)), "store to the guard ended in meme");
  host_check(host_faults == 1, "%llu faults", (unsigned long long)host_faults);
  uint32_t moved = guard + (high_page - guard) / 2;
  host_check(u3e_Pool.gar_w == moved, "guard moved to %u, expected %u", u3e_Pool.gar_w, moved);
  host_check(*(volatile uint32_t *)host_page(guard) == 0xfeedf00du, "store lost");
  /* Heap and stack meet around the guard: meme, and nothing moves. */
  host_marks(moved << u3a_page, (moved + 1) << u3a_page);
  host_check(!host_try(store_word, host_page(moved)), "store to the last gap did not meme");
  host_check(host_last_flaw == u3e_flaw_meme, "flaw %d", host_last_flaw);
  host_check(u3e_Pool.gar_w == moved, "guard moved on meme");
  printf("guard %u -> %u, then meme\n", guard, moved);
}

#ifdef _WIN32
/* Whether a store to PAGE is refused: u3e_fault does not handle it, and
 * host_try abandons it. (No fork here: the store runs in this process, so
 * a store the library wrongly lets through also changes the state the
 * step's later checks see; it fails this check first.) */
static bool store_is_refused(uint32_t page) { return !host_try(store_word, host_page(page)); }
#else
/* Whether a store to PAGE in a child process ends the child with status 5
 * (the fault handler's "unhandled" exit). */
static bool store_is_refused(uint32_t page) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    store_word(host_page(page));
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 5;
}
#endif

/* ward DIR: u3e_ward moves a guard that is outside the watermarks, and
 * leaves one inside them. */
static void step_ward(char *dir) {
  host_boot(dir, &opts);
  uint32_t pages = host_pages();
  host_road(8, 8);
  uint32_t guard = u3e_Pool.gar_w;
  u3e_ward(host_low(), host_high());
  host_check(u3e_Pool.gar_w == guard, "ward moved a guard inside the watermarks");
  host_check(store_is_refused(guard), "guard page %u is writable", guard);
  uint32_t low = guard + 100, high = pages - 4;
  host_marks(low << u3a_page, high << u3a_page);
  u3e_ward(host_low(), host_high());
  uint32_t want = low + (high - low) / 2;
  host_check(u3e_Pool.gar_w == want, "ward put the guard at %u, expected %u", u3e_Pool.gar_w,
             want);
  host_check(store_is_refused(want), "new guard page %u is writable", want);
  host_faults = 0;
  store_word(host_page(guard));
  host_check(host_faults == 0, "the old guard page faulted");
  uint32_t bit = u3e_Pool.dit_w[guard >> 5] & (1u << (guard & 31));
  host_check(bit != 0, "the old guard page is not dirty");
  printf("ward: guard %u -> %u\n", guard, want);
}

/* ---- toss, yolo, foul ----------------------------------------------------- */

/* toss DIR: pages between the watermarks lose their contents (on Windows
 * they keep them); the heap and the stack keep theirs. */
static void step_toss(char *dir) {
  host_boot(dir, &opts);
  uint32_t pages = host_pages();
  host_road(16, 4);
  for (uint32_t p = 0; p < 16; p++) host_fill(5, p);
  for (uint32_t p = 100; p < 200; p++) host_fill(5, p);
  fill_stack(5, 4);
  u3e_toss(host_low(), host_high());
  for (uint32_t p = 0; p < 16; p++) host_check(host_holds(5, p, host_page(p)), "heap page %u", p);
  for (uint32_t p = 100; p < 200; p++) {
    if (p == u3e_Pool.gar_w) continue;
    if (toss_drops) {
      host_check(host_zero(host_page(p)), "page %u kept its contents", p);
    } else {
      host_check(host_holds(5, p, host_page(p)), "page %u lost its contents", p);
    }
  }
  for (uint32_t p = pages - 4; p < pages; p++) {
    host_check(host_holds(5, p, host_page(p)), "stack page %u", p);
  }
  host_fill(6, 150);
  host_check(host_holds(6, 150, host_page(150)), "tossed page not writable");
  printf("tossed pages 16..%u\n", pages - 4);
}

/* yolo DIR SEED N: after u3e_yolo stores never fault; u3e_foul marks every
 * page dirty and the next save writes them all. */
static void step_yolo(char *dir, int argc, char **argv) {
  uint32_t seed = arg(argc, argv, 3), n = arg(argc, argv, 4);
  host_boot(dir, &opts);
  host_check(u3e_Pool.img_u.pgs_w == n, "image has %u pages", u3e_Pool.img_u.pgs_w);
  host_road(n, 2);
  host_check(u3e_yolo() == c3y, "u3e_yolo failed");
  host_faults = 0;
  for (uint32_t p = 0; p < n; p++) host_fill(seed, p);
  host_check(host_faults == 0, "%llu faults after yolo", (unsigned long long)host_faults);
  host_check(store_is_refused(u3e_Pool.gar_w), "the guard is writable after yolo");
  u3e_foul();
  for (uint32_t p = 0; p < host_pages(); p++) {
    host_check(u3e_Pool.dit_w[p >> 5] & (1u << (p & 31)), "page %u clean after foul", p);
  }
  u3e_save(host_low(), host_high());
  the_seed = seed;
  check_image_file(dir, n, one_seed);
  printf("yolo: %u pages stored without faults, saved after foul\n", n);
}

/* ---- backup and image_open_any -------------------------------------------- */

static bool same_file(const char *a, const char *b) {
  size_t la, lb;
  uint8_t *x = host_slurp(a, &la), *y = host_slurp(b, &lb);
  bool same = x && y && la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return same;
}

#ifdef _WIN32
/* Open handles of this process (the library's files are handles there),
 * counted by asking each handle value below 16384, where a small process's
 * handles are, for its flags: GetProcessHandleCount answers 0 under wine. */
static int open_fds(void) {
  int n = 0;
  DWORD flags;
  for (uintptr_t v = 4; v < 16384; v += 4) {
    n += GetHandleInformation((HANDLE)v, &flags) != 0;
  }
  return n;
}
#else
/* Open descriptors of this process. */
static int open_fds(void) {
  int n = 0;
  for (int fd = 0; fd < 1024; fd++) {
    if (fcntl(fd, F_GETFD) != -1) n++;
  }
  return n;
}
#endif

/* backup DIR: copies image.bin out to an epoch directory and back. */
static void step_backup(char *dir) {
  char chk[8300], epo[8300], img[8400], copy[8400];
  snprintf(chk, sizeof chk, "%s/.urb/chk", dir);
  snprintf(epo, sizeof epo, "%s/.urb/bhk", dir);
  snprintf(img, sizeof img, "%s/image.bin", chk);
  snprintf(copy, sizeof copy, "%s/image.bin", epo);
  host_check(host_size(img) > 0, "no image to back up");
  host_check(u3e_backup(chk, epo, c3n) == c3y, "backup failed");
  host_check(same_file(img, copy), "backup differs from the image");
  host_check(u3e_backup(chk, epo, c3n) == c3n, "backup over an existing epoch without overwrite");
  /* Overwrite a longer destination: the result is a copy, not a prefix. */
  uint8_t *junk = malloc(HOST_PAGE_BYTES * 100);
  memset(junk, 0x5a, HOST_PAGE_BYTES * 100);
  write_file(copy, junk, HOST_PAGE_BYTES * 100);
  free(junk);
  int fds = open_fds();
  host_check(u3e_backup(chk, epo, c3y) == c3y, "backup with overwrite failed");
  host_check(same_file(img, copy), "backup over a longer file is not a copy");
  host_check(open_fds() == fds, "backup leaked %d descriptors", open_fds() - fds);
  host_check(u3e_backup(epo, NULL, c3y) == c3n, "backup to a null path");
  snprintf(path_a, sizeof path_a, "%s/nowhere", dir);
  host_check(u3e_backup(path_a, epo, c3y) == c3n, "backup from a missing image");
  /* Spoil the image, then restore it from the epoch. */
  size_t len;
  uint8_t *bytes = host_slurp(copy, &len);
  write_file(img, "spoilt", 6);
  host_check(u3e_backup(epo, chk, c3y) == c3y, "restore failed");
  host_check(same_file(img, copy), "restored image differs");
  size_t len2;
  uint8_t *again = host_slurp(img, &len2);
  host_check(len2 == len && !memcmp(bytes, again, len), "restored bytes differ");
  free(bytes);
  free(again);
  printf("backup: %zu bytes out and back\n", len);
}

/* open_any DIR: u3e_image_open_any creates, measures and rejects images. */
static void step_open_any(char *dir) {
  char name[] = "/.urb/chk/north";
  c3_z len = 99;
  c3_i fd = u3e_image_open_any(name, dir, &len);
  host_check(fd >= 0 && len == 0, "new image: fd %d len %zu", fd, (size_t)len);
  snprintf(path_a, sizeof path_a, "%s/.urb/chk/north.bin", dir);
  host_check(host_size(path_a) == 0, "north.bin not created");
  close(fd);
  uint8_t *three = calloc(4, HOST_PAGE_BYTES);
  write_file(path_a, three, 3 * HOST_PAGE_BYTES);
  fd = u3e_image_open_any(name, dir, &len);
  host_check(fd >= 0 && len == 3 * HOST_PAGE_BYTES, "3-page image: fd %d len %zu", fd,
             (size_t)len);
  close(fd);
  write_file(path_a, three, 3 * HOST_PAGE_BYTES + 1);
  len = 99;
  fd = u3e_image_open_any(name, dir, &len);
  host_check(fd == -1 && len == 0, "odd image: fd %d len %zu", fd, (size_t)len);
  char missing[8300];
  snprintf(missing, sizeof missing, "%s/no/such", dir);
  len = 99;
  fd = u3e_image_open_any(name, missing, &len);
  host_check(fd == -1 && len == 0, "missing dir: fd %d len %zu", fd, (size_t)len);
  free(three);
  printf("image_open_any: new, 3 pages, odd, missing\n");
}

/* ---- swap, dryrun, boot, bail --------------------------------------------- */

/* swap DIR SEED N: the ephemeral file backs the loom above the image. */
static void step_swap(char *dir, int argc, char **argv) {
  uint32_t seed = arg(argc, argv, 3), n = arg(argc, argv, 4);
  opts.flags |= HOST_SWAP;
  host_boot(dir, &opts);
  host_check(u3o_Config.eph_c != NULL, "eph_c not filled in");
  host_chk(path_a, sizeof path_a, dir, "limbo.bin");
  host_check(!strcmp(u3o_Config.eph_c, path_a), "eph_c is %s", u3o_Config.eph_c);
  host_check(host_size(path_a) == (long long)u3o_Config.wor_i * 4, "limbo.bin has %lld bytes",
             host_size(path_a));
  host_road(n, 2);
  for (uint32_t p = 0; p < n; p++) host_fill(seed, p);
  fill_stack(seed, 2);
  u3e_save(host_low(), host_high());
  the_seed = seed;
  check_image_file(dir, n, one_seed);
  host_fill(seed, n + 3);
  host_check(host_holds(seed, n + 3, host_page(n + 3)), "store above the image lost");
  u3e_stop();
  host_check(host_size(u3o_Config.eph_c) < 0, "limbo.bin left after u3e_stop");
  printf("swap: %u pages saved, limbo.bin removed at stop\n", n);
}

/* dryrun DIR: u3e_save writes nothing. */
static void step_dryrun(char *dir) {
  opts.flags |= HOST_DRYRUN;
  host_boot(dir, &opts);
  host_road(16, 2);
  for (uint32_t p = 0; p < 16; p++) host_fill(3, p);
  u3e_save(host_low(), host_high());
  host_check(host_size(host_chk(path_a, sizeof path_a, dir, "image.bin")) == 0,
             "dry run wrote the image");
  check_no_patch(dir);
  printf("dryrun: nothing written\n");
}

/* boot DIR: u3e_live only (for the exit cases); creates no directories. */
static void step_boot(char *dir) {
  host_start(dir, &opts, false);
  c3_o nuu = u3e_live(c3n, dir);
  printf("booted: %s, %u pages\n", nuu == c3y ? "new" : "old", u3e_Pool.img_u.pgs_w);
}

/* bail DIR: a save with the guard outside the watermarks bails. */
static void step_bail(char *dir) {
  host_boot(dir, &opts);
  host_road(8, 8);
  for (uint32_t p = 0; p < 8; p++) host_fill(1, p);
  uint32_t guard = u3e_Pool.gar_w;
  host_marks((guard + 10) << u3a_page, (host_pages() - 8) << u3a_page);
  u3e_save(host_low(), host_high());
  host_fail(__FILE__, __LINE__, "u3e_save returned with the guard below the heap");
}

/* pool DIR N: the u3e_Pool this executable reads is the library's. */
static void step_pool(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot(dir, &opts);
  host_check(u3e_Pool.img_u.pgs_w == n, "u3P.img_u.pgs_w %u, expected %u",
             u3e_Pool.img_u.pgs_w, n);
  host_check(u3e_Pool.dir_c == dir, "u3P.dir_c does not point at the pier");
  host_check(u3e_Pool.img_u.fid_i > 2, "u3P.img_u.fid_i %d", u3e_Pool.img_u.fid_i);
  host_road(8, 8);
  host_marks(((n + 1) << u3a_page), (host_pages() - 8) << u3a_page);
  uint32_t low = n + 1, high = host_pages() - 8;
  host_marks(low << u3a_page, high << u3a_page);
  uint32_t before = u3e_Pool.gar_w;
  host_marks((before + 1) << u3a_page, high << u3a_page);
  u3e_ward(host_low(), host_high());
  host_check(u3e_Pool.gar_w != before, "u3P.gar_w did not follow u3e_ward (%u)", before);
  printf("u3e_Pool: pgs_w %u, gar_w %u -> %u\n", n, before, u3e_Pool.gar_w);
}

/* hold DIR SEED N: boots, writes N pages of SEED, says "holding", and
 * saves when SIGUSR1 arrives (on Windows, which has no signals: once the
 * file the environment's SCN_RELEASE names exists). */
static void step_hold(char *dir, int argc, char **argv) {
  uint32_t seed = arg(argc, argv, 3), n = arg(argc, argv, 4);
#ifdef _WIN32
  const char *release = getenv("SCN_RELEASE");
  host_check(release != NULL, "hold needs SCN_RELEASE here");
#else
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
#endif
  host_boot(dir, &opts);
  host_road(n, 2);
  for (uint32_t p = 0; p < n; p++) host_fill(seed, p);
  if (argc > 5) {
    /* hold DIR SEED N BACKUP: a save and a backup of it into BACKUP first;
     * the lock must still be held after them. */
    u3e_save(host_low(), host_high());
    char chk[8400];
    snprintf(chk, sizeof chk, "%s/.urb/chk", dir);
    host_check(u3e_backup(chk, argv[5], c3y) == c3y, "backup into %s failed", argv[5]);
    printf("saved and backed up into %s\n", argv[5]);
  }
  printf("holding\n");
#ifdef _WIN32
  while (host_size(release) < 0) {
    Sleep(20);
  }
#else
  int sig;
  sigwait(&set, &sig);
#endif
  u3e_save(host_low(), host_high());
  the_seed = seed;
  check_image_file(dir, n, one_seed);
  printf("saved %u pages while another process was refused\n", n);
}

/* hashes: this program's MurmurHash3_x86_32 gives the published vectors, so
 * the patches it writes are checked by an independent implementation. */
static void step_hashes(void) {
  static uint8_t zero[HOST_PAGE_BYTES];
  host_check(host_murmur3("", 0, HOST_SEED) == 0x79ff04e8u, "empty");
  host_check(host_murmur3("hello", 5, HOST_SEED) == 0xe15a67a3u, "hello");
  host_check(host_murmur3(zero, sizeof zero, HOST_SEED) == 0xf9b4b0e0u, "zero page");
  host_check(host_murmur3("", 0, 0) == 0, "empty, seed 0");
  printf("murmur3 vectors match\n");
}

/* shrink_clean DIR N: the heap shrinks to N pages but nothing below is
 * dirty: the save writes nothing and the image keeps its size. */
static void step_shrink_clean(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot(dir, &opts);
  uint32_t had = u3e_Pool.img_u.pgs_w;
  host_check(had > n, "image of %u pages is not larger than %u", had, n);
  host_road(n, 2);
  u3e_save(host_low(), host_high());
  host_check(u3e_Pool.img_u.pgs_w == had, "pgs_w %u, was %u", u3e_Pool.img_u.pgs_w, had);
  host_check(host_size(host_chk(path_a, sizeof path_a, dir, "image.bin")) ==
                 (long long)had * (long long)HOST_PAGE_BYTES,
             "image.bin changed size");
  printf("nothing dirty below page %u: image kept at %u pages\n", n, had);
}

/* toss_image DIR N: over an image of N pages of seed 1, the heap shrinks
 * to 16 pages and pages 20..29 are rewritten; u3e_toss reverts them to the
 * image's bytes (default mode) or zeroes them (no_demand), or on Windows
 * leaves them as they are. */
static void step_toss_image(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot(dir, &opts);
  host_check(u3e_Pool.img_u.pgs_w == n, "image has %u pages", u3e_Pool.img_u.pgs_w);
  host_road(16, 2);
  u3e_ward(host_low(), host_high());
  for (uint32_t p = 20; p < 30; p++) host_fill(2, p);
  u3e_toss(host_low(), host_high());
  bool demand = image_mapped();
  for (uint32_t p = 20; p < 30; p++) {
    if (!toss_drops) {
      host_check(host_holds(2, p, host_page(p)), "page %u lost its contents", p);
    } else if (demand) {
      host_check(host_holds(1, p, host_page(p)), "page %u did not revert to the image", p);
    } else {
      host_check(host_zero(host_page(p)), "page %u not zeroed", p);
    }
  }
  printf("toss over image pages: %s\n",
         !toss_drops ? "kept" : demand ? "reverted to the file" : "zeroed");
}

/* foul_store DIR: u3e_foul without u3e_yolo, then a store to a clean page. */
static void step_foul_store(char *dir) {
  host_boot(dir, &opts);
  host_check(u3e_Pool.img_u.pgs_w > 0, "no image");
  host_road(u3e_Pool.img_u.pgs_w, 2);
  u3e_foul();
  store_word(host_page(0));
  printf("store after foul completed\n");
}

/* live_yes DIR N: u3e_live(c3y, dir) on an existing pier returns c3y and
 * still loads the image. */
static void step_live_yes(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_start(dir, &opts, true);
  host_check(u3e_live(c3y, dir) == c3y, "u3e_live(c3y) did not return c3y");
  host_check(u3e_Pool.img_u.pgs_w == n, "pgs_w %u", u3e_Pool.img_u.pgs_w);
  check_loom(n, one_seed_1);
  printf("u3e_live(c3y) on an existing pier: c3y, %u pages\n", n);
}

/* init DIR: u3e_init tracks without persistence. */
static void step_init(char *dir) {
  host_start(dir, &opts, false);
  u3e_init();
  host_check(u3e_Pool.img_u.nam_c == NULL, "nam_c set");
  host_check(u3e_Pool.img_u.fid_i == -1, "fid_i %d", u3e_Pool.img_u.fid_i);
  host_check(u3e_Pool.pag_w == host_pages(), "pag_w %u", u3e_Pool.pag_w);
  host_check(u3e_Pool.gar_w == host_pages() / 2, "guard at %u", u3e_Pool.gar_w);
  for (size_t i = 0; i < LOOMS_DIRTY_WORDS; i++) {
    host_check(u3e_Pool.dit_w[i] == 0xffffffffu, "dirty word %zu is %08x", i, u3e_Pool.dit_w[i]);
  }
  host_check(store_is_refused(u3e_Pool.gar_w), "the guard is writable");
  host_road(8, 8);
  host_faults = 0;
  for (uint32_t p = 0; p < 8; p++) host_fill(3, p);
  host_check(host_faults == 0, "stores faulted after init");
  printf("init: every page dirty, guard at %u\n", u3e_Pool.gar_w);
}

/* ---- kills mid-save ------------------------------------------------------- */

/* The pages a cycle stores to: every STRIDE-th of the heap, so that with
 * STRIDE 2 each is a run of its own, written to the image by a write of
 * its own, and a kill can fall between two of them. */
static uint32_t the_stride = 1;
static uint32_t strided_seed(uint32_t p) { return p % the_stride == 0 ? the_seed : UINT32_MAX; }

/* cycle DIR FIRST N STRIDE: saves over a heap of N pages until killed,
 * save k (from FIRST on) storing seed k into every STRIDE-th page; says
 * "booted", then "save k returned" after each. The parent kills it at any
 * moment (c-tests/windows/kills.c). */
static void step_cycle(char *dir, int argc, char **argv) {
  uint32_t first = arg(argc, argv, 3), n = arg(argc, argv, 4), stride = arg(argc, argv, 5);
  host_check(stride > 0, "stride 0");
  host_boot(dir, &opts);
  host_road(n, 2);
  u3e_ward(host_low(), host_high());
  printf("booted\n");
  for (uint32_t k = first;; k++) {
    for (uint32_t p = 0; p < n; p += stride) {
      host_fill(k, p);
    }
    u3e_save(host_low(), host_high());
    printf("save %u returned\n", k);
  }
}

/* generation DIR N STRIDE SEED...: after a kill, the pier boots whole: no
 * patch is left, and the loom and image.bin hold one generation of the
 * cycle step: every STRIDE-th of its N pages written with the same one of
 * the SEEDs, the others zero (seed 0: the empty image of a pier never
 * saved). Says "generation SEED". */
static void step_generation(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  the_stride = arg(argc, argv, 4);
  host_check(the_stride > 0, "stride 0");
  host_check(argc > 5, "generation needs candidate seeds");
  host_boot(dir, &opts);
  check_no_patch(dir);
  uint32_t pages = u3e_Pool.img_u.pgs_w;
  int found = -1;
  for (int i = 5; i < argc && found < 0; i++) {
    uint32_t seed = arg(argc, argv, i);
    if (seed == 0 ? pages == 0 : pages == n && host_holds(seed, 0, host_page(0))) {
      found = i;
    }
  }
  host_check(found >= 0, "image of %u pages, page 0 holds none of the candidate seeds", pages);
  the_seed = arg(argc, argv, found);
  check_loom(the_seed == 0 ? 0 : n, strided_seed);
  check_image_file(dir, the_seed == 0 ? 0 : n, strided_seed);
  printf("generation %u\n", the_seed);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 3) {
    fprintf(stderr, "usage: scenario STEP DIR [ARGS...]\n");
    return 2;
  }
  options_from_env();
  const char *step = argv[1];
  char *dir = argv[2];
  if (!strcmp(step, "hashes")) step_hashes();
  else if (!strcmp(step, "new")) step_new(dir);
  else if (!strcmp(step, "write")) step_write(dir, argc, argv);
  else if (!strcmp(step, "verify")) step_verify(dir, argc, argv);
  else if (!strcmp(step, "resave")) step_resave(dir, argc, argv);
  else if (!strcmp(step, "free")) step_free(dir, argc, argv);
  else if (!strcmp(step, "patch")) step_patch(dir, argc, argv);
  else if (!strcmp(step, "recover")) step_recover(dir, argc, argv);
  else if (!strcmp(step, "guard")) step_guard(dir);
  else if (!strcmp(step, "ward")) step_ward(dir);
  else if (!strcmp(step, "toss")) step_toss(dir);
  else if (!strcmp(step, "yolo")) step_yolo(dir, argc, argv);
  else if (!strcmp(step, "backup")) step_backup(dir);
  else if (!strcmp(step, "open_any")) step_open_any(dir);
  else if (!strcmp(step, "swap")) step_swap(dir, argc, argv);
  else if (!strcmp(step, "dryrun")) step_dryrun(dir);
  else if (!strcmp(step, "boot")) step_boot(dir);
  else if (!strcmp(step, "bail")) step_bail(dir);
  else if (!strcmp(step, "verify_patched")) step_verify_patched(dir);
  else if (!strcmp(step, "hold")) step_hold(dir, argc, argv);
  else if (!strcmp(step, "shrink_clean")) step_shrink_clean(dir, argc, argv);
  else if (!strcmp(step, "toss_image")) step_toss_image(dir, argc, argv);
  else if (!strcmp(step, "foul_store")) step_foul_store(dir);
  else if (!strcmp(step, "live_yes")) step_live_yes(dir, argc, argv);
  else if (!strcmp(step, "init")) step_init(dir);
  else if (!strcmp(step, "pool")) step_pool(dir, argc, argv);
  else if (!strcmp(step, "cycle")) step_cycle(dir, argc, argv);
  else if (!strcmp(step, "generation")) step_generation(dir, argc, argv);
  else {
    fprintf(stderr, "scenario: unknown step %s\n", step);
    return 2;
  }
  return 0;
}
