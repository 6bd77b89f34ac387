/* nofallocate: an LD_PRELOAD library for a file system that cannot
 * allocate ahead (ext2, some FUSE file systems): fallocate and
 * posix_fallocate fail with NOFALLOCATE_ERRNO (default EOPNOTSUPP; 28 is
 * ENOSPC, a full disk). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

static int refusal(void) {
  const char *text = getenv("NOFALLOCATE_ERRNO");
  return text && *text ? atoi(text) : EOPNOTSUPP;
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
  (void)fd, (void)mode, (void)offset, (void)len;
  errno = refusal();
  return -1;
}

int fallocate64(int fd, int mode, off_t offset, off_t len) { return fallocate(fd, mode, offset, len); }

int posix_fallocate(int fd, off_t offset, off_t len) {
  (void)fd, (void)offset, (void)len;
  return refusal();
}
