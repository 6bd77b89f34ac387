/* format: the snapshot's files as the tests read and write them, written
 * from ../shared/ABI.md ("On disk") and never with the library's code, so
 * that a mistake in the library's reader or writer cannot hide in the
 * test's; see runtime.h. */
#define _GNU_SOURCE
#include "runtime.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- MurmurHash3_x86_32, written from its published description ------------------ */

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

/* One 32-bit block mixed in. */
static uint32_t scramble(uint32_t k) {
  k *= 0xcc9e2d51u;
  k = rotl32(k, 15);
  return k * 0x1b873593u;
}

uint32_t rt_murmur3(const void *data, size_t len, uint32_t seed) {
  const uint8_t *p = data;
  uint32_t h = seed;
  size_t blocks = len / 4;
  for (size_t b = 0; b < blocks; b++) {
    /* Blocks are little-endian words, whatever the host's byte order. */
    const uint8_t *w = p + 4 * b;
    uint32_t k = (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 |
                 (uint32_t)w[3] << 24;
    h ^= scramble(k);
    h = rotl32(h, 13);
    h = h * 5 + 0xe6546b64u;
  }
  const uint8_t *tail = p + 4 * blocks;
  uint32_t k = 0;
  switch (len & 3) {
  case 3:
    k ^= (uint32_t)tail[2] << 16;
    /* fall through */
  case 2:
    k ^= (uint32_t)tail[1] << 8;
    /* fall through */
  case 1:
    k ^= tail[0];
    h ^= scramble(k);
    break;
  default:
    break;
  }
  h ^= (uint32_t)len;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* ---- the patch ----------------------------------------------------------------------- */

uint32_t rt_page_sum(const void *page) { return rt_murmur3(page, RT_PAGE_BYTES, RT_SEED); }

uint32_t rt_control_sum(const uint8_t *control, uint32_t lines) {
  return rt_murmur3(control + 8, 8 + 8 * (size_t)lines, RT_SEED);
}

void rt_put32(uint8_t *at, uint32_t value) {
  at[0] = (uint8_t)value;
  at[1] = (uint8_t)(value >> 8);
  at[2] = (uint8_t)(value >> 16);
  at[3] = (uint8_t)(value >> 24);
}

/* ---- files ----------------------------------------------------------------------------- */

/* pread, which Windows' C library lacks: there the offset moves, which no
 * caller here minds. */
static long long read_at(int fd, void *buf, size_t len, long long at) {
#ifdef _WIN32
  if (_lseeki64(fd, at, SEEK_SET) != at) {
    return -1;
  }
  return read(fd, buf, (unsigned)len);
#else
  return pread(fd, buf, len, (off_t)at);
#endif
}

const char *rt_chk(char *buf, size_t len, const char *dir, const char *name) {
  snprintf(buf, len, "%s/.urb/chk/%s", dir, name);
  return buf;
}

uint8_t *rt_slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | RT_BINARY);
  if (fd < 0) {
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    rt_die(path);
  }
  size_t size = (size_t)st.st_size;
  uint8_t *buf = malloc(size != 0 ? size : 1);
  if (buf == NULL) {
    rt_die("malloc");
  }
  size_t done = 0;
  while (done < size) {
    long long got = read_at(fd, buf + done, size - done, (long long)done);
    if (got <= 0) {
      rt_die(path);
    }
    done += (size_t)got;
  }
  close(fd);
  *len = size;
  return buf;
}

long long rt_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

bool rt_read_page(int fd, uint32_t page, uint32_t *words) {
  long long at = (long long)page * (long long)RT_PAGE_BYTES;
  return read_at(fd, words, RT_PAGE_BYTES, at) == (long long)RT_PAGE_BYTES;
}
