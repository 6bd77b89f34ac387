/* I/O errors at every mutating call of a save, a recovering boot and a
 * backup. EINTR, EAGAIN and short writes are retried: the operation
 * completes. So does any error of a call that fills a file from another
 * (a clone of the patch's pages into the image, a backup's
 * copy_file_range): the library writes those bytes itself instead, and
 * says nothing. ENOSPC and EIO are hard elsewhere:
 *   - before image.bin is touched the save keeps the previous snapshot,
 *     removes its torn patch, keeps its pages dirty (the next save writes
 *     them) and prints one `loom: ...` line naming the file, the operation
 *     and the errno;
 *   - while image.bin is written the save ends in u3m_bail and the next
 *     boot re-applies the patch;
 *   - after image.bin is durable the save is complete; the error is
 *     reported and the next save works.
 * A statvfs that reports no room makes a save write nothing at all. */
#define _GNU_SOURCE
#include "crash.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scenario.h"

static const char *const kinds[] = {"EINTR", "EAGAIN", "SHORT", "ENOSPC", "EIO"};
#define KINDS 5

static int hard(int kind) {
  return kind >= 3;
}

static const char *errno_text(int kind) {
  return strcmp(kinds[kind], "ENOSPC") == 0 ? strerror(ENOSPC) : strerror(EIO);
}

/* The word the library's message uses for a traced operation. */
static const char *op_word(const call *c) {
  if (strcmp(c->op, "open") == 0) {
    return "open";
  }
  if (is_write(c)) {
    return "write";
  }
  if (strcmp(c->op, "fsync") == 0 && call_on(c, "/")) {
    return "sync directory";
  }
  if (strcmp(c->op, "fdatasync") == 0 || strcmp(c->op, "fsync") == 0) {
    return "sync";
  }
  if (strcmp(c->op, "ftruncate") == 0) {
    return "truncate";
  }
  if (strcmp(c->op, "fallocate") == 0) {
    return "reserve space in";
  }
  return c->op;
}

/* The file a call names, as a full path (a directory without its '/'). */
static void call_path(const char *run, const call *c, char *out, size_t len) {
  fmt(out, len, "%s/%s", run, c->name);
  size_t n = strlen(out);
  if (n > 0 && out[n - 1] == '/') {
    out[n - 1] = '\0';
  }
}

/* The one line of O's stderr that starts with "loom: " (not LEAVE_OUT),
 * or NULL when there is not exactly one. */
static const char *only_loom_line(const outcome *o, const char *leave_out, char *line, size_t len) {
  int found = 0;
  const char *at = o->err;
  while (*at != '\0') {
    while (*at == '\r') {
      at++;
    }
    const char *end = strchr(at, '\n');
    size_t n = end != NULL ? (size_t)(end - at) : strlen(at);
    while (n > 0 && at[n - 1] == '\r') {
      n--;
    }
    if (strncmp(at, "loom: ", 6) == 0 && (leave_out == NULL || strncmp(at, leave_out, strlen(leave_out)) != 0)) {
      found++;
      fmt(line, len, "%.*s", (int)n, at);
    }
    if (end == NULL) {
      break;
    }
    at = end + 1;
  }
  return found == 1 ? line : NULL;
}

static int loom_lines(const outcome *o, const char *leave_out) {
  return count_lines(o, "loom: ") - (leave_out != NULL ? count_lines(o, leave_out) : 0);
}

/* Whether LINE names the operation, the file and the errno of C. Removing
 * an applied patch keeps the reference's own words ("failed to delete
 * control.bin: ...", "failed to remove memory.bin: ..."), which name the
 * file by its base name. */
static int names_all(const char *line, const char *path, const call *c, int kind) {
  if (strstr(line, errno_text(kind)) == NULL) {
    return 0;
  }
  if (strcmp(c->op, "unlink") == 0) {
    if (call_on(c, "control.bin")) {
      return strstr(line, "loom: failed to delete control.bin: ") == line;
    }
    if (call_on(c, "memory.bin")) {
      return strstr(line, "loom: failed to remove memory.bin: ") == line;
    }
  }
  return strstr(line, path) != NULL && strstr(line, op_word(c)) != NULL;
}

/* ---- children ------------------------------------------------------------------------ */

/* Exit codes: image.bin after the injected operation, plus PATCH_LEFT when
 * a patch file was still there. */
