/* A host for the dirty-tracking tests: defines what the runtime defines
 * (u3o_Config, u3a_Road, u3a_loom_sane, u3a_print_memory, u3l_log,
 * u3m_bail), maps a loom of any size at the runtime's base address and
 * forwards store faults to u3e_fault, counting them per loom page. */
#ifndef TRACK_HOST_H
#define TRACK_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "looms.h"

#define HOST_LOOM_BASE ((uintptr_t)0x200000000ULL)
#define HOST_PAGE_WORDS ((uint32_t)1 << u3a_page)
#define HOST_PAGE_BYTES ((size_t)HOST_PAGE_WORDS * 4)
#define HOST_ROAD_BYTES 1368

/* Flags in u3o_Config.wag_w. */
#define HOST_VERBOSE (1u << 4)
#define HOST_NO_DEMAND (1u << 9)
#define HOST_SWAP (1u << 12)

/* The runtime's u3o_config, padded to its 88 bytes. */
typedef struct host_config {
  uint32_t who_w;
  char *dir_c;
  char *eph_c;
  uint32_t wag_w;
  size_t wor_i;
  uint32_t tos_w;
  uint8_t rest_y[44];
} host_config;

extern host_config u3o_Config;
extern void *u3a_Road;

/* Makes DIR and DIR/.urb/chk, maps a loom of WORDS words, installs the
 * fault handler and sets u3o_Config (dir_c, wor_i, wag_w = FLAGS). */
void host_start(char *dir, size_t words, uint32_t flags);

/* Pages in the loom. */
uint32_t host_pages(void);

/* The watermarks the fault handler passes to u3e_fault. */
void host_marks(u3_post low_p, u3_post hig_p);

/* Sets the road: the heap's root and top, the stack's top, and the page
 * directory (LEN_W entries at word PAG_P; entry i is page (RUT_P >> 12) + i). */
void host_road(u3_post rut_p, u3_post hat_p, u3_post cap_p, uint32_t len_w, u3_post pag_p);

/* Loom page PAGE as words. */
uint32_t *host_page(uint32_t page);

/* Whether u3e_Pool marks PAGE dirty. */
int host_dirty(uint32_t page);

/* Calls to u3e_fault since the last host_reset_faults, in all and for
 * one page (saturating at 255). */
uint64_t host_faults(void);
unsigned host_page_faults(uint32_t page);
void host_reset_faults(void);

/* What host_try_store returns when the store raised no fault. */
#define HOST_NO_FAULT (-1)

/* Stores VALUE at WORD. Returns HOST_NO_FAULT when no fault was raised, else
 * the u3e_flaw of the last u3e_fault call; when that is not good, the store
 * is abandoned (as the runtime abandons it) and did not land. Outside this
 * function a fault that is not good ends the process with exit status 3. */
int host_try_store(volatile uint32_t *word, uint32_t value);

/* A word of test data, distinct for each SEED, PAGE and word I. */
uint32_t host_mix(uint32_t seed, uint32_t page, uint32_t i);

/* Milliseconds on the monotonic clock. */
double host_ms(void);

/* Prints "host: WHAT: reason" to stderr and exits 2. */
_Noreturn void host_die(const char *what);

#endif /* TRACK_HOST_H */
