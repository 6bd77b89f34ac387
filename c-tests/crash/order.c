/* Power-loss order: the recorded file calls of saves, of a recovering boot
 * and of a backup must follow the durability rules, so that losing power
 * (not just the process) at any point leaves a bootable, unmixed pier:
 *   - control.bin and memory.bin are fdatasync'ed after their last write,
 *     and .urb/chk is fsync'ed after both were created, before the first
 *     write or ftruncate of image.bin;
 *   - image.bin is fdatasync'ed after its last write before control.bin or
 *     memory.bin is unlinked;
 *   - a directory fsync follows the unlinks, and every rename (backup);
 *     a renamed file is synced after its last write, before the rename.
 * The checker is also run on traces broken on purpose, which it must
 * refuse. */
#define _GNU_SOURCE
#include "crash.h"

#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"

static int is_sync(const call *c) {
  return strcmp(c->op, "fdatasync") == 0 || strcmp(c->op, "fsync") == 0;
}

static int is_dir_sync(const call *c, const char *dir) {
  return strcmp(c->op, "fsync") == 0 && call_on(c, dir);
}

static int is_resize(const call *c) {
  return strcmp(c->op, "ftruncate") == 0;
}

/* Index of the first call in [from, to) that is OP on SUFFIX (any op when
 * OP is NULL), or -1. */
static int find(const trace *t, int from, int to, const char *op, const char *suffix) {
  for (int i = from < 0 ? 0 : from; i < to && i < t->n; i++) {
    const call *c = &t->calls[i];
    if ((op == NULL || strcmp(c->op, op) == 0) && call_on(c, suffix)) {
      return i;
    }
  }
  return -1;
}

/* Index of the last write to SUFFIX before TO, or -1. */
static int last_write(const trace *t, int to, const char *suffix, int count_resize) {
  int last = -1;
  for (int i = 0; i < to && i < t->n; i++) {
    const call *c = &t->calls[i];
    if ((is_write(c) || (count_resize && is_resize(c))) && call_on(c, suffix)) {
      last = i;
    }
  }
  return last;
}

/* Index of the first sync of SUFFIX in (after, to), or -1. */
static int sync_after(const trace *t, int after, int to, const char *suffix) {
  for (int i = after + 1; i < to && i < t->n; i++) {
    if (is_sync(&t->calls[i]) && call_on(&t->calls[i], suffix)) {
      return i;
    }
  }
  return -1;
}

static int dir_sync_after(const trace *t, int after, int to, const char *dir) {
  for (int i = after + 1; i < to && i < t->n; i++) {
    if (is_dir_sync(&t->calls[i], dir)) {
      return i;
    }
  }
  return -1;
}

#define CHK ".urb/chk/"

/* The rules for the patch and the image; SAVE: the trace also writes the
 * patch. 1 when they hold, else 0 with WHY. */
static int check_patch_rules(const trace *t, int save, char *why, size_t why_len) {
  int first_image = -1;
  for (int i = 0; i < t->n; i++) {
    if ((is_write(&t->calls[i]) || is_resize(&t->calls[i])) && call_on(&t->calls[i], "image.bin")) {
      first_image = i;
      break;
    }
  }
  if (first_image < 0) {
    fmt(why, why_len, "image.bin is never written");
    return 0;
  }
  if (save) {
    int created[2];
    const char *files[2] = {"control.bin", "memory.bin"};
    for (int f = 0; f < 2; f++) {
      created[f] = find(t, 0, first_image, "open", files[f]);
      int written = last_write(t, first_image, files[f], 0);
      int synced = sync_after(t, written, first_image, files[f]);
      if (created[f] < 0 || written < 0) {
        fmt(why, why_len, "%s is not created and written before image.bin (call %d)", files[f],
            first_image + 1);
        return 0;
      }
      if (synced < 0) {
        fmt(why, why_len, "%s is not synced after its last write (call %d) before image.bin is written (call %d)",
            files[f], written + 1, first_image + 1);
        return 0;
      }
    }
    int after = created[0] > created[1] ? created[0] : created[1];
    if (dir_sync_after(t, after, first_image, CHK) < 0) {
      fmt(why, why_len, "%s is not fsynced between creating the patch (call %d) and writing image.bin (call %d)",
          CHK, after + 1, first_image + 1);
      return 0;
    }
  }
  int unlinked = -1;
  int last_unlink = -1;
  for (int i = 0; i < t->n; i++) {
    const call *c = &t->calls[i];
    if (strcmp(c->op, "unlink") == 0 && (call_on(c, "control.bin") || call_on(c, "memory.bin"))) {
      if (unlinked < 0) {
        unlinked = i;
      }
      last_unlink = i;
    }
  }
  if (unlinked < 0) {
    fmt(why, why_len, "the patch is never removed");
    return 0;
  }
  int image_written = last_write(t, unlinked, "image.bin", 1);
  if (last_write(t, t->n, "image.bin", 1) > unlinked) {
    fmt(why, why_len, "image.bin is written (call %d) after the patch is unlinked (call %d)",
        last_write(t, t->n, "image.bin", 1) + 1, unlinked + 1);
    return 0;
  }
  if (sync_after(t, image_written, unlinked, "image.bin") < 0) {
    fmt(why, why_len, "image.bin is not synced between its last write (call %d) and the unlink (call %d)",
        image_written + 1, unlinked + 1);
    return 0;
  }
  if (dir_sync_after(t, last_unlink, t->n, CHK) < 0) {
    fmt(why, why_len, "no fsync of %s after the last unlink (call %d)", CHK, last_unlink + 1);
    return 0;
  }
  return 1;
}