#define IMAGE_OLD 20
#define IMAGE_NEW 21
#define PATCH_LEFT 10
#define RETRY_FAILED 5

static int pier_state(const job *j, const heap *old_h, const heap *new_h) {
  char why[512];
  const char *image = cat(j->run, "pier/.urb/chk/image.bin");
  int patch = exists(cat(j->run, "pier/.urb/chk/control.bin")) ||
              exists(cat(j->run, "pier/.urb/chk/memory.bin"));
  int code;
  if (image_matches(image, old_h, why, sizeof why)) {
    code = IMAGE_OLD;
  } else if (image_matches(image, new_h, why, sizeof why)) {
    code = IMAGE_NEW;
  } else {
    dprintf(STDERR_FILENO, "ioerr: image.bin is neither old nor new: %s\n", why);
    return EXIT_MISMATCH;
  }
  return code + (patch ? PATCH_LEFT : 0);
}

/* The change saved after the injected operation: page 0 rewritten. */
static heap with_change(const heap *h) {
  heap next = *h;
  next.seed[0] = 55;
  return next;
}

/* The scenario's old save, then the new one with the fault armed, then one
 * more change saved without it. */
static int child_save_fault(void *arg) {
  const job *j = arg;
  heap h;
  child_old_saved_new_written(j, &h);
  arm();
  host_save(h.pages);
  long calls = armed_calls();
  disarm();
  int code = pier_state(j, &j->old_h, &j->new_h);
  if (j->retry == 2 && calls != 0) {
    dprintf(STDERR_FILENO, "ioerr: the save made %ld file calls\n", calls);
    return EXIT_MISMATCH;
  }
  heap_write(&h, 0, 55);
  host_save(h.pages);
  heap final = with_change(&j->new_h);
  char why[512];
  if (!image_matches(cat(j->run, "pier/.urb/chk/image.bin"), &final, why, sizeof why)) {
    dprintf(STDERR_FILENO, "ioerr: the next save: %s\n", why);
    return RETRY_FAILED;
  }
  return code;
}

/* A recovering boot with the fault armed, then one change saved. */
static int child_boot_fault(void *arg) {
  const job *j = arg;
  host_start();
  host_pier((char *)cat(j->run, "pier"), 0);
  arm();
  host_boot();
  disarm();
  int code = pier_state(j, &j->old_h, &j->new_h);
  char why[512];
  if (!loom_matches(&j->new_h, 2, why, sizeof why)) {
    dprintf(STDERR_FILENO, "ioerr: the loom after boot: %s\n", why);
    return EXIT_MISMATCH;
  }
  heap h = j->new_h;
  host_heap(h.pages);
  heap_write(&h, 0, 55);
  host_save(h.pages);
  heap final = with_change(&j->new_h);
  if (!image_matches(cat(j->run, "pier/.urb/chk/image.bin"), &final, why, sizeof why)) {
    dprintf(STDERR_FILENO, "ioerr: the save after boot: %s\n", why);
    return RETRY_FAILED;
  }
  return code;
}

/* ---- environment ------------------------------------------------------------------------ */

static void fault_env(job *j, int at, int kind, int times) {
  job_env(j, NULL, NULL);
  fmt(j->env_fail_at, sizeof j->env_fail_at, "CRASHIO_FAIL_AT=%d", at);
  fmt(j->env_fail, sizeof j->env_fail, "CRASHIO_FAIL=%s", kinds[kind]);
  fmt(j->env_times, sizeof j->env_times, "CRASHIO_FAIL_TIMES=%d", times);
  j->env[3] = j->env_fail_at;
  j->env[4] = j->env_fail;
  j->env[5] = j->env_times;
  j->env[6] = NULL;
}

static int first_image_call(const trace *t) {
  for (int i = 0; i < t->n; i++) {
    const call *c = &t->calls[i];
    if ((is_write(c) || strcmp(c->op, "ftruncate") == 0) && call_on(c, "image.bin")) {
      return i;
    }
  }
  return -1;
}

static int image_synced_at(const trace *t) {
  for (int i = 0; i < t->n; i++) {
    const call *c = &t->calls[i];
    if ((strcmp(c->op, "fdatasync") == 0 || strcmp(c->op, "fsync") == 0) && call_on(c, "image.bin")) {
      return i;
    }
  }
  return -1;
}

/* Results by phase of the faulted operation. */
static const char *const phases[] = {"retried", "hard-before-image", "hard-in-image",
                                     "hard-after-image", "written-instead"};
