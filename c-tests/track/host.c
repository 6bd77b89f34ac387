/* The tracking tests' host: see host.h. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <time.h>

void host_start(char *dir, size_t words, uint32_t flags) {
  rt_setup setup = {
      .name = "host",
      .words = words,
      .flags = flags,
      .bail_exit = 3,
      .unhandled_exit = 3,
  };
  rt_start(&setup);
  rt_mkdirs(dir);
  u3o_Config.dir_c = dir;
}

uint64_t host_faults(void) { return rt_faults; }

void host_road(u3_post rut_p, u3_post hat_p, u3_post cap_p, uint32_t len_w, u3_post pag_p) {
  if (rut_p != 0) {
    errno = EINVAL;
    host_die("host_road: the heap's root is page 0");
  }
  rt_marks(hat_p, cap_p);
  rt_directory(pag_p, len_w);
}

/* One probed store, run by rt_try. */
typedef struct store {
  volatile uint32_t *word;
  uint32_t value;
} store;

static void do_store(void *arg) {
  store *s = arg;
  *s->word = s->value;
}

int host_try_store(volatile uint32_t *word, uint32_t value) {
  uint64_t before = rt_faults;
  store s = {.word = word, .value = value};
  if (!rt_try(do_store, &s)) {
    return rt_last_flaw;
  }
  return rt_faults == before ? HOST_NO_FAULT : (int)u3e_flaw_good;
}

uint32_t host_mix(uint32_t seed, uint32_t page, uint32_t i) {
  uint64_t x = ((uint64_t)seed << 44) ^ ((uint64_t)page << 12) ^ i;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return (uint32_t)x;
}

double host_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}
