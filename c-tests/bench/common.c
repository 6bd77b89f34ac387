/* Helpers shared by looms_bench and raw_bench: see bench.h. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

uint64_t bench_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

double bench_ms(uint64_t from, uint64_t to) { return (double)(to - from) / 1e6; }

double bench_us(uint64_t from, uint64_t to) { return (double)(to - from) / 1e3; }

_Noreturn void bench_die(const char *what) {
  fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
  exit(2);
}

_Noreturn void bench_fail(const char *message) {
  fprintf(stderr, "bench: %s\n", message);
  exit(2);
}

uint32_t *bench_page(uint32_t page) {
  return (uint32_t *)(BENCH_LOOM_BASE + (uintptr_t)page * BENCH_PAGE_BYTES);
}

void bench_fill(uint32_t *words, uint32_t page, uint32_t seed) {
  uint32_t x = (page + 1) * 0x9e3779b9u ^ seed * 0x85ebca6bu;
  for (size_t i = 0; i < BENCH_PAGE_WORDS; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

__attribute__((noinline)) void bench_store_word(uint32_t *page, uint32_t value) {
  *(volatile uint32_t *)page = value;
}

__attribute__((noinline)) void bench_store_page(uint32_t *page, uint32_t value) {
  /* The first word faults (or not); the rest is the page's new contents. */
  *(volatile uint32_t *)page = value;
  for (size_t i = 1; i < BENCH_PAGE_WORDS; i++) {
    page[i] = value + (uint32_t)i;
  }
  __asm__ volatile("" ::: "memory");
}

void bench_first_stores(uint32_t pages, uint32_t stride, int whole) {
  for (uint32_t page = 0; page < pages; page += stride) {
    if (whole) {
      bench_store_page(bench_page(page), page);
    } else {
      bench_store_word(bench_page(page), page);
    }
  }
}

void bench_map_loom(size_t len) {
  void *got = mmap((void *)BENCH_LOOM_BASE, len, PROT_READ | PROT_WRITE,
                   MAP_ANON | MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
  if (got == MAP_FAILED) {
    bench_die("mmap loom");
  }
}

uint32_t bench_arg(const char *text) {
  char *end;
  errno = 0;
  unsigned long value = strtoul(text, &end, 10);
  if (errno != 0 || *end != '\0' || end == text || value > UINT32_MAX) {
    fprintf(stderr, "bench: bad number '%s'\n", text);
    exit(2);
  }
  return (uint32_t)value;
}

uint32_t bench_first_word(uint32_t page, uint32_t seed) {
  uint32_t x = (page + 1) * 0x9e3779b9u ^ seed * 0x85ebca6bu;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

/* The value in kB of the line starting KEY in FILE, in MiB. */
static double proc_mib(const char *file, const char *key) {
  FILE *in = fopen(file, "r");
  if (in == NULL) {
    return -1;
  }
  char line[256];
  double mib = -1;
  size_t len = strlen(key);
  while (fgets(line, sizeof line, in) != NULL) {
    if (strncmp(line, key, len) == 0) {
      mib = strtod(line + len, NULL) / 1024.0;
      break;
    }
  }
  fclose(in);
  return mib;
}

double bench_rss_mib(void) { return proc_mib("/proc/self/status", "VmRSS:"); }

double bench_huge_mib(void) { return proc_mib("/proc/self/smaps_rollup", "AnonHugePages:"); }

__attribute__((noinline)) uint32_t bench_read_pages(const void *addr, size_t len) {
  uint32_t sum = 0;
  for (size_t at = 0; at < len; at += 4096) {
    sum += *(const volatile uint32_t *)((const char *)addr + at);
  }
  return sum;
}
