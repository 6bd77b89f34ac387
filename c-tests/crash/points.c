/* Crash points: a save (and the recovering boot after it, and a backup)
 * killed right before each of its mutating file calls. After every kill a
 * fresh process must boot to exactly the old or exactly the new heap, with
 * no patch left behind, and must save and boot again. */
#define _GNU_SOURCE
#include "crash.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scenario.h"

/* ---- scenarios ---------------------------------------------------------------- */

static const uint32_t grow_dirty[] = {1, 3};
static const uint32_t shrink_dirty[] = {0, 4};
static const uint32_t big_dirty[] = {2, 5};

const scenario scenarios[] = {
    {"first-save", {0, 0, NULL, 0}, {6, 11, NULL, 0}},
    {"growing-save", {6, 11, NULL, 0}, {10, 12, grow_dirty, 2}},
    {"shrinking-save", {10, 21, NULL, 0}, {5, 22, shrink_dirty, 2}},
    {"large-save", {8, 31, NULL, 0}, {520, 32, big_dirty, 2}},
};
const int scenario_count = (int)(sizeof scenarios / sizeof scenarios[0]);

void step_apply(heap *h, const step *s, int to_loom) {
  if (to_loom) {
    heap_resize(h, s->pages, s->seed);
    for (int i = 0; i < s->ndirty; i++) {
      heap_write(h, s->dirty[i], s->seed);
    }
    return;
  }
  for (uint32_t page = h->pages; page < s->pages; page++) {
    h->seed[page] = s->seed;
  }
  h->pages = s->pages;
  for (int i = 0; i < s->ndirty; i++) {
    h->seed[s->dirty[i]] = s->seed;
  }
}

void expected(const scenario *sc, heap *old_h, heap *new_h) {
  memset(old_h, 0, sizeof *old_h);
  step_apply(old_h, &sc->old_step, 0);
  *new_h = *old_h;
  step_apply(new_h, &sc->new_step, 0);
}

/* ---- children ------------------------------------------------------------------ */

void child_boot(const job *j, heap *h) {
  host_start();
  host_pier((char *)cat(j->run, "pier"), 1);
  host_boot();
  memset(h, 0, sizeof *h);
}

void child_old_saved_new_written(const job *j, heap *h) {
  child_boot(j, h);
  step_apply(h, &j->sc->old_step, 1);
  if (h->pages > 0) {
    host_save(h->pages);
  }
  step_apply(h, &j->sc->new_step, 1);
}

/* Boots RUN/pier, saves the scenario's old heap, writes the new one and
 * saves it with the interposer armed (to record, kill or fail). */
int child_save(void *arg) {
  const job *j = arg;
  heap h;
  child_old_saved_new_written(j, &h);
  arm();
  host_save(h.pages);
  disarm();
  return 0;
}

/* Boots RUN/pier with the interposer armed from the start (recovery). */
int child_boot_armed(void *arg) {
  const job *j = arg;
  host_start();
  host_pier((char *)cat(j->run, "pier"), 0);
  arm();
  host_boot();
  disarm();
  return 0;
}

int child_verify(void *arg) {
  const job *j = arg;
  const char *pier = cat(j->run, "pier");
  char chk[4200];
  fmt(chk, sizeof chk, "%s/.urb/chk", pier);
  host_start();
  host_pier((char *)pier, 0);
  host_boot();
  if (exists(cat(chk, "control.bin")) || exists(cat(chk, "memory.bin"))) {
    dprintf(STDERR_FILENO, "verify: a patch file is left after boot\n");
    return EXIT_MISMATCH;
  }
  char why_old[512] = "";
  char why_new[512] = "";
  uint32_t above = (j->old_h.pages > j->new_h.pages ? j->old_h.pages : j->new_h.pages) + 2;
  const heap *seen = NULL;
  int code = EXIT_MISMATCH;
  if (loom_matches(&j->old_h, above - j->old_h.pages, why_old, sizeof why_old) &&
      image_matches(cat(chk, "image.bin"), &j->old_h, why_old, sizeof why_old)) {
    seen = &j->old_h;
    code = SEEN_OLD;
  } else if (loom_matches(&j->new_h, above - j->new_h.pages, why_new, sizeof why_new) &&
             image_matches(cat(chk, "image.bin"), &j->new_h, why_new, sizeof why_new)) {
    seen = &j->new_h;
    code = SEEN_NEW;
  }
  if (seen == NULL) {
    dprintf(STDERR_FILENO, "verify: neither old (%s) nor new (%s)\n", why_old, why_new);
    return EXIT_MISMATCH;
  }
  if (!j->then_save) {
    return code;
  }
  /* The pier goes on: one more page, page 0 rewritten. */
  heap next = *seen;
  heap_resize(&next, next.pages + 1, 99);
  heap_write(&next, 0, 99);
  host_save(next.pages);
  char why[512];
  if (!image_matches(cat(chk, "image.bin"), &next, why, sizeof why)) {
    dprintf(STDERR_FILENO, "verify: the save after the crash: %s\n", why);
    return EXIT_MISMATCH;
  }
  return code;
}

