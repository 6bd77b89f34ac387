/* Scenarios of a save, and the job a child process runs. */
#ifndef SCENARIO_H
#define SCENARIO_H

#include "crash.h"

/* One step of a heap's history: resize to PAGES (new pages written with
 * SEED), then write the DIRTY pages with SEED. */
typedef struct {
  uint32_t pages;
  uint32_t seed;
  const uint32_t *dirty;
  int ndirty;
} step;

/* A save under test: the heap saved first ("old"), then the change saved
 * under the interposer ("new"). */
typedef struct {
  const char *name;
  step old_step;
  step new_step;
} scenario;

extern const scenario scenarios[];
extern const int scenario_count;

/* Applies S to H; with TO_LOOM the loom is written too. */
void step_apply(heap *h, const step *s, int to_loom);
/* The heaps a scenario's two saves leave. */
void expected(const scenario *sc, heap *old_h, heap *new_h);

/* What a child works on. */
typedef struct {
  char run[2048];
  const scenario *sc;
  heap old_h;
  heap new_h;
  int then_save;
  int overwrite;
  int retry;
  char env_root[2100];
  char env_kill[64];
  char env_trace[2100];
  char env_fail_at[64];
  char env_fail[64];
  char env_times[64];
  char env_free[64];
  char *env[10];
} job;

/* Exit codes of a verifying child. */
#define SEEN_OLD 10
#define SEEN_NEW 11

/* Sets J's environment for the interposer: root RUN, a kill or a trace. */
void job_env(job *j, const char *kill_at, const char *trace_file);
/* Boots RUN/pier in a fresh process: it must hold exactly OLD or NEW, no
 * patch file; then saves one more change and a second boot must see it.
 * Returns SEEN_OLD or SEEN_NEW, or 0 with WHY. */
int verify_run(const char *run, const heap *old_h, const heap *new_h, char *why, size_t why_len);
/* The child behind verify_run. */
int child_verify(void *arg);
/* The heap verify_run saves after seeing SEEN. */
heap after_verify(const heap *seen);

/* A child's first steps on RUN/pier: the host started, the pier's
 * directories made, a boot, and H an empty heap (child_boot); then the
 * scenario's old heap saved (when it has pages) and its new one written
 * into the loom, not saved (child_old_saved_new_written). */
void child_boot(const job *j, heap *h);
void child_old_saved_new_written(const job *j, heap *h);

/* Children: a scenario's two saves, the second armed (child_save); a boot
 * armed from the start (child_boot_armed); u3e_backup of RUN/pier to
 * RUN/bak, armed (child_backup; exits 0 when it returned c3y); a pier with
 * NEW_H saved (child_prepare, NEW_H one seed). */
int child_save(void *arg);
int child_boot_armed(void *arg);
int child_backup(void *arg);
int child_prepare(void *arg);
/* Records the mutating calls of FN in J's run; the count, or -1. */
int record_calls(job *j, int (*fn)(void *), trace *t);
/* Makes RUN/pier/.urb/chk a copy of directory TPL. */
void make_pier_from(const char *run, const char *tpl);

#endif /* SCENARIO_H */
