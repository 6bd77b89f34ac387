/* The tracking tests' host: see host.h. */
#define _GNU_SOURCE
#include "host.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

/* Whether TEXT is a decimal number (an optional '+' before the digits, as
 * the library's parser takes it); its value in *VALUE. */
static int decimal(const char *text, unsigned long long *value) {
  const char *digit = *text == '+' ? text + 1 : text;
  if (*digit == '\0') {
    return 0;
  }
  unsigned long long n = 0;
  for (; *digit != '\0'; digit++) {
    if (*digit < '0' || *digit > '9' || n > (~0ULL - 9) / 10) {
      return 0;
    }
    n = n * 10 + (unsigned long long)(*digit - '0');
  }
  *value = n;
  return 1;
}

uint32_t host_granule(void) {
  static uint32_t pages;
  if (pages != 0) {
    return pages;
  }
  long kernel = sysconf(_SC_PAGESIZE);
  unsigned long long bytes = kernel > (long)HOST_PAGE_BYTES ? (unsigned long long)kernel
                                                             : HOST_PAGE_BYTES;
  const char *test = getenv("LOOMS_TEST_GRANULE");
  unsigned long long asked;
  if (test != NULL && decimal(test, &asked) && (asked & (asked - 1)) == 0 && asked >= bytes &&
      asked <= 64 << 10) {
    bytes = asked;
  }
  pages = (uint32_t)(bytes / HOST_PAGE_BYTES);
  return pages;
}

double host_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}
