/* The crash tests' host on the stand-in runtime (c-tests/common), and the
 * functions every test group shares; see crash.h. */
#define _GNU_SOURCE
#include "crash.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the host ---------------------------------------------------------------------- */

static uint32_t start_flags;

void host_default_flags(uint32_t wag_w) {
  start_flags = wag_w;
}

/* Quiet: a child's stderr holds the library's own lines only, which the
 * tests count. A bail exits EXIT_BAIL; a fault the library did not handle
 * kills the child with SIGSEGV, as it would kill the runtime. */
void host_start(void) {
  rt_setup setup = {
      .name = "host",
      .words = LOOM_WORDS,
      .flags = start_flags,
      .quiet = true,
      .bail_exit = EXIT_BAIL,
  };
  rt_start(&setup);
}

void host_pier(char *dir, int make_dirs) {
  if (make_dirs) {
    rt_mkdirs(dir);
  }
  /* The library keeps the pointer: give it a copy of its own. */
  u3o_Config.dir_c = strdup(dir);
  if (u3o_Config.dir_c == NULL) {
    host_die("strdup");
  }
}

void host_flags(uint32_t wag_w) {
  u3o_Config.wag_w = wag_w;
}

uint32_t host_current_flags(void) {
  return u3o_Config.wag_w;
}

c3_o host_boot(void) {
  rt_road(0, 1);
  return u3e_live(c3n, u3o_Config.dir_c);
}

void host_heap(uint32_t pages) {
  rt_road(pages, 1);
  u3e_ward(rt_low(), rt_high());
}

void host_save(uint32_t pages) {
  host_heap(pages);
  u3e_save(rt_low(), rt_high());
}

/* ---- the interposer's controls --------------------------------------------------------- */

static int (*arm_fn)(void);
static void (*disarm_fn)(void);
static long (*calls_fn)(void);

#ifdef CRASHIO_STATIC
/* Linked in (a static program: crashio.c with --wrap). */
int crashio_arm(void);
void crashio_disarm(void);
long crashio_calls(void);

int crashio_loaded(void) {
  arm_fn = crashio_arm;
  disarm_fn = crashio_disarm;
  calls_fn = crashio_calls;
  return 1;
}
#else
int crashio_loaded(void) {
  *(void **)&arm_fn = dlsym(RTLD_DEFAULT, "crashio_arm");
  *(void **)&disarm_fn = dlsym(RTLD_DEFAULT, "crashio_disarm");
  *(void **)&calls_fn = dlsym(RTLD_DEFAULT, "crashio_calls");
  return arm_fn != NULL && disarm_fn != NULL && calls_fn != NULL;
}
#endif

void arm(void) {
  if (arm_fn == NULL || arm_fn() != 0) {
    dprintf(STDERR_FILENO, "host: the interposer cannot be armed\n");
    _exit(EXIT_HOSTFAIL);
  }
}

void disarm(void) {
  if (disarm_fn != NULL) {
    disarm_fn();
  }
}

long armed_calls(void) {
  return calls_fn != NULL ? calls_fn() : -1;
}

/* ---- loom contents ---------------------------------------------------------------------- */

void heap_write(heap *h, uint32_t page, uint32_t seed) {
  if (page >= h->pages) {
    dprintf(STDERR_FILENO, "host: page %u above the heap's %u\n", page, h->pages);
    _exit(EXIT_HOSTFAIL);
  }
  rt_fill(seed, page, rt_page(page));
  h->seed[page] = seed;
}

void heap_resize(heap *h, uint32_t pages, uint32_t seed) {
  uint32_t old = h->pages;
  if (pages > MAX_HEAP) {
    dprintf(STDERR_FILENO, "host: heap of %u pages\n", pages);
    _exit(EXIT_HOSTFAIL);
  }
  h->pages = pages;
  host_heap(pages);
  for (uint32_t page = old; page < pages; page++) {
    heap_write(h, page, seed);
  }
}

