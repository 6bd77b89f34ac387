/* nothread: an LD_PRELOAD library for a process that may not create
 * threads (a pids or tasks limit, as under systemd's TasksMax or
 * docker --pids-limit): pthread_create fails with EAGAIN and says so once
 * on stderr. */
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
    said = 1;
    static const char line[] = "nothread: pthread_create refused (EAGAIN)\n";
    if (write(STDERR_FILENO, line, sizeof line - 1) < 0) {
      /* Nothing to do: the refusal itself is what matters. */
    }
  }
  return EAGAIN;
}
