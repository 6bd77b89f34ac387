/* The benchmark's host of liblooms, on the stand-in runtime of
 * c-tests/common: see host.c. */
#ifndef BENCH_HOST_H
#define BENCH_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "runtime.h"

/* u3o_Config flags. */
#define BENCH_NO_DEMAND RT_NO_DEMAND

/* Makes the pier DIR, sets u3o_Config (loom of PAGES pages, FLAGS), maps
 * the loom and installs the fault handler. */
void host_start(char *dir, uint32_t pages, uint32_t flags);

/* Sets the watermarks: a heap of HEAP_PAGES pages, the stack in the top
 * BENCH_STACK_PAGES pages; moves the guard between them (u3e_ward). */
void host_heap(uint32_t heap_pages);

/* The watermarks as word offsets. */
#define host_low rt_low
#define host_high rt_high

/* SIGSEGVs taken in the loom so far. */
uint64_t host_faults(void);

/* Pages in [FROM, TO) the library's bitmap marks dirty. */
#define host_dirty rt_dirty_pages

#endif /* BENCH_HOST_H */
