/* nothreads: an LD_PRELOAD library under which no thread can be started,
 * as when a process has reached its limit of threads or of memory. It
 * defines pthread_create(): every call fails with EAGAIN (and says so once
 * on stderr). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                   void *arg) {
  (void)thread;
  (void)attr;
  (void)start;
  (void)arg;
  static int said;
  if (!said) {
    static const char note[] = "nothreads: pthread_create refused\n";
    ssize_t wrote = write(2, note, sizeof note - 1);
    (void)wrote;
    said = 1;
  }
  return EAGAIN;
}
