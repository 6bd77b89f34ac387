/* Bad input: piers whose files were damaged, truncated or made up, one
 * test per row of a table, each with the outcome the library defines.
 * Patches are built here, with the tests' own writer of the format and
 * MurmurHash3_x86_32 (c-tests/common/format.c), never with the library's
 * code.
 *
 * A pier starts from the "old" image (6 pages); the "new" patch rewrites
 * pages 1, 4, 6 and 7 and makes the image 8 pages long. */
#define _GNU_SOURCE
#include "crash.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OLD_SEED 71u
#define NEW_SEED 72u
#define OLD_PAGES 6u
#define NEW_TOTAL 8u
#define CONTROL_MAX (16ull + 8ull * (1ull << 20)) /* one line per loom page */

static const uint32_t new_pages[] = {1, 4, 6, 7};

/* ---- the patch writer ------------------------------------------------------------ */

typedef struct {
  uint32_t version;
  uint32_t total;
  int lines;
  uint32_t pages[8];
  int memory_pages;     /* pages written to memory.bin */
  long memory_delta;    /* bytes added to (or cut from) memory.bin */
  int bad_meta;         /* the control checksum is off by one */
  int bad_page;         /* one byte of a page differs from its checksum */
  long control_cut;     /* bytes cut from the end of control.bin */
} patch_spec;

static patch_spec good_patch(void) {
  patch_spec s;
  memset(&s, 0, sizeof s);
  s.version = 2;
  s.total = NEW_TOTAL;
  s.lines = 4;
  memcpy(s.pages, new_pages, sizeof new_pages);
  s.memory_pages = 4;
  return s;
}

/* Writes CHK/control.bin and CHK/memory.bin as SPEC says. */
static void write_patch(const char *chk, const patch_spec *s) {
  static uint32_t words[PAGE_WORDS];
  size_t len = 16 + 8 * (size_t)s->lines;
  uint8_t control[16 + 8 * 8];
  rt_put32(control, s->version);
  rt_put32(control + 8, s->total);
  rt_put32(control + 12, (uint32_t)s->lines);
  for (int i = 0; i < s->lines; i++) {
    rt_fill(NEW_SEED, s->pages[i], words);
    rt_put32(control + 16 + 8 * i, s->pages[i]);
    rt_put32(control + 20 + 8 * i, rt_page_sum(words));
  }
  uint32_t sum = rt_control_sum(control, (uint32_t)s->lines);
  rt_put32(control + 4, s->bad_meta ? sum + 1 : sum);
  write_file(cat(chk, "control.bin"), control, len - (size_t)s->control_cut);

  int fd = open(cat(chk, "memory.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    host_die("memory.bin");
  }
  for (int i = 0; i < s->memory_pages; i++) {
    uint32_t page = i < s->lines ? s->pages[i] : 100 + (uint32_t)i;
    rt_fill(NEW_SEED, page, words);
    if (s->bad_page && i == 2) {
      words[17] ^= 0x100;
    }
    if (write(fd, words, PAGE_BYTES) != (ssize_t)PAGE_BYTES) {
      host_die("memory.bin");
    }
  }
  if (s->memory_delta != 0 &&
      ftruncate(fd, (off_t)((long)s->memory_pages * (long)PAGE_BYTES + s->memory_delta)) != 0) {
    host_die("memory.bin");
  }
  close(fd);
}

/* ---- heaps ----------------------------------------------------------------------------- */

static heap old_heap(void) {
  heap h;
  memset(&h, 0, sizeof h);
  h.pages = OLD_PAGES;
  for (uint32_t p = 0; p < h.pages; p++) {
    h.seed[p] = OLD_SEED;
  }
  return h;
}

static heap new_heap(void) {
  heap h = old_heap();
  h.pages = NEW_TOTAL;
  for (size_t i = 0; i < sizeof new_pages / sizeof new_pages[0]; i++) {
    h.seed[new_pages[i]] = NEW_SEED;
  }
  return h;
}

/* ---- the rows ------------------------------------------------------------------------------ */

enum want_heap { HEAP_OLD, HEAP_NEW, HEAP_SHRUNK, HEAP_NONE };

typedef struct row row;
struct row {
  const char *name;
  const char *outcome; /* for the bad-input table in docs/reliability.md */
  /* Damages the pier whose chk directory is CHK (the old image is there). */
  void (*setup)(const char *chk);
  int exit_code;        /* 0: boots; 1: the boot stops (exit 1) */
  enum want_heap heap;
  int patch_after;      /* 0: no patch file after boot; 1: both kept */
  const char *says;     /* stderr must contain this */
};

static void set_odd_image(const char *chk) {
  int fd = open(cat(chk, "image.bin"), O_WRONLY | O_APPEND);
  if (fd < 0 || write(fd, "x", 1) != 1) {
    host_die("image.bin");
  }
  close(fd);
}

static void set_size(const char *chk, const char *name, unsigned long long bytes) {
  int fd = open(cat(chk, name), O_WRONLY | O_CREAT, 0600);
  if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
    host_die(name);
  }
  close(fd);
}

