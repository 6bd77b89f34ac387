/* nolock: an LD_PRELOAD library for a file system without flock locks.
 * flock() fails with ENOLCK, as on some network file systems; nothing else
 * is changed. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/file.h>

int flock(int fd, int operation) {
  (void)fd;
  (void)operation;
  errno = ENOLCK;
  return -1;
}