int loom_matches(const heap *h, uint32_t check_above, char *why, size_t why_len) {
  if (u3o_Config.wag_w & RT_SWAP) {
    /* Swap mode: above the image the loom maps the ephemeral file, which
     * keeps whatever the last process left there. */
    check_above = 0;
  }
  for (uint32_t page = 0; page < h->pages + check_above && page < LOOM_PAGES - 1; page++) {
    uint32_t seed = page < h->pages ? h->seed[page] : 0;
    const uint32_t *words = rt_page(page);
    long i = rt_mismatch(seed, page, words);
    if (i >= 0) {
      fmt(why, why_len, "loom page %u word %ld is %08x, want %08x (seed %u)", page, i, words[i],
          rt_pattern(seed, page, (uint32_t)i), seed);
      return 0;
    }
  }
  return 1;
}

int image_matches(const char *file, const heap *h, char *why, size_t why_len) {
  int fd = open(file, O_RDONLY);
  if (fd < 0) {
    fmt(why, why_len, "open %s: %s", file, strerror(errno));
    return 0;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || (size_t)st.st_size != h->pages * PAGE_BYTES) {
    fmt(why, why_len, "%s has %lld bytes, want %zu", file, (long long)st.st_size,
        h->pages * PAGE_BYTES);
    close(fd);
    return 0;
  }
  static uint32_t words[PAGE_WORDS];
  for (uint32_t page = 0; page < h->pages; page++) {
    if (!rt_read_page(fd, page, words)) {
      fmt(why, why_len, "%s: short read at page %u", file, page);
      close(fd);
      return 0;
    }
    long i = rt_mismatch(h->seed[page], page, words);
    if (i >= 0) {
      fmt(why, why_len, "%s page %u word %ld differs (want seed %u)", file, page, i,
          h->seed[page]);
      close(fd);
      return 0;
    }
  }
  close(fd);
  return 1;
}

void image_write(const char *file, const heap *h) {
  int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    host_die(file);
  }
  static uint32_t words[PAGE_WORDS];
  for (uint32_t page = 0; page < h->pages; page++) {
    rt_fill(h->seed[page], page, words);
    if (pwrite(fd, words, PAGE_BYTES, (off_t)(page * PAGE_BYTES)) != (ssize_t)PAGE_BYTES) {
      host_die(file);
    }
  }
  close(fd);
}

/* ---- child processes ---------------------------------------------------------------------- */

int scratch_fd(const char *name) {
#ifdef __linux__
  int fd = memfd_create(name, 0);
#else
  const char *tmp = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp", name);
  int fd = mkstemp(path);
  if (fd >= 0 && unlink(path) != 0) {
    host_die(path);
  }
#endif
  if (fd < 0) {
    host_die(name);
  }
  return fd;
}

pid_t fork_child(void) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    host_die("fork");
  }
  return pid;
}

outcome run_child(int (*fn)(void *), void *arg, const char *const *env) {
  outcome o;
  memset(&o, 0, sizeof o);
  int err_fd = scratch_fd("child-stderr");
  pid_t pid = fork_child();
  if (pid == 0) {
    dup2(err_fd, STDERR_FILENO);
    close(err_fd);
    for (int i = 0; env != NULL && env[i] != NULL; i++) {
      putenv((char *)env[i]);
    }
    int code = fn(arg);
    fflush(NULL);
    _exit(code);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      host_die("waitpid");
    }
  }
  if (WIFEXITED(status)) {
    o.exited = 1;
    o.code = WEXITSTATUS(status);
  } else {
    o.signal = WIFSIGNALED(status) ? WTERMSIG(status) : -1;
  }
  ssize_t got = pread(err_fd, o.err, sizeof o.err - 1, 0);
  o.err[got > 0 ? got : 0] = '\0';
  close(err_fd);
  return o;
}

