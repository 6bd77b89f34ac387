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

int fcntl(int fd, int cmd, ...) {
  va_list args;
  va_start(args, cmd);
  unsigned long arg = va_arg(args, unsigned long);
  va_end(args);
  if (cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW) {
    errno = ENOLCK;
    return -1;
  }
  /* glibc's fcntl and fcntl64 are one function under two names. */
  fcntl_fn next = (fcntl_fn)dlsym(RTLD_NEXT, "fcntl64");
  if (next == NULL) {
    next = (fcntl_fn)dlsym(RTLD_NEXT, "fcntl");
  }
  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }
  return next(fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) __attribute__((alias("fcntl")));
