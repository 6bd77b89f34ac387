/* Random kills: a writer saves generation after generation of a few
 * hundred dirty pages (the heap growing and shrinking), and is SIGKILLed
 * at a random instant. The next boot must see exactly one of the
 * generations that could be on disk: the last one the writer reported
 * saved, or the one it was saving. Each pier lives for a chain of runs,
 * so kills also land in boots that recover the previous run's patch. */
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

typedef struct {
  char pier[2048];
  uint32_t from;   /* the generation on disk */
  int report_fd;   /* where the writer reports each saved generation */
} writer_job;

static int child_writer(void *arg) {
  const writer_job *w = arg;
  host_start();
  host_pier((char *)w->pier, 1);
  host_boot();
  heap h;
  gen_heap(w->from, &h);
  for (uint32_t g = w->from + 1; g <= w->from + GENERATIONS; g++) {
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

/* ---- the checking boot --------------------------------------------------------------- */

typedef struct {
  char pier[2048];
  uint32_t candidates[2];
  int count;
} check_job;

/* Boots the pier; exits with 100 + the index of the candidate generation
 * it holds, or EXIT_MISMATCH. */
static int child_check(void *arg) {
  const check_job *c = arg;
  host_start();
  host_pier((char *)c->pier, 0);
  host_boot();
  char chk[2200];
  fmt(chk, sizeof chk, "%s/.urb/chk", c->pier);
  if (exists(cat(chk, "control.bin")) || exists(cat(chk, "memory.bin"))) {
    dprintf(STDERR_FILENO, "check: a patch file is left after boot\n");
    return EXIT_MISMATCH;
  }
  static heap h;
  char why[512] = "";
  for (int i = 0; i < c->count; i++) {
    gen_heap(c->candidates[i], &h);
    char w[512];
    if (loom_matches(&h, 8, w, sizeof w) && image_matches(cat(chk, "image.bin"), &h, w, sizeof w)) {
      return 100 + i;
    }
    size_t used = strlen(why);
    fmt(why + used, sizeof why - used, "generation %u: %s; ", c->candidates[i], w);
  }
  dprintf(STDERR_FILENO, "check: mixed state: %s\n", why);
  return EXIT_MISMATCH;
}

/* ---- runs --------------------------------------------------------------------------------- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the writer from generation FROM on PIER; kills it after DELAY
 * seconds (never, when negative). Sets *LAST to the last generation it
 * reported and *KILLED. Returns 0, or -1 when the writer failed. */
static int writer_run(const char *pier, uint32_t from, double delay, uint32_t *last, int *killed,
                      char *why, size_t why_len) {
  int fds[2];
  if (pipe(fds) != 0) {
    host_die("pipe");
  }
  static writer_job w;
  fmt(w.pier, sizeof w.pier, "%s", pier);
  w.from = from;
  w.report_fd = fds[1];
  int err_fd = memfd_create("writer-stderr", 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    host_die("fork");
  }
  if (pid == 0) {
    close(fds[0]);
    dup2(err_fd, STDERR_FILENO);
    int code = child_writer(&w);
    _exit(code);
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
  *last = from;
  uint32_t g;
  while (read(fds[0], &g, sizeof g) == (ssize_t)sizeof g) {
    *last = g;
  }
  close(fds[0]);
  *killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  int ok = *killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!ok) {
    char err[2048];
    ssize_t n = pread(err_fd, err, sizeof err - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    fmt(why, why_len, "writer from generation %u: status %d: %s", from, status, err);
  }
  close(err_fd);
  return ok ? 0 : -1;
}

int test_random(long runs) {
  const char *seed_env = getenv("CRASH_SEED");
  unsigned seed = seed_env != NULL ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
  srandom(seed);
  char why[9000] = "";
  long done = 0;
  long saw_last = 0;
  long saw_next = 0;
  long mixed = 0;
  long finished = 0;
  long recovered = 0;
  char *pier = NULL;
  uint32_t gen = 0;
  double span = -1;
  int ok = 1;
  for (long run = 0; run < runs && ok; run++) {
    if (run % CHAIN == 0) {
      if (pier != NULL) {
        remove_tree(pier);
        free(pier);
      }
      pier = fresh_dir("random");
      uint32_t last;
      int killed;
      /* Generation 1..4 saved without a kill; its time calibrates the
       * kills: uniform over one whole writer run. */
      double start = now();
      if (writer_run(pier, 0, -1, &last, &killed, why, sizeof why) != 0 || last != GENERATIONS) {
        ok = 0;
        break;
      }
      double took = now() - start;
      span = span < 0 ? took : (span + took) / 2;
      gen = last;
    }
    double delay = span * (double)random() / (double)RAND_MAX;
    uint32_t last;
    int killed;
    if (writer_run(pier, gen, delay, &last, &killed, why, sizeof why) != 0) {
      ok = 0;
      break;
    }
    static check_job c;
    fmt(c.pier, sizeof c.pier, "%s", pier);
    c.candidates[0] = last;
    c.count = 1;
    if (killed && last < gen + GENERATIONS) {
      c.candidates[1] = last + 1;
      c.count = 2;
    }
    finished += !killed;
    recovered += exists(cat(pier, ".urb/chk/control.bin"));
    outcome o = run_child(child_check, &c, NULL);
    done++;
    if (!o.exited || o.code < 100 || o.code >= 100 + c.count) {
      mixed++;
      fmt(why, sizeof why, "run %ld (seed %u), killed after %.1f ms, last reported generation %u: %s",
          run, seed, delay * 1e3, last, describe(&o));
      ok = 0;
      break;
    }
    gen = c.candidates[o.code - 100];
    saw_last += o.code == 100;
    saw_next += o.code == 101;
  }
  if (pier != NULL) {
    remove_tree(pier);
    free(pier);
  }
  printf("random kills: runs %ld (seed %u), reported generation %ld, the one being saved %ld, "
         "not killed %ld, patch left %ld, mixed %ld\n",
         done, seed, saw_last, saw_next, finished, recovered, mixed);
  if (ok && done == runs && mixed == 0) {
    pass("crash/random/kills (%ld runs, none mixed)", done);
  } else {
    fail(why, "crash/random/kills (%ld of %ld runs, %ld mixed)", done, runs, mixed);
  }
  return 0;
}