const char *describe(const outcome *o) {
  static char text[8400];
  const char *err = o->err[0] != '\0' ? o->err : "(nothing)\n";
  if (o->exited) {
    fmt(text, sizeof text, "exit %d; stderr: %.8000s", o->code, err);
  } else {
    fmt(text, sizeof text, "signal %d; stderr: %.8000s", o->signal, err);
  }
  return text;
}

int count_lines(const outcome *o, const char *prefix) {
  int n = 0;
  size_t len = strlen(prefix);
  const char *line = o->err;
  while (*line != '\0') {
    while (*line == '\r') {
      line++;
    }
    if (strncmp(line, prefix, len) == 0) {
      n++;
    }
    const char *end = strchr(line, '\n');
    if (end == NULL) {
      break;
    }
    line = end + 1;
  }
  return n;
}

/* ---- files ------------------------------------------------------------------------------------- */

static char root_dir[1024] = "/tmp";

void set_work_root(const char *dir) {
  fmt(root_dir, sizeof root_dir, "%s", dir);
}

const char *work_root(void) {
  return root_dir;
}

char *fresh_dir(const char *tag) {
  char *path = malloc(2048);
  if (path == NULL) {
    host_die("malloc");
  }
  fmt(path, 2048, "%s/%s.XXXXXX", root_dir, tag);
  if (mkdtemp(path) == NULL) {
    host_die(path);
  }
  return path;
}

const char *cat(const char *a, const char *b) {
  static char bufs[8][4200];
  static int next;
  char *buf = bufs[next++ % 8];
  fmt(buf, sizeof bufs[0], "%s/%s", a, b);
  return buf;
}

int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

long long file_size(const char *path) { return rt_size(path); }

/* Copies a file; runs of zeros become holes (the ephemeral file of swap
 * mode is as long as the loom and mostly empty). */
static void copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY);
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (in < 0 || out < 0) {
    host_die(from);
  }
  static char buf[1 << 16];
  static const char zeros[1 << 16];
  off_t at = 0;
  ssize_t got;
  while ((got = read(in, buf, sizeof buf)) > 0) {
    if (memcmp(buf, zeros, (size_t)got) != 0 && pwrite(out, buf, (size_t)got, at) != got) {
      host_die(to);
    }
    at += got;
  }
  if (ftruncate(out, at) != 0) {
    host_die(to);
  }
  close(in);
  close(out);
}

void copy_dir(const char *from_path, const char *to_path) {
  /* Own copies: the arguments may be cat() buffers, which cat() reuses. */
  char from[4200];
  char to[4200];
  fmt(from, sizeof from, "%s", from_path);
  fmt(to, sizeof to, "%s", to_path);
  if (mkdir(to, 0700) != 0 && errno != EEXIST) {
    host_die(to);
  }
  DIR *dir = opendir(from);
  if (dir == NULL) {
    host_die(from);
  }
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    char src[4200];
    char dst[4200];
    fmt(src, sizeof src, "%s/%s", from, entry->d_name);
    fmt(dst, sizeof dst, "%s/%s", to, entry->d_name);
    struct stat st;
    if (lstat(src, &st) == 0 && S_ISREG(st.st_mode)) {
      copy_file(src, dst);
    }
  }
  closedir(dir);
}

/* Removes NAME in directory DIRFD and everything under it, through
 * descriptors, so that trees deeper than PATH_MAX go too. */
static void remove_at(int at, const char *name) {
  struct stat st;
  if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    fchmodat(at, name, 0700, 0);
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (dir != NULL) {
      struct dirent *entry;
      while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
          remove_at(dirfd(dir), entry->d_name);
        }
      }
      closedir(dir);
    } else if (fd >= 0) {
      close(fd);
    }
    unlinkat(at, name, AT_REMOVEDIR);
  } else {
    unlinkat(at, name, 0);
  }
}

void remove_tree(const char *path) {
  remove_at(AT_FDCWD, path);
}

