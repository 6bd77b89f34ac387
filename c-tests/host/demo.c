/* demo: what a runtime sees when it links liblooms.
 *
 *   demo [-v] [PIER]   (-v: verbose mode, the runtime's -v)
 *
 * Boots a new pier in PIER (a temporary directory without it), writes a
 * heap, saves, then starts itself again as a second process that boots the
 * same pier, checks every heap byte, changes a few pages, saves again, and
 * reports. The pier is left in place for the looms command. */
#define _GNU_SOURCE
#include "host.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HEAP_PAGES 2048u  /* 32 MiB of heap in a 256 MiB loom */
#define CHANGED 100u

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sizes(const char *dir) {
  const char *names[] = {"image.bin", "control.bin", "memory.bin"};
  char path[8300];
  for (int i = 0; i < 3; i++) {
    long long size = host_size(host_chk(path, sizeof path, dir, names[i]));
    if (size < 0) {
      printf("    %-12s absent\n", names[i]);
    } else {
      printf("    %-12s %lld bytes (%lld pages)\n", names[i], size,
             size / (long long)HOST_PAGE_BYTES);
    }
  }
}

static host_options opts = {.words = (size_t)1 << 26};


static int first(char *dir, const char *self) {
  printf("1. boot a new pier in %s\n", dir);
  double t = now();
  c3_o nuu = host_boot(dir, &opts);
  printf("   u3e_live: %s pier, %u-page loom, guard at page %u (%.1f ms)\n",
         nuu == c3y ? "new" : "existing", u3e_Pool.pag_w, u3e_Pool.gar_w, (now() - t) * 1e3);
  host_road(HEAP_PAGES, 4);
  for (uint32_t p = 0; p < HEAP_PAGES; p++) host_fill(1, p);
  printf("2. write %u heap pages (%u MiB)\n", HEAP_PAGES, HEAP_PAGES / 64);
  t = now();
  u3e_save(host_low(), host_high());
  double took = now() - t;
  printf("   u3e_save: %u pages in %.1f ms (%.0f MiB/s)\n", HEAP_PAGES, took * 1e3,
         HEAP_PAGES / 64.0 / took);
  sizes(dir);
  u3e_stop();
  fflush(NULL);
  printf("3. restart: a second process boots the same pier\n");
  pid_t pid = fork();
  if (pid == 0) {
    execl(self, self, opts.flags & HOST_VERBOSE ? "--second-v" : "--second", dir, (char *)NULL);
    host_die("exec");
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int second(char *dir) {
  double t = now();
  c3_o nuu = host_boot(dir, &opts);
  printf("   u3e_live: %s pier, image of %u pages mapped (%.1f ms)\n",
         nuu == c3y ? "new" : "existing", u3e_Pool.img_u.pgs_w, (now() - t) * 1e3);
  host_check(nuu == c3n && u3e_Pool.img_u.pgs_w == HEAP_PAGES, "the pier did not come back");
  for (uint32_t p = 0; p < HEAP_PAGES; p++) {
    host_check(host_holds(1, p, host_page(p)), "page %u differs after restart", p);
  }
  printf("   every byte of the %u pages matches what the first process wrote\n", HEAP_PAGES);
  host_road(HEAP_PAGES, 4);
  host_faults = 0;
  for (uint32_t p = 0; p < CHANGED; p++) host_fill(2, p * (HEAP_PAGES / CHANGED));
  printf("4. change %u scattered pages: %llu store faults reached u3e_fault\n", CHANGED,
         (unsigned long long)host_faults);
  printf("   (one per page until the first save in default mode; none with LOOMS_TRACKING=uffd)\n");
  t = now();
  u3e_save(host_low(), host_high());
  double took = (now() - t) * 1e3;
  /* With LOOMS_SAVE=background, u3e_save returns once the pages are
   * copied and a thread writes the patch; looms_save_wait waits for it.
   * With synchronous saves it returns at once. */
  const char *mode = getenv("LOOMS_SAVE");
  int background = mode != NULL && strcmp(mode, "background") == 0;
  printf("   u3e_save: %u dirty pages in %.1f ms%s\n", CHANGED, took,
         background ? " (copied; a thread writes the patch)" : "");
  t = now();
  int waited = looms_save_wait();
  printf("   looms_save_wait: %s (%.1f ms more)\n",
         waited == 0 ? "on disk: patch applied and removed" : "the save wrote nothing",
         (now() - t) * 1e3);
  sizes(dir);
  u3e_stop();
  printf("done: the pier is in %s\n", dir);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 3 && !strncmp(argv[1], "--second", 8)) {
    if (!strcmp(argv[1], "--second-v")) opts.flags |= HOST_VERBOSE;
    return second(argv[2]);
  }
  int arg = 1;
  if (arg < argc && !strcmp(argv[arg], "-v")) {
    opts.flags |= HOST_VERBOSE;
    arg++;
  }
  if (argc > arg + 1) {
    fprintf(stderr, "usage: demo [-v] [PIER]\n");
    return 2;
  }
  char tmp[] = "/tmp/looms-demo.XXXXXX";
  char *dir = arg < argc ? argv[arg] : mkdtemp(tmp);
  if (!dir) host_die("mkdtemp");
  return first(dir, "/proc/self/exe");
}
