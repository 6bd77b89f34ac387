/* raw_bench: the bare work each looms_bench row is compared against, in a
 * fresh process, without liblooms.
 *
 *   raw_bench fault word|page PAGES STRIDE
 *       PAGES * STRIDE populated 16 KiB pages of anonymous memory,
 *       PROT_READ; the SIGSEGV handler only mprotects the page read-write:
 *       microseconds per page of the same store loop looms_bench times, to
 *       every STRIDE-th page
 *   raw_bench cow FILE word|page PAGES STRIDE
 *       writes FILE (PAGES * STRIDE pages, synced, left in the page cache),
 *       maps it MAP_PRIVATE read-write at the loom's address, as default
 *       mode maps the image, and times the same store loop with no tracking
 *       at all: the kernel's copy-on-write alone, microseconds per page
 *   raw_bench write FILE PAGES
 *       a new file: open, PAGES 16 KiB pwrites, one fdatasync (fresh)
 *   raw_bench write FILE PAGES FILEPAGES
 *       an existing, synced file of FILEPAGES pages: PAGES 16 KiB pwrites in
 *       place at an even stride, one fdatasync (rewrite)
 *   raw_bench read FILE
 *       one sequential read of FILE into fresh anonymous memory
 *   raw_bench hugeread FILE
 *       the same read without the library, the way no_demand boot reads:
 *       memory advised MADV_HUGEPAGE, one thread per CPU claiming 4 MiB
 *       chunks in turn (value, ms)
 *   raw_bench mapread FILE
 *       what default mode's boot and first reads cost bare: open FILE and
 *       map it read-only and private at the loom's address (value, ms), as
 *       the reference's boot maps the image; the resident set after it
 *       (rss, MiB); then one word read from every 4 KiB page (reads, ms)
 *   raw_bench madvise PAGES
 *       madvise(MADV_DONTNEED) over PAGES untouched anonymous pages
 *   raw_bench reprotect PAGES STRIDE
 *       PAGES anonymous pages, one word stored in every STRIDE-th:
 *       mprotect(PROT_READ) of the whole range
 *
 * Prints "value=<measurement>" on stdout (ms, or µs per page for fault). */
#define _GNU_SOURCE
#include "bench.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t mapped;
static volatile uint64_t faults;

static void on_fault(int sig, siginfo_t *info, void *context) {
  (void)sig;
  (void)context;
  uintptr_t addr = (uintptr_t)info->si_addr;
  if (addr >= BENCH_LOOM_BASE && addr < BENCH_LOOM_BASE + mapped) {
    faults = faults + 1;
    uintptr_t page = addr & ~(uintptr_t)(BENCH_PAGE_BYTES - 1);
    if (mprotect((void *)page, BENCH_PAGE_BYTES, PROT_READ | PROT_WRITE) == 0) {
      return;
    }
  }
  signal(SIGSEGV, SIG_DFL);
  raise(SIGSEGV);
}

static void map(uint32_t pages) {
  mapped = (size_t)pages * BENCH_PAGE_BYTES;
  bench_map_loom(mapped);
}

static int run_fault(const char *kind, uint32_t pages, uint32_t stride) {
  int whole = strcmp(kind, "page") == 0;
  if (stride == 0) {
    bench_fail("stride is at least 1");
  }
  map(pages * stride);
  for (uint32_t page = 0; page < pages * stride; page++) {
    bench_fill(bench_page(page), page, 1);
  }
  if (mprotect((void *)BENCH_LOOM_BASE, mapped, PROT_READ) != 0) {
    bench_die("mprotect");
  }
  static uint8_t alt_stack[1 << 16];
  stack_t stack = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_fault;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  if (sigaltstack(&stack, NULL) != 0 || sigaction(SIGSEGV, &action, NULL) != 0) {
    bench_die("sigaction");
  }
  uint64_t from = bench_now();
  for (uint32_t page = 0; page < pages * stride; page += stride) {
    if (whole) {
      bench_store_page(bench_page(page), page);
    } else {
      bench_store_word(bench_page(page), page);
    }
  }
  uint64_t to = bench_now();
  printf("value=%.3f faults=%llu\n", bench_us(from, to) / pages, (unsigned long long)faults);
  return 0;
}

static void write_pages(int fd, uint32_t from, uint32_t to, uint32_t stride);

