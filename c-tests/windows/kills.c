/* kills: a Windows process killed mid-save, again and again, and the pier
 * it leaves booted by a new one (the scenario steps cycle and generation,
 * c-tests/host/scenario.c). Windows has no signals: TerminateProcess is
 * how a process dies there without a word, as a crash or a power cut
 * leaves a pier.
 *
 *   kills SCENARIO DIR PAGES STRIDE ROUNDS MAX_MS
 *
 * Round r runs `SCENARIO cycle DIR FIRST PAGES STRIDE`, which saves over
 * PAGES pages until killed, save k writing seed k into every STRIDE-th
 * page (FIRST = r * 1000000 + 1, so that no two rounds share a seed; with
 * STRIDE 2 every page is a run of its own, which the image gets by a write
 * of its own: under wine a kill lands between two system calls, never
 * inside one, so a run of contiguous pages is all or nothing), and kills it after
 * a delay that moves through [0, MAX_MS) from round to round: counted from
 * its "booted" line, or, one round in four, from its start (a kill during
 * the boot, which may be applying the last round's patch). Then
 * `SCENARIO generation DIR PAGES STRIDE CANDIDATES...` boots the pier in a
 * new process: no patch left, and the loom and image.bin hold exactly one
 * generation, every page of the same save, among those the child's output
 * allows. After "save L returned": L or L + 1 (killed after the save was
 * durable, before it said so), and with LOOMS_SAVE=background also L - 1
 * (a background save returns once started); before any: the last round's
 * generation, or FIRST.
 *
 * The environment passes to both children (SCN_FLAGS, LOOMS_SAVE). One
 * line per round; the exit status is 1 when a round failed. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A child process with its output (stdout and stderr) read by a thread. */
typedef struct child {
  PROCESS_INFORMATION pi;
  HANDLE reader;
  HANDLE out;    /* the pipe's read end */
  HANDLE booted; /* set at the child's "booted" line */
  char tail[4096]; /* the output's last bytes, for a report */
  size_t tail_len;
  char line[256];
  size_t line_len;
  volatile LONG saves;    /* how many "save k returned" lines */
  volatile LONG last;     /* k of the last one */
  volatile LONG found;    /* the generation step's seed, or -1 */
} child;

static void keep_tail(child *c, const char *bytes, size_t n) {
  if (n >= sizeof c->tail) {
    bytes += n - sizeof c->tail;
    n = sizeof c->tail;
  }
  if (c->tail_len + n > sizeof c->tail) {
    size_t drop = c->tail_len + n - sizeof c->tail;
    memmove(c->tail, c->tail + drop, c->tail_len - drop);
    c->tail_len -= drop;
  }
  memcpy(c->tail + c->tail_len, bytes, n);
  c->tail_len += n;
}

static void on_line(child *c) {
  c->line[c->line_len] = '\0';
  unsigned k;
  if (sscanf(c->line, "save %u returned", &k) == 1) {
    c->last = (LONG)k;
    c->saves++;
  } else if (strncmp(c->line, "booted", 6) == 0) {
    SetEvent(c->booted);
  } else if (sscanf(c->line, "generation %u", &k) == 1) {
    c->found = (LONG)k;
  }
  c->line_len = 0;
}

static DWORD WINAPI read_output(void *arg) {
  child *c = arg;
  char buf[4096];
  DWORD got;
  while (ReadFile(c->out, buf, sizeof buf, &got, NULL) && got > 0) {
    keep_tail(c, buf, got);
    for (DWORD i = 0; i < got; i++) {
      if (buf[i] == '\n' || buf[i] == '\r') {
        on_line(c);
      } else if (c->line_len < sizeof c->line - 1) {
        c->line[c->line_len++] = buf[i];
      }
    }
  }
  return 0;
}

static _Noreturn void die(const char *what) {
  fprintf(stderr, "kills: %s: Windows error %lu\n", what, (unsigned long)GetLastError());
  exit(2);
}

static void start(child *c, const char *command) {
  memset(c, 0, sizeof *c);
  c->found = -1;
  SECURITY_ATTRIBUTES sa = {.nLength = sizeof sa, .bInheritHandle = TRUE};
  HANDLE write_end;
  if (!CreatePipe(&c->out, &write_end, &sa, 0)) die("CreatePipe");
  SetHandleInformation(c->out, HANDLE_FLAG_INHERIT, 0);
  c->booted = CreateEventW(NULL, TRUE, FALSE, NULL);
  STARTUPINFOA si = {.cb = sizeof si, .dwFlags = STARTF_USESTDHANDLES};
  si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
  si.hStdOutput = write_end;
  si.hStdError = write_end;
  char line[8192];
  snprintf(line, sizeof line, "%s", command);
  if (!CreateProcessA(NULL, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &c->pi)) {
    die(command);
  }
  CloseHandle(write_end);
  c->reader = CreateThread(NULL, 0, read_output, c, 0, NULL);
  if (c->reader == NULL) die("CreateThread");
}

