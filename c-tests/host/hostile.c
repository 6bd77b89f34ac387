/* hostile: steps that put the library under hostile conditions, each in its
 * own process, on the same host as the scenarios (host.c).
 *
 *   hostile STEP DIR [ARGS...]
 *
 * SCN_FLAGS sets the host's flags as for the scenarios (no_demand, swap,
 * verbose). scripts/suites/22-hostile.sh runs every step in every mode it
 * applies to and checks what only another process can see. */
#define _GNU_SOURCE
#include "host.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

static host_options opts;

#define arg host_arg

/* DIR/.urb/chk/NAME */
static char *chk_path(const char *dir, const char *name) {
  char *path = NULL;
  host_check(asprintf(&path, "%s/.urb/chk%s%s", dir, *name ? "/" : "", name) > 0, "asprintf");
  return path;
}

/* Fills heap pages [0, N) with SEED and saves. */
static void fill_and_save(uint32_t seed, uint32_t n) {
  for (uint32_t p = 0; p < n; p++) host_fill(seed, p);
  u3e_save(host_low(), host_high());
}

static uint32_t the_seed;
static uint32_t one_seed(uint32_t page) {
  (void)page;
  return the_seed;
}

/* image.bin holds exactly N pages, each SEED's pattern. */
static void check_image(const char *dir, uint32_t seed, uint32_t n) {
  the_seed = seed;
  host_check_image(dir, n, one_seed);
}

/* ---- the mapping limit (host_exhaust_mappings) ------------------------------------ */

static void *nothing(void *arg) { return arg; }

/* Whether a thread could be started now: asked in a child, so that no
 * stack of a thread that ran is cached here for the next one. */
static bool thread_possible(void) {
  pid_t pid = fork();
  host_check(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    pthread_t thread;
    _exit(pthread_create(&thread, NULL, nothing, NULL) == 0 ? 0 : 1);
  }
  int status;
  host_check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* maplimit_save DIR N: at the mapping limit, N first stores and a save:
 * stores widen, the save hashes on this thread when no thread can be had,
 * and the image holds every page. */
static void step_maplimit_save(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  long made = host_exhaust_mappings(0);
  for (uint32_t p = 0; p < n; p++) host_fill(7, p);
  /* The stores may give mappings back (in swap mode the library gives up
   * mappings it set aside, and widened runs merge): take them again, a
   * shared page each (those never merge), while a thread could be had. */
  while (thread_possible()) {
    host_check(mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0) != MAP_FAILED,
               "mmap: %s", strerror(errno));
    made++;
  }
  pthread_t thread;
  int refused = pthread_create(&thread, NULL, nothing, NULL);
  if (refused == 0) pthread_join(thread, NULL);
  host_check(refused != 0, "a thread could still be created at the mapping limit");
  u3e_save(host_low(), host_high());
  check_image(dir, 7, n);
  printf("saved %u pages at the mapping limit (%ld mappings made, %ld in all; thread refused: %s)\n",
         n, made, host_map_count(), strerror(refused));
}

static void store_word(void *page) { *(volatile uint32_t *)page = 0xfeedf00du; }

/* maplimit_guard DIR N: an image of N pages; at the mapping limit the heap
 * runs into the guard, which moves all the same; the store lands and the
 * next save keeps it. */
static void step_maplimit_guard(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot(dir, &opts);
  uint32_t pages = host_pages();
  host_road(n, 8);
  u3e_ward(host_low(), host_high());
  uint32_t guard = u3e_Pool.gar_w, high_page = pages - 8;
  /* Scattered first stores split the image's mapping (mprotect tracking). */
  for (uint32_t p = 0; p < n; p += 2) host_poke(9, p);
  host_exhaust_mappings(0);
  host_marks((guard << u3a_page) + 5, high_page << u3a_page);
  host_faults = 0;
  host_check(host_try(store_word, host_page(guard)), "store to the guard ended in meme");
  host_check(host_last_flaw == u3e_flaw_good, "flaw %d", host_last_flaw);
  uint32_t moved = guard + (high_page - guard) / 2;
  host_check(u3e_Pool.gar_w == moved, "guard moved to %u, expected %u", u3e_Pool.gar_w, moved);
  host_check(*(volatile uint32_t *)host_page(guard) == 0xfeedf00du, "store lost");
  /* The new guard is a guard: a store there faults into the library. */
  host_marks((moved << u3a_page) - 5, high_page << u3a_page);
  u3e_save(host_low(), host_high());
  size_t len;
  char *img = chk_path(dir, "image.bin");
  uint8_t *bytes = host_slurp(img, &len);
  host_check(bytes != NULL && len == (size_t)moved * HOST_PAGE_BYTES, "image.bin has %zu bytes",
             len);
  uint32_t word;
  memcpy(&word, bytes + (size_t)guard * HOST_PAGE_BYTES, 4);
  host_check(word == 0xfeedf00du, "the store into the old guard was not saved");
  free(bytes);
  free(img);
  printf("guard %u -> %u at the mapping limit (%ld mappings)\n", guard, moved, host_map_count());
}

