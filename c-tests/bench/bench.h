/* Shared pieces of the two benchmark programs: looms_bench drives liblooms,
 * raw_bench does the bare work each measurement is compared against. Both
 * use the same loom geometry, page contents and store loops, so that the
 * only difference between a row and its baseline is the library. */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

/* The loom's address on x86_64 Linux, and its 16 KiB pages. */
#define BENCH_LOOM_BASE ((uintptr_t)0x200000000ULL)
#define BENCH_PAGE_WORDS ((size_t)4096)
#define BENCH_PAGE_BYTES (BENCH_PAGE_WORDS * 4)
/* Pages left above the heap for the stack in every workload. */
#define BENCH_STACK_PAGES 64u

/* Monotonic time in nanoseconds. */
uint64_t bench_now(void);

/* Milliseconds and microseconds between two bench_now() readings. */
double bench_ms(uint64_t from, uint64_t to);
double bench_us(uint64_t from, uint64_t to);

/* Prints "WHAT: strerror(errno)" to stderr and exits 2. */
_Noreturn void bench_die(const char *what);

/* Prints a message to stderr and exits 2. */
_Noreturn void bench_fail(const char *message);

/* Page PAGE of the loom. */
uint32_t *bench_page(uint32_t page);

/* Fills BYTES (a whole page) with contents distinct for every page and seed. */
void bench_fill(uint32_t *words, uint32_t page, uint32_t seed);

/* Word 0 of bench_fill(PAGE, SEED): what a store may put back unchanged. */
uint32_t bench_first_word(uint32_t page, uint32_t seed);

/* This process's resident set (VmRSS) and its memory in transparent huge
 * pages (AnonHugePages), in MiB; -1 when /proc cannot tell. */
double bench_rss_mib(void);
double bench_huge_mib(void);

/* Reads one word of every 4 KiB page of LEN bytes at ADDR (the first reads
 * of a mapping); returns their sum, so that the reads are not elided. */
uint32_t bench_read_pages(const void *addr, size_t len);

/* The first store to a clean page: one word, or the whole page. Not
 * inlined, so both programs run exactly the same loop. */
void bench_store_word(uint32_t *page, uint32_t value);
void bench_store_page(uint32_t *page, uint32_t value);
/* The timed loop of both programs: a first store (bench_store_page when
 * WHOLE, else bench_store_word) to every STRIDE-th page below PAGES. */
void bench_first_stores(uint32_t pages, uint32_t stride, int whole);

/* Maps LEN bytes of anonymous memory at the loom's address, as the runtime
 * does (MAP_FIXED | MAP_PRIVATE | MAP_NORESERVE, read-write). */
void bench_map_loom(size_t len);

/* Parses a non-negative decimal argument. */
uint32_t bench_arg(const char *text);

#endif /* BENCH_H */