/* The rules for renames: the file synced before, its directory after. */
static int check_rename_rules(const trace *t, char *why, size_t why_len) {
  int renames = 0;
  for (int i = 0; i < t->n; i++) {
    const call *c = &t->calls[i];
    if (strcmp(c->op, "rename") != 0) {
      continue;
    }
    renames++;
    int written = last_write(t, i, c->name, 1);
    if (written >= 0 && sync_after(t, written, i, c->name) < 0) {
      fmt(why, why_len, "%s is renamed (call %d) without a sync after its last write (call %d)",
          c->name, i + 1, written + 1);
      return 0;
    }
    char dir[520];
    fmt(dir, sizeof dir, "%s", c->to);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
      slash[1] = '\0';
    }
    if (dir_sync_after(t, i, t->n, dir) < 0) {
      fmt(why, why_len, "no fsync of %s after renaming %s (call %d)", dir, c->name, i + 1);
      return 0;
    }
  }
  if (renames == 0) {
    fmt(why, why_len, "no rename");
    return 0;
  }
  return 1;
}

/* A directory made by mkdir is durable only once its parent is synced. */
static int check_mkdir_rules(const trace *t, char *why, size_t why_len) {
  for (int i = 0; i < t->n; i++) {
    const call *c = &t->calls[i];
    if (strcmp(c->op, "mkdir") != 0) {
      continue;
    }
    char parent[520];
    fmt(parent, sizeof parent, "%s", c->name);
    size_t len = strlen(parent);
    if (len > 0 && parent[len - 1] == '/') {
      parent[--len] = '\0';
    }
    char *slash = strrchr(parent, '/');
    if (slash != NULL) {
      slash[1] = '\0';
    } else {
      fmt(parent, sizeof parent, "./");
    }
    int synced = 0;
    for (int k = i + 1; k < t->n; k++) {
      if (strcmp(t->calls[k].op, "fsync") == 0 && strcmp(t->calls[k].name, parent) == 0) {
        synced = 1;
      }
    }
    if (!synced) {
      fmt(why, why_len, "%s is made (call %d) but its parent %s is never fsynced: after a power loss the new directory, and what is written in it, can be gone",
          c->name, i + 1, parent);
      return 0;
    }
  }
  return 1;
}

/* A copy of T without call INDEX. */
static void drop_call(const trace *t, int index, trace *out) {
  out->n = 0;
  for (int i = 0; i < t->n; i++) {
    if (i != index) {
      out->calls[out->n++] = t->calls[i];
    }
  }
}

/* A copy of T with call INDEX moved to the end. */
static void move_last(const trace *t, int index, trace *out) {
  drop_call(t, index, out);
  out->calls[out->n++] = t->calls[index];
}

/* The checker must refuse save traces broken in each of the ways the
 * rules name. */