static int run_cow(const char *path, const char *kind, uint32_t pages, uint32_t stride) {
  int whole = strcmp(kind, "page") == 0;
  if (stride == 0) {
    bench_fail("stride is at least 1");
  }
  uint32_t image = pages * stride;
  map(image);
  for (uint32_t page = 0; page < image; page++) {
    bench_fill(bench_page(page), page, 1);
  }
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    bench_die(path);
  }
  write_pages(fd, 0, image, 1);
  if (fdatasync(fd) != 0) {
    bench_die("fdatasync");
  }
  void *got = mmap((void *)BENCH_LOOM_BASE, mapped, PROT_READ | PROT_WRITE,
                   MAP_FIXED | MAP_PRIVATE, fd, 0);
  if (got == MAP_FAILED) {
    bench_die("mmap image");
  }
  uint64_t from = bench_now();
  bench_first_stores(image, stride, whole);
  uint64_t to = bench_now();
  close(fd);
  unlink(path);
  printf("value=%.3f\n", bench_us(from, to) / pages);
  return 0;
}

static void write_pages(int fd, uint32_t from, uint32_t to, uint32_t stride) {
  for (uint32_t page = from; page < to; page += stride) {
    const char *bytes = (const char *)bench_page(page);
    size_t done = 0;
    while (done < BENCH_PAGE_BYTES) {
      ssize_t put = pwrite(fd, bytes + done, BENCH_PAGE_BYTES - done,
                           (off_t)page * BENCH_PAGE_BYTES + (off_t)done);
      if (put <= 0) {
        bench_die("pwrite");
      }
      done += (size_t)put;
    }
  }
}

static int run_write(const char *path, uint32_t pages, uint32_t file_pages) {
  if (file_pages == 0) {
    map(pages);
    for (uint32_t page = 0; page < pages; page++) {
      bench_fill(bench_page(page), page, 1);
    }
    unlink(path);
    uint64_t from = bench_now();
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
      bench_die(path);
    }
    write_pages(fd, 0, pages, 1);
    if (fdatasync(fd) != 0) {
      bench_die("fdatasync");
    }
    close(fd);
    uint64_t to = bench_now();
    printf("value=%.3f\n", bench_ms(from, to));
    return 0;
  }
  map(file_pages);
  for (uint32_t page = 0; page < file_pages; page++) {
    bench_fill(bench_page(page), page, 1);
  }
  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    bench_die(path);
  }
  write_pages(fd, 0, file_pages, 1);
  if (fdatasync(fd) != 0) {
    bench_die("fdatasync");
  }
  uint32_t stride = file_pages / pages;
  for (uint32_t page = 0; page < stride * pages; page += stride) {
    bench_fill(bench_page(page), page, 2);
  }
  uint64_t from = bench_now();
  write_pages(fd, 0, stride * pages, stride);
  if (fdatasync(fd) != 0) {
    bench_die("fdatasync");
  }
  uint64_t to = bench_now();
  close(fd);
  printf("value=%.3f\n", bench_ms(from, to));
  return 0;
}

static int run_read(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    bench_die(path);
  }
  map((uint32_t)((st.st_size + BENCH_PAGE_BYTES - 1) / BENCH_PAGE_BYTES));
  char *to_c = (char *)BENCH_LOOM_BASE;
  uint64_t from = bench_now();
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    bench_die(path);
  }
  off_t done = 0;
  while (done < st.st_size) {
    ssize_t got = pread(fd, to_c + done, (size_t)(st.st_size - done), done);
    if (got <= 0) {
      bench_die("pread");
    }
    done += got;
  }
  close(fd);
  uint64_t to = bench_now();
  printf("value=%.3f\n", bench_ms(from, to));
  return 0;
}

struct huge_job {
  int fd;
  size_t len;
  size_t next; /* the next chunk's offset, claimed with __atomic_fetch_add */
};

static void *huge_reader(void *arg) {
  struct huge_job *job = arg;
  const size_t chunk = (size_t)4 << 20;
  for (;;) {
    size_t at = __atomic_fetch_add(&job->next, chunk, __ATOMIC_RELAXED);
    if (at >= job->len) {
      return NULL;
    }
    size_t end = at + chunk < job->len ? at + chunk : job->len;
    while (at < end) {
      ssize_t got = pread(job->fd, (char *)BENCH_LOOM_BASE + at, end - at, (off_t)at);
      if (got <= 0) {
        bench_die("pread");
      }
      at += (size_t)got;
    }
  }
}

