/* wbhook: an LD_PRELOAD library around the calls of a save that meet the
 * disk's write-back: sync_file_range, and the writes of image.bin. It fails
 * a call the way the kernel does, or changes the disk's free space at a
 * chosen moment of a save, so that a real device fails (or recovers) there.
 *
 *   WBHOOK_FAIL_WAIT=NAME   the first sync_file_range that waits
 *                           (SYNC_FILE_RANGE_WAIT_AFTER) on a file named NAME
 *                           returns EIO and does nothing: a write-back error
 *                           reported once, which the kernel then forgets for
 *                           that open file (a later fdatasync returns 0)
 *   WBHOOK_FAIL_START=NAME  the same for the first one that only starts
 *                           write-back (SYNC_FILE_RANGE_WRITE)
 *   WBHOOK_FREE=PATH        at the first sync_file_range on memory.bin that
 *                           waits: every write-back of memory.bin so far is
 *                           finished (waited for through a descriptor of its
 *                           own, so that the save's descriptor still has the
 *                           errors to hear), the call is made, and then PATH
 *                           is removed (it fills the device's backing store:
 *                           the device works again from here)
 *   WBHOOK_KILL=1           once a sync_file_range on memory.bin has failed,
 *                           the first write to image.bin is made and then
 *                           SIGKILL raised (a crash while the image is
 *                           written)
 *   WBHOOK_FILL=PATH        at the first write to image.bin, PATH is written
 *                           with zeros until its file system is full (the
 *                           device's backing store: its writes fail from here)
 *
 * Each event is said on stderr in one "wbhook: ..." line, so that a test
 * can tell that its device really failed where it meant it to.
 * wbhook_disarm() (found with dlsym) ends every effect. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int disarmed;
static int failed_wait, failed_start, freed, filled, memory_failed;

void wbhook_disarm(void) {
  pthread_mutex_lock(&lock);
  disarmed = 1;
  pthread_mutex_unlock(&lock);
}

/* Whether descriptor FD names a file called NAME (its last component). */
static int names(int fd, const char *name) {
  if (name == NULL || *name == '\0') {
    return 0;
  }
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t len = readlink(link, path, sizeof path - 1);
  if (len <= 0) {
    return 0;
  }
  path[len] = '\0';
  const char *base = strrchr(path, '/');
  return strcmp(base != NULL ? base + 1 : path, name) == 0;
}

/* Writes PATH with zeros until its file system is full; returns the bytes. */
static long long fill(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) {
    return -1;
  }
  static char zeros[1 << 16];
  long long total = 0;
  ssize_t put;
  while ((put = write(fd, zeros, sizeof zeros)) > 0) {
    total += put;
  }
  close(fd);
  return total;
}

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags) {
  static int (*real)(int, off_t, off_t, unsigned int);
  if (real == NULL) {
    *(void **)&real = dlsym(RTLD_NEXT, "sync_file_range");
  }
  int waits = (flags & SYNC_FILE_RANGE_WAIT_AFTER) != 0;
  pthread_mutex_lock(&lock);
  int live = !disarmed;
  const char *fail = getenv(waits ? "WBHOOK_FAIL_WAIT" : "WBHOOK_FAIL_START");
  int *done = waits ? &failed_wait : &failed_start;
  if (live && !*done && names(fd, fail)) {
    *done = 1;
    pthread_mutex_unlock(&lock);
    fprintf(stderr, "wbhook: sync_file_range on %s fails with EIO\n", fail);
    errno = EIO;
    return -1;
  }
  const char *free_path = getenv("WBHOOK_FREE");
  int free_now = live && waits && !freed && free_path != NULL && names(fd, "memory.bin");
  freed |= free_now;
  pthread_mutex_unlock(&lock);
  if (free_now) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int own = open(link, O_RDONLY);
    if (own >= 0) {
      real(own, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      close(own);
    }
  }
  int rc = real(fd, offset, nbytes, flags);
  int err = errno;
  if (live && names(fd, "memory.bin")) {
    pthread_mutex_lock(&lock);
    if (rc != 0) {
      memory_failed = 1;
    }
    pthread_mutex_unlock(&lock);
    if (rc != 0) {
      fprintf(stderr, "wbhook: write-back of memory.bin failed: %s\n", strerror(err));
    }
    if (free_now) {
      unlink(free_path);
      fprintf(stderr, "wbhook: freed the device's store after a wait on memory.bin\n");
    }
  }
  errno = err;
  return rc;
}

/* Whether the write just made to descriptor FD ends the process. */
static __thread int kill_after;

/* Before a write to descriptor FD: the image's effects. */
static void before_write(int fd) {
  pthread_mutex_lock(&lock);
  const char *fill_path = getenv("WBHOOK_FILL");
  int kill_on = getenv("WBHOOK_KILL") != NULL && memory_failed;
  int fill_on = fill_path != NULL && !filled;
  int live = !disarmed && (kill_on || fill_on);
  pthread_mutex_unlock(&lock);
  if (!live || !names(fd, "image.bin")) {
    return;
  }
  if (kill_on) {
    kill_after = 1;
    return;
  }
  pthread_mutex_lock(&lock);
  fill_on = !filled;
  filled = 1;
  pthread_mutex_unlock(&lock);
  if (fill_on) {
    long long bytes = fill(fill_path);
    fprintf(stderr, "wbhook: filled the device's store (%lld MiB) at the first write of image.bin\n",
            bytes >> 20);
  }
}

/* After a write: the kill, once the write is made. */
static ssize_t after_write(ssize_t rc) {
  if (kill_after) {
    fprintf(stderr, "wbhook: killed after the first write of image.bin\n");
    raise(SIGKILL);
  }
  return rc;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (real == NULL) {
    *(void **)&real = dlsym(RTLD_NEXT, "pwrite");
  }
  before_write(fd);
  return after_write(real(fd, buf, count, offset));
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (real == NULL) {
    *(void **)&real = dlsym(RTLD_NEXT, "pwrite64");
  }
  before_write(fd);
  return after_write(real(fd, buf, count, offset));
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  static ssize_t (*real)(int, const struct iovec *, int, off_t);
  if (real == NULL) {
    *(void **)&real = dlsym(RTLD_NEXT, "pwritev");
  }
  before_write(fd);
  return after_write(real(fd, iov, iovcnt, offset));
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
  static ssize_t (*real)(int, const struct iovec *, int, off_t);
  if (real == NULL) {
    *(void **)&real = dlsym(RTLD_NEXT, "pwritev64");
  }
  before_write(fd);
  return after_write(real(fd, iov, iovcnt, offset));
}
