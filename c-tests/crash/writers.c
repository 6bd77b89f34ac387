/* Two writers: a second process that boots a pier the first one holds is
 * refused (exit 1, "loom: pier DIR is in use by another process") and
 * changes nothing; the first goes on saving. One process can u3e_stop and
 * u3e_live again, and saves after that; a stopped process holds no lock. */
#define _GNU_SOURCE
#include "crash.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char pier[2048];
  int to_parent;
  int from_parent;
  heap first;
  heap second;
  int restart; /* stop and live again in between */
} holder_job;

static void tell(int fd) {
  char c = 1;
  if (write(fd, &c, 1) != 1) {
    _exit(EXIT_HOSTFAIL);
  }
}

static int await(int fd) {
  char c;
  return read(fd, &c, 1) == 1 ? 0 : -1;
}

/* Boots, saves FIRST, tells the parent, waits; then (after a stop and a
 * new live when RESTART) checks the loom and saves SECOND. */
static int child_holder(void *arg) {
  const holder_job *w = arg;
  host_start();
  host_pier((char *)w->pier, 1);
  host_boot();
  heap h;
  memset(&h, 0, sizeof h);
  heap_resize(&h, w->first.pages, w->first.seed[0]);
  host_save(h.pages);
  if (w->restart) {
    u3e_stop();
  }
  tell(w->to_parent);
  if (await(w->from_parent) != 0) {
    return EXIT_HOSTFAIL;
  }
  char why[512];
  if (w->restart) {
    host_boot();
    if (!loom_matches(&w->first, 0, why, sizeof why)) {
      dprintf(STDERR_FILENO, "holder: after u3e_live again: %s\n", why);
      return EXIT_MISMATCH;
    }
  }
  host_heap(h.pages);
  for (uint32_t p = 0; p < w->second.pages; p++) {
    if (w->second.seed[p] != h.seed[p]) {
      heap_write(&h, p, w->second.seed[p]);
    }
  }
  host_save(h.pages);
  if (!image_matches(cat(w->pier, ".urb/chk/image.bin"), &w->second, why, sizeof why)) {
    dprintf(STDERR_FILENO, "holder: the save after the second boot: %s\n", why);
    return EXIT_MISMATCH;
  }
  return 0;
}

typedef struct {
  char pier[2048];
  heap want;
} check_job;

static int child_boot(void *arg) {
  const check_job *c = arg;
  host_start();
  host_pier((char *)c->pier, 0);
  host_boot();
  char why[512];
  if (!loom_matches(&c->want, 2, why, sizeof why)) {
    dprintf(STDERR_FILENO, "boot: %s\n", why);
    return EXIT_MISMATCH;
  }
  return 0;
}

static void run_pair(int restart) {
  const char *name = restart ? "crash/writers/stop-then-live-again" : "crash/writers/second-process-refused";
  char *pier = fresh_dir("writers");
  static holder_job w;
  memset(&w, 0, sizeof w);
  fmt(w.pier, sizeof w.pier, "%s", pier);
  w.first.pages = 5;
  for (uint32_t p = 0; p < 5; p++) {
    w.first.seed[p] = 81;
  }
  w.second = w.first;
  w.second.seed[0] = 82;
  w.second.seed[3] = 82;
  w.restart = restart;
  int up[2];
  int down[2];
  int err_fd = scratch_fd("holder-stderr");
  if (pipe(up) != 0 || pipe(down) != 0) {
    host_die("pipe");
  }
  w.to_parent = up[1];
  w.from_parent = down[0];
  pid_t pid = fork_child();
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    dup2(err_fd, STDERR_FILENO);
    _exit(child_holder(&w));
  }
  close(up[1]);
  close(down[0]);
  const char *problem = NULL;
  outcome o;
  memset(&o, 0, sizeof o);
  if (await(up[0]) != 0) {
    problem = "the first process did not boot and save";
  } else {
    /* The second process, while the first holds the pier (or has
     * stopped). */
    static check_job c;
    fmt(c.pier, sizeof c.pier, "%s", pier);
    c.want = w.first;
    o = run_child(child_boot, &c, NULL);
    char want[2200];
    fmt(want, sizeof want, "loom: pier %s is in use by another process", pier);
    char why[512];
    if (restart) {
      if (!o.exited || o.code != 0) {
        problem = "a boot while the first process was stopped failed";
      }
    } else if (!o.exited || o.code != 1) {
      problem = "the second process was not refused with exit 1";
    } else if (strstr(o.err, want) == NULL) {
      problem = "the refusal does not say the pier is in use";
    } else if (!image_matches(cat(pier, ".urb/chk/image.bin"), &w.first, why, sizeof why)) {
      problem = "the refused process changed image.bin";
    }
  }
  tell(down[1]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  outcome holder;
  memset(&holder, 0, sizeof holder);
  holder.exited = WIFEXITED(status);
  holder.code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  holder.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  ssize_t n = pread(err_fd, holder.err, sizeof holder.err - 1, 0);
  holder.err[n > 0 ? n : 0] = '\0';
  close(err_fd);
  close(up[0]);
  close(down[1]);
  if (problem == NULL && (!holder.exited || holder.code != 0)) {
    problem = restart ? "u3e_live again, or the save after it, failed" : "the first process could not save after the refusal";
    o = holder;
  }
  if (problem == NULL) {
    static check_job c;
    fmt(c.pier, sizeof c.pier, "%s", pier);
    c.want = w.second;
    o = run_child(child_boot, &c, NULL);
    if (!o.exited || o.code != 0) {
      problem = "the boot after the first process's last save";
    }
  }
  if (problem == NULL) {
    pass("%s", name);
  } else {
    char detail[9000];
    fmt(detail, sizeof detail, "%s\n%s", problem, describe(&o));
    fail(detail, "%s", name);
  }
  remove_tree(pier);
  free(pier);
}

int test_writers(void) {
  run_pair(0);
  run_pair(1);
  return 0;
}

/* The tracking backend LOOMS_TRACKING asks for is the one in use. */
static int child_verbose_boot(void *arg) {
  host_start();
  host_pier((char *)arg, 1);
  host_flags(host_current_flags() | 1u << 4);
  host_boot();
  return 0;
}

int test_backend(void) {
  const char *want = getenv("LOOMS_TRACKING");
  if (want == NULL || (strcmp(want, "mprotect") != 0 && strcmp(want, "uffd") != 0)) {
    skip("LOOMS_TRACKING is not mprotect or uffd", "crash/tracking-backend");
    return 0;
  }
  char *pier = fresh_dir("backend");
  outcome o = run_child(child_verbose_boot, pier, NULL);
  char line[64];
  fmt(line, sizeof line, "loom: tracking: %s\r", want);
  if (o.exited && o.code == 0 && strstr(o.err, line) != NULL) {
    pass("crash/tracking-backend (%s)", want);
  } else {
    fail(describe(&o), "crash/tracking-backend (%s)", want);
  }
  remove_tree(pier);
  free(pier);
  return 0;
}
