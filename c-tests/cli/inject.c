/* inject.so: crash and I/O-error injection for the `looms` command's tests,
 * preloaded with LD_PRELOAD and chosen with LOOMS_INJECT:
 *
 *   cut-save    end the process at the first unlink of control.bin: the
 *               moment a save has written its patch and the image and is
 *               about to remove the patch, as a crash there would
 *   eio-image   fail every read of image.bin at or past byte 65536 with EIO
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define EIO_FROM ((off_t)65536)

static int injecting(const char *what) {
  const char *chosen = getenv("LOOMS_INJECT");
  return chosen != NULL && strcmp(chosen, what) == 0;
}

static int ends_with(const char *text, const char *tail) {
  size_t text_len = strlen(text);
  size_t tail_len = strlen(tail);
  return text_len >= tail_len && strcmp(text + text_len - tail_len, tail) == 0;
}

static int is_image(int fd) {
  char link[64];
  char target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t len = readlink(link, target, sizeof target - 1);
  if (len < 0) {
    return 0;
  }
  target[len] = '\0';
  return ends_with(target, "/image.bin");
}

int unlink(const char *path) {
  if (injecting("cut-save") && ends_with(path, "/control.bin")) {
    _exit(70);
  }
  int (*real)(const char *) = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
  return real(path);
}

typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);

static ssize_t failing_pread(const char *name, int fd, void *buf, size_t len,
                             off_t offset) {
  if (injecting("eio-image") && offset + (off_t)len > EIO_FROM && is_image(fd)) {
    errno = EIO;
    return -1;
  }
  pread_fn real = (pread_fn)dlsym(RTLD_NEXT, name);
  return real(fd, buf, len, offset);
}

ssize_t pread(int fd, void *buf, size_t len, off_t offset) {
  return failing_pread("pread", fd, buf, len, offset);
}

ssize_t pread64(int fd, void *buf, size_t len, off_t offset) {
  return failing_pread("pread64", fd, buf, len, offset);
}
