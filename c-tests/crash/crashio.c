/* crashio: an LD_PRELOAD interposer over the file calls liblooms makes.
 *
 * It counts the mutating calls (open and openat with O_CREAT, write, writev,
 * pwrite, pwritev, fdatasync, fsync, ftruncate, fallocate, unlink and
 * unlinkat, rename and renameat, mkdir, and the calls that fill a file from
 * another: ioctl(FICLONERANGE), traced as "clone" on the destination, and
 * copy_file_range) on paths
 * under a root directory, and on descriptors opened from such paths, while
 * it is armed.
 * Armed, it can
 *   - append one trace line per counted call to a file (record mode),
 *   - raise SIGKILL right before the k-th counted call (kill mode),
 *   - make counted calls k .. k+n-1 fail with an errno, or write only half
 *     of what they were asked to (error mode),
 *   - make statvfs under the root report little free space.
 *
 * Configuration is read from the environment when the interposer is armed:
 *   CRASHIO_ROOT        directory whose paths are watched (required)
 *   CRASHIO_TRACE       file to append trace lines to
 *   CRASHIO_KILL_AT     k: SIGKILL before the k-th counted call
 *   CRASHIO_FAIL_AT     k: first counted call to fail
 *   CRASHIO_FAIL        EINTR | EAGAIN | ENOSPC | EIO | SHORT | DROP (the
 *                       call reports success and does nothing: a lying
 *                       disk, for showing that the tests see the damage)
 *   CRASHIO_FAIL_TIMES  how many consecutive calls fail (default 1)
 *   CRASHIO_FREE        bytes statvfs reports free under the root
 *   CRASHIO_DELAY_US    every counted pwrite/pwritev sleeps this long first
 *                       (a slow disk: a save stays in flight)
 * It is armed at load when CRASHIO_ARM=1, or by a call to crashio_arm()
 * (a host finds it with dlsym), and disarmed by crashio_disarm().
 *
 * A fully static program has no loader to preload it: compiled with
 * -DCRASHIO_STATIC, each call here is __wrap_NAME and reaches the C
 * library's as __real_NAME, for a link with -Wl,--wrap=NAME per call
 * (c-tests/crash/Makefile, STATIC=yes). The *64 names are glibc's and left
 * out there.
 *
 * A trace line is "K OP NAME OFFSET LENGTH TO [!ERR]": NAME and TO are
 * relative to the root, a directory's NAME ends in '/', TO is "-" except
 * for rename, and !ERR marks a call this interposer failed or shortened. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 4096

static int (*real_open)(const char *, int, ...);
#ifndef CRASHIO_STATIC
static int (*real_open64)(const char *, int, ...);
#endif
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
#ifndef CRASHIO_STATIC
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
#endif
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
#ifndef CRASHIO_STATIC
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off_t);
#endif
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int (*real_ftruncate)(int, off_t);
#ifndef CRASHIO_STATIC
static int (*real_ftruncate64)(int, off_t);
#endif
static int (*real_unlink)(const char *);
static int (*real_rename)(const char *, const char *);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_openat)(int, const char *, int, ...);
#ifndef CRASHIO_STATIC
static int (*real_openat64)(int, const char *, int, ...);
#endif
static int (*real_unlinkat)(int, const char *, int);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_fallocate)(int, int, off_t, off_t);
#ifndef CRASHIO_STATIC
static int (*real_fallocate64)(int, int, off_t, off_t);
static int (*real_ioctl)(int, unsigned long, ...);
#endif
/* off_t is 64 bits on every target these tests build for (glibc's
 * prototype says off64_t, musl's off_t: the same type there). */
static ssize_t (*real_copy_file_range)(int, off_t *, int, off_t *, size_t, unsigned int);
static int (*real_statvfs)(const char *, struct statvfs *);
#ifndef CRASHIO_STATIC
static int (*real_statvfs64)(const char *, struct statvfs64 *);
#endif

#ifdef CRASHIO_STATIC
#define INTERPOSE(name) __wrap_##name
#define RESOLVE(name)                                                                              \
  do {                                                                                             \
    if (real_##name == NULL) {                                                                     \
      real_##name = __real_##name;                                                                 \
    }                                                                                              \
  } while (0)