static void patch_with(const char *chk, void (*change)(patch_spec *)) {
  patch_spec s = good_patch();
  if (change != NULL) {
    change(&s);
  }
  write_patch(chk, &s);
}

static void setup_nothing(const char *chk) { (void)chk; }
static void setup_odd(const char *chk) { set_odd_image(chk); }
static void setup_odd_patch(const char *chk) {
  set_odd_image(chk);
  patch_with(chk, NULL);
}
static void setup_too_big(const char *chk) { set_size(chk, "image.bin", (unsigned long long)(LOOM_PAGES - 1) * PAGE_BYTES); }
static void setup_valid(const char *chk) { patch_with(chk, NULL); }

static void cut_head(patch_spec *s) { s->control_cut = 16 + 8 * s->lines - 12; }
static void setup_cut_head(const char *chk) { patch_with(chk, cut_head); }
static void cut_line(patch_spec *s) { s->control_cut = 8; }
static void setup_cut_line(const char *chk) { patch_with(chk, cut_line); }
static void setup_oversized(const char *chk) {
  patch_with(chk, NULL);
  set_size(chk, "control.bin", CONTROL_MAX + 1);
}
static void setup_zero(const char *chk) {
  patch_with(chk, NULL);
  set_size(chk, "control.bin", 0);
  if (truncate(cat(chk, "control.bin"), 0) != 0) {
    host_die("control.bin");
  }
}
static void version3(patch_spec *s) { s->version = 3; }
static void setup_version(const char *chk) { patch_with(chk, version3); }
static void bad_meta(patch_spec *s) { s->bad_meta = 1; }
static void setup_meta(const char *chk) { patch_with(chk, bad_meta); }
static void bad_page(patch_spec *s) { s->bad_page = 1; }
static void setup_page_sum(const char *chk) { patch_with(chk, bad_page); }
static void at_total(patch_spec *s) { s->pages[3] = s->total; }
static void setup_at_total(const char *chk) { patch_with(chk, at_total); }
static void beyond_loom(patch_spec *s) {
  s->total = LOOM_PAGES + 904;
  s->pages[3] = LOOM_PAGES + 500;
}
static void setup_beyond_loom(const char *chk) { patch_with(chk, beyond_loom); }
static void duplicate(patch_spec *s) { s->pages[2] = s->pages[1]; }
static void setup_duplicate(const char *chk) { patch_with(chk, duplicate); }
static void unsorted(patch_spec *s) {
  s->pages[1] = 6;
  s->pages[2] = 4;
}
static void setup_unsorted(const char *chk) { patch_with(chk, unsorted); }
static void fewer_pages(patch_spec *s) { s->memory_pages = 3; }
static void setup_fewer(const char *chk) { patch_with(chk, fewer_pages); }
static void short_memory(patch_spec *s) { s->memory_delta = -1; }
static void setup_short(const char *chk) { patch_with(chk, short_memory); }
static void long_memory(patch_spec *s) { s->memory_pages = 5; }
static void setup_long(const char *chk) { patch_with(chk, long_memory); }
static void setup_orphan(const char *chk) {
  patch_with(chk, NULL);
  unlink(cat(chk, "control.bin"));
}
static void setup_control_alone(const char *chk) {
  patch_with(chk, NULL);
  unlink(cat(chk, "memory.bin"));
}
static void shrink(patch_spec *s) {
  s->total = 3;
  s->lines = 0;
  s->memory_pages = 0;
}
static void setup_shrink(const char *chk) { patch_with(chk, shrink); }