#define PHASES 5

typedef struct {
  int tried[PHASES];
  int bad[PHASES];
  char why[PHASES][6000];
} tally;

/* Whether an error injected into C is answered by writing its bytes
 * instead: the operation completes as if nothing happened. */
static int written_instead(const call *c) {
  return c != NULL && fills_from_file(c);
}

static int phase_of(const call *c, int kind, int index, int image_first, int image_synced) {
  if (written_instead(c) && hard(kind)) {
    return 4;
  }
  if (!hard(kind)) {
    return 0;
  }
  if (index < image_first) {
    return 1;
  }
  return index <= image_synced ? 2 : 3;
}

static void note(tally *t, int phase, const char *problem, const char *fmt_text) {
  t->tried[phase]++;
  if (problem == NULL) {
    return;
  }
  t->bad[phase]++;
  if (t->bad[phase] <= 3) {
    size_t used = strlen(t->why[phase]);
    fmt(t->why[phase] + used, sizeof t->why[phase] - used, "%s\n", fmt_text);
  }
}

static void report(const tally *t, const char *name) {
  for (int phase = 0; phase < PHASES; phase++) {
    if (t->tried[phase] == 0) {
      continue;
    }
    if (t->bad[phase] == 0) {
      pass("crash/ioerr/%s/%s (%d faults)", name, phases[phase], t->tried[phase]);
    } else {
      fail(t->why[phase], "crash/ioerr/%s/%s (%d of %d faults mishandled)", name, phases[phase],
           t->bad[phase], t->tried[phase]);
    }
  }
}

/* ---- saves ------------------------------------------------------------------------------- */

static void save_faults(const scenario *sc) {
  static job j;
  static trace t;
  memset(&j, 0, sizeof j);
  char *run = fresh_dir("ioerr");
  fmt(j.run, sizeof j.run, "%s", run);
  j.sc = sc;
  expected(sc, &j.old_h, &j.new_h);
  int n = record_calls(&j, child_save, &t);
  int image_first = first_image_call(&t);
  int image_synced = image_synced_at(&t);
  if (n <= 0 || image_first < 0 || image_synced < 0) {
    fail("", "crash/ioerr/save-%s (recording found %d calls)", sc->name, n);
    remove_tree(run);
    free(run);
    return;
  }
  heap final = with_change(&j.new_h);
  static tally tl;
  memset(&tl, 0, sizeof tl);
  for (int k = 1; k <= n; k++) {
    const call *c = &t.calls[k - 1];
    for (int kind = 0; kind < KINDS; kind++) {
      if (strcmp(kinds[kind], "SHORT") == 0 && !is_write(c)) {
        continue;
      }
      remove_tree(j.run);
      mkdir(j.run, 0700);
      fault_env(&j, k, kind, hard(kind) ? 1 : 3);
      outcome o = run_child(child_save_fault, &j, (const char *const *)j.env);
      char path[4200];
      call_path(j.run, c, path, sizeof path);
      char line[1024];
      const char *problem = NULL;
      char detail[600] = "";
      heap want = final;
      if (!hard(kind) || written_instead(c)) {
        if (!o.exited || o.code != IMAGE_NEW) {
          problem = "the save did not complete";
        } else if (loom_lines(&o, NULL) != 0) {
          problem = "a transient error was reported";
        }
      } else if (k - 1 < image_first) {
        if (!o.exited || o.code != IMAGE_OLD) {
          problem = o.exited && o.code == IMAGE_OLD + PATCH_LEFT
                        ? "the torn patch was left behind"
                        : "the previous snapshot was not kept, or the next save did not write the pages";
        } else if (only_loom_line(&o, NULL, line, sizeof line) == NULL) {
          problem = "not exactly one loom: line";
        } else if (!names_all(line, path, c, kind)) {
          problem = "the loom: line does not name the file, the operation and the errno";
          fmt(detail, sizeof detail, "want '%s', '%s', '%s'", path, op_word(c), errno_text(kind));
        }
      } else if (k - 1 <= image_synced) {
        want = j.new_h;
        if (!o.exited || o.code != EXIT_BAIL) {
          problem = "an image write error did not end in u3m_bail";
        } else if (only_loom_line(&o, NULL, line, sizeof line) == NULL) {
          problem = "not exactly one loom: line";
        } else if (!names_all(line, path, c, kind)) {
          problem = "the loom: line does not name the file, the operation and the errno";
        }
      } else {
        if (!o.exited || (o.code != IMAGE_NEW && o.code != IMAGE_NEW + PATCH_LEFT)) {
          problem = "after image.bin was durable, the save or the next one failed";
        } else if (only_loom_line(&o, NULL, line, sizeof line) == NULL) {
          problem = "not exactly one loom: line";
        } else if (!names_all(line, path, c, kind)) {
          problem = "the loom: line does not name the file, the operation and the errno";
        }
      }
      if (problem == NULL) {
        char vwhy[8600];
        if (verify_run(j.run, &want, &want, vwhy, sizeof vwhy) != SEEN_OLD) {
          problem = "the boot after it";
          fmt(detail, sizeof detail, "%.590s", vwhy);
        }
      }
      static char text[3000];
      fmt(text, sizeof text, "%s at call %d (%s %s): %s %s\n  child: %.1500s", kinds[kind], k, c->op,
          c->name, problem != NULL ? problem : "", detail, describe(&o));
      note(&tl, phase_of(c, kind, k - 1, image_first, image_synced), problem, text);
    }
  }
  char name[128];
  fmt(name, sizeof name, "save-%s", sc->name);
  report(&tl, name);
  remove_tree(run);
  free(run);
}