int __real_open(const char *, int, ...);
int __real_close(int);
ssize_t __real_write(int, const void *, size_t);
ssize_t __real_pwrite(int, const void *, size_t, off_t);
ssize_t __real_pwritev(int, const struct iovec *, int, off_t);
ssize_t __real_writev(int, const struct iovec *, int);
int __real_fdatasync(int);
int __real_fsync(int);
int __real_ftruncate(int, off_t);
int __real_unlink(const char *);
int __real_rename(const char *, const char *);
int __real_mkdir(const char *, mode_t);
int __real_openat(int, const char *, int, ...);
int __real_unlinkat(int, const char *, int);
int __real_renameat(int, const char *, int, const char *);
int __real_fallocate(int, int, off_t, off_t);
int __real_statvfs(const char *, struct statvfs *);
ssize_t __real_copy_file_range(int, off_t *, int, off_t *, size_t, unsigned int);
#else
#define INTERPOSE(name) name
#define RESOLVE(name)                                                                              \
  do {                                                                                             \
    if (real_##name == NULL) {                                                                     \
      *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                                            \
    }                                                                                              \
  } while (0)
#endif

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *fd_path[MAX_FDS];
static unsigned char fd_dir[MAX_FDS];

static int armed;
static char root[4096];
static size_t root_len;
static long calls;
static long kill_at;
static long fail_at;
static long fail_times = 1;
static long delay_us;
static int fail_errno;
static int fail_short;
static int fail_drop;
static long long free_bytes = -1;
static int trace_fd = -1;

static long env_long(const char *name, long otherwise) {
  const char *value = getenv(name);
  return value != NULL && *value != '\0' ? strtol(value, NULL, 10) : otherwise;
}

void crashio_disarm(void) {
  pthread_mutex_lock(&lock);
  armed = 0;
  if (trace_fd >= 0) {
    RESOLVE(close);
    real_close(trace_fd);
    trace_fd = -1;
  }
  pthread_mutex_unlock(&lock);
}

/* Arms with the configuration in the environment; the count starts at 0.
 * Returns 0, or -1 when CRASHIO_ROOT is unset. */