static const row rows[] = {
    {"valid-patch", "applied: the new heap boots, both patch files are removed", setup_valid, 0, HEAP_NEW, 0, NULL},
    {"empty-patch-shrinks-image", "a valid patch of no pages with a smaller `tot_w`: applied, image.bin truncated to `tot_w` pages", setup_shrink, 0, HEAP_SHRUNK, 0, NULL},
    {"image-odd-size", "boot stops, exit 1: `loom: image corrupt size N`, `boot: image failed (size)`", setup_odd, 1, HEAP_NONE, 0, "boot: image failed (size)"},
    {"image-odd-size-with-patch", "`loom: image corrupt size N`, then the patch is applied and image.bin is cut to exactly `tot_w` pages; the new heap boots", setup_odd_patch, 0, HEAP_NEW, 0, "loom: image corrupt size 98305"},
    {"image-larger-than-loom", "boot stops, exit 1: `boot: snapshot too big for loom`", setup_too_big, 1, HEAP_NONE, 0, "boot: snapshot too big for loom"},
    {"control-truncated-head", "discarded (`patch control.bin truncated`), the old heap boots", setup_cut_head, 0, HEAP_OLD, 0, "patch control.bin truncated: 12 bytes"},
    {"control-truncated-lines", "discarded (`control.bin has N bytes, P pages need M`), the old heap boots", setup_cut_line, 0, HEAP_OLD, 0, "patch control.bin has 40 bytes, 4 pages need 48"},
    {"control-oversized", "discarded unread (`too long for any loom`), the old heap boots", setup_oversized, 0, HEAP_OLD, 0, "too long for any loom"},
    {"control-zero-length", "discarded (`patch control.bin is empty`), the old heap boots", setup_zero, 0, HEAP_OLD, 0, "patch control.bin is empty"},
    {"control-wrong-version", "discarded (`patch version mismatch`), the old heap boots", setup_version, 0, HEAP_OLD, 0, "patch version mismatch: have 3, need 2"},
    {"control-bad-checksum", "discarded (`patch meta checksum fail`), the old heap boots", setup_meta, 0, HEAP_OLD, 0, "patch meta checksum fail"},
    {"page-bad-checksum", "discarded (`patch page (P) checksum fail`), nothing applied, the old heap boots", setup_page_sum, 0, HEAP_OLD, 0, "patch page (6) checksum fail"},
    {"page-at-or-beyond-tot", "discarded (`patch page P is beyond the image's N pages`), the old heap boots", setup_at_total, 0, HEAP_OLD, 0, "is beyond the image's 8 pages"},
    {"page-beyond-loom", "a valid patch for a larger loom: boot stops, exit 1 (`boot: snapshot too big for loom`), the patch and the image are kept", setup_beyond_loom, 1, HEAP_OLD, 1, "boot: snapshot too big for loom"},
    {"page-duplicate", "discarded (`not ascending`), the old heap boots", setup_duplicate, 0, HEAP_OLD, 0, "not ascending"},
    {"page-unsorted", "discarded (`not ascending`), the old heap boots", setup_unsorted, 0, HEAP_OLD, 0, "not ascending"},
    {"pgs-more-than-memory", "discarded (`memory.bin has N bytes, control.bin needs M`), the old heap boots", setup_fewer, 0, HEAP_OLD, 0, "patch memory.bin has 49152 bytes, control.bin needs 65536"},
    {"memory-short", "discarded (`memory.bin has N bytes`), the old heap boots", setup_short, 0, HEAP_OLD, 0, "patch memory.bin has 65535 bytes"},
    {"memory-long", "discarded (`memory.bin has N bytes`), the old heap boots", setup_long, 0, HEAP_OLD, 0, "patch memory.bin has 81920 bytes"},
    {"orphan-memory", "removed (`loom: removing orphan memory.bin`), the old heap boots", setup_orphan, 0, HEAP_OLD, 0, "loom: removing orphan memory.bin"},
    {"control-alone", "removed (`loom: failed to remove memory.bin: No such file or directory`, the reference's words), the old heap boots", setup_control_alone, 0, HEAP_OLD, 0, "loom: failed to remove memory.bin: No such file or directory"},
    {"no-patch", "the old heap boots, nothing printed", setup_nothing, 0, HEAP_OLD, 0, NULL},
};

/* ---- running a row ------------------------------------------------------------------------- */

typedef struct {
  char pier[9000];
  heap want;
  long long image_bytes;   /* image.bin's length after boot; -1: not checked */
  int check_image;         /* compare image.bin's pages too */
  int as_nobody;           /* drop root first (setuid 65534) */
  int then_save;           /* save one change; it must be refused */
  int write_heap;          /* write WANT into a new pier and save it */
  int make_dirs;
} boot_job;

#define NOBODY 65534
#define CANNOT_DROP 42

static int child_boot_check(void *arg) {
  const boot_job *b = arg;
  if (b->as_nobody && geteuid() == 0) {
    if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
      return CANNOT_DROP;
    }
  }
  host_start();
  host_pier((char *)b->pier, b->make_dirs);
  host_boot();
  char image[9100];
  fmt(image, sizeof image, "%s/.urb/chk/image.bin", b->pier);
  char why[512];
  if (b->write_heap) {
    heap h;
    memset(&h, 0, sizeof h);
    heap_resize(&h, b->want.pages, b->want.seed[0]);
    host_save(h.pages);
    return image_matches(image, &b->want, why, sizeof why) ? 0 : EXIT_MISMATCH;
  }
  if (!loom_matches(&b->want, 2, why, sizeof why)) {
    dprintf(STDERR_FILENO, "check: %s\n", why);
    return EXIT_MISMATCH;
  }
  if (b->image_bytes >= 0 && file_size(image) != b->image_bytes) {
    dprintf(STDERR_FILENO, "check: image.bin has %lld bytes, want %lld\n", file_size(image), b->image_bytes);
    return EXIT_MISMATCH;
  }
  if (b->check_image && !image_matches(image, &b->want, why, sizeof why)) {
    dprintf(STDERR_FILENO, "check: %s\n", why);
    return EXIT_MISMATCH;
  }
  if (b->then_save) {
    heap h = b->want;
    host_heap(h.pages);
    heap_write(&h, 0, 73);
    host_save(h.pages);
    if (!image_matches(image, &b->want, why, sizeof why)) {
      dprintf(STDERR_FILENO, "check: a refused save changed image.bin: %s\n", why);
      return EXIT_MISMATCH;
    }
  }
  return 0;
}

