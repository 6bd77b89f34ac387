/* noufd: an LD_PRELOAD library that makes userfaultfd unavailable. It
 * defines syscall(): SYS_userfaultfd fails with ENOSYS (and says so once
 * on stderr); every other call goes to the C library's syscall() with its
 * six possible arguments. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef long (*syscall_fn)(long, ...);

long syscall(long number, ...) {
  va_list args;
  va_start(args, number);
  long a = va_arg(args, long);
  long b = va_arg(args, long);
  long c = va_arg(args, long);
  long d = va_arg(args, long);
  long e = va_arg(args, long);
  long f = va_arg(args, long);
  va_end(args);
  if (number == SYS_userfaultfd) {
    static int said;
    if (!said) {
      static const char note[] = "noufd: userfaultfd refused\n";
      ssize_t wrote = write(2, note, sizeof note - 1);
      (void)wrote;
      said = 1;
    }
    errno = ENOSYS;
    return -1;
  }
  static syscall_fn next;
  if (next == NULL) {
    next = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
    if (next == NULL) {
      errno = ENOSYS;
      return -1;
    }
  }
  return next(number, a, b, c, d, e, f);
}