/* ---- free space ---------------------------------------------------------------------------- */

/* Bytes a save needs: the patch and the image's growth. */
static unsigned long long need_bytes(const heap *old_h, const heap *new_h) {
  unsigned long long pages = 0;
  for (uint32_t p = 0; p < new_h->pages; p++) {
    if (p >= old_h->pages || old_h->seed[p] != new_h->seed[p]) {
      pages++;
    }
  }
  unsigned long long growth = new_h->pages > old_h->pages ? new_h->pages - old_h->pages : 0;
  return 16 + 8 * pages + (pages + growth) * PAGE_BYTES;
}

static void free_space(const scenario *sc) {
  static job j;
  memset(&j, 0, sizeof j);
  char *run = fresh_dir("space");
  fmt(j.run, sizeof j.run, "%s", run);
  j.sc = sc;
  j.retry = 2;
  expected(sc, &j.old_h, &j.new_h);
  job_env(&j, NULL, NULL);
  fmt(j.env_free, sizeof j.env_free, "CRASHIO_FREE=%d", 4096);
  j.env[4] = j.env_free;
  outcome o = run_child(child_save_fault, &j, (const char *const *)j.env);
  char want[4400];
  unsigned long long need = need_bytes(&j.old_h, &j.new_h);
  fmt(want, sizeof want, "loom: save: need %llu MiB in %s/pier/.urb/chk, 0 MiB free; nothing written",
      (need + (1 << 20) - 1) >> 20, j.run);
  char line[1024];
  const char *problem = NULL;
  if (!o.exited || o.code != IMAGE_OLD) {
    problem = "the save with no room wrote something, or the next save did not write its pages";
  } else if (only_loom_line(&o, NULL, line, sizeof line) == NULL || strncmp(line, want, strlen(want)) != 0) {
    problem = "no single 'need N MiB in DIR' line";
  }
  heap final = with_change(&j.new_h);
  char vwhy[8600] = "";
  if (problem == NULL && verify_run(j.run, &final, &final, vwhy, sizeof vwhy) != SEEN_OLD) {
    problem = "the boot after the retried save";
  }
  if (problem == NULL) {
    pass("crash/ioerr/no-space-%s", sc->name);
  } else {
    char detail[9000];
    fmt(detail, sizeof detail, "%s\nwant: %s\n%s\n%s", problem, want, describe(&o), vwhy);
    fail(detail, "crash/ioerr/no-space-%s", sc->name);
  }
  remove_tree(run);
  free(run);
}

/* ---- recovery ------------------------------------------------------------------------------- */