int same_file(const char *a, const char *b) {
  if (file_size(a) != file_size(b) || file_size(a) < 0) {
    return 0;
  }
  FILE *fa = fopen(a, "rb");
  FILE *fb = fopen(b, "rb");
  int same = fa != NULL && fb != NULL;
  static char ba[1 << 16];
  static char bb[1 << 16];
  while (same) {
    size_t na = fread(ba, 1, sizeof ba, fa);
    size_t nb = fread(bb, 1, sizeof bb, fb);
    if (na != nb || memcmp(ba, bb, na) != 0) {
      same = 0;
    }
    if (na == 0) {
      break;
    }
  }
  if (fa != NULL) {
    fclose(fa);
  }
  if (fb != NULL) {
    fclose(fb);
  }
  return same;
}

void write_file(const char *path, const void *bytes, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || (len > 0 && write(fd, bytes, len) != (ssize_t)len)) {
    host_die(path);
  }
  close(fd);
}

/* ---- traces ---------------------------------------------------------------------------------- */

int trace_read(const char *file, trace *t) {
  t->n = 0;
  FILE *f = fopen(file, "r");
  if (f == NULL) {
    return -1;
  }
  char line[2048];
  while (fgets(line, sizeof line, f) != NULL && t->n < (int)(sizeof t->calls / sizeof t->calls[0])) {
    call *c = &t->calls[t->n];
    char mark[32] = "";
    int got = sscanf(line, "%ld %15s %511s %lld %lld %511s %31s", &c->k, c->op, c->name,
                     &c->offset, &c->length, c->to, mark);
    if (got < 6) {
      fclose(f);
      return -1;
    }
    c->injected = got == 7;
    t->n++;
  }
  fclose(f);
  return 0;
}

void show_trace(const trace *t) {
  if (getenv("CRASHTEST_TRACES") == NULL) {
    return;
  }
  for (int i = 0; i < t->n; i++) {
    const call *c = &t->calls[i];
    printf("# %ld %s %s %lld %lld %s%s\n", c->k, c->op, c->name, c->offset, c->length, c->to,
           c->injected ? " (injected)" : "");
  }
}

int call_on(const call *c, const char *suffix) {
  size_t n = strlen(c->name);
  size_t s = strlen(suffix);
  return n >= s && strcmp(c->name + n - s, suffix) == 0;
}

int is_write(const call *c) {
  return strcmp(c->op, "write") == 0 || strcmp(c->op, "writev") == 0 ||
         strcmp(c->op, "pwrite") == 0 || strcmp(c->op, "pwritev") == 0 || fills_from_file(c);
}

int fills_from_file(const call *c) {
  return strcmp(c->op, "clone") == 0 || strcmp(c->op, "copy_file_range") == 0;
}

void fmt(char *buf, size_t len, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(buf, len, format, args);
  va_end(args);
}

/* ---- results -------------------------------------------------------------------------------------- */

static int failed;

void pass(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  printf("PASS: ");
  vprintf(fmt, args);
  printf("\n");
  va_end(args);
  fflush(stdout);
}

void fail(const char *detail, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  printf("FAIL: ");
  vprintf(fmt, args);
  printf("\n");
  va_end(args);
  if (detail != NULL && *detail != '\0') {
    const char *line = detail;
    int shown = 0;
    while (*line != '\0' && shown < 30) {
      const char *end = strchr(line, '\n');
      int len = end != NULL ? (int)(end - line) : (int)strlen(line);
      while (len > 0 && line[len - 1] == '\r') {
        len--;
      }
      printf("    %.*s\n", len > 400 ? 400 : len, line);
      shown++;
      if (end == NULL) {
        break;
      }
      line = end + 1;
    }
  }
  failed++;
  fflush(stdout);
}

void skip(const char *why, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  printf("SKIP: ");
  vprintf(fmt, args);
  printf(" (%s)\n", why);
  va_end(args);
  fflush(stdout);
}

int failures(void) {
  return failed;
}