static void check_checker(const trace *good, const char *name) {
  static trace bad;
  char why[512];
  int refused = 0;
  int tried = 0;
  int first_image = -1;
  for (int i = 0; i < good->n; i++) {
    if ((is_write(&good->calls[i]) || is_resize(&good->calls[i])) &&
        call_on(&good->calls[i], "image.bin")) {
      first_image = i;
      break;
    }
  }
  for (int i = 0; i < good->n; i++) {
    const call *c = &good->calls[i];
    int breaks = 0;
    if (is_sync(c) && !call_on(c, "/")) {
      breaks = 1; /* any file sync dropped */
    } else if (is_dir_sync(c, CHK)) {
      breaks = 1; /* either directory sync dropped */
    }
    if (!breaks) {
      continue;
    }
    tried++;
    drop_call(good, i, &bad);
    refused += !check_patch_rules(&bad, 1, why, sizeof why);
  }
  /* The image written after the unlinks. */
  if (first_image >= 0) {
    tried++;
    move_last(good, first_image, &bad);
    refused += !check_patch_rules(&bad, 1, why, sizeof why);
  }
  if (tried >= 5 && refused == tried) {
    pass("crash/order/checker-refuses-broken-%s (%d broken traces)", name, tried);
  } else {
    char detail[128];
    fmt(detail, sizeof detail, "refused %d of %d broken traces", refused, tried);
    fail(detail, "crash/order/checker-refuses-broken-%s", name);
  }
}

/* Boots a pier that does not exist yet in swap mode, traced. */
static int child_swap_new_pier(void *arg) {
  const job *j = arg;
  host_start();
  host_pier((char *)cat(j->run, "pier"), 0);
  host_flags(host_current_flags() | 1u << 12);
  arm();
  host_boot();
  disarm();
  return 0;
}

