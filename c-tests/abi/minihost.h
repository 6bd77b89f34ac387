/* minihost: the smallest host that drives liblooms the way the runtime
 * does. It defines the symbols the library imports (u3o_Config, u3a_Road,
 * u3a_loom_sane, u3a_print_memory, u3l_log, u3m_bail), maps the loom and
 * forwards store faults to u3e_fault. Link the executable with -rdynamic so
 * that a shared liblooms resolves those symbols against it. */
#ifndef MINIHOST_H
#define MINIHOST_H

#include <stddef.h>
#include <stdint.h>

#include "looms.h"

/* Where the runtime maps the loom on x86_64 Linux (U3_OS_LoomBase). */
#define MINIHOST_LOOM_BASE ((uintptr_t)0x200000000ULL)
/* A 64 MiB loom: 4096 pages of 16384 bytes. */
#define MINIHOST_LOOM_WORDS ((size_t)1 << 24)
#define MINIHOST_PAGE_WORDS ((uint32_t)1 << u3a_page)
#define MINIHOST_PAGE_BYTES ((size_t)MINIHOST_PAGE_WORDS * 4)
#define MINIHOST_ROAD_BYTES 1368

/* The runtime's u3o_config: the fields the module reads, padded to its
 * 88 bytes. */
typedef struct minihost_config {
  uint32_t who_w;
  char *dir_c;
  char *eph_c;
  uint32_t wag_w;
  size_t wor_i;
  uint32_t tos_w;
  uint8_t rest_y[44];
} minihost_config;

/* Byte offsets of the road fields the module reads. */
#define MINIHOST_ROAD_CAP_P 12
#define MINIHOST_ROAD_HAT_P 16
#define MINIHOST_ROAD_MAT_P 20
#define MINIHOST_ROAD_RUT_P 24
#define MINIHOST_ROAD_HEP_LEN_W 1220
#define MINIHOST_ROAD_HEP_PAG_P 1224

extern minihost_config u3o_Config;
extern void *u3a_Road;

/* Maps the loom, installs the fault handler and sets u3o_Config for the
 * pier DIR (created with its .urb/chk directory). Exits 2 on failure. */
void minihost_start(char *dir);

/* Sets the watermarks the fault handler passes to u3e_fault. */
void minihost_watermarks(u3_post low_p, u3_post hig_p);

/* Loom page PAGE as words. */
uint32_t *minihost_page(uint32_t page);

/* Word I of page PAGE under SEED: distinct for every page and seed. */
uint32_t minihost_pattern(uint32_t seed, uint32_t page, uint32_t i);

/* Prints "WHAT: reason" to stderr and exits 2. */
_Noreturn void minihost_die(const char *what);

#endif /* MINIHOST_H */