/* A pier at RUN/pier holding the old image. */
static void old_pier(const char *run) {
  heap h = old_heap();
  rt_mkdirs(cat(run, "pier"));
  image_write(cat(run, "pier/.urb/chk/image.bin"), &h);
}

static void run_row(const row *r) {
  char *run = fresh_dir("bad");
  old_pier(run);
  char chk[4200];
  fmt(chk, sizeof chk, "%s/pier/.urb/chk", run);
  r->setup(chk);
  static boot_job b;
  memset(&b, 0, sizeof b);
  fmt(b.pier, sizeof b.pier, "%s/pier", run);
  heap shrunk = old_heap();
  shrunk.pages = 3;
  b.want = r->heap == HEAP_NEW ? new_heap() : r->heap == HEAP_SHRUNK ? shrunk : old_heap();
  b.image_bytes = (long long)(b.want.pages * PAGE_BYTES);
  b.check_image = 1;
  heap before = old_heap();
  outcome o = run_child(child_boot_check, &b, NULL);
  const char *problem = NULL;
  int control = exists(cat(chk, "control.bin"));
  int memory = exists(cat(chk, "memory.bin"));
  char why[512] = "";
  if (!o.exited || o.code != r->exit_code) {
    problem = r->exit_code == 0 ? "the boot did not end as it should" : "the boot was not refused with exit 1";
  } else if (r->says != NULL && strstr(o.err, r->says) == NULL) {
    problem = "stderr does not say so";
  } else if (r->says == NULL && r->exit_code == 0 && count_lines(&o, "loom: ") != 0) {
    problem = "a loom: line was printed for input the boot handles silently";
  } else if (r->patch_after == 0 && (control || memory)) {
    problem = "a patch file is left";
  } else if (r->patch_after == 1 && !(control && memory)) {
    problem = "the patch was not kept";
  } else if (r->exit_code != 0 && r->heap == HEAP_OLD &&
             !image_matches(cat(chk, "image.bin"), &before, why, sizeof why)) {
    problem = "the refused boot changed image.bin";
  }
  if (problem == NULL) {
    pass("badinput/%s", r->name);
  } else {
    char detail[9000];
    fmt(detail, sizeof detail, "%s %s\n%s", problem, why, describe(&o));
    fail(detail, "badinput/%s", r->name);
  }
  remove_tree(run);
  free(run);
}

/* ---- rows that need more than a damaged file ------------------------------------------------ */

static void row_result(const char *name, const char *problem, const outcome *o) {
  if (problem == NULL) {
    pass("badinput/%s", name);
  } else {
    char detail[9000];
    fmt(detail, sizeof detail, "%s\n%s", problem, o != NULL ? describe(o) : "");
    fail(detail, "badinput/%s", name);
  }
}

static void row_largest_image(void) {
  char *run = fresh_dir("bad");
  old_pier(run);
  char chk[4200];
  fmt(chk, sizeof chk, "%s/pier/.urb/chk", run);
  set_size(chk, "image.bin", (unsigned long long)(LOOM_PAGES - 2) * PAGE_BYTES);
  static boot_job b;
  memset(&b, 0, sizeof b);
  fmt(b.pier, sizeof b.pier, "%s/pier", run);
  b.want = old_heap();
  b.image_bytes = (long long)(LOOM_PAGES - 2) * (long long)PAGE_BYTES;
  outcome o = run_child(child_boot_check, &b, NULL);
  row_result("image-largest-that-fits", o.exited && o.code == 0 ? NULL : "the boot failed", &o);
  remove_tree(run);
  free(run);
}

static void row_chk_missing(void) {
  char *run = fresh_dir("bad");
  mkdir(cat(run, "pier"), 0700);
  static boot_job b;
  memset(&b, 0, sizeof b);
  fmt(b.pier, sizeof b.pier, "%s/pier", run);
  outcome o = run_child(child_boot_check, &b, NULL);
  const char *problem = NULL;
  if (!o.exited || o.code != 1) {
    problem = "the boot was not refused with exit 1";
  } else if (strstr(o.err, "boot: image failed") == NULL || strstr(o.err, "No such file or directory") == NULL) {
    problem = "stderr does not say why";
  } else if (exists(cat(run, "pier/.urb"))) {
    problem = "the boot made directories";
  }
  row_result("chk-missing", problem, &o);
  remove_tree(run);
  free(run);
}

/* Makes the directories of PATH below BASE (which exists), one level at a
 * time through descriptors, so that PATH may be longer than PATH_MAX. */