int test_order(void) {
  static job j;
  static trace t;
  char why[1024];
  for (int s = 0; s < scenario_count; s++) {
    const scenario *sc = &scenarios[s];
    memset(&j, 0, sizeof j);
    char *run = fresh_dir("order");
    fmt(j.run, sizeof j.run, "%s", run);
    j.sc = sc;
    if (record_calls(&j, child_save, &t) <= 0) {
      fail("", "crash/order/save-%s (no trace)", sc->name);
    } else if (check_patch_rules(&t, 1, why, sizeof why)) {
      pass("crash/order/save-%s (%d calls)", sc->name, t.n);
    } else {
      fail(why, "crash/order/save-%s", sc->name);
    }
    if (s == 1 && t.n > 0) {
      check_checker(&t, "save");
      /* Recovery: a complete patch left by a kill before the image write. */
      int first_image = -1;
      for (int i = 0; i < t.n; i++) {
        if ((is_write(&t.calls[i]) || is_resize(&t.calls[i])) && call_on(&t.calls[i], "image.bin")) {
          first_image = i;
          break;
        }
      }
      remove_tree(j.run);
      mkdir(j.run, 0700);
      char kill_at[16];
      fmt(kill_at, sizeof kill_at, "%d", first_image + 1);
      job_env(&j, kill_at, NULL);
      outcome o = run_child(child_save, &j, (const char *const *)j.env);
      static trace r;
      if (o.exited || o.signal != SIGKILL) {
        fail(describe(&o), "crash/order/recovery (the save was not killed)");
      } else if (record_calls(&j, child_boot_armed, &r) <= 0) {
        fail("", "crash/order/recovery (no trace)");
      } else if (check_patch_rules(&r, 0, why, sizeof why)) {
        pass("crash/order/recovery (%d calls)", r.n);
      } else {
        fail(why, "crash/order/recovery");
      }
      /* Boots that only remove files: a torn patch (the save killed before
       * control.bin is written) and an orphan memory.bin (killed between
       * the two unlinks). */
      int control_write = -1;
      int memory_unlink = -1;
      for (int i = 0; i < t.n; i++) {
        if (is_write(&t.calls[i]) && call_on(&t.calls[i], "control.bin") && control_write < 0) {
          control_write = i;
        }
        if (strcmp(t.calls[i].op, "unlink") == 0 && call_on(&t.calls[i], "memory.bin")) {
          memory_unlink = i;
        }
      }
      const struct {
        const char *name;
        int kill_before;
      } removals[] = {{"discard-torn-patch", control_write}, {"remove-orphan-memory", memory_unlink}};
      for (int i = 0; i < 2; i++) {
        remove_tree(j.run);
        mkdir(j.run, 0700);
        fmt(kill_at, sizeof kill_at, "%d", removals[i].kill_before + 1);
        job_env(&j, kill_at, NULL);
        o = run_child(child_save, &j, (const char *const *)j.env);
        int unlinks = 0;
        int last_unlink = -1;
        if (removals[i].kill_before < 0 || o.exited || o.signal != SIGKILL ||
            record_calls(&j, child_boot_armed, &r) <= 0) {
          fail(describe(&o), "crash/order/%s (no crash state or no trace)", removals[i].name);
          continue;
        }
        for (int c = 0; c < r.n; c++) {
          if (strcmp(r.calls[c].op, "unlink") == 0) {
            unlinks++;
            last_unlink = c;
          }
        }
        if (unlinks == 0) {
          fail("", "crash/order/%s (the boot removed nothing)", removals[i].name);
        } else if (dir_sync_after(&r, last_unlink, r.n, CHK) < 0) {
          fmt(why, sizeof why, "no fsync of %s after the last unlink (call %d)", CHK, last_unlink + 1);
          fail(why, "crash/order/%s", removals[i].name);
        } else {
          pass("crash/order/%s (%d calls)", removals[i].name, r.n);
        }
      }
    }
    remove_tree(run);
    free(run);
  }
  /* Backups, to a new directory and over an old backup. */
  for (int overwrite = 0; overwrite < 2; overwrite++) {
    memset(&j, 0, sizeof j);
    char *run = fresh_dir("order-backup");
    fmt(j.run, sizeof j.run, "%s", run);
    j.new_h.pages = 7;
    j.new_h.seed[0] = 51;
    outcome o = run_child(child_prepare, &j, NULL);
    if (overwrite) {
      mkdir(cat(run, "bak"), 0700);
      write_file(cat(run, "bak/image.bin"), "old", 3);
    }
    j.overwrite = overwrite;
    const char *name = overwrite ? "backup-overwrite" : "backup-new";
    if (!o.exited || o.code != 0 || record_calls(&j, child_backup, &t) <= 0) {
      fail(describe(&o), "crash/order/%s (no trace)", name);
    } else if (check_rename_rules(&t, why, sizeof why)) {
      pass("crash/order/%s (%d calls)", name, t.n);
      if (!overwrite) {
        if (check_mkdir_rules(&t, why, sizeof why)) {
          pass("crash/order/backup-new-directory-synced");
        } else {
          fail(why, "crash/order/backup-new-directory-synced");
        }
      }
      static trace bad;
      int rename_at = find(&t, 0, t.n, "rename", "");
      int dir_sync = rename_at >= 0 ? dir_sync_after(&t, rename_at, t.n, "bak/") : -1;
      int file_sync = rename_at >= 0 ? sync_after(&t, last_write(&t, rename_at, "image.bin.tmp", 1),
                                                  rename_at, "image.bin.tmp")
                                     : -1;
      int refused = 0;
      if (dir_sync >= 0) {
        drop_call(&t, dir_sync, &bad);
        refused += !check_rename_rules(&bad, why, sizeof why);
      }
      if (file_sync >= 0) {
        drop_call(&t, file_sync, &bad);
        refused += !check_rename_rules(&bad, why, sizeof why);
      }
      if (refused == 2) {
        pass("crash/order/checker-refuses-broken-%s", name);
      } else {
        fail("", "crash/order/checker-refuses-broken-%s (refused %d of 2)", name, refused);
      }
    } else {
      fail(why, "crash/order/%s", name);
    }
    remove_tree(run);
    free(run);
  }
  /* Swap mode's boot makes the pier's directories when they are missing. */
  {
    memset(&j, 0, sizeof j);
    char *run = fresh_dir("order-swap");
    fmt(j.run, sizeof j.run, "%s", run);
    int made = 0;
    if (record_calls(&j, child_swap_new_pier, &t) <= 0) {
      fail("", "crash/order/swap-new-pier-directories-synced (no trace)");
    } else {
      for (int i = 0; i < t.n; i++) {
        made += strcmp(t.calls[i].op, "mkdir") == 0;
      }
      if (made != 3) {
        fmt(why, sizeof why, "%d mkdir calls, expected 3 (pier, .urb, .urb/chk)", made);
        fail(why, "crash/order/swap-new-pier-directories-synced");
      } else if (check_mkdir_rules(&t, why, sizeof why)) {
        pass("crash/order/swap-new-pier-directories-synced (%d directories)", made);
      } else {
        fail(why, "crash/order/swap-new-pier-directories-synced");
      }
    }
    remove_tree(run);
    free(run);
  }
  return 0;
}