/* Waits for the child to end (killing it after TIMEOUT_MS) and for its
 * output; returns its exit status. */
static DWORD finish(child *c, DWORD timeout_ms) {
  if (WaitForSingleObject(c->pi.hProcess, timeout_ms) != WAIT_OBJECT_0) {
    TerminateProcess(c->pi.hProcess, 99);
    WaitForSingleObject(c->pi.hProcess, INFINITE);
  }
  WaitForSingleObject(c->reader, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(c->pi.hProcess, &code);
  CloseHandle(c->reader);
  CloseHandle(c->out);
  CloseHandle(c->booted);
  CloseHandle(c->pi.hProcess);
  CloseHandle(c->pi.hThread);
  return code;
}

static void report(const child *c, const char *what) {
  printf("    %s; its last output:\n", what);
  fwrite(c->tail, 1, c->tail_len, stdout);
  printf("\n");
}

static bool exists(const char *dir, const char *name) {
  char path[8400];
  snprintf(path, sizeof path, "%s/.urb/chk/%s", dir, name);
  return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc != 7) {
    fprintf(stderr, "usage: kills SCENARIO DIR PAGES STRIDE ROUNDS MAX_MS\n");
    return 2;
  }
  const char *scenario = argv[1], *dir = argv[2];
  unsigned pages = (unsigned)strtoul(argv[3], NULL, 0);
  unsigned stride = (unsigned)strtoul(argv[4], NULL, 0);
  unsigned rounds = (unsigned)strtoul(argv[5], NULL, 0);
  unsigned max_ms = (unsigned)strtoul(argv[6], NULL, 0);
  const char *save = getenv("LOOMS_SAVE");
  bool background = save != NULL && strcmp(save, "background") == 0;
  if (max_ms == 0) max_ms = 1;
  unsigned prev = 0, failures = 0, with_patch = 0, in_boot = 0, moved = 0;
  for (unsigned r = 0; r < rounds; r++) {
    unsigned first = r * 1000000u + 1;
    unsigned delay = (r * 7919u + 13u) % max_ms;
    bool during_boot = r % 4 == 3;
    char command[8400];
    snprintf(command, sizeof command, "\"%s\" cycle \"%s\" %u %u %u", scenario, dir, first, pages,
             stride);
    child c;
    start(&c, command);
    if (!during_boot && WaitForSingleObject(c.booted, 60000) != WAIT_OBJECT_0) {
      printf("round %u: no \"booted\" within 60 s\n", r);
      report(&c, "cycle");
      TerminateProcess(c.pi.hProcess, 1);
      finish(&c, INFINITE);
      failures++;
      break;
    }
    Sleep(delay);
    DWORD alive = WaitForSingleObject(c.pi.hProcess, 0);
    TerminateProcess(c.pi.hProcess, 1);
    finish(&c, INFINITE);
    if (alive == WAIT_OBJECT_0) {
      printf("round %u: the cycle ended before its kill\n", r);
      report(&c, "cycle");
      failures++;
      continue;
    }
    in_boot += c.saves == 0;
    bool patch = exists(dir, "control.bin") || exists(dir, "memory.bin");
    with_patch += patch;

    /* The generations the child's output allows. */
    unsigned candidates[3], n = 0;
    if (c.saves == 0) {
      candidates[n++] = prev;
      candidates[n++] = first;
    } else {
      unsigned last = (unsigned)c.last;
      if (background) {
        candidates[n++] = last == first ? prev : last - 1;
      }
      candidates[n++] = last;
      candidates[n++] = last + 1;
    }
    snprintf(command, sizeof command, "\"%s\" generation \"%s\" %u %u", scenario, dir, pages,
             stride);
    for (unsigned i = 0; i < n; i++) {
      size_t len = strlen(command);
      snprintf(command + len, sizeof command - len, " %u", candidates[i]);
    }
    child g;
    start(&g, command);
    DWORD code = finish(&g, 120000);
    if (code != 0 || g.found < 0) {
      printf("round %u: killed after %u ms (%s, %ld saves returned, last %ld); the boot after it "
             "failed (exit %lu)\n",
             r, delay, during_boot ? "from its start" : "after its boot", (long)c.saves,
             (long)c.last, (unsigned long)code);
      report(&g, "generation");
      failures++;
      break;
    }
    moved += (unsigned)g.found != prev;
    printf("round %u: killed %u ms %s, %ld saves returned%s; boots whole at generation %ld%s\n", r,
           delay, during_boot ? "from its start" : "after its boot", (long)c.saves,
           patch ? ", a patch left" : "", (long)g.found,
           (unsigned)g.found == prev ? " (the last round's)" : "");
    prev = (unsigned)g.found;
  }
  printf("kills: %u rounds, %u failed; %u killed before a save returned, %u left a patch, "
         "%u moved the generation\n",
         rounds, failures, in_boot, with_patch, moved);
  return failures != 0;
}
