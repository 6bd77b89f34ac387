/* The runtime's side of liblooms, as a benchmark needs it: the stand-in
 * runtime of c-tests/common, quiet, with a loom whose size is set at start
 * so that workloads can use looms of up to 16 GiB. A bail or a fault the
 * library did not handle ends the run: abort, or death by SIGSEGV. */
#define _GNU_SOURCE
#include "host.h"

void host_start(char *dir, uint32_t pages, uint32_t flags) {
  rt_setup setup = {
      .name = "bench",
      .words = (size_t)pages * BENCH_PAGE_WORDS,
      .flags = flags,
      .quiet = true,
  };
  rt_start(&setup);
  rt_mkdirs(dir);
  u3o_Config.dir_c = dir;
}

void host_heap(uint32_t heap_pages) {
  rt_road(heap_pages, BENCH_STACK_PAGES);
  u3e_ward(rt_low(), rt_high());
}

/* A call, not an inline read: the timed stores come before it. */
uint64_t host_faults(void) { return rt_faults; }