int crashio_arm(void) {
  crashio_disarm();
  const char *dir = getenv("CRASHIO_ROOT");
  if (dir == NULL || *dir == '\0' || strlen(dir) >= sizeof root) {
    return -1;
  }
  pthread_mutex_lock(&lock);
  snprintf(root, sizeof root, "%s", dir);
  root_len = strlen(root);
  while (root_len > 1 && root[root_len - 1] == '/') {
    root[--root_len] = '\0';
  }
  calls = 0;
  kill_at = env_long("CRASHIO_KILL_AT", 0);
  fail_at = env_long("CRASHIO_FAIL_AT", 0);
  fail_times = env_long("CRASHIO_FAIL_TIMES", 1);
  free_bytes = env_long("CRASHIO_FREE", -1);
  delay_us = env_long("CRASHIO_DELAY_US", 0);
  fail_errno = 0;
  fail_short = 0;
  fail_drop = 0;
  const char *kind = getenv("CRASHIO_FAIL");
  if (kind != NULL) {
    if (strcmp(kind, "EINTR") == 0) {
      fail_errno = EINTR;
    } else if (strcmp(kind, "EAGAIN") == 0) {
      fail_errno = EAGAIN;
    } else if (strcmp(kind, "ENOSPC") == 0) {
      fail_errno = ENOSPC;
    } else if (strcmp(kind, "EIO") == 0) {
      fail_errno = EIO;
    } else if (strcmp(kind, "SHORT") == 0) {
      fail_short = 1;
    } else if (strcmp(kind, "DROP") == 0) {
      fail_drop = 1;
    }
  }
  const char *trace = getenv("CRASHIO_TRACE");
  if (trace != NULL && *trace != '\0') {
    RESOLVE(open);
    trace_fd = real_open(trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  armed = 1;
  pthread_mutex_unlock(&lock);
  return 0;
}

/* Counted calls since the last arm. */
long crashio_calls(void) {
  pthread_mutex_lock(&lock);
  long n = calls;
  pthread_mutex_unlock(&lock);
  return n;
}

__attribute__((constructor)) static void crashio_load(void) {
  const char *arm = getenv("CRASHIO_ARM");
  if (arm != NULL && strcmp(arm, "1") == 0) {
    crashio_arm();
  }
}

/* The part of PATH below the root, or NULL when PATH is not under it.
 * Called with the lock held. */
static const char *below_root(const char *path) {
  if (!armed || path == NULL || strncmp(path, root, root_len) != 0) {
    return NULL;
  }
  if (path[root_len] == '/') {
    return path + root_len + 1;
  }
  return path[root_len] == '\0' ? "" : NULL;
}

static void remember(int fd, const char *path) {
  if (fd < 0 || fd >= MAX_FDS) {
    return;
  }
  struct stat st;
  int is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  char *copy = strdup(path);
  pthread_mutex_lock(&lock);
  free(fd_path[fd]);
  fd_path[fd] = copy;
  fd_dir[fd] = (unsigned char)is_dir;
  pthread_mutex_unlock(&lock);
}

static void forget(int fd) {
  if (fd < 0 || fd >= MAX_FDS) {
    return;
  }
  pthread_mutex_lock(&lock);
  free(fd_path[fd]);
  fd_path[fd] = NULL;
  fd_dir[fd] = 0;
  pthread_mutex_unlock(&lock);
}

/* What a counted call should do. */
enum verdict { GO, FAIL, SHORTEN, DROP };

/* Counts a mutating call OP on PATH (or TO, for rename) if it is under the
 * root; writes its trace line, kills or picks a failure. IS_DIR marks a
 * directory descriptor. */
static enum verdict gate(const char *op, const char *path, int is_dir, const char *to,
                         long long offset, long long length) {
  pthread_mutex_lock(&lock);
  const char *name = below_root(path);
  const char *to_name = to != NULL ? below_root(to) : NULL;
  if (name == NULL && to_name == NULL) {
    pthread_mutex_unlock(&lock);
    return GO;
  }
  long k = ++calls;
  if (kill_at == k) {
    raise(SIGKILL);
  }
  enum verdict verdict = GO;
  if (fail_at > 0 && k >= fail_at && k < fail_at + fail_times) {
    verdict = fail_short ? SHORTEN : fail_drop ? DROP : FAIL;
    if (verdict == FAIL && fail_errno == 0) {
      verdict = GO;
    }
  }
  if (trace_fd >= 0) {
    char line[16384];
    int n = snprintf(line, sizeof line, "%ld %s %s%s %lld %lld %s%s%s\n", k, op,
                     name != NULL ? (*name != '\0' ? name : ".") : "?", is_dir ? "/" : "", offset,
                     length, to_name != NULL ? to_name : "-", verdict == GO ? "" : " !",
                     verdict == GO           ? ""
                     : verdict == SHORTEN    ? "SHORT"
                     : verdict == DROP       ? "DROP"
                     : fail_errno == EINTR   ? "EINTR"
                     : fail_errno == EAGAIN  ? "EAGAIN"
                     : fail_errno == ENOSPC  ? "ENOSPC"
                                             : "EIO");
    if (n > 0) {
      RESOLVE(write);
      if (real_write(trace_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0) {
        /* The trace is best effort; the call itself goes on. */
      }
    }
  }
  long delay = strncmp(op, "pwrite", 6) == 0 ? delay_us : 0;
  pthread_mutex_unlock(&lock);
  if (delay > 0) {
    usleep((useconds_t)delay);
  }
  if (verdict == FAIL) {
    errno = fail_errno;
  }
  return verdict;
}

/* gate() for a call on descriptor FD. */
static enum verdict gate_fd(const char *op, int fd, long long offset, long long length) {
  if (fd < 0 || fd >= MAX_FDS) {
    return GO;
  }
  pthread_mutex_lock(&lock);
  char *path = fd_path[fd] != NULL && armed ? strdup(fd_path[fd]) : NULL;
  int is_dir = fd_dir[fd];
  pthread_mutex_unlock(&lock);
  if (path == NULL) {
    return GO;
  }
  enum verdict verdict = gate(op, path, is_dir, NULL, offset, length);
  free(path);
  return verdict;
}

/* For a call that transfers no bytes: returns from the calling function
 * with -1 (errno set) when the call is to fail, 0 when it is to be
 * dropped (a lying disk), and goes on otherwise. */
#define PASS_OR_RETURN(verdict)                                                                    \
  do {                                                                                             \
    switch (verdict) {                                                                             \
    case GO:                                                                                       \
    case SHORTEN:                                                                                  \
      break;                                                                                       \
    case DROP:                                                                                     \
      return 0;                                                                                    \
    case FAIL:                                                                                     \
      return -1;                                                                                   \
    }                                                                                              \
  } while (0)

/* ---- opening and closing ------------------------------------------------ */

static int open_common(int (*real)(const char *, int, ...), const char *path, int flags,
                       mode_t mode) {
  if (flags & O_CREAT) {
    if (gate("open", path, 0, NULL, 0, 0) == FAIL) {
      return -1;
    }
  }
  int fd = real(path, flags, mode);
  if (fd >= 0) {
    remember(fd, path);
  }
  return fd;
}

int INTERPOSE(open)(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = (mode_t)va_arg(args, int);
    va_end(args);
  }
  RESOLVE(open);
  return open_common(real_open, path, flags, mode);
}

#ifndef CRASHIO_STATIC
int INTERPOSE(open64)(const char *path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = (mode_t)va_arg(args, int);
    va_end(args);
  }
  RESOLVE(open64);
  return open_common(real_open64, path, flags, mode);
}
#endif

int INTERPOSE(close)(int fd) {
  RESOLVE(close);
  forget(fd);
  return real_close(fd);
}

/* ---- writing ------------------------------------------------------------- */

/* Half of LENGTH, at least 1: what a shortened write transfers. */
static size_t half(size_t length) {
  return length > 1 ? length / 2 : length;
}

ssize_t INTERPOSE(write)(int fd, const void *buf, size_t count) {
  RESOLVE(write);
  enum verdict verdict = gate_fd("write", fd, -1, (long long)count);
  if (verdict == FAIL) {
    return -1;
  }
  if (verdict == DROP) {
    return (ssize_t)count;
  }
  return real_write(fd, buf, verdict == SHORTEN ? half(count) : count);
}

ssize_t INTERPOSE(pwrite)(int fd, const void *buf, size_t count, off_t offset) {
  RESOLVE(pwrite);
  enum verdict verdict = gate_fd("pwrite", fd, (long long)offset, (long long)count);
  if (verdict == FAIL) {
    return -1;
  }
  if (verdict == DROP) {
    return (ssize_t)count;
  }
  return real_pwrite(fd, buf, verdict == SHORTEN ? half(count) : count, offset);
}

#ifndef CRASHIO_STATIC
ssize_t INTERPOSE(pwrite64)(int fd, const void *buf, size_t count, off_t offset) {
  RESOLVE(pwrite64);
  enum verdict verdict = gate_fd("pwrite", fd, (long long)offset, (long long)count);
  if (verdict == FAIL) {
    return -1;
  }
  if (verdict == DROP) {
    return (ssize_t)count;
  }
  return real_pwrite64(fd, buf, verdict == SHORTEN ? half(count) : count, offset);
}
#endif

static ssize_t pwritev_common(ssize_t (*real)(int, const struct iovec *, int, off_t), int fd,
                              const struct iovec *iov, int iovcnt, off_t offset) {
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++) {
    total += iov[i].iov_len;
  }
  enum verdict verdict = gate_fd("pwritev", fd, (long long)offset, (long long)total);
  if (verdict == FAIL) {
    return -1;
  }
  if (verdict == DROP) {
    return (ssize_t)total;
  }
  if (verdict == GO || iovcnt <= 0) {
    return real(fd, iov, iovcnt, offset);
  }
  /* Shorten: the vector cut at half of its bytes. */
  size_t want = half(total);
  struct iovec cut[64];
  int n = 0;
  for (int i = 0; i < iovcnt && want > 0 && n < 64; i++) {
    cut[n] = iov[i];
    if (cut[n].iov_len > want) {
      cut[n].iov_len = want;
    }
    want -= cut[n].iov_len;
    n++;
  }
  return real(fd, cut, n, offset);
}

