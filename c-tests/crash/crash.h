/* Shared parts of the crash, I/O-fault and bad-input tests: the host the
 * library runs in (on the stand-in runtime of c-tests/common), loom
 * contents by generation, child processes, files, traces of the
 * interposer (crashio.c), and result lines. */
#ifndef CRASH_H
#define CRASH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "runtime.h"

/* ---- the host ------------------------------------------------------------ */

#define LOOM_PAGES 4096u /* a 64 MiB loom */
#define LOOM_WORDS ((size_t)LOOM_PAGES << u3a_page)
#define PAGE_WORDS RT_PAGE_WORDS
#define PAGE_BYTES RT_PAGE_BYTES

/* Exit codes of a child. */
#define EXIT_BAIL 77     /* the library called u3m_bail */
#define EXIT_MISMATCH 3  /* the loom or a file did not hold what it should */
#define EXIT_HOSTFAIL 2  /* the host itself could not run */

/* Runtime flags every host_start sets (u3o_Config.wag_w), e.g. no_demand. */
void host_default_flags(uint32_t wag_w);
/* Maps the loom and installs the store-fault handler; once per process. */
void host_start(void);
/* Sets the pier directory in the runtime's configuration and makes
 * DIR/.urb/chk unless MAKE_DIRS is 0. */
void host_pier(char *dir, int make_dirs);
/* u3e_live on the configured pier; sets the watermarks. */
c3_o host_boot(void);
/* Sets the heap's top (in pages) for store faults and saves; the stack is
 * the loom's last page. */
void host_heap(uint32_t pages);
/* u3e_save with the heap's top at PAGES. */
void host_save(uint32_t pages);
/* The runtime flags (u3o_Config.wag_w). */
void host_flags(uint32_t wag_w);
uint32_t host_current_flags(void);
/* Prints "host: WHAT: reason" and exits EXIT_HOSTFAIL. */
#define host_die rt_die

/* The interposer's controls, when it is loaded (NULL otherwise). */
int crashio_loaded(void);
void arm(void);
void disarm(void);
long armed_calls(void);

/* ---- loom contents ----------------------------------------------------------- */

/* A snapshot's expected contents: PAGES pages, page p holding SEED[p]'s
 * pattern (rt_pattern; seed 0: all zero). */
#define MAX_HEAP 2048u
typedef struct {
  uint32_t pages;
  uint32_t seed[MAX_HEAP];
} heap;

/* Writes page P of the loom with SEED and records it in H. */
void heap_write(heap *h, uint32_t page, uint32_t seed);
/* Grows or shrinks H to PAGES pages: new pages are written with SEED. */
void heap_resize(heap *h, uint32_t pages, uint32_t seed);
/* Whether the loom holds exactly H below its top (and zeros for
 * the CHECK_ABOVE pages above it); the first difference goes to WHY. */
int loom_matches(const heap *h, uint32_t check_above, char *why, size_t why_len);
/* Whether FILE holds exactly H's pages, no more, no less. */
int image_matches(const char *file, const heap *h, char *why, size_t why_len);
/* Writes H's pages into FILE (a fresh image). */
void image_write(const char *file, const heap *h);

/* ---- child processes ----------------------------------------------------------- */

/* The outcome of a child. */
typedef struct {
  int exited;   /* 1: exited with CODE; 0: killed by SIGNAL */
  int code;
  int signal;
  char err[32768]; /* the start of its stderr */
} outcome;

/* Runs FN(ARG) in a forked child with stderr captured; the child exits
 * with FN's return value. ENV: "NAME=VALUE" strings set in the child. */
outcome run_child(int (*fn)(void *), void *arg, const char *const *env);
/* fork() after flushing stdio, so that nothing buffered is written twice;
 * dies when it fails. */
pid_t fork_child(void);
/* A file with no name, for a child's stderr: memfd_create on Linux; where
 * there is none (macOS), a file mkstemp makes under TMPDIR, unlinked at
 * once. NAME names it. Dies on failure. */
int scratch_fd(const char *name);
/* Describes an outcome in a short string (static buffer). */
const char *describe(const outcome *o);
/* Lines of O's stderr that start with PREFIX. */
int count_lines(const outcome *o, const char *prefix);

/* ---- files ------------------------------------------------------------------------ */

/* A fresh empty directory under the work directory, named after TAG. */
char *fresh_dir(const char *tag);
/* path = a/b (static rotation of buffers). */
const char *cat(const char *a, const char *b);
int exists(const char *path);
/* The size of the file at PATH, -1 when there is none. */
long long file_size(const char *path);
/* Copies every regular file of directory FROM into TO (made if missing). */
void copy_dir(const char *from, const char *to);
/* Removes a tree. */
void remove_tree(const char *path);
/* Whether the two files have the same bytes. */
int same_file(const char *a, const char *b);
void write_file(const char *path, const void *bytes, size_t len);
void set_work_root(const char *dir);
const char *work_root(void);

/* ---- traces ------------------------------------------------------------------------ */

typedef struct {
  long k;
  char op[16];
  char name[512];
  long long offset;
  long long length;
  char to[512];
  int injected;
} call;

typedef struct {
  int n;
  call calls[512];
} trace;

/* Reads a trace file; 0 on success. */
int trace_read(const char *file, trace *t);
/* Whether a call acts on a file whose name ends with SUFFIX. */
/* Prints T as "# " lines when CRASHTEST_TRACES is set. */
void show_trace(const trace *t);
int call_on(const call *c, const char *suffix);
/* Whether C puts bytes into a file: a write, or a call that fills it from
 * another file (fills_from_file). */
int is_write(const call *c);
/* Whether C fills a file from another (a clone or copy_file_range): the
 * library answers any error there by writing the bytes itself. */
int fills_from_file(const call *c);

/* snprintf, for messages and paths that are cut when too long. */
void fmt(char *buf, size_t len, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* ---- results --------------------------------------------------------------------------- */

void pass(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(const char *detail, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int failures(void);

/* ---- the test groups ---------------------------------------------------------------------- */

int test_points(const char *only);
int test_random(long runs);
int test_order(void);
int test_ioerr(void);
int test_badinput(const char *markdown);
int test_writers(void);
int test_backend(void);

#endif /* CRASH_H */
