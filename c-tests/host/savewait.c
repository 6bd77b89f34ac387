/* savewait: an LD_PRELOAD shim that makes every u3e_save a background save
 * followed by its barrier: the real u3e_save, then looms_save_wait. The
 * scenario steps, which read the pier's files right after a save, then see
 * a background save's files (scripts/suites/20-scenarios.sh). A wait that
 * fails is said on stderr; the step's own checks then see the old files.
 * Compiled with -DSAVEWAIT_STATIC it is __wrap_u3e_save instead, for a fully
 * static program linked with -Wl,--wrap=u3e_save (no loader to preload it). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "looms.h"

#ifdef SAVEWAIT_STATIC
void __real_u3e_save(u3_post low_p, u3_post hig_p);
void __wrap_u3e_save(u3_post low_p, u3_post hig_p);

void __wrap_u3e_save(u3_post low_p, u3_post hig_p) {
  __real_u3e_save(low_p, hig_p);
  if (looms_save_wait() != 0) {
    fprintf(stderr, "savewait: looms_save_wait failed\n");
  }
}
#else
#include <dlfcn.h>

void u3e_save(u3_post low_p, u3_post hig_p) {
  static void (*real)(u3_post, u3_post);
  if (real == NULL) {
    *(void **)&real = dlsym(RTLD_NEXT, "u3e_save");
    if (real == NULL) {
      fprintf(stderr, "savewait: no u3e_save after this library\n");
      abort();
    }
  }
  real(low_p, hig_p);
  if (looms_save_wait() != 0) {
    fprintf(stderr, "savewait: looms_save_wait failed\n");
  }
}
#endif