ssize_t INTERPOSE(pwritev)(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  RESOLVE(pwritev);
  return pwritev_common(real_pwritev, fd, iov, iovcnt, offset);
}

#ifndef CRASHIO_STATIC
ssize_t INTERPOSE(pwritev64)(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  RESOLVE(pwritev64);
  return pwritev_common(real_pwritev64, fd, iov, iovcnt, offset);
}
#endif

ssize_t INTERPOSE(writev)(int fd, const struct iovec *iov, int iovcnt) {
  RESOLVE(writev);
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++) {
    total += iov[i].iov_len;
  }
  switch (gate_fd("writev", fd, -1, (long long)total)) {
  case GO:
    break;
  case DROP:
    return (ssize_t)total;
  case FAIL:
    return -1;
  case SHORTEN:
    if (iovcnt > 0) {
      struct iovec first = iov[0];
      first.iov_len = half(first.iov_len);
      return real_writev(fd, &first, 1);
    }
    break;
  }
  return real_writev(fd, iov, iovcnt);
}

/* ---- syncing, resizing, naming -------------------------------------------- */

int INTERPOSE(fdatasync)(int fd) {
  RESOLVE(fdatasync);
  PASS_OR_RETURN(gate_fd("fdatasync", fd, 0, 0));
  return real_fdatasync(fd);
}