/* ---- backups onto live snapshots ------------------------------------------------------ */

/* backup_self DIR: a running pier's u3e_backup(chk, chk) is a no-op that
 * succeeds; saves after it still reach the pier's image. */
static void step_backup_self(char *dir, int argc, char **argv) {
  (void)argc;
  (void)argv;
  host_boot_road(dir, &opts, 8, 2);
  fill_and_save(1, 8);
  char *chk = chk_path(dir, "");
  struct stat before, after;
  char *img = chk_path(dir, "image.bin");
  host_check(stat(img, &before) == 0, "stat image.bin");
  host_check(u3e_backup(chk, chk, c3y) == c3y, "backup onto itself failed");
  host_check(stat(img, &after) == 0 && after.st_ino == before.st_ino,
             "image.bin was replaced by a backup onto itself");
  fill_and_save(2, 8);
  check_image(dir, 2, 8);
  free(img);
  free(chk);
  printf("backup onto itself: no-op, later saves kept\n");
}

/* backup_into DIR SRC: u3e_backup(SRC, DIR/.urb/chk, c3y) must be refused
 * while DIR's pier runs (here when BOOT is 1, or in another process). */
static void step_backup_into(char *dir, int argc, char **argv) {
  uint32_t boot = arg(argc, argv, 4);
  char *chk = chk_path(dir, "");
  if (boot) {
    host_boot_road(dir, &opts, 8, 2);
    fill_and_save(3, 8);
  }
  c3_o done = u3e_backup(argv[3], chk, c3y);
  host_check(done == c3n, "a backup over a running pier's snapshot succeeded");
  if (boot) {
    fill_and_save(4, 8);
    check_image(dir, 4, 8);
  }
  free(chk);
  printf("backup into a running pier refused\n");
}

/* backup DIR SRC DST OVERWRITE: u3e_backup(SRC, DST, OVERWRITE) must give
 * WANT (y or n). */
static void step_backup(char *dir, int argc, char **argv) {
  (void)dir;
  host_check(argc > 6, "backup SRC DST OVERWRITE WANT");
  c3_o ovw = argv[5][0] == 'y' ? c3y : c3n;
  c3_o want = argv[6][0] == 'y' ? c3y : c3n;
  c3_o got = u3e_backup(argv[3], argv[4], ovw);
  host_check(got == want, "u3e_backup returned %d", got);
  printf("backup returned %s\n", got == c3y ? "yes" : "no");
}

/* ---- stop twice ---------------------------------------------------------------------------- */

/* stop_twice DIR: descriptors the runtime opens after u3e_stop survive a
 * second u3e_stop. */
static void step_stop_twice(char *dir, int argc, char **argv) {
  (void)argc;
  (void)argv;
  host_boot_road(dir, &opts, 4, 2);
  fill_and_save(1, 4);
  int image_fd = u3e_Pool.img_u.fid_i, eph_fd = u3e_Pool.eph_i;
  u3e_stop();
  int mine[4];
  for (int i = 0; i < 4; i++) {
    mine[i] = open("/dev/null", O_RDONLY);
    host_check(mine[i] >= 0, "open /dev/null");
  }
  u3e_stop();
  for (int i = 0; i < 4; i++) {
    host_check(fcntl(mine[i], F_GETFD) >= 0, "u3e_stop closed descriptor %d the runtime opened",
               mine[i]);
  }
  printf("stop twice: image fd %d, swap fd %d; the runtime's descriptors %d-%d kept\n", image_fd,
         eph_fd, mine[0], mine[3]);
}

