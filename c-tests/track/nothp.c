/* nothp: an LD_PRELOAD library under which the kernel refuses transparent
 * huge pages, as with /sys/kernel/mm/transparent_hugepage/enabled set to
 * never or THP compiled out. It defines madvise(): MADV_HUGEPAGE fails with
 * EINVAL (and says so once on stderr); every other advice goes to the C
 * library's madvise(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

typedef int (*madvise_fn)(void *, size_t, int);

int madvise(void *addr, size_t len, int advice) {
  if (advice == MADV_HUGEPAGE) {
    static int said;
    if (!said) {
      static const char note[] = "nothp: MADV_HUGEPAGE refused\n";
      ssize_t wrote = write(2, note, sizeof note - 1);
      (void)wrote;
      said = 1;
    }
    errno = EINVAL;
    return -1;
  }
  static madvise_fn next;
  if (next == NULL) {
    next = (madvise_fn)dlsym(RTLD_NEXT, "madvise");
    if (next == NULL) {
      errno = ENOSYS;
      return -1;
    }
  }
  return next(addr, len, advice);
}
