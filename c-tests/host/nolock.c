/* nolock: an LD_PRELOAD library for a file system without open-file-
 * description locks. fcntl(F_OFD_SETLK) fails with ENOLCK, as on some
 * network file systems; every other fcntl goes to the C library. The
 * third argument is read as one machine word: an int or a pointer, both
 * passed the same way on the platforms looms supports. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>

typedef int (*fcntl_fn)(int, int, ...);

static int refuse_or_forward(const char *name, int fd, int cmd, unsigned long arg) {
  if (cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW) {
    errno = ENOLCK;
    return -1;
  }
  fcntl_fn next = (fcntl_fn)dlsym(RTLD_NEXT, name);
  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }
  return next(fd, cmd, arg);
}

int fcntl(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  unsigned long arg = va_arg(args, unsigned long);
  va_end(args);
  return refuse_or_forward("fcntl", fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  unsigned long arg = va_arg(args, unsigned long);
  va_end(args);
  return refuse_or_forward("fcntl64", fd, cmd, arg);
}