/* ---- a save that wrote nothing, then a backup (vere's epoch roll) ---------------------------- */

/* Free space the statvfs shim reports (see space.c); -1 for the truth. */
static void set_free(long long bytes) {
  void (*set)(long long) = (void (*)(long long))dlsym(RTLD_DEFAULT, "space_set_free");
  host_check(set != NULL, "the space shim is not preloaded");
  set(bytes);
}

/* soft_backup DIR EPOCH MODE: save seed 1, then seed 2 with no free space:
 * the save writes nothing. Then u3e_backup(chk, EPOCH, c3y), as vere rolls
 * an epoch: with MODE "transient" the space is back and the backup first
 * completes the save, so EPOCH holds seed 2; with "persistent" the backup
 * is refused and EPOCH gets no image. */
static void step_soft_backup(char *dir, int argc, char **argv) {
  host_check(argc > 4, "soft_backup DIR EPOCH MODE");
  bool transient = strcmp(argv[4], "transient") == 0;
  host_boot_road(dir, &opts, 8, 2);
  fill_and_save(1, 8);
  set_free(0);
  fill_and_save(2, 8);
  check_image(dir, 1, 8);
  if (transient) set_free(-1);
  char *chk = chk_path(dir, "");
  c3_o done = u3e_backup(chk, argv[3], c3y);
  if (transient) {
    host_check(done == c3y, "backup after the space came back failed");
    check_image(dir, 2, 8);
  } else {
    host_check(done == c3n, "backup of a pier whose last save wrote nothing succeeded");
    /* The space comes back: the next save writes everything. */
    set_free(-1);
    fill_and_save(5, 8);
    check_image(dir, 5, 8);
  }
  free(chk);
  printf("soft-failed save, then backup (%s): %s\n", argv[4], done == c3y ? "copied" : "refused");
}

/* ---- a sparse image on a nearly full file system ------------------------------------------- */

/* Marks heap pages [a, b) free in a page directory in the top stack page. */
static void directory_free(uint32_t n, uint32_t a, uint32_t b) {
  uint32_t top = host_pages() - 1;
  uint32_t *dir_w = host_words(top);
  for (uint32_t i = 0; i < n; i++) {
    dir_w[i] = (i >= a && i < b) ? 0 : 0x80000000u | i;
  }
  host_directory(top << u3a_page, n);
}

/* sparse DIR N A B: saves N heap pages of seed 1 with [A, B) free, so that
 * image.bin has a hole there. */
static void step_sparse(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), a = arg(argc, argv, 4), b = arg(argc, argv, 5);
  host_boot_road(dir, &opts, n, 1);
  for (uint32_t p = 0; p < n; p++) host_fill(1, p);
  host_fill(1, host_pages() - 1);
  directory_free(n, a, b);
  u3e_save(host_low(), host_high());
  printf("sparse image: %u pages, [%u, %u) a hole\n", n, a, b);
}

/* fill_holes DIR N A B SEED: the pages [A, B) are in use now and hold SEED;
 * a save either writes them or writes nothing; the step says which. */
static void step_fill_holes(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), a = arg(argc, argv, 4), b = arg(argc, argv, 5);
  uint32_t seed = arg(argc, argv, 6);
  host_boot_road(dir, &opts, n, 1);
  directory_free(n, 0, 0);
  for (uint32_t p = a; p < b; p++) host_fill(seed, p);
  u3e_save(host_low(), host_high());
  printf("save returned\n");
}

/* live_null DIR: u3e_live with a null directory boots the pier "(null)",
 * relative to the working directory (DIR names it for the host). */
static void step_live_null(char *dir, int argc, char **argv) {
  (void)argc;
  (void)argv;
  host_start(dir, &opts, false);
  c3_o nuu = u3e_live(c3n, NULL);
  host_check(nuu == c3y, "u3e_live(c3n, NULL) returned %d", nuu);
  printf("booted the pier (null)\n");
}

static uint32_t seeds_a, seeds_b, seed_in, seed_out;
static uint32_t inside_or_out(uint32_t page) {
  return page >= seeds_a && page < seeds_b ? seed_in : seed_out;
}

/* image_seeds DIR N A B IN OUT: image.bin has N pages; pages [A, B) hold
 * seed IN, the others seed OUT. */
