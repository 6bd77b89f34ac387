/* failunlink: an LD_PRELOAD library that makes unlink() of one file fail.
 * FAIL_UNLINK=NAME:COUNT:ERRNO fails the first COUNT unlinks of a path
 * ending in "/NAME" with ERRNO (a number), without removing anything and
 * saying so on stderr; every other unlink goes to the C library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*unlink_fn)(const char *);

int unlink(const char *path) {
  static int failed;
  const char *spec = getenv("FAIL_UNLINK");
  char name[256];
  int count = 0;
  int error = 0;
  if (spec != NULL && sscanf(spec, "%255[^:]:%d:%d", name, &count, &error) == 3 && failed < count) {
    size_t len = strlen(path);
    size_t want = strlen(name);
    if (len > want && path[len - want - 1] == '/' && strcmp(path + len - want, name) == 0) {
      failed++;
      fprintf(stderr, "failunlink: unlink %s refused (%d of %d)\n", name, failed, count);
      errno = error;
      return -1;
    }
  }
  unlink_fn next = (unlink_fn)dlsym(RTLD_NEXT, "unlink");
  if (next == NULL) {
    errno = ENOSYS;
    return -1;
  }
  return next(path);
}