static void recovery_faults(void) {
  const scenario *sc = &scenarios[1];
  static job j;
  static trace t;
  memset(&j, 0, sizeof j);
  char *run = fresh_dir("ioerr-recover");
  fmt(j.run, sizeof j.run, "%s", run);
  j.sc = sc;
  expected(sc, &j.old_h, &j.new_h);
  char tpl[4200];
  fmt(tpl, sizeof tpl, "%s.tpl", run);
  /* A complete patch over the old image: the save killed at its first
   * image write. */
  int n = record_calls(&j, child_save, &t);
  int kill_at = first_image_call(&t) + 1;
  remove_tree(j.run);
  mkdir(j.run, 0700);
  char at[16];
  fmt(at, sizeof at, "%d", kill_at);
  job_env(&j, at, NULL);
  outcome o = run_child(child_save, &j, (const char *const *)j.env);
  if (n <= 0 || kill_at <= 0 || o.exited || !exists(cat(j.run, "pier/.urb/chk/control.bin"))) {
    fail(describe(&o), "crash/ioerr/recovery (no crash state with a patch)");
    remove_tree(run);
    free(run);
    return;
  }
  copy_dir(cat(j.run, "pier/.urb/chk"), tpl);
  remove_tree(j.run);
  mkdir(j.run, 0700);
  make_pier_from(j.run, tpl);
  n = record_calls(&j, child_boot_armed, &t);
  int image_first = first_image_call(&t);
  int image_synced = image_synced_at(&t);
  heap final = with_change(&j.new_h);
  static tally tl;
  memset(&tl, 0, sizeof tl);
  for (int k = 1; k <= n; k++) {
    const call *c = &t.calls[k - 1];
    for (int kind = 0; kind < KINDS; kind++) {
      if (strcmp(kinds[kind], "SHORT") == 0 && !is_write(c)) {
        continue;
      }
      remove_tree(j.run);
      mkdir(j.run, 0700);
      make_pier_from(j.run, tpl);
      fault_env(&j, k, kind, hard(kind) ? 1 : 3);
      o = run_child(child_boot_fault, &j, (const char *const *)j.env);
      char path[4200];
      call_path(j.run, c, path, sizeof path);
      char line[1024];
      const char *problem = NULL;
      heap want = final;
      if (!hard(kind) || written_instead(c)) {
        if (!o.exited || o.code != IMAGE_NEW) {
          problem = "the boot did not complete the recovery";
        } else if (loom_lines(&o, NULL) != 0) {
          problem = "a transient error was reported";
        }
      } else if (k - 1 < image_first) {
        /* Opening the image: the boot stops (exit 1) and says why, or goes
         * on when the failed open was the lock's own. */
        want = j.new_h;
        if (o.exited && o.code == 1) {
          if (count_lines(&o, "loom: c3_open") != 1 || strstr(o.err, errno_text(kind)) == NULL) {
            problem = "the refused boot does not say why";
          }
        } else if (!o.exited || o.code != IMAGE_NEW) {
          problem = "the boot neither stopped nor recovered";
        } else {
          want = final;
        }
      } else if (k - 1 <= image_synced) {
        want = j.new_h;
        if (!o.exited || o.code != EXIT_BAIL) {
          problem = "an image write error did not end in u3m_bail";
        } else if (only_loom_line(&o, NULL, line, sizeof line) == NULL ||
                   strstr(line, "image.bin") == NULL || strstr(line, errno_text(kind)) == NULL) {
          problem = "not one loom: line naming image.bin and the errno";
        }
      } else {
        if (!o.exited || (o.code != IMAGE_NEW && o.code != IMAGE_NEW + PATCH_LEFT)) {
          problem = "after the image was durable, the boot or the first save failed";
        } else if (only_loom_line(&o, NULL, line, sizeof line) == NULL ||
                   strstr(line, errno_text(kind)) == NULL) {
          problem = "not one loom: line with the errno";
        }
      }
      char vwhy[8600] = "";
      if (problem == NULL && verify_run(j.run, &want, &want, vwhy, sizeof vwhy) != SEEN_OLD) {
        problem = "the boot after it";
      }
      static char text[3000];
      fmt(text, sizeof text, "%s at call %d (%s %s): %s %.500s\n  child: %.1500s", kinds[kind], k,
          c->op, c->name, problem != NULL ? problem : "", vwhy, describe(&o));
      note(&tl, phase_of(c, kind, k - 1, image_first, image_synced), problem, text);
    }
  }
  if (n <= 0) {
    fail("", "crash/ioerr/recovery (no trace)");
  }
  report(&tl, "recovery");
  remove_tree(tpl);
  remove_tree(run);
  free(run);
}

/* ---- backup ------------------------------------------------------------------------------------- */