int INTERPOSE(fsync)(int fd) {
  RESOLVE(fsync);
  PASS_OR_RETURN(gate_fd("fsync", fd, 0, 0));
  return real_fsync(fd);
}

int INTERPOSE(ftruncate)(int fd, off_t length) {
  RESOLVE(ftruncate);
  PASS_OR_RETURN(gate_fd("ftruncate", fd, 0, (long long)length));
  return real_ftruncate(fd, length);
}

#ifndef CRASHIO_STATIC
int INTERPOSE(ftruncate64)(int fd, off_t length) {
  RESOLVE(ftruncate64);
  PASS_OR_RETURN(gate_fd("ftruncate", fd, 0, (long long)length));
  return real_ftruncate64(fd, length);
}
#endif

int INTERPOSE(unlink)(const char *path) {
  RESOLVE(unlink);
  PASS_OR_RETURN(gate("unlink", path, 0, NULL, 0, 0));
  return real_unlink(path);
}

int INTERPOSE(rename)(const char *from, const char *to) {
  RESOLVE(rename);
  PASS_OR_RETURN(gate("rename", from, 0, to, 0, 0));
  return real_rename(from, to);
}

int INTERPOSE(mkdir)(const char *path, mode_t mode) {
  RESOLVE(mkdir);
  PASS_OR_RETURN(gate("mkdir", path, 1, NULL, 0, 0));
  return real_mkdir(path, mode);
}

/* ---- calls relative to a directory ------------------------------------------ */

/* DIRFD/NAME as a path (NAME alone when absolute or DIRFD is AT_FDCWD or
 * unknown), in BUF. */
static const char *at_path(char *buf, size_t len, int dirfd, const char *name) {
  if (name == NULL || name[0] == '/' || dirfd == AT_FDCWD || dirfd < 0 || dirfd >= MAX_FDS) {
    return name;
  }
  pthread_mutex_lock(&lock);
  const char *dir = fd_path[dirfd];
  if (dir != NULL) {
    snprintf(buf, len, "%s/%s", dir, name);
  }
  pthread_mutex_unlock(&lock);
  return dir != NULL ? buf : name;
}

static int openat_common(int (*real)(int, const char *, int, ...), int dirfd, const char *name,
                         int flags, mode_t mode) {
  char buf[8192];
  const char *path = at_path(buf, sizeof buf, dirfd, name);
  if (flags & O_CREAT) {
    if (gate("open", path, 0, NULL, 0, 0) == FAIL) {
      return -1;
    }
  }
  int fd = real(dirfd, name, flags, mode);
  if (fd >= 0) {
    remember(fd, path);
  }
  return fd;
}

int INTERPOSE(openat)(int dirfd, const char *name, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = (mode_t)va_arg(args, int);
    va_end(args);
  }
  RESOLVE(openat);
  return openat_common(real_openat, dirfd, name, flags, mode);
}

#ifndef CRASHIO_STATIC
int INTERPOSE(openat64)(int dirfd, const char *name, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = (mode_t)va_arg(args, int);
    va_end(args);
  }
  RESOLVE(openat64);
  return openat_common(real_openat64, dirfd, name, flags, mode);
}
#endif

int INTERPOSE(unlinkat)(int dirfd, const char *name, int flags) {
  RESOLVE(unlinkat);
  char buf[8192];
  PASS_OR_RETURN(gate("unlink", at_path(buf, sizeof buf, dirfd, name), 0, NULL, 0, 0));
  return real_unlinkat(dirfd, name, flags);
}

