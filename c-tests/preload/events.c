/* libevents: a small working stand-in for a runtime's own events.c, built
 * as a shared object for `make ab-demo` (scripts/ab-demo.sh). It does what
 * the A/B host (abhost.c) can see in one run, the way events.c does it:
 * u3e_live opens or creates .urb/chk/image.bin and reads it into the loom,
 * read-only, the rest of the loom dirty and the guard page halfway up;
 * u3e_fault dirties a clean page and makes it writable; u3e_save writes the
 * dirty pages below the low watermark into image.bin and makes them clean.
 * Nothing more: no patch (a crash during a save tears the image), no swap
 * file, no backup. The host's own library, not looms. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minihost.h"

void u3l_log(const char *format, ...);

u3e_pool u3e_Pool;

static char *page_at(c3_w pag_w) { return (char *)MINIHOST_LOOM_BASE + pag_w * MINIHOST_PAGE_BYTES; }

static int is_dirty(c3_w pag_w) { return (u3e_Pool.dit_w[pag_w >> 5] >> (pag_w & 31)) & 1; }

static void set_dirty(c3_w pag_w, int dirty) {
  c3_w bit_w = (c3_w)1 << (pag_w & 31);
  u3e_Pool.dit_w[pag_w >> 5] = dirty ? u3e_Pool.dit_w[pag_w >> 5] | bit_w
                                     : u3e_Pool.dit_w[pag_w >> 5] & ~bit_w;
}

static _Noreturn void fail(const char *what) {
  fprintf(stderr, "events: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Pages [0, PGS) hold the image: clean and read-only. */
static void protect_image(c3_w pgs_w) {
  for (c3_w pag_w = 0; pag_w < pgs_w; pag_w++) {
    set_dirty(pag_w, 0);
  }
  if (pgs_w && mprotect(page_at(0), pgs_w * MINIHOST_PAGE_BYTES, PROT_READ) != 0) {
    fail("protect");
  }
}

/* The guard page: halfway between the pages NOP and SOP, inaccessible. */
static int place_guard(c3_w nop_w, c3_w sop_w) {
  u3e_Pool.gar_w = nop_w + (sop_w - nop_w) / 2;
  return mprotect(page_at(u3e_Pool.gar_w), MINIHOST_PAGE_BYTES, PROT_NONE);
}

c3_o u3e_live(c3_o nuu_o, c3_c *dir_c) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/.urb/chk/image.bin", dir_c);
  u3e_Pool.dir_c = dir_c;
  u3e_Pool.pag_w = (c3_w)(u3o_Config.wor_i >> u3a_page);
  u3e_Pool.img_u.nam_c = "image";
  u3e_Pool.img_u.fid_i = open(path, O_RDWR | O_CREAT, 0666);
  if (u3e_Pool.img_u.fid_i < 0 || fstat(u3e_Pool.img_u.fid_i, &st) != 0) {
    fail(path);
  }
  u3e_Pool.img_u.pgs_w = (c3_w)(st.st_size / MINIHOST_PAGE_BYTES);
  size_t len = (size_t)u3e_Pool.img_u.pgs_w * MINIHOST_PAGE_BYTES;
  if (pread(u3e_Pool.img_u.fid_i, page_at(0), len, 0) != (ssize_t)len) {
    fail(path);
  }
  memset(u3e_Pool.dit_w, 0xff, sizeof u3e_Pool.dit_w);
  protect_image(u3e_Pool.img_u.pgs_w);
  u3l_log("boot: protected loom");
  if (u3e_Pool.img_u.pgs_w == 0) {
    u3l_log("live: logical boot");
    nuu_o = c3y;
  }
  if (place_guard(u3e_Pool.img_u.pgs_w, u3e_Pool.pag_w) != 0) {
    fail("guard");
  }
  return nuu_o;
}

u3e_flaw u3e_fault(u3_post low_p, u3_post hig_p, u3_post off_p) {
  c3_w pag_w = off_p >> u3a_page;
  if (pag_w == u3e_Pool.gar_w) {
    c3_w nop_w = low_p >> u3a_page, sop_w = hig_p >> u3a_page;
    if (sop_w <= nop_w + 1) {
      return u3e_flaw_meme;
    }
    if (place_guard(nop_w, sop_w) != 0) {
      return u3e_flaw_base;
    }
  } else if (is_dirty(pag_w)) {
    return u3e_flaw_sham;
  }
  set_dirty(pag_w, 1);
  int rc = mprotect(page_at(pag_w), MINIHOST_PAGE_BYTES, PROT_READ | PROT_WRITE);
  return rc == 0 ? u3e_flaw_good : u3e_flaw_base;
}

void u3e_save(u3_post low_p, u3_post hig_p) {
  (void)hig_p;
  c3_w pgs_w = (low_p + MINIHOST_PAGE_WORDS - 1) >> u3a_page;
  for (c3_w pag_w = 0; pag_w < pgs_w; pag_w++) {
    off_t off = (off_t)pag_w * MINIHOST_PAGE_BYTES;
    if (is_dirty(pag_w) &&
        pwrite(u3e_Pool.img_u.fid_i, page_at(pag_w), MINIHOST_PAGE_BYTES, off) != MINIHOST_PAGE_BYTES) {
      fail("save");
    }
  }
  if (ftruncate(u3e_Pool.img_u.fid_i, (off_t)pgs_w * MINIHOST_PAGE_BYTES) != 0 ||
      fsync(u3e_Pool.img_u.fid_i) != 0) {
    fail("save");
  }
  u3e_Pool.img_u.pgs_w = pgs_w;
  protect_image(pgs_w);
}

void u3e_stop(void) { close(u3e_Pool.img_u.fid_i); }