heap after_verify(const heap *seen) {
  heap next = *seen;
  for (uint32_t page = next.pages; page < next.pages + 1; page++) {
    next.seed[page] = 99;
  }
  next.pages++;
  next.seed[0] = 99;
  return next;
}

int verify_run(const char *run, const heap *old_h, const heap *new_h, char *why, size_t why_len) {
  static job j;
  memset(&j, 0, sizeof j);
  fmt(j.run, sizeof j.run, "%s", run);
  j.old_h = *old_h;
  j.new_h = *new_h;
  j.then_save = 1;
  outcome o = run_child(child_verify, &j, NULL);
  if (!o.exited || (o.code != SEEN_OLD && o.code != SEEN_NEW)) {
    fmt(why, why_len, "boot after the crash: %s", describe(&o));
    return 0;
  }
  int seen = o.code;
  j.old_h = after_verify(seen == SEEN_OLD ? old_h : new_h);
  j.new_h = j.old_h;
  j.then_save = 0;
  o = run_child(child_verify, &j, NULL);
  if (!o.exited || o.code != SEEN_OLD) {
    fmt(why, why_len, "boot after the save that followed the crash (%s seen): %s",
             seen == SEEN_OLD ? "old" : "new", describe(&o));
    return 0;
  }
  return seen;
}

/* ---- environment for the interposer ---------------------------------------------------- */

void job_env(job *j, const char *kill_at, const char *trace_file) {
  fmt(j->env_root, sizeof j->env_root, "CRASHIO_ROOT=%s", j->run);
  fmt(j->env_kill, sizeof j->env_kill, "CRASHIO_KILL_AT=%s", kill_at ? kill_at : "");
  fmt(j->env_trace, sizeof j->env_trace, "CRASHIO_TRACE=%s", trace_file ? trace_file : "");
  j->env[0] = j->env_root;
  j->env[1] = j->env_kill;
  j->env[2] = j->env_trace;
  j->env[3] = "CRASHIO_FAIL_AT=";
  j->env[4] = "CRASHIO_FREE=";
  j->env[5] = NULL;
}

/* ---- the crash-point runs --------------------------------------------------------------- */

static long tried;
static long survived;

/* Records the calls of FN in a fresh run; returns the count (or -1). */
int record_calls(job *j, int (*fn)(void *), trace *t) {
  char file[4200];
  fmt(file, sizeof file, "%s/trace", j->run);
  unlink(file);
  job_env(j, NULL, file);
  outcome o = run_child(fn, j, (const char *const *)j->env);
  if (!o.exited || o.code != 0 || trace_read(file, t) != 0) {
    fprintf(stderr, "record: %s\n", describe(&o));
    return -1;
  }
  show_trace(t);
  return t->n;
}

static void reset_run(job *j) {
  remove_tree(j->run);
  mkdir(j->run, 0700);
}

static int has_patch(const char *run) {
  return exists(cat(run, "pier/.urb/chk/control.bin")) ||
         exists(cat(run, "pier/.urb/chk/memory.bin"));
}

void make_pier_from(const char *run, const char *tpl) {
  rt_mkdirs(cat(run, "pier"));
  copy_dir(tpl, cat(run, "pier/.urb/chk"));
}

/* Kills the recovering boot of the crash state in TPL before each of its
 * mutating calls; then a fresh boot must still see old or new. */
