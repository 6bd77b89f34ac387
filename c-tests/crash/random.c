/* Random kills: a writer boots, checks what it booted, then saves
 * generation after generation of a few hundred dirty pages (the heap
 * growing and shrinking), and is SIGKILLed at a random instant. Every boot
 * must see exactly one of the generations that could be on disk: the last
 * one reported saved, or the one being saved when the kill came (a kill
 * during a boot leaves the same choice for the next). Each pier lives for
 * a chain of runs, so kills also land in boots that are recovering the
 * previous run's patch; a last boot checks the end of each chain. */
#define _GNU_SOURCE
#include "crash.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scenario.h"

#define GENERATIONS 4  /* saves per writer run */
#define CHAIN 25       /* runs per pier */

/* Heap pages of generation G (0: the empty pier). */
static uint32_t gen_pages(uint32_t g) {
  return g == 0 ? 0 : 320 + (g * 53) % 160;
}

static uint32_t mix(uint32_t a, uint32_t b) {
  uint32_t x = a * 0x9e3779b1u ^ b * 0x85ebca77u;
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  return x;
}

/* Whether generation G rewrites page P (pages new to the heap aside):
 * about five in eight pages, and every page once in eight generations. */
static int gen_writes(uint32_t g, uint32_t p) {
  return g % 8 == 1 || mix(g, p) % 8 < 5;
}

/* The heap after generation G. */
static void gen_heap(uint32_t g, heap *h) {
  memset(h, 0, sizeof *h);
  h->pages = gen_pages(g);
  for (uint32_t p = 0; p < h->pages; p++) {
    for (uint32_t at = g; at > 0; at--) {
      if (p >= gen_pages(at - 1) || gen_writes(at, p)) {
        h->seed[p] = at;
        break;
      }
    }
  }
}

/* ---- the writer ------------------------------------------------------------------- */

/* The generations the pier may hold. */
typedef struct {
  uint32_t gen[2];
  int count;
} candidates;

typedef struct {
  char pier[2048];
  candidates may;
  int report_fd;   /* where the writer reports its boot and each save */
  int save;        /* 0: boot and check only */
} writer_job;

#define BOOTED 0x80000000u /* report: booted at generation (low bits) */

/* Boots and finds which candidate the pier holds: its index, or -1 after
 * saying why on stderr. */
static int booted_generation(const writer_job *w) {
  char chk[2200];
  fmt(chk, sizeof chk, "%s/.urb/chk", w->pier);
  host_start();
  host_pier((char *)w->pier, 1);
  host_boot();
  if (exists(cat(chk, "control.bin")) || exists(cat(chk, "memory.bin"))) {
    dprintf(STDERR_FILENO, "random: a patch file is left after boot\n");
    return -1;
  }
  static heap h;
  char why[1200] = "";
  for (int i = 0; i < w->may.count; i++) {
    gen_heap(w->may.gen[i], &h);
    char one[512];
    if (loom_matches(&h, 8, one, sizeof one) &&
        image_matches(cat(chk, "image.bin"), &h, one, sizeof one)) {
      return i;
    }
    size_t used = strlen(why);
    fmt(why + used, sizeof why - used, "generation %u: %s; ", w->may.gen[i], one);
  }
  dprintf(STDERR_FILENO, "random: mixed state: %s\n", why);
  return -1;
}

static int child_writer(void *arg) {
  const writer_job *w = arg;
  int index = booted_generation(w);
  if (index < 0) {
    return EXIT_MISMATCH;
  }
  uint32_t from = w->may.gen[index];
  uint32_t report = BOOTED | from;
  if (write(w->report_fd, &report, sizeof report) != (ssize_t)sizeof report) {
    return EXIT_HOSTFAIL;
  }
  if (!w->save) {
    return 0;
  }
  heap h;
  gen_heap(from, &h);
  for (uint32_t g = from + 1; g <= from + GENERATIONS; g++) {
    uint32_t pages = gen_pages(g);
    if (pages > h.pages) {
      heap_resize(&h, pages, g);
    } else {
      h.pages = pages;
    }
    host_heap(pages);
    for (uint32_t p = 0; p < pages; p++) {
      if (gen_writes(g, p) && h.seed[p] != g) {
        heap_write(&h, p, g);
      }
    }
    host_save(pages);
    if (write(w->report_fd, &g, sizeof g) != (ssize_t)sizeof g) {
      return EXIT_HOSTFAIL;
    }
  }
  return 0;
}

/* ---- runs --------------------------------------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What one writer run did. */
typedef struct {
  int killed;
  int booted;        /* it reported its boot */
  int boot_index;    /* which candidate it booted */
  uint32_t base;
  uint32_t last;     /* the last generation reported saved (or base) */
  int saves;         /* generations reported saved */
  int mixed;         /* the boot saw none of the candidates */
} run_result;

/* Runs the writer on PIER, which may hold MAY; kills it after DELAY
 * seconds (never, when negative). 0, or -1 with WHY when the writer
 * failed (a mixed state among them). */
