/* writeback: steps for saves whose write-back to the disk fails, each in
 * its own process (scripts/suites/28-writeback.sh runs them on a device that
 * fails writes after accepting them into the cache, and under the wbhook
 * interposer).
 *
 *   writeback STEP DIR [ARGS...]
 *
 * A pier's contents follow a model: N heap pages, page p holding NEW's
 * pattern below K and OLD's from K on. LOOMS_SAVE picks the kind of save. */
#define _GNU_SOURCE
#include "host.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static host_options opts;

#define arg host_arg

static uint32_t model_k, model_new, model_old;
static uint32_t model(uint32_t page) { return page < model_k ? model_new : model_old; }

static void set_model(uint32_t k, uint32_t old_seed, uint32_t new_seed) {
  model_k = k;
  model_old = old_seed;
  model_new = new_seed;
}

/* Every heap page in the loom holds the model. */
static void check_loom(uint32_t n) {
  for (uint32_t p = 0; p < n; p++) {
    host_check(host_holds(model(p), p, host_page(p)), "loom page %u does not hold seed %u", p,
               model(p));
  }
}

/* Whether DIR/.urb/chk/NAME exists. */
static bool chk_has(const char *dir, const char *name) {
  char path[8400];
  return access(host_chk(path, sizeof path, dir, name), F_OK) == 0;
}

/* save DIR N SEED: N heap pages of SEED, saved; the image holds them. */
static void step_save(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), seed = arg(argc, argv, 4);
  host_boot_road(dir, &opts, n, 2);
  for (uint32_t p = 0; p < n; p++) host_fill(seed, p);
  u3e_save(host_low(), host_high());
  host_check(looms_save_wait() == 0, "the save did not complete");
  set_model(n, seed, seed);
  host_check_image(dir, n, model);
  printf("saved %u pages\n", n);
}

/* fail DIR N K OLD NEW FREE AFTER: boots a pier of N pages of OLD, stores
 * NEW into pages [0, K) and saves; the save must write nothing: it says so,
 * the image still holds OLD everywhere and no patch is left. AFTER "stop"
 * ends the process there; "resave" removes FREE (the file that fills the
 * device's store; gone already if the interposer removed it), saves again
 * without storing anything, and the image must hold the new model: the
 * pages the failed save did not write stayed dirty. */
static void step_fail(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), k = arg(argc, argv, 4);
  uint32_t old_seed = arg(argc, argv, 5), new_seed = arg(argc, argv, 6);
  host_check(argc > 8, "usage: fail DIR N K OLD NEW FREE AFTER");
  const char *free_path = argv[7], *after = argv[8];
  host_boot_road(dir, &opts, n, 2);
  set_model(0, old_seed, old_seed);
  check_loom(n);
  for (uint32_t p = 0; p < k; p++) host_fill(new_seed, p);
  u3e_save(host_low(), host_high());
  host_check(looms_save_wait() == -1, "the save reported no failure");
  host_check_image(dir, n, model);
  host_check(!chk_has(dir, "control.bin") && !chk_has(dir, "memory.bin"),
             "the failed save left its patch");
  printf("save kept the previous snapshot\n");
  if (strcmp(after, "stop") == 0) {
    return;
  }
  void (*disarm)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "wbhook_disarm");
  if (disarm != NULL) disarm();
  if (unlink(free_path) == 0) printf("freed the device's store\n");
  u3e_save(host_low(), host_high());
  host_check(looms_save_wait() == 0, "the save after space was freed did not complete");
  set_model(k, old_seed, new_seed);
  host_check_image(dir, n, model);
  check_loom(n);
  printf("the next save wrote every page\n");
}

/* grow DIR N M K OLD NEW: boots a pier of N pages (NEW below K, OLD
 * above), grows the heap to N + M pages holding NEW from K on, and saves.
 * Under WBHOOK_FILL the device fills at the image's first write: the save
 * ends in u3m_bail, and the next boot re-applies its patch. */
static void step_grow(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), m = arg(argc, argv, 4), k = arg(argc, argv, 5);
  uint32_t old_seed = arg(argc, argv, 6), new_seed = arg(argc, argv, 7);
  host_boot_road(dir, &opts, n, 2);
  set_model(k, old_seed, new_seed);
  check_loom(n);
  host_road(n + m, 2);
  u3e_ward(host_low(), host_high());
  for (uint32_t p = k; p < n + m; p++) host_fill(new_seed, p);
  u3e_save(host_low(), host_high());
  host_check(looms_save_wait() == 0, "the save did not complete");
  printf("saved %u pages\n", n + m);
}

/* check DIR N K OLD NEW: a boot finds the model, in the loom and in the
 * image, and no patch left. */
static void step_check(char *dir, int argc, char **argv) {
  uint32_t n = arg(argc, argv, 3), k = arg(argc, argv, 4);
  uint32_t old_seed = arg(argc, argv, 5), new_seed = arg(argc, argv, 6);
  host_check(host_boot(dir, &opts) == c3n, "boot found no image");
  set_model(k, old_seed, new_seed);
  check_loom(n);
  host_check_image(dir, n, model);
  host_check(!chk_has(dir, "control.bin") && !chk_has(dir, "memory.bin"),
             "a patch is left after boot");
  printf("boot found the model\n");
}

/* backup DIR DEST WANT: u3e_backup of the pier's snapshot into DEST
 * (overwriting) answers WANT (1: c3y, 0: c3n). */
static void step_backup(char *dir, int argc, char **argv) {
  host_check(argc > 4, "usage: backup DIR DEST WANT");
  uint32_t want = arg(argc, argv, 4);
  host_check(host_boot(dir, &opts) == c3n, "boot found no image");
  char chk[8400];
  host_chk(chk, sizeof chk, dir, "");
  c3_o got = u3e_backup(chk, argv[3], c3y);
  host_check(got == (want ? c3y : c3n), "u3e_backup answered %s", got == c3y ? "yes" : "no");
  printf("backup answered %s\n", got == c3y ? "yes" : "no");
}

int main(int argc, char **argv) {
  static const host_step steps[] = {
      {"save", step_save},   {"fail", step_fail},     {"grow", step_grow},
      {"check", step_check}, {"backup", step_backup},
  };
  return host_run_step("writeback", steps, sizeof steps / sizeof steps[0], &opts, argc, argv);
}