static int run_hugeread(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    bench_die(path);
  }
  map((uint32_t)((st.st_size + BENCH_PAGE_BYTES - 1) / BENCH_PAGE_BYTES));
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
  uint64_t from = bench_now();
  struct huge_job job = {.fd = open(path, O_RDONLY), .len = (size_t)st.st_size, .next = 0};
  if (job.fd < 0) {
    bench_die(path);
  }
  if (madvise((void *)BENCH_LOOM_BASE, mapped, MADV_HUGEPAGE) != 0) {
    bench_die("madvise");
  }
  pthread_t helpers[8];
  for (int i = 1; i < threads; i++) {
    if (pthread_create(&helpers[i], NULL, huge_reader, &job) != 0) {
      bench_fail("pthread_create");
    }
  }
  huge_reader(&job);
  for (int i = 1; i < threads; i++) {
    pthread_join(helpers[i], NULL);
  }
  close(job.fd);
  uint64_t to = bench_now();
  printf("value=%.3f threads=%d huge=%.1f\n", bench_ms(from, to), threads, bench_huge_mib());
  return 0;
}

static int run_mapread(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    bench_die(path);
  }
  map((uint32_t)((st.st_size + BENCH_PAGE_BYTES - 1) / BENCH_PAGE_BYTES));
  uint64_t t0 = bench_now();
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    bench_die(path);
  }
  void *got = mmap((void *)BENCH_LOOM_BASE, (size_t)st.st_size, PROT_READ,
                   MAP_FIXED | MAP_PRIVATE, fd, 0);
  if (got == MAP_FAILED) {
    bench_die("mmap image");
  }
  uint64_t t1 = bench_now();
  double rss = bench_rss_mib();
  uint64_t t2 = bench_now();
  uint32_t sum = bench_read_pages((void *)BENCH_LOOM_BASE, (size_t)st.st_size);
  uint64_t t3 = bench_now();
  close(fd);
  printf("value=%.3f reads=%.3f rss=%.1f sum=%u\n", bench_ms(t0, t1), bench_ms(t2, t3), rss, sum);
  return 0;
}

static int run_madvise(uint32_t pages) {
  map(pages);
  uint64_t from = bench_now();
  if (madvise((void *)BENCH_LOOM_BASE, mapped, MADV_DONTNEED) != 0) {
    bench_die("madvise");
  }
  uint64_t to = bench_now();
  printf("value=%.3f\n", bench_ms(from, to));
  return 0;
}

static int run_reprotect(uint32_t pages, uint32_t stride) {
  map(pages);
  for (uint32_t page = 0; page < pages; page += stride) {
    bench_store_word(bench_page(page), page);
  }
  uint64_t from = bench_now();
  if (mprotect((void *)BENCH_LOOM_BASE, mapped, PROT_READ) != 0) {
    bench_die("mprotect");
  }
  uint64_t to = bench_now();
  printf("value=%.3f\n", bench_ms(from, to));
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *cmd = argc > 1 ? argv[1] : "";
  if (strcmp(cmd, "fault") == 0 && argc == 5) {
    return run_fault(argv[2], bench_arg(argv[3]), bench_arg(argv[4]));
  }
  if (strcmp(cmd, "cow") == 0 && argc == 6) {
    return run_cow(argv[2], argv[3], bench_arg(argv[4]), bench_arg(argv[5]));
  }
  if (strcmp(cmd, "write") == 0 && (argc == 4 || argc == 5)) {
    return run_write(argv[2], bench_arg(argv[3]), argc == 5 ? bench_arg(argv[4]) : 0);
  }
  if (strcmp(cmd, "read") == 0 && argc == 3) {
    return run_read(argv[2]);
  }
  if (strcmp(cmd, "hugeread") == 0 && argc == 3) {
    return run_hugeread(argv[2]);
  }
  if (strcmp(cmd, "mapread") == 0 && argc == 3) {
    return run_mapread(argv[2]);
  }
  if (strcmp(cmd, "madvise") == 0 && argc == 3) {
    return run_madvise(bench_arg(argv[2]));
  }
  if (strcmp(cmd, "reprotect") == 0 && argc == 4) {
    return run_reprotect(bench_arg(argv[2]), bench_arg(argv[3]));
  }
  fprintf(stderr, "usage: see the head of raw_bench.c\n");
  return 2;
}