static void step_image_seeds(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  seeds_a = arg(argc, argv, 4), seeds_b = arg(argc, argv, 5);
  seed_in = arg(argc, argv, 6), seed_out = arg(argc, argv, 7);
  host_check_image(dir, n, inside_or_out);
  printf("image: %u pages as expected\n", n);
}

/* ---- forks and the pier's lock ------------------------------------------------------------- */

/* fork_child DIR N READY GO: saves N pages of seed 1, then forks and exits
 * at once. The child, once its parent is gone, stores seed 9 and saves (a
 * forked child must not write the pier), says so in the file READY, and
 * waits (at most 60 s) for the file GO before it exits: meanwhile another
 * process must be able to boot the pier. */
static void step_fork_child(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_check(argc > 5, "fork_child DIR N READY GO");
  host_boot_road(dir, &opts, n, 2);
  fill_and_save(1, n);
  looms_save_wait();
  fflush(NULL);
  pid_t parent = getpid();
  pid_t child = fork();
  host_check(child >= 0, "fork");
  if (child > 0) {
    printf("parent %d exits; child %d goes on\n", (int)parent, (int)child);
    exit(0);
  }
  /* The child's lines go to READY.log: the step's output is gone with its parent. */
  char *log = NULL;
  host_check(asprintf(&log, "%s.log", argv[4]) > 0, "asprintf");
  int log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  host_check(log_fd >= 0 && dup2(log_fd, 1) == 1 && dup2(log_fd, 2) == 2, "redirect to %s", log);
  while (getppid() == parent) usleep(1000);
  fill_and_save(9, n);
  int rc = looms_save_wait();
  FILE *ready = fopen(argv[4], "w");
  host_check(ready != NULL, "create %s", argv[4]);
  fprintf(ready, "child saved; looms_save_wait %d\n", rc);
  fclose(ready);
  for (int i = 0; i < 60000 && access(argv[5], F_OK) != 0; i++) usleep(1000);
  exit(0);
}

/* ---- a forked child in swap mode ------------------------------------------------------------ */

/* A background save held before it reads a page: its worker's first call
 * (statvfs of the pier, for the free space) waits while hold_worker is set,
 * in the process that set it and on any thread but the main one, so that
 * a forked child's own saves run. */
static atomic_bool hold_worker;
static pid_t holder;

int statvfs(const char *path, struct statvfs *buf) {
  static int (*real)(const char *, struct statvfs *);
  if (real == NULL) *(void **)&real = dlsym(RTLD_NEXT, "statvfs");
  while (atomic_load(&hold_worker) && getpid() == holder && gettid() != holder) usleep(500);
  return real(path, buf);
}

/* The names in DIR/.urb/chk, sorted, space-separated, into OUT. */
static void chk_names(const char *dir, char *out, size_t len) {
  char *chk = chk_path(dir, "");
  struct dirent **names;
  int n = scandir(chk, &names, NULL, alphasort);
  host_check(n >= 0, "scandir %s", chk);
  size_t at = 0;
  out[0] = 0;
  for (int i = 0; i < n; i++) {
    if (names[i]->d_name[0] != '.') {
      at += (size_t)snprintf(out + at, at < len ? len - at : 0, "%s ", names[i]->d_name);
    }
    free(names[i]);
  }
  free(names);
  free(chk);
  host_check(at < len, "too many files in %s", dir);
}

static uint32_t fork_half, fork_low, fork_high;
static uint32_t parents_pages(uint32_t page) { return page < fork_half ? fork_low : fork_high; }

static void check_parents_loom(uint32_t n, uint32_t stack_seed, bool free_page) {
  for (uint32_t p = 0; p < n; p++) {
    host_check(host_holds(parents_pages(p), p, host_page(p)),
               "the parent's loom page %u does not hold seed %u", p, parents_pages(p));
  }
  uint32_t top = host_pages() - 1;
  host_check(host_holds(stack_seed, top, host_page(top)),
             "the parent's stack page %u does not hold seed %u", top, stack_seed);
  /* A save drops the free pages' contents (u3e_toss): before it only. */
  host_check(!free_page || host_holds(stack_seed, n + 1, host_page(n + 1)),
             "the parent's free page %u does not hold seed %u", n + 1, stack_seed);
}