static int recovery_points(const scenario *sc, const char *tpl, const heap *old_h,
                           const heap *new_h, int save_k, char *why, size_t why_len) {
  static job j;
  memset(&j, 0, sizeof j);
  char *run = fresh_dir("recover");
  fmt(j.run, sizeof j.run, "%s", run);
  j.sc = sc;
  make_pier_from(j.run, tpl);
  static trace t;
  int n = record_calls(&j, child_boot_armed, &t);
  if (n < 0) {
    fmt(why, why_len, "recording the recovering boot after save call %d failed", save_k);
    remove_tree(run);
    free(run);
    return 0;
  }
  int ok = 1;
  for (int k = 1; k <= n && ok; k++) {
    reset_run(&j);
    make_pier_from(j.run, tpl);
    char kill_at[16];
    fmt(kill_at, sizeof kill_at, "%d", k);
    job_env(&j, kill_at, NULL);
    outcome o = run_child(child_boot_armed, &j, (const char *const *)j.env);
    tried++;
    if (o.exited || o.signal != SIGKILL) {
      fmt(why, why_len, "recovery after save call %d: boot not killed at call %d/%d: %s",
               save_k, k, n, describe(&o));
      ok = 0;
      break;
    }
    char detail[8600];
    if (!verify_run(j.run, old_h, new_h, detail, sizeof detail)) {
      fmt(why, why_len, "save killed before call %d, recovery killed before call %d (%s %s): %s",
               save_k, k, t.calls[k - 1].op, t.calls[k - 1].name, detail);
      ok = 0;
      break;
    }
    survived++;
  }
  remove_tree(run);
  free(run);
  return ok;
}

static void scenario_points(const scenario *sc) {
  static job j;
  memset(&j, 0, sizeof j);
  char *run = fresh_dir(sc->name);
  fmt(j.run, sizeof j.run, "%s", run);
  j.sc = sc;
  heap old_h;
  heap new_h;
  expected(sc, &old_h, &new_h);
  static trace t;
  int n = record_calls(&j, child_save, &t);
  if (n <= 0) {
    fail("", "crash/points/%s (recording the save found %d calls)", sc->name, n);
    remove_tree(run);
    free(run);
    return;
  }
  char why[9000] = "";
  int ok = 1;
  int recoveries = 0;
  int saw_old = 0;
  int saw_new = 0;
  char tpl[4200];
  fmt(tpl, sizeof tpl, "%s.tpl", run);
  for (int k = 1; k <= n + 1 && ok; k++) {
    reset_run(&j);
    char kill_at[16];
    fmt(kill_at, sizeof kill_at, "%d", k);
    job_env(&j, kill_at, NULL);
    outcome o = run_child(child_save, &j, (const char *const *)j.env);
    tried++;
    int killed = !o.exited && o.signal == SIGKILL;
    if (k <= n ? !killed : !(o.exited && o.code == 0)) {
      fmt(why, sizeof why, "save with a kill at call %d of %d: %s", k, n, describe(&o));
      ok = 0;
      break;
    }
    int patch = has_patch(j.run);
    if (patch) {
      remove_tree(tpl);
      copy_dir(cat(j.run, "pier/.urb/chk"), tpl);
    }
    char detail[8600];
    int seen = verify_run(j.run, &old_h, &new_h, detail, sizeof detail);
    if (!seen) {
      fmt(why, sizeof why, "killed before call %d (%s %s): %s", k,
               k <= n ? t.calls[k - 1].op : "none", k <= n ? t.calls[k - 1].name : "-", detail);
      ok = 0;
      break;
    }
    if (k == n + 1 && seen != SEEN_NEW) {
      fmt(why, sizeof why, "the save that was not killed left the old heap");
      ok = 0;
      break;
    }
    saw_old += seen == SEEN_OLD;
    saw_new += seen == SEEN_NEW;
    survived++;
    if (patch) {
      recoveries++;
      if (!recovery_points(sc, tpl, &old_h, &new_h, k, why, sizeof why)) {
        ok = 0;
      }
    }
  }
  if (ok && (saw_old == 0 || saw_new == 0)) {
    fmt(why, sizeof why, "every crash state was %s: the kills did not reach both sides",
             saw_old == 0 ? "new" : "old");
    ok = 0;
  }
  if (ok) {
    pass("crash/points/%s (%d save calls, %d old, %d new, %d patch states recovered under kills)",
         sc->name, n, saw_old, saw_new, recoveries);
  } else {
    fail(why, "crash/points/%s", sc->name);
  }
  remove_tree(tpl);
  remove_tree(run);
  free(run);
}

/* ---- backup ---------------------------------------------------------------------------------- */

int child_backup(void *arg) {
  const job *j = arg;
  host_start();
  host_pier((char *)cat(j->run, "pier"), 0);
  host_boot();
  char from[4200];
  char to[4200];
  fmt(from, sizeof from, "%s/pier/.urb/chk", j->run);
  fmt(to, sizeof to, "%s/bak", j->run);
  arm();
  c3_o ok = u3e_backup(from, to, j->overwrite ? c3y : c3n);
  disarm();
  return ok == c3y ? 0 : 1;
}

