/* The dirty-tracking tests' host, on the stand-in runtime of c-tests/common
 * (the imports, a loom of any size at the runtime's base, the fault handler
 * counting u3e_fault calls per loom page). What it adds: stores probed for
 * the flaw their fault returned, and the tests' own page contents. */
#ifndef TRACK_HOST_H
#define TRACK_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

/* The stand-in runtime (c-tests/common/runtime.h) under the names the
 * tracking tests use. */
#define HOST_PAGE_WORDS RT_PAGE_WORDS
#define HOST_PAGE_BYTES RT_PAGE_BYTES
#define host_pages rt_pages
#define host_marks rt_marks
#define host_page rt_page
#define host_dirty rt_dirty
#define host_page_faults rt_page_faults
#define host_reset_faults rt_reset_faults
#define host_die rt_die

/* Calls to u3e_fault since the last host_reset_faults. A call, not an
 * inline read: the compiler must finish the stores before it. */
uint64_t host_faults(void);

/* Makes DIR and DIR/.urb/chk, maps a loom of WORDS words, installs the
 * fault handler and sets u3o_Config (dir_c, wor_i, wag_w = FLAGS). A fault
 * u3e_fault does not handle outside host_try_store, and u3m_bail, end the
 * process with exit status 3. */
void host_start(char *dir, size_t words, uint32_t flags);

/* Sets the road: the heap's top and the stack's top (the heap's root
 * RUT_P must be 0, the stand-in's), and the page directory (LEN_W entries
 * at word PAG_P; entry i is page i). */
void host_road(u3_post rut_p, u3_post hat_p, u3_post cap_p, uint32_t len_w, u3_post pag_p);

/* What host_try_store returns when the store raised no fault. */
#define HOST_NO_FAULT (-1)

/* Stores VALUE at WORD. Returns HOST_NO_FAULT when no fault was raised, else
 * the u3e_flaw of the last u3e_fault call; when that is not good, the store
 * is abandoned (as the runtime abandons it) and did not land. */
int host_try_store(volatile uint32_t *word, uint32_t value);

/* A word of test data, distinct for each SEED, PAGE and word I. */
uint32_t host_mix(uint32_t seed, uint32_t page, uint32_t i);

/* Loom pages in a granule, read as the library reads it: the larger of
 * the loom page and the kernel's, or LOOMS_TEST_GRANULE (bytes) when that
 * is a power of two from there up to 64 KiB. The library protects, maps
 * and tracks the loom in granules: a first store dirties (and, under
 * mprotect, faults for) its whole granule, the guard covers one, and the
 * image's last, partial granule stays dirty. 1 on a kernel with pages of
 * 16 KiB or less. */
uint32_t host_granule(void);

/* Milliseconds on the monotonic clock. */
double host_ms(void);

#endif /* TRACK_HOST_H */
