/* noscan: an LD_PRELOAD library under which the pagemap cannot be scanned.
 * It defines ioctl(): PAGEMAP_SCAN fails with EIO (and says so once on
 * stderr); every other request goes to the C library's ioctl(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

/* _IOWR('f', 16, struct pm_scan_arg), a 96-byte argument. */
#define NOSCAN_PAGEMAP_SCAN 0xc0606610UL

typedef int (*ioctl_fn)(int, unsigned long, ...);

int ioctl(int fd, unsigned long request, ...) {
  va_list args;
  va_start(args, request);
  void *arg = va_arg(args, void *);
  va_end(args);
  if (request == NOSCAN_PAGEMAP_SCAN) {
    static int said;
    if (!said) {
      static const char note[] = "noscan: PAGEMAP_SCAN refused\n";
      ssize_t wrote = write(2, note, sizeof note - 1);
      (void)wrote;
      said = 1;
    }
    errno = EIO;
    return -1;
  }
  static ioctl_fn next;
  if (next == NULL) {
    next = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
    if (next == NULL) {
      errno = ENOSYS;
      return -1;
    }
  }
  return next(fd, request, arg);
}