int child_prepare(void *arg) {
  const job *j = arg;
  heap h;
  child_boot(j, &h);
  heap_resize(&h, j->new_h.pages, j->new_h.seed[0]);
  host_save(h.pages);
  return 0;
}

/* What a killed backup may leave in BAK: nothing, a temporary copy, the
 * previous backup (PREVIOUS, when not NULL) or a complete copy of SOURCE. */
static int backup_state_ok(const char *bak, const char *source, const char *previous, char *why,
                           size_t why_len) {
  if (!exists(bak)) {
    return 1;
  }
  DIR *dir = opendir(bak);
  if (dir == NULL) {
    fmt(why, why_len, "cannot list %s", bak);
    return 0;
  }
  struct dirent *entry;
  int ok = 1;
  while ((entry = readdir(dir)) != NULL && ok) {
    const char *name = entry->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "image.bin.tmp") == 0) {
      continue;
    }
    if (strcmp(name, "image.bin") != 0) {
      fmt(why, why_len, "unexpected %s in the backup directory", name);
      ok = 0;
    } else if (!same_file(cat(bak, name), source) &&
               (previous == NULL || !same_file(cat(bak, name), previous))) {
      fmt(why, why_len, "bak/image.bin (%lld bytes) is neither the source (%lld)%s", file_size(cat(bak, name)),
               file_size(source), previous ? " nor the previous backup" : "");
      ok = 0;
    }
  }
  closedir(dir);
  return ok;
}

/* Resets J's run: the pier from TPL and, when OLDER is not NULL, an older
 * backup holding it. */
static void fresh_backup_run(job *j, const char *tpl, const heap *older) {
  reset_run(j);
  make_pier_from(j->run, tpl);
  if (older != NULL) {
    mkdir(cat(j->run, "bak"), 0700);
    image_write(cat(j->run, "bak/image.bin"), older);
  }
}

static void backup_points(int overwrite) {
  const char *name = overwrite ? "backup-overwrite" : "backup-new";
  static job j;
  memset(&j, 0, sizeof j);
  char *run = fresh_dir(name);
  fmt(j.run, sizeof j.run, "%s", run);
  j.overwrite = overwrite;
  heap h;
  memset(&h, 0, sizeof h);
  h.pages = 9;
  for (uint32_t p = 0; p < h.pages; p++) {
    h.seed[p] = 41;
  }
  j.new_h = h;
  j.old_h = h;
  /* A template: the pier, and for overwrite an older backup. */
  char tpl[4200];
  fmt(tpl, sizeof tpl, "%s.tpl", run);
  outcome o = run_child(child_prepare, &j, NULL);
  if (!o.exited || o.code != 0) {
    fail(describe(&o), "crash/points/%s (preparing the pier)", name);
    remove_tree(run);
    free(run);
    return;
  }
  copy_dir(cat(run, "pier/.urb/chk"), tpl);
  char previous[4200];
  fmt(previous, sizeof previous, "%s.previous", run);
  heap older;
  memset(&older, 0, sizeof older);
  older.pages = 5;
  for (uint32_t p = 0; p < older.pages; p++) {
    older.seed[p] = 40;
  }
  image_write(previous, &older);

  static trace t;
  char why[9000] = "";
  int ok = 1;
  fresh_backup_run(&j, tpl, overwrite ? &older : NULL);
  int n = record_calls(&j, child_backup, &t);
  if (n <= 0) {
    fmt(why, sizeof why, "recording the backup found %d calls", n);
    ok = 0;
  }
  for (int k = 1; k <= n + 1 && ok; k++) {
    fresh_backup_run(&j, tpl, overwrite ? &older : NULL);
    char kill_at[16];
    fmt(kill_at, sizeof kill_at, "%d", k);
    job_env(&j, kill_at, NULL);
    o = run_child(child_backup, &j, (const char *const *)j.env);
    const char *op = k <= n ? t.calls[k - 1].op : "none";
    const char *on = k <= n ? t.calls[k - 1].name : "-";
    tried++;
    int killed = !o.exited && o.signal == SIGKILL;
    if (k <= n ? !killed : !(o.exited && o.code == 0)) {
      fmt(why, sizeof why, "backup with a kill at call %d of %d: %s", k, n, describe(&o));
      ok = 0;
      break;
    }
    char detail[1024] = "";
    const char *source = cat(j.run, "pier/.urb/chk/image.bin");
    if (!image_matches(source, &h, detail, sizeof detail)) {
      fmt(why, sizeof why, "killed before call %d (%s %s): the pier's image changed: %s", k, op, on,
          detail);
      ok = 0;
      break;
    }
    char bak[4200];
    fmt(bak, sizeof bak, "%s/bak", j.run);
    if (!backup_state_ok(bak, source, overwrite ? previous : NULL, detail, sizeof detail)) {
      fmt(why, sizeof why, "killed before call %d (%s %s): %s", k, op, on, detail);
      ok = 0;
      break;
    }
    /* The pier still boots to its heap, and a new backup completes. */
    char vdetail[8600];
    if (verify_run(j.run, &h, &h, vdetail, sizeof vdetail) != SEEN_OLD) {
      fmt(why, sizeof why, "killed before call %d: %s", k, vdetail);
      ok = 0;
      break;
    }
    /* Overwriting needs the directory; a kill before mkdir left none. */
    j.overwrite = exists(bak);
    job_env(&j, NULL, NULL);
    o = run_child(child_backup, &j, (const char *const *)j.env);
    j.overwrite = overwrite;
    heap after = after_verify(&h);
    if (!o.exited || o.code != 0 || !image_matches(cat(bak, "image.bin"), &after, detail, sizeof detail) ||
        exists(cat(bak, "image.bin.tmp"))) {
      fmt(why, sizeof why, "killed before call %d: the next backup: %s %s", k, describe(&o), detail);
      ok = 0;
      break;
    }
    survived++;
  }
  if (ok) {
    pass("crash/points/%s (%d backup calls)", name, n);
  } else {
    fail(why, "crash/points/%s", name);
  }
  remove_tree(previous);
  remove_tree(tpl);
  remove_tree(run);
  free(run);
}