int INTERPOSE(renameat)(int fromfd, const char *from, int tofd, const char *to) {
  RESOLVE(renameat);
  char from_buf[8192], to_buf[8192];
  PASS_OR_RETURN(gate("rename", at_path(from_buf, sizeof from_buf, fromfd, from), 0,
               at_path(to_buf, sizeof to_buf, tofd, to), 0, 0));
  return real_renameat(fromfd, from, tofd, to);
}

/* fallocate reserves blocks: a lying disk (DROP) reserves nothing and says
 * it did. */
static int fallocate_common(int (*real)(int, int, off_t, off_t), int fd, int mode, off_t offset,
                            off_t len) {
  PASS_OR_RETURN(gate_fd("fallocate", fd, (long long)offset, (long long)len));
  return real(fd, mode, offset, len);
}

int INTERPOSE(fallocate)(int fd, int mode, off_t offset, off_t len) {
  RESOLVE(fallocate);
  return fallocate_common(real_fallocate, fd, mode, offset, len);
}

#ifndef CRASHIO_STATIC
int INTERPOSE(fallocate64)(int fd, int mode, off_t offset, off_t len) {
  RESOLVE(fallocate64);
  return fallocate_common(real_fallocate64, fd, mode, offset, len);
}
#endif

#ifndef CRASHIO_STATIC
/* ---- filling a file from another ------------------------------------------ */

/* FICLONERANGE shares blocks of another file: counted on the destination
 * like a write of the range. It is never short (SHORT lets it through); a
 * lying disk (DROP) shares nothing and says it did. Other requests pass. */
int ioctl(int fd, unsigned long request, ...) {
  va_list args;
  va_start(args, request);
  void *arg = va_arg(args, void *);
  va_end(args);
  RESOLVE(ioctl);
  if (request == FICLONERANGE && arg != NULL) {
    const struct file_clone_range *range = arg;
    PASS_OR_RETURN(gate_fd("clone", fd, (long long)range->dest_offset,
                           (long long)range->src_length));
  }
  return real_ioctl(fd, request, arg);
}
#endif

/* copy_file_range: counted on the destination like a write; SHORT copies
 * half, DROP copies nothing and says it copied everything. */
ssize_t INTERPOSE(copy_file_range)(int in, off_t *in_off, int out, off_t *out_off, size_t len,
                                   unsigned int flags) {
  RESOLVE(copy_file_range);
  long long at = out_off != NULL ? (long long)*out_off : -1;
  switch (gate_fd("copy_file_range", out, at, (long long)len)) {
  case GO:
    break;
  case DROP:
    if (in_off != NULL) {
      *in_off += (off_t)len;
    }
    if (out_off != NULL) {
      *out_off += (off_t)len;
    }
    return (ssize_t)len;
  case FAIL:
    return -1;
  case SHORTEN:
    len = half(len);
    break;
  }
  return real_copy_file_range(in, in_off, out, out_off, len, flags);
}

/* ---- free space ------------------------------------------------------------ */

/* Whether statvfs of PATH should report CRASHIO_FREE bytes. */
static int low_space(const char *path) {
  pthread_mutex_lock(&lock);
  int low = free_bytes >= 0 && below_root(path) != NULL;
  pthread_mutex_unlock(&lock);
  return low;
}

int INTERPOSE(statvfs)(const char *path, struct statvfs *buf) {
  RESOLVE(statvfs);
  int rc = real_statvfs(path, buf);
  if (rc == 0 && low_space(path) && buf->f_frsize > 0) {
    buf->f_bavail = (fsblkcnt_t)((unsigned long long)free_bytes / buf->f_frsize);
    buf->f_bfree = buf->f_bavail;
  }
  return rc;
}

#ifndef CRASHIO_STATIC
int INTERPOSE(statvfs64)(const char *path, struct statvfs64 *buf) {
  RESOLVE(statvfs64);
  int rc = real_statvfs64(path, buf);
  if (rc == 0 && low_space(path) && buf->f_frsize > 0) {
    buf->f_bavail = (fsblkcnt64_t)((unsigned long long)free_bytes / buf->f_frsize);
    buf->f_bfree = buf->f_bavail;
  }
  return rc;
}
#endif
