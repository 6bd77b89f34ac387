/* The runtime's side of liblooms for the benchmark: see host.c. */
#ifndef BENCH_HOST_H
#define BENCH_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"
#include "looms.h"

/* The runtime's u3o_config: the fields the library reads, padded to 88. */
typedef struct bench_config {
  uint32_t who_w;
  char *dir_c;
  char *eph_c;
  uint32_t wag_w;
  size_t wor_i;
  uint32_t tos_w;
  uint8_t rest_y[44];
} bench_config;

extern bench_config u3o_Config;

/* u3o_Config flags. */
#define BENCH_NO_DEMAND (1u << 9)

/* Makes the pier DIR, sets u3o_Config (loom of PAGES pages, FLAGS), maps
 * the loom and installs the fault handler. */
void host_start(char *dir, uint32_t pages, uint32_t flags);

/* Sets the watermarks: a heap of HEAP_PAGES pages, the stack in the top
 * BENCH_STACK_PAGES pages; moves the guard between them (u3e_ward). */
void host_heap(uint32_t heap_pages);

/* The watermarks as word offsets. */
u3_post host_low(void);
u3_post host_high(void);

/* SIGSEGVs taken in the loom so far. */
uint64_t host_faults(void);

/* Pages in [FROM, TO) the library's bitmap marks dirty. */
uint32_t host_dirty(uint32_t from, uint32_t to);

#endif /* BENCH_HOST_H */