static void backup_faults(int overwrite) {
  const char *name = overwrite ? "backup-overwrite" : "backup-new";
  static job j;
  static trace t;
  memset(&j, 0, sizeof j);
  char *run = fresh_dir("ioerr-backup");
  fmt(j.run, sizeof j.run, "%s", run);
  j.new_h.pages = 6;
  j.new_h.seed[0] = 61;
  heap h;
  memset(&h, 0, sizeof h);
  h.pages = 6;
  for (uint32_t p = 0; p < h.pages; p++) {
    h.seed[p] = 61;
  }
  heap older;
  memset(&older, 0, sizeof older);
  older.pages = 3;
  for (uint32_t p = 0; p < older.pages; p++) {
    older.seed[p] = 60;
  }
  char tpl[4200];
  fmt(tpl, sizeof tpl, "%s.tpl", run);
  outcome o = run_child(child_prepare, &j, NULL);
  copy_dir(cat(run, "pier/.urb/chk"), tpl);
  j.overwrite = overwrite;
  int n = -1;
  int tried = 0;
  int bad = 0;
  char why[9000] = "";
  for (int k = 0; k <= n || k == 0; k++) {
    for (int kind = 0; kind < KINDS; kind++) {
      if (k == 0 && kind > 0) {
        break;
      }
      const call *c = k > 0 ? &t.calls[k - 1] : NULL;
      if (c != NULL && strcmp(kinds[kind], "SHORT") == 0 && !is_write(c)) {
        continue;
      }
      /* mkdir(2) never fails with EINTR or EAGAIN on a local file system. */
      if (c != NULL && strcmp(c->op, "mkdir") == 0 && !hard(kind)) {
        continue;
      }
      remove_tree(j.run);
      mkdir(j.run, 0700);
      make_pier_from(j.run, tpl);
      char bak[4200];
      fmt(bak, sizeof bak, "%s/bak", j.run);
      if (overwrite) {
        mkdir(bak, 0700);
        image_write(cat(bak, "image.bin"), &older);
      }
      if (k == 0) {
        n = record_calls(&j, child_backup, &t);
        if (n <= 0) {
          fail("", "crash/ioerr/%s (no trace)", name);
          goto done;
        }
        continue;
      }
      fault_env(&j, k, kind, hard(kind) ? 1 : 3);
      o = run_child(child_backup, &j, (const char *const *)j.env);
      tried++;
      const char *problem = NULL;
      char detail[600] = "";
      const char *source = cat(j.run, "pier/.urb/chk/image.bin");
      const char *copy = cat(bak, "image.bin");
      if (!image_matches(source, &h, detail, sizeof detail)) {
        problem = "the pier's image changed";
      } else if (!hard(kind) || written_instead(c)) {
        if (!o.exited || o.code != 0 || !same_file(source, copy) || exists(cat(bak, "image.bin.tmp"))) {
          problem = "the backup did not complete";
        } else if (loom_lines(&o, "loom: image backup complete") != 0) {
          problem = "a transient error was reported";
        }
      } else {
        int old_kept = overwrite ? image_matches(copy, &older, detail, sizeof detail) : !exists(copy);
        int complete = same_file(source, copy);
        if (exists(cat(bak, "image.bin.tmp"))) {
          problem = "the temporary copy was left behind";
        } else if (!o.exited || o.code != 1) {
          problem = "u3e_backup did not return c3n";
        } else if (!old_kept && !complete) {
          problem = "bak/image.bin is torn";
        } else if (strstr(o.err, errno_text(kind)) == NULL || loom_lines(&o, NULL) < 1) {
          problem = "no loom: line with the errno";
        }
      }
      if (problem != NULL) {
        bad++;
        if (bad <= 4) {
          size_t used = strlen(why);
          fmt(why + used, sizeof why - used, "%s at call %d (%s %s): %s %s\n  child: %.1500s\n",
              kinds[kind], k, c->op, c->name, problem, detail, describe(&o));
        }
      }
    }
  }
  if (bad == 0) {
    pass("crash/ioerr/%s (%d faults at %d calls)", name, tried, n);
  } else {
    fail(why, "crash/ioerr/%s (%d of %d faults mishandled)", name, bad, tried);
  }
done:
  remove_tree(tpl);
  remove_tree(run);
  free(run);
}

int test_ioerr(void) {
  save_faults(&scenarios[1]);
  save_faults(&scenarios[2]);
  free_space(&scenarios[1]);
  free_space(&scenarios[2]);
  recovery_faults();
  backup_faults(0);
  backup_faults(1);
  return 0;
}