static void make_deep(const char *base, const char *below) {
  int fd = open(base, O_RDONLY | O_DIRECTORY);
  char part[256];
  const char *at = below;
  while (fd >= 0 && *at != '\0') {
    const char *slash = strchr(at, '/');
    size_t n = slash != NULL ? (size_t)(slash - at) : strlen(at);
    fmt(part, sizeof part, "%.*s", (int)n, at);
    if (mkdirat(fd, part, 0700) != 0 && errno != EEXIST) {
      host_die(part);
    }
    int next = openat(fd, part, O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = next;
    at += n + (slash != NULL ? 1 : 0);
  }
  if (fd < 0) {
    host_die(base);
  }
  close(fd);
}

/* A pier path of about LENGTH bytes: components of 200 characters. */
static char *deep_path(const char *run, size_t length, char **below_out) {
  size_t cap = length + 512;
  char *below = calloc(1, cap);
  if (below == NULL) {
    host_die("calloc");
  }
  size_t len = 0;
  while (strlen(run) + 1 + len < length) {
    if (len > 0) {
      below[len++] = '/';
    }
    size_t take = length - strlen(run) - len;
    take = take > 200 ? 200 : take < 1 ? 1 : take;
    memset(below + len, 'd', take);
    len += take;
  }
  below[len] = '\0';
  char *full = malloc(strlen(run) + len + 2);
  if (full == NULL) {
    host_die("malloc");
  }
  sprintf(full, "%s/%s", run, below);
  *below_out = below;
  return full;
}

static void row_long_path(size_t length, const char *name) {
  char *run = fresh_dir("bad");
  char *below;
  char *pier = deep_path(run, length, &below);
  char tail[9300];
  fmt(tail, sizeof tail, "%s/.urb/chk", below);
  make_deep(run, tail);
  static boot_job b;
  memset(&b, 0, sizeof b);
  fmt(b.pier, sizeof b.pier, "%s", pier);
  const char *problem = NULL;
  outcome o;
  if (length < 4000) {
    /* Under PATH_MAX: a pier like any other, saved and booted again. */
    b.want = old_heap();
    b.write_heap = 1;
    b.image_bytes = -1;
    o = run_child(child_boot_check, &b, NULL);
    if (!o.exited || o.code != 0) {
      problem = "the first boot and save failed";
    } else {
      b.write_heap = 0;
      b.check_image = 1;
      b.image_bytes = (long long)(b.want.pages * PAGE_BYTES);
      o = run_child(child_boot_check, &b, NULL);
      if (!o.exited || o.code != 0) {
        problem = "the boot after the save failed";
      }
    }
  } else {
    o = run_child(child_boot_check, &b, NULL);
    char want[9200];
    /* In the C library's words, as the runtime prints them (musl: "Filename too long"). */
    fmt(want, sizeof want, "loom: c3_open %s/.urb/chk/image.bin: %s", pier, strerror(ENAMETOOLONG));
    if (!o.exited || o.code != 1) {
      problem = "the boot was not refused with exit 1";
    } else if (strstr(o.err, want) == NULL) {
      problem = "no `loom: c3_open <the whole path>: File name too long` line";
    }
  }
  row_result(name, problem, &o);
  free(pier);
  free(below);
  remove_tree(run);
  free(run);
}

static int chown_tree(const char *path) {
  if (chown(path, NOBODY, NOBODY) != 0) {
    return -1;
  }
  const char *subs[] = {"pier", "pier/.urb", "pier/.urb/chk", "pier/.urb/chk/image.bin"};
  for (int i = 0; i < 4; i++) {
    if (chown(cat(path, subs[i]), NOBODY, NOBODY) != 0) {
      return -1;
    }
  }
  return 0;
}

static void row_permissions(int readable) {
  const char *name = readable ? "read-only-directory" : "unreadable-directory";
  char *run = fresh_dir("bad");
  old_pier(run);
  char chk[4200];
  fmt(chk, sizeof chk, "%s/pier/.urb/chk", run);
  /* Root passes every permission check: the boot runs as nobody. */
  if (geteuid() == 0 && (chmod(work_root(), 0711) != 0 || chown_tree(run) != 0)) {
    skip("cannot hand the pier to uid 65534", "badinput/%s", name);
    remove_tree(run);
    free(run);
    return;
  }
  chmod(chk, readable ? 0500 : 0000);
  static boot_job b;
  memset(&b, 0, sizeof b);
  fmt(b.pier, sizeof b.pier, "%s/pier", run);
  b.as_nobody = 1;
  b.want = old_heap();
  b.image_bytes = -1;
  b.then_save = readable;
  const char *env[] = {"LOOMS_TRACKING=mprotect", NULL};
  outcome o = run_child(child_boot_check, &b, env);
  const char *problem = NULL;
  if (o.exited && o.code == CANNOT_DROP) {
    skip("root bypasses permissions and setuid(65534) failed", "badinput/%s", name);
  } else {
    char want[4400];
    if (readable) {
      fmt(want, sizeof want, "loom: save: open %s/control.bin: Permission denied; previous snapshot kept, will retry", chk);
      if (!o.exited || o.code != 0) {
        problem = "the boot failed, or the refused save changed the pier";
      } else if (strstr(o.err, want) == NULL || count_lines(&o, "loom: ") != 1) {
        problem = "no single line saying the save could not create control.bin";
      }
    } else {
      fmt(want, sizeof want, "loom: c3_open %s/image.bin: Permission denied", chk);
      if (!o.exited || o.code != 1) {
        problem = "the boot was not refused with exit 1";
      } else if (strstr(o.err, want) == NULL) {
        problem = "no `loom: c3_open ...: Permission denied` line";
      }
    }
    heap h = old_heap();
    char why[512];
    chmod(chk, 0700);
    if (problem == NULL && !image_matches(cat(chk, "image.bin"), &h, why, sizeof why)) {
      problem = "image.bin changed";
    }
    if (problem == NULL && (exists(cat(chk, "control.bin")) || exists(cat(chk, "memory.bin")))) {
      problem = "a patch file was made";
    }
    row_result(name, problem, &o);
  }
  remove_tree(run);
  free(run);
}

/* ---- checksum vectors and the table ------------------------------------------------------------ */

static void checksum_vectors(void) {
  static uint8_t zero[16384];
  uint32_t empty = rt_murmur3("", 0, RT_SEED);
  uint32_t hello = rt_murmur3("hello", 5, RT_SEED);
  uint32_t page = rt_murmur3(zero, sizeof zero, RT_SEED);
  if (empty == 0x79ff04e8u && hello == 0xe15a67a3u && page == 0xf9b4b0e0u) {
    pass("badinput/murmur3-vectors");
  } else {
    char detail[200];
    fmt(detail, sizeof detail, "empty %08x, hello %08x, zero page %08x", empty, hello, page);
    fail(detail, "badinput/murmur3-vectors");
  }
}

static const struct {
  const char *name;
  const char *outcome;
} special_rows[] = {
    {"image-largest-that-fits", "an image of (loom pages - 2) pages boots"},
    {"chk-missing", "boot stops, exit 1: `loom: c3_open …: No such file or directory`, `boot: image failed`; nothing is created"},
    {"pier-path-3990-bytes", "a pier path near PATH_MAX (4096) works like any other"},
    {"pier-path-over-8192-bytes", "boot stops, exit 1: `loom: c3_open <the whole path>: File name too long` (the kernel's limit; the path is never cut)"},
    {"unreadable-directory", "(as uid 65534) boot stops, exit 1: `loom: c3_open …: Permission denied`"},
    {"read-only-directory", "(as uid 65534) boot works; a save prints `loom: save: open …/control.bin: Permission denied; previous snapshot kept, will retry` and changes nothing"},
};

/* Rows whose tests scripts/suites/22-hostile.sh runs (`PASS: hostile/<row>`),
 * in every mode it says; that suite checks each has its row here. */
static const struct {
  const char *name;
  const char *outcome;
} hostile_rows[] = {
    {"hostile/thread-refused", "no thread can be created (`pthread_create` fails, as under a pids limit), `RUST_BACKTRACE=1`: the save hashes on the runtime's thread and completes"},
    {"hostile/map-limit-save", "at `vm.max_map_count`: first stores widen, the save gets no thread and hashes on its own, the image holds every page (swap mode: past the limit, where `mmap` refuses everything, a mapping set aside at boot is given up so that the widened run is remapped in one step)"},
    {"hostile/map-limit-guard", "at `vm.max_map_count` the heap runs into the guard: the old guard is released first (or a run around the new place merged), the guard moves, the store lands and is saved"},
    {"hostile/backup-onto-itself", "`u3e_backup(chk, chk, c3y)` on a running pier: a no-op that succeeds; later saves reach the image"},
    {"hostile/backup-into-own-pier", "a running process restores an epoch into its own `.urb/chk`: refused (`loom: image backup: DIR is the snapshot of a running pier; nothing copied`), `c3n`"},
    {"hostile/backup-into-other-pier", "another process restores an epoch into a running pier's `.urb/chk`: refused as above; the running pier's next save is kept"},
    {"hostile/stop-twice", "a second `u3e_stop` closes nothing: descriptors the runtime opened since the first stay open"},
    {"hostile/image-fifo", "boot stops, exit 1, at once: `loom: c3_open …/image.bin: is a FIFO, not a regular file`, `boot: image failed`; `looms info`, `verify`, `recover` answer at once"},
    {"hostile/image-socket", "as `image-fifo`: `… is a socket, not a regular file`"},
    {"hostile/image-directory", "as `image-fifo`: `… Is a directory`"},
    {"hostile/control-fifo", "a patch nothing wrote: discarded (`loom: patch control.bin: is a FIFO, not a regular file`), the old heap boots; `looms` answers at once"},
    {"hostile/control-socket", "as `control-fifo`, a socket"},
    {"hostile/control-directory", "as `control-fifo`, an empty directory (removed)"},
    {"hostile/memory-fifo", "beside a valid control.bin: discarded (`loom: patch memory.bin: is a FIFO, not a regular file`), the old heap boots"},
    {"hostile/memory-socket", "as `memory-fifo`, a socket"},
    {"hostile/memory-directory", "as `memory-fifo`, an empty directory (removed)"},
    {"hostile/swap-file-fifo", "swap mode: boot stops, exit 1: `loom: ephemeral c3_open …/limbo.bin: is a FIFO, not a regular file`"},
    {"hostile/swap-file-socket", "as `swap-file-fifo`, a socket"},
    {"hostile/swap-file-directory", "as `swap-file-fifo`, a directory"},
    {"hostile/backup-files-fifo", "a FIFO as the backup's source image: `c3n` at once, with the reason; under `image.bin.tmp`: replaced; as the destination image: replaced by the copy"},
    {"hostile/backup-files-socket", "as `backup-files-fifo`, a socket"},
    {"hostile/backup-files-directory", "as `backup-files-fifo`, a directory; as the destination image it refuses the copy (`loom: image backup failed`), no temporary left"},
    {"hostile/backup-destination-at-path-max", "`DST/image.bin` fits in PATH_MAX, `DST/image.bin.tmp` does not: the backup works (names are used relative to DST)"},
    {"hostile/soft-save-then-backup", "a save writes nothing (no space), then `u3e_backup(chk, epoch, c3y)` as vere rolls an epoch: the save is retried, still fails: `loom: image backup: the last save to DIR did not complete; not copying an older snapshot`, `c3n`, no image in the epoch"},
    {"hostile/soft-save-then-backup-transient", "as above, but the space is back: the backup completes the save first; a pier booted from the epoch holds the saved state"},
    {"hostile/full-disk-sparse-image", "(not swap mode; root, a 16 MiB ext4 on a loop device) room for the patch but not for the image's holes: nothing written, `… No space left on device; previous snapshot kept, will retry`; with room again the pages are saved"},
    {"hostile/reserved-blocks-as-root", "(not swap mode) ext4 with reserved blocks, nothing free to users: root saves; uid 65534 gets `loom: save: need N MiB in DIR, 0 MiB free`"},
    {"hostile/reserved-blocks-owner", "(once; root, a 64 MiB ext4 mounted `resuid=65534`, nothing free to users) root without `CAP_SYS_RESOURCE` is refused before anything is written: `loom: save: need N MiB in DIR, M MiB free; nothing written`, and `looms info` counts only the blocks free to users; with the capability it counts the reserved ones too, less ext4's `reserved_clusters`; uid 65534, the reserved user, saves"},
    {"hostile/non-utf8-pier-path", "`loom:` lines print a pier path's bytes as they are, not U+FFFD"},
    {"hostile/non-utf8-tracking", "a `LOOMS_TRACKING` that is not UTF-8 is an unknown value: said (its bytes as they are), `auto` used"},
    {"hostile/null-pier-directory", "`u3e_live(c3n, NULL)` boots the relative pier `(null)`, as events.c's `%s` did"},
    {"hostile/wait-other-thread", "(sync and background saves) another thread calls `looms_save_wait` without pause while the runtime stores into the pages it just saved: it only waits; no store is lost from memory, and the image holds the last stores once the runtime's own barrier has run"},
    {"hostile/backup-other-thread", "as `wait-other-thread`, the other thread calls `u3e_backup` of the pier: it copies once the worker is done and never finishes the save (only the runtime's thread does); a save that meets it inside the library is refused with a line, and the next one writes its pages"},
    {"hostile/open-any-other-thread", "as `wait-other-thread`, the other thread calls `u3e_image_open_any` on the pier's image: it waits for the worker and finishes nothing"},
    {"hostile/fork-exit", "(sync and background) `fork()` right after a save, the child calls `exit()`: it exits 0 at once (no panic, no wait for the parent's worker); the parent's save and the next are whole"},
    {"hostile/fork-_exit", "as `fork-exit`, the child calls `_exit()`"},
    {"hostile/fork-save", "as `fork-exit`, the child stores and calls `u3e_save`: `loom: save: process N is a fork of process M, which runs DIR; nothing written`; its `looms_save_wait` returns -1; the pier is untouched"},
    {"hostile/fork-wait", "as `fork-exit`, the child calls `looms_save_wait`: it returns at once (-1 when the parent's save was still pending, its worker being the parent's)"},
    {"hostile/fork-stop", "as `fork-exit`, the child calls `u3e_stop`: its own descriptors closed, the parent's swap file kept"},
    {"hostile/fork-live", "as `fork-exit`, the child calls `u3e_live` on another pier: it boots (the earlier image's pages made fresh), saves and exits 0"},
    {"hostile/fork-backup", "as `fork-exit`, the child calls `u3e_backup` of the parent's pier: refused (`c3n`): the pier is the parent's, running"},
    {"hostile/fork-stores-private", "(sync and background saves; also swap mode asked for `uffd`, and swap with no_demand; piers on `/dev/shm`) the parent's save held before it reads a page (its worker waits in `statvfs`), stores to half the heap after it (in swap mode: pages of `limbo.bin`, writable), to a free page and to a stack page, then `fork()`; the child stores to every heap page, the free and the stack page (in turn: at once; after `u3e_yolo`; after its refused `u3e_save`): the parent's loom is unchanged, its pier holds the same files with `limbo.bin` the same inode, the held save writes the parent's pages, and so does the next"},
    {"hostile/fork-other-pier", "as `fork-stores-private`, the child boots another pier, stores and saves it (`u3e_live`, `u3e_save`, `looms_save_wait`), in the orders: live; live, stop; stop, live; stop, live, stop, live; save, stop, live, save; live, stop, store: each of its saves is in its own pier, and the parent's loom, pier, `limbo.bin` and saves are as in `fork-stores-private`"},
    {"hostile/fork-after-stop", "(sync and background) the parent stores to half the heap, a free and a stack page, calls `u3e_stop` and forks; the child stores to every page: the loom the parent keeps is unchanged, and the pier boots again with the parent's last save"},
    {"hostile/signal-save", "(sync and background) a 200 µs timer whose handler calls `u3e_save` or `looms_save_wait` while the runtime's thread is inside them: a re-entered save says `loom: save: called from inside another snapshot call on the same thread (a signal handler?); nothing written, will retry`, a re-entered wait only waits; the library's threads block the timer's signal; never a hang; the last stores are saved"},
    {"hostile/lock-refused-at-once", "a second process booting a running pier, or backing up onto it, is refused in under 100 ms (the fastest of three tries); the running pier's save is kept"},
    {"hostile/lock-unopenable", "`.urb/chk` of mode 0300 (not root): boot stops, exit 1: `loom: lock DIR: Permission denied; the pier cannot be guarded against a second process`, `boot: image failed`"},
    {"hostile/lock-after-fork", "a child forked without exec outlives its parent: the pier boots in another process meanwhile (the child holds no lock), and the child's save wrote nothing"},
    {"hostile/stop-before-live", "`u3e_stop` before any `u3e_live` closes no descriptor (events.c closed descriptor 0); the pier boots and saves after it"},
    {"hostile/no-fallocate", "`fallocate` unsupported (a shim; as root also a 16 MiB ext2 on a loop device, not swap mode): the holes a save fills are counted before its patch is written: room for the patch but not the holes gives `loom: save: need N MiB in DIR, M MiB free; nothing written`; with room the pages are saved"},
    {"hostile/no-block-counts", "`statvfs` reports zero blocks (a shim; as root also ramfs, not swap mode): free space is unknown, not zero; saves complete"},
    {"hostile/auto-background", "(default mode, `LOOMS_TRACKING=auto`, background saves) the first save moves tracking to userfaultfd: `loom: tracking: uffd from the first save on`; stores after it raise no signal"},
    {"hostile/swap-full-disk", "(swap mode) no room for `limbo.bin` (a shim failing `fallocate` with ENOSPC; as root also a 16 MiB ext4): boot stops, exit 1: `loom: ephemeral fallocate …/limbo.bin: No space left on device`, `boot: failed to load ephemeral file`; with room, every block of `limbo.bin` is allocated at boot"},
    {"hostile/torn-backup", "(once) a valid patch pending over a half-written image: `looms backup` and `u3e_backup` copy the image with the patch applied (byte-identical to what boot makes); the source is left as it was"},
    {"hostile/huge-image", "(once) an 8 TiB sparse `image.bin`: `looms info`, `verify`, `recover`, `backup` and `diff` (either side) answer at once that it is too big for any loom"},
};

static int write_markdown(const char *file) {
  FILE *f = fopen(file, "w");
  if (f == NULL) {
    return -1;
  }
  fprintf(f, "<!-- bad-input table: generated by `crashtest badinput=FILE` "
             "(c-tests/crash/badinput.c); the crash suite checks that it is current. -->\n");
  fprintf(f, "Each row is one test (`PASS: badinput/<row>`; rows named `hostile/…` are "
             "`scripts/suites/22-hostile.sh`'s, run in default, no_demand and swap modes with "
             "each tracking backend unless the row says otherwise), run on a 64 MiB loom (4096 "
             "pages). The pier holds an image of 6 pages; the patch, when there is one, "
             "rewrites pages 1, 4, 6 and 7 and makes the image 8 pages long. \"The old heap "
             "boots\": the loom and image.bin hold exactly the 6 old pages and no patch file "
             "is left.\n\n");
  fprintf(f, "| bad input | outcome |\n| --- | --- |\n");
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    fprintf(f, "| `%s` | %s |\n", rows[i].name, rows[i].outcome);
  }
  for (size_t i = 0; i < sizeof special_rows / sizeof special_rows[0]; i++) {
    fprintf(f, "| `%s` | %s |\n", special_rows[i].name, special_rows[i].outcome);
  }
  for (size_t i = 0; i < sizeof hostile_rows / sizeof hostile_rows[0]; i++) {
    fprintf(f, "| `%s` | %s |\n", hostile_rows[i].name, hostile_rows[i].outcome);
  }
  fprintf(f, "\n");
  return fclose(f);
}

int test_badinput(const char *markdown) {
  checksum_vectors();
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    run_row(&rows[i]);
  }
  row_largest_image();
  row_chk_missing();
  row_long_path(3990, "pier-path-3990-bytes");
  row_long_path(8300, "pier-path-over-8192-bytes");
  row_permissions(0);
  row_permissions(1);
  if (markdown != NULL && write_markdown(markdown) != 0) {
    fail(markdown, "badinput/table-written");
  }
  return 0;
}
