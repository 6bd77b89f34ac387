/* space: an LD_PRELOAD library that changes what statvfs reports.
 *   SPACE_FREE=N   every file system has N bytes free, to anyone
 *   SPACE_AVAIL=0  nothing is free to unprivileged users; the blocks a file
 *                  system keeps back (ext4's reserved blocks) stay free
 *   SPACE_NOBLOCKS=1 the file system keeps no block counts (ramfs, some
 *                  FUSE file systems): every block count is zero
 * space_set_free(N) changes SPACE_FREE while the process runs (-1: report
 * the truth again). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/statvfs.h>

static long long free_bytes = -2; /* -2: not read from the environment yet */
static int no_avail = -1;
static int no_blocks = -1;

void space_set_free(long long bytes) { free_bytes = bytes; }

static void settings(void) {
  if (free_bytes == -2) {
    const char *text = getenv("SPACE_FREE");
    free_bytes = text ? atoll(text) : -1;
  }
  if (no_blocks < 0) {
    const char *text = getenv("SPACE_NOBLOCKS");
    no_blocks = text != NULL && text[0] == '1';
  }
  if (no_avail < 0) {
    const char *text = getenv("SPACE_AVAIL");
    no_avail = text != NULL && text[0] == '0';
  }
}

#define ADJUST(buf)                                                                    \
  do {                                                                                 \
    settings();                                                                        \
    if (free_bytes >= 0 && (buf)->f_frsize > 0) {                                      \
      (buf)->f_bfree = (buf)->f_bavail = (unsigned long long)free_bytes / (buf)->f_frsize; \
    }                                                                                  \
    if (no_avail) (buf)->f_bavail = 0;                                                 \
    if (no_blocks) (buf)->f_blocks = (buf)->f_bfree = (buf)->f_bavail = 0;            \
  } while (0)

int statvfs(const char *path, struct statvfs *buf) {
  int (*real)(const char *, struct statvfs *) = dlsym(RTLD_NEXT, "statvfs");
  int rc = real(path, buf);
  if (rc == 0) ADJUST(buf);
  return rc;
}

int statvfs64(const char *path, struct statvfs64 *buf) {
  int (*real)(const char *, struct statvfs64 *) = dlsym(RTLD_NEXT, "statvfs64");
  int rc = real(path, buf);
  if (rc == 0) ADJUST(buf);
  return rc;
}