static int writer_run(const char *pier, const candidates *may, int save, double delay,
                      run_result *r, char *why, size_t why_len) {
  int fds[2];
  if (pipe(fds) != 0) {
    host_die("pipe");
  }
  static writer_job w;
  fmt(w.pier, sizeof w.pier, "%s", pier);
  w.may = *may;
  w.report_fd = fds[1];
  w.save = save;
  int err_fd = scratch_fd("writer-stderr");
  pid_t pid = fork_child();
  if (pid == 0) {
    close(fds[0]);
    dup2(err_fd, STDERR_FILENO);
    _exit(child_writer(&w));
  }
  close(fds[1]);
  if (delay >= 0) {
    struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    kill(pid, SIGKILL);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  memset(r, 0, sizeof *r);
  uint32_t message;
  while (read(fds[0], &message, sizeof message) == (ssize_t)sizeof message) {
    if (message & BOOTED) {
      r->booted = 1;
      r->base = message & ~BOOTED;
      r->last = r->base;
      for (int i = 0; i < may->count; i++) {
        if (may->gen[i] == r->base) {
          r->boot_index = i;
        }
      }
    } else {
      r->last = message;
      r->saves++;
    }
  }
  close(fds[0]);
  r->killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  r->mixed = WIFEXITED(status) && WEXITSTATUS(status) == EXIT_MISMATCH;
  int ok = r->killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!ok) {
    char err[2048];
    ssize_t n = pread(err_fd, err, sizeof err - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    fmt(why, why_len, "writer status %d (exit %d) on a pier that may hold generation %u%s%u: %s",
        status, WIFEXITED(status) ? WEXITSTATUS(status) : -1, may->gen[0],
        may->count > 1 ? " or " : "", may->count > 1 ? may->gen[1] : 0, err);
  }
  close(err_fd);
  return ok ? 0 : -1;
}

/* What the pier may hold after R: unchanged when the writer was killed
 * before it booted; else the last reported generation, or the next one
 * when a kill may have come after that save was durable. */
static candidates after_run(const candidates *may, const run_result *r) {
  if (!r->booted) {
    return *may;
  }
  candidates next = {{r->last, r->last + 1}, 1};
  if (r->killed && r->last < r->base + GENERATIONS) {
    next.count = 2;
  }
  return next;
}

int test_random(long runs) {
  const char *seed_env = getenv("CRASH_SEED");
  unsigned seed = seed_env != NULL ? (unsigned)strtoul(seed_env, NULL, 10)
                                   : (unsigned)time(NULL) ^ (unsigned)getpid();
  srandom(seed);
  char why[9000] = "";
  long done = 0;
  long in_boot = 0;
  long saw_next = 0;
  long finished = 0;
  long patch_left = 0;
  long boots = 0;
  long mixed = 0;
  char *pier = NULL;
  candidates may = {{0, 0}, 1};
  double span = -1;
  int ok = 1;
  run_result r;
  for (long run = 0; run < runs && ok; run++) {
    if (run % CHAIN == 0) {
      if (pier != NULL) {
        remove_tree(pier);
        free(pier);
      }
      pier = fresh_dir("random");
      /* Generations 1..4 saved without a kill; its time calibrates the
       * kills: uniform over one whole writer run. */
      may.gen[0] = 0;
      may.count = 1;
      double start = now();
      if (writer_run(pier, &may, 1, -1, &r, why, sizeof why) != 0 || r.last != GENERATIONS) {
        ok = 0;
        break;
      }
      double took = now() - start;
      span = span < 0 ? took : (span + took) / 2;
      may = after_run(&may, &r);
    }
    double delay = span * (double)random() / (double)RAND_MAX;
    int patch_before = exists(cat(pier, ".urb/chk/control.bin"));
    if (writer_run(pier, &may, 1, delay, &r, why, sizeof why) != 0) {
      mixed += r.mixed;
      size_t used = strlen(why);
      fmt(why + used, sizeof why - used, "\nrun %ld (seed %u), killed after %.1f ms", run, seed,
          delay * 1e3);
      ok = 0;
      break;
    }
    done++;
    boots += r.booted;
    in_boot += r.killed && !r.booted;
    saw_next += r.booted && r.boot_index == 1;
    patch_left += patch_before;
    finished += !r.killed;
    may = after_run(&may, &r);
    /* The end of a chain: a boot that only checks. */
    if ((run + 1) % CHAIN == 0 || run + 1 == runs) {
      if (writer_run(pier, &may, 0, -1, &r, why, sizeof why) != 0) {
        mixed += r.mixed;
        ok = 0;
        break;
      }
      boots++;
      saw_next += r.boot_index == 1;
    }
  }
  if (pier != NULL) {
    remove_tree(pier);
    free(pier);
  }
  printf("random kills: runs %ld (seed %u), boots checked %ld, booted the generation being saved %ld, "
         "killed while booting %ld, booted over a patch %ld, not killed %ld, mixed states %ld\n",
         done, seed, boots, saw_next, in_boot, patch_left, finished, mixed);
  if (ok && done == runs) {
    pass("crash/random/kills (%ld runs, every boot one whole generation)", done);
  } else {
    fail(why, "crash/random/kills (%ld of %ld runs)", done, runs);
  }
  return 0;
}