/* The child of fork_swap: runs ORDER (comma-separated steps) and exits 0.
 *   store  stores seed 7 to heap pages [0, N), to the free page N + 1 and
 *          to the top stack page;
 *   yolo   u3e_yolo, then stores seed 8 the same way;
 *   stop   u3e_stop;
 *   live   u3e_live on OTHER, stores the next seed from 20 into its N heap
 *          pages, saves, and checks OTHER's image holds them;
 *   save   stores seed 9 and calls u3e_save and looms_save_wait. */
static _Noreturn void fork_swap_child(uint32_t n, const char *order, char *other) {
  char steps[256];
  snprintf(steps, sizeof steps, "%s", order);
  uint32_t seed = 20, top = host_pages() - 1;
  for (char *step = strtok(steps, ","); step; step = strtok(NULL, ",")) {
    if (!strcmp(step, "store") || !strcmp(step, "yolo")) {
      uint32_t value = 7;
      if (!strcmp(step, "yolo")) {
        host_check(u3e_yolo() == c3y, "the child's u3e_yolo failed");
        value = 8;
      }
      for (uint32_t p = 0; p < n; p++) host_fill(value, p);
      host_fill(value, n + 1);
      host_fill(value, top);
      host_check(host_holds(value, 0, host_page(0)), "the child's store did not land");
    } else if (!strcmp(step, "stop")) {
      u3e_stop();
    } else if (!strcmp(step, "live")) {
      u3e_live(c3n, other);
      host_road(n, 2);
      u3e_ward(host_low(), host_high());
      for (uint32_t p = 0; p < n; p++) host_fill(seed, p);
      u3e_save(host_low(), host_high());
      host_check(looms_save_wait() == 0, "the child's save of its own pier failed");
      check_image(other, seed, n);
      seed++;
    } else if (!strcmp(step, "save")) {
      for (uint32_t p = 0; p < n; p++) host_fill(9, p);
      u3e_save(host_low(), host_high());
      printf("child: save, then looms_save_wait %d\n", looms_save_wait());
    } else {
      host_check(false, "unknown step %s", step);
    }
  }
  printf("child: %s done\n", order);
  fflush(NULL);
  exit(0);
}

/* fork_swap DIR N ORDER OTHER: saves N heap pages of seed 1, then seed 2
 * (held at its start in background mode, so that it is still to be
 * written at the fork), stores seed 3 into the first half (dirty and
 * writable at the fork: in swap mode, pages of limbo.bin) and seed 4 into
 * the free page N + 1 and the top stack page, and forks; the child runs
 * ORDER (fork_swap_child), OTHER being a pier of its own. Once it has
 * exited, the parent's loom, its pier's files and its swap file are as
 * they were, its pending save writes its own pages, and so does its next
 * one. */
static void step_fork_swap(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_check(argc > 5, "fork_swap DIR N ORDER OTHER");
  bool swap = (opts.flags & HOST_SWAP) != 0;
  host_boot_road(dir, &opts, n, 2);
  uint32_t top = host_pages() - 1;
  fill_and_save(1, n);
  host_check(looms_save_wait() == 0, "first save");
  const char *mode = getenv("LOOMS_SAVE");
  bool background = mode && !strcmp(mode, "background");
  holder = getpid();
  atomic_store(&hold_worker, background);
  fill_and_save(2, n);
  fork_half = n / 2, fork_low = 3, fork_high = 2;
  for (uint32_t p = 0; p < fork_half; p++) host_fill(3, p);
  host_fill(4, n + 1);
  host_fill(4, top);
  char *limbo = chk_path(dir, "limbo.bin");
  struct stat before, after;
  host_check(!swap || stat(limbo, &before) == 0, "no limbo.bin in swap mode");
  char names_before[512], names_after[512];
  chk_names(dir, names_before, sizeof names_before);
  fflush(NULL);
  pid_t child = fork();
  host_check(child >= 0, "fork");
  if (child == 0) fork_swap_child(n, argv[4], argv[5]);
  int status = 0;
  host_check(waitpid(child, &status, 0) == child, "waitpid");
  host_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child (%s) %s %d", argv[4],
             WIFEXITED(status) ? "exited" : "died of signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  /* The child wrote nothing of the parent's: its loom, its pier, its swap file. */
  check_parents_loom(n, 4, true);
  if (background) check_image(dir, 1, n);
  chk_names(dir, names_after, sizeof names_after);
  host_check(!strcmp(names_before, names_after), "the pier's files were [%s], now [%s]",
             names_before, names_after);
  if (swap) {
    host_check(stat(limbo, &after) == 0, "the parent's limbo.bin is gone");
    host_check(after.st_ino == before.st_ino && after.st_dev == before.st_dev,
               "the parent's limbo.bin was replaced");
  }
  /* The save pending at the fork, then the next, write the parent's pages. */
  atomic_store(&hold_worker, false);
  host_check(looms_save_wait() == 0, "the parent's save");
  check_image(dir, 2, n);
  u3e_save(host_low(), host_high());
  host_check(looms_save_wait() == 0, "the parent's next save");
  host_check_image(dir, n, parents_pages);
  check_parents_loom(n, 4, false);
  free(limbo);
  printf("fork (%s) in %s: the parent's loom, pier and swap file kept; its saves whole\n",
         argv[4], background ? "a background save" : "sync saves");
}

