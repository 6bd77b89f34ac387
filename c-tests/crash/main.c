/* crashtest: the crash, I/O-fault and bad-input tests of liblooms.
 *
 *   crashtest [-w WORKDIR] [-f FLAGS] GROUP...
 *
 * FLAGS: the runtime flags (u3o_Config.wag_w) of every boot, e.g. 0x200
 * for no_demand, 0x1000 for swap.
 *
 * Groups: points[=NAME,...] (only the scenarios, backups and checks so
 * named), order, ioerr, random[=RUNS] (default 200), badinput[=FILE]
 * (FILE: where to write the table of bad inputs as markdown), writers,
 * backend (the tracking backend in use is the one LOOMS_TRACKING names).
 * Prints one line per test (PASS:/FAIL:/SKIP:) and exits 1 if any failed.
 * The interposer (libcrashio.so, next to this program) is preloaded: when
 * it is missing from LD_PRELOAD the program runs itself again with it. */
#define _GNU_SOURCE
#include "crash.h"

#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void preload_self(char **argv) {
  if (crashio_loaded()) {
    return;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    host_die("readlink /proc/self/exe");
  }
  exe[n] = '\0';
  char lib[PATH_MAX + 32];
  snprintf(lib, sizeof lib, "%s/libcrashio.so", dirname(exe));
  if (getenv("CRASHTEST_REEXEC") != NULL) {
    fprintf(stderr, "crashtest: %s is not loaded\n", lib);
    exit(EXIT_HOSTFAIL);
  }
  setenv("CRASHTEST_REEXEC", "1", 1);
  setenv("LD_PRELOAD", lib, 1);
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n] = '\0';
  execv(exe, argv);
  host_die("execv");
}

int main(int argc, char **argv) {
  preload_self(argv);
  setvbuf(stdout, NULL, _IOLBF, 0);
  int first = 1;
  while (argc > first + 1 && argv[first][0] == '-') {
    if (strcmp(argv[first], "-w") == 0) {
      set_work_root(argv[first + 1]);
    } else if (strcmp(argv[first], "-f") == 0) {
      host_default_flags((uint32_t)strtoul(argv[first + 1], NULL, 0));
    } else {
      break;
    }
    first += 2;
  }
  for (int i = first; i < argc; i++) {
    char *group = argv[i];
    char *value = strchr(group, '=');
    if (value != NULL) {
      *value++ = '\0';
    }
    if (strcmp(group, "points") == 0) {
      test_points(value);
    } else if (strcmp(group, "order") == 0) {
      test_order();
    } else if (strcmp(group, "ioerr") == 0) {
      test_ioerr();
    } else if (strcmp(group, "random") == 0) {
      test_random(value != NULL ? atol(value) : 200);
    } else if (strcmp(group, "badinput") == 0) {
      test_badinput(value);
    } else if (strcmp(group, "writers") == 0) {
      test_writers();
    } else if (strcmp(group, "backend") == 0) {
      test_backend();
    } else {
      fprintf(stderr, "crashtest: unknown group %s\n", group);
      return EXIT_HOSTFAIL;
    }
  }
  return failures() > 0 ? 1 : 0;
}