/* The checks can fail: a disk that drops one image write while reporting
 * success leaves a mixed image behind the removed patch, and the boot
 * after it must be refused as neither old nor new. */
static void detects_mixed_state(void) {
  const scenario *sc = &scenarios[1];
  static job j;
  static trace t;
  memset(&j, 0, sizeof j);
  char *run = fresh_dir("mixed");
  fmt(j.run, sizeof j.run, "%s", run);
  j.sc = sc;
  heap old_h;
  heap new_h;
  expected(sc, &old_h, &new_h);
  int n = record_calls(&j, child_save, &t);
  int k = 0;
  for (int i = 0; i < n && k == 0; i++) {
    if (is_write(&t.calls[i]) && call_on(&t.calls[i], "image.bin")) {
      k = i + 1;
    }
  }
  reset_run(&j);
  job_env(&j, NULL, NULL);
  fmt(j.env_fail_at, sizeof j.env_fail_at, "CRASHIO_FAIL_AT=%d", k);
  fmt(j.env_fail, sizeof j.env_fail, "CRASHIO_FAIL=DROP");
  j.env[3] = j.env_fail_at;
  j.env[4] = j.env_fail;
  outcome o = run_child(child_save, &j, (const char *const *)j.env);
  char why[8600] = "";
  int seen = k > 0 && o.exited && o.code == 0 ? verify_run(j.run, &old_h, &new_h, why, sizeof why) : -1;
  if (seen == 0 && strstr(why, "neither old") != NULL) {
    pass("crash/points/detects-mixed-state (a dropped image write at call %d)", k);
  } else {
    char detail[9000];
    fmt(detail, sizeof detail, "k %d, seen %d: %s %s", k, seen, describe(&o), why);
    fail(detail, "crash/points/detects-mixed-state");
  }
  remove_tree(run);
  free(run);
}

/* Whether ONLY (a comma-separated list of test names, or NULL for all)
 * names NAME. */
static int picked(const char *only, const char *name) {
  if (only == NULL) {
    return 1;
  }
  size_t len = strlen(name);
  for (const char *at = only; (at = strstr(at, name)) != NULL; at += len) {
    if ((at == only || at[-1] == ',') && (at[len] == ',' || at[len] == '\0')) {
      return 1;
    }
  }
  return 0;
}

int test_points(const char *only) {
  tried = 0;
  survived = 0;
  for (int i = 0; i < scenario_count; i++) {
    if (picked(only, scenarios[i].name)) {
      scenario_points(&scenarios[i]);
    }
  }
  if (picked(only, "backup-new")) {
    backup_points(0);
  }
  if (picked(only, "backup-overwrite")) {
    backup_points(1);
  }
  if (picked(only, "detects-mixed-state")) {
    detects_mixed_state();
  }
  printf("crash points tried %ld, survived %ld\n", tried, survived);
  if (tried > 0 && tried == survived) {
    pass("crash/points/all-survived (%ld of %ld)", survived, tried);
  } else {
    fail("", "crash/points/all-survived (%ld of %ld)", survived, tried);
  }
  return 0;
}