/* fork_stopped DIR N: as fork_swap, but the parent calls u3e_stop before
 * it forks, and the child stores to every page as "store" does: the loom
 * the parent keeps after its stop (in swap mode, still pages of its
 * limbo.bin, unlinked) is not written either, and the pier boots again
 * with the parent's last save. */
static void step_fork_stopped(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3);
  host_boot_road(dir, &opts, n, 2);
  uint32_t top = host_pages() - 1;
  fill_and_save(2, n);
  host_check(looms_save_wait() == 0, "the save");
  fork_half = n / 2, fork_low = 3, fork_high = 2;
  for (uint32_t p = 0; p < fork_half; p++) host_fill(3, p);
  host_fill(4, n + 1);
  host_fill(4, top);
  u3e_stop();
  fflush(NULL);
  pid_t child = fork();
  host_check(child >= 0, "fork");
  if (child == 0) {
    for (uint32_t p = 0; p < n; p++) host_fill(7, p);
    host_fill(7, n + 1);
    host_fill(7, top);
    host_check(host_holds(7, 0, host_page(0)), "the child's store did not land");
    exit(0);
  }
  int status = 0;
  host_check(waitpid(child, &status, 0) == child, "waitpid");
  host_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child %s %d",
             WIFEXITED(status) ? "exited" : "died of signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  check_parents_loom(n, 4, true);
  u3e_live(c3n, dir);
  check_image(dir, 2, n);
  printf("fork after u3e_stop: the parent's loom and pier kept\n");
}

/* stop_first DIR: u3e_stop before any u3e_live closes no descriptor of
 * the runtime's (events.c closed descriptor 0). */
static void step_stop_first(char *dir, int argc, char **argv) {
  (void)argc;
  (void)argv;
  host_start(dir, &opts, true);
  int fd = open("/dev/null", O_RDONLY);
  host_check(fd >= 0, "open /dev/null");
  host_check(dup2(fd, 0) == 0, "dup2 onto 0");
  u3e_stop();
  host_check(fcntl(0, F_GETFD) >= 0, "u3e_stop before u3e_live closed descriptor 0");
  host_check(fcntl(fd, F_GETFD) >= 0, "u3e_stop before u3e_live closed descriptor %d", fd);
  /* And the pier still boots and saves after it. */
  host_boot(dir, &opts);
  host_road(4, 2);
  u3e_ward(host_low(), host_high());
  fill_and_save(1, 4);
  check_image(dir, 1, 4);
  printf("stop before live: descriptors 0 and %d kept\n", fd);
}

int main(int argc, char **argv) {
  static const host_step steps[] = {
      {"maplimit_save", step_maplimit_save}, {"maplimit_guard", step_maplimit_guard},
      {"backup_self", step_backup_self},     {"backup_into", step_backup_into},
      {"backup", step_backup},               {"stop_twice", step_stop_twice},
      {"soft_backup", step_soft_backup},     {"sparse", step_sparse},
      {"fill_holes", step_fill_holes},       {"live_null", step_live_null},
      {"image_seeds", step_image_seeds},     {"fork_child", step_fork_child},
      {"stop_first", step_stop_first},     {"fork_swap", step_fork_swap},
      {"fork_stopped", step_fork_stopped},
  };
  return host_run_step("hostile", steps, sizeof steps / sizeof steps[0], &opts, argc, argv);
}
