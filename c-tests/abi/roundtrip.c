/* roundtrip: a fresh pier written by one process and read back by another.
 *
 *   roundtrip write DIR SEED PAGES   boot a new pier, fill pages [0, PAGES)
 *                                    with SEED's pattern, save, stop
 *   roundtrip read  DIR SEED PAGES   boot the pier, check that the loom and
 *                                    image.bin hold exactly those pages
 *
 * Prints one line saying what it checked; exits 0 when every check holds,
 * 1 when one fails, 2 when the host itself cannot run. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "minihost.h"

/* Boots the pier and sets the watermarks: the heap empty, the stack at the
 * loom's top. Returns what u3e_live returned. */
static c3_o boot(char *dir) {
  minihost_start(dir);
  c3_o nuu_o = u3e_live(c3n, dir);
  uint32_t pages = (uint32_t)(MINIHOST_LOOM_WORDS >> u3a_page);
  minihost_watermarks(0, (pages - 1) * MINIHOST_PAGE_WORDS);
  return nuu_o;
}

static long image_bytes(const char *dir) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/.urb/chk/image.bin", dir);
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int cmd_write(char *dir, uint32_t seed, uint32_t pages) {
  if (boot(dir) != c3y) {
    printf("write: u3e_live did not report a new pier\n");
    return 1;
  }
  for (uint32_t page = 0; page < pages; page++) {
    uint32_t *words = minihost_page(page);
    for (uint32_t i = 0; i < MINIHOST_PAGE_WORDS; i++) {
      words[i] = minihost_pattern(seed, page, i);
    }
  }
  uint32_t top = (uint32_t)(MINIHOST_LOOM_WORDS >> u3a_page) - 1;
  u3e_save(pages * MINIHOST_PAGE_WORDS, top * MINIHOST_PAGE_WORDS);
  long bytes = image_bytes(dir);
  uint32_t saved = u3e_Pool.img_u.pgs_w;
  u3e_stop();
  if (saved != pages || bytes != (long)(pages * MINIHOST_PAGE_BYTES)) {
    printf("write: img_u.pgs_w %u, image.bin %ld bytes, want %u pages\n", saved, bytes, pages);
    return 1;
  }
  printf("write: saved %u pages\n", pages);
  return 0;
}

/* The first word of the image that differs from the pattern, or -1. */
static long image_mismatch(const char *dir, uint32_t seed, uint32_t pages) {
  char path[4096];
  snprintf(path, sizeof path, "%s/.urb/chk/image.bin", dir);
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    minihost_die(path);
  }
  long bad = -1;
  uint32_t word;
  for (uint32_t page = 0; page < pages && bad < 0; page++) {
    for (uint32_t i = 0; i < MINIHOST_PAGE_WORDS; i++) {
      if (fread(&word, sizeof word, 1, file) != 1 || word != minihost_pattern(seed, page, i)) {
        bad = (long)page * MINIHOST_PAGE_WORDS + i;
        break;
      }
    }
  }
  fclose(file);
  return bad;
}

/* The first loom word that differs from the pattern, or -1. */
static long loom_mismatch(uint32_t seed, uint32_t pages) {
  for (uint32_t page = 0; page < pages; page++) {
    const uint32_t *words = minihost_page(page);
    for (uint32_t i = 0; i < MINIHOST_PAGE_WORDS; i++) {
      if (words[i] != minihost_pattern(seed, page, i)) {
        return (long)page * MINIHOST_PAGE_WORDS + i;
      }
    }
  }
  return -1;
}

static int cmd_read(char *dir, uint32_t seed, uint32_t pages) {
  if (boot(dir) != c3n) {
    printf("read: u3e_live reported a new pier\n");
    return 1;
  }
  uint32_t booted = u3e_Pool.img_u.pgs_w;
  long in_loom = loom_mismatch(seed, pages);
  long in_file = image_mismatch(dir, seed, pages);
  u3e_stop();
  if (booted != pages || in_loom >= 0 || in_file >= 0) {
    printf("read: img_u.pgs_w %u (want %u), first bad word: loom %ld, image.bin %ld\n", booted,
           pages, in_loom, in_file);
    return 1;
  }
  printf("read: %u pages verified\n", pages);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: roundtrip write|read DIR SEED PAGES\n");
    return 2;
  }
  uint32_t seed = (uint32_t)strtoul(argv[3], NULL, 10);
  uint32_t pages = (uint32_t)strtoul(argv[4], NULL, 10);
  if (strcmp(argv[1], "write") == 0) {
    return cmd_write(argv[2], seed, pages);
  }
  if (strcmp(argv[1], "read") == 0) {
    return cmd_read(argv[2], seed, pages);
  }
  fprintf(stderr, "roundtrip: unknown command %s\n", argv[1]);
  return 2;
}
