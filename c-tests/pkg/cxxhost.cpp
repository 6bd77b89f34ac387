// cxxhost: a C++ program using liblooms. looms.h is included as is, with
// no extern "C" around it: the header's own guards must give its functions
// C linkage, or the link fails on mangled names (u3e_live, u3e_save,
// looms_save_wait, u3e_stop). minihost (C) plays the rest of the runtime.
//
//   cxxhost DIR   boots a new pier, writes 3 pages, saves, waits for the
//                 save; prints "cxx: saved 3 pages, looms_save_wait 0"
#include <looms.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>

extern "C" {
void minihost_start(char *dir);
void minihost_watermarks(u3_post low_p, u3_post hig_p);
uint32_t *minihost_page(uint32_t page);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cxxhost DIR\n");
    return 2;
  }
  const uint32_t page_words = 1u << u3a_page;
  const uint32_t top = (uint32_t)((1u << 24) / page_words) - 1;  // minihost's 64 MiB loom
  const uint32_t pages = 3;
  minihost_start(argv[1]);
  if (u3e_live(c3n, argv[1]) != c3y) {
    std::printf("cxx: u3e_live did not report a new pier\n");
    return 1;
  }
  minihost_watermarks(0, top * page_words);
  for (uint32_t p = 0; p < pages; p++) {
    std::memset(minihost_page(p), 0x40 + (int)p, page_words * 4);
  }
  u3e_save(pages * page_words, top * page_words);
  int waited = looms_save_wait();
  uint32_t saved = u3e_Pool.img_u.pgs_w;
  u3e_stop();
  char path[4096];
  std::snprintf(path, sizeof path, "%s/.urb/chk/image.bin", argv[1]);
  struct stat st;
  if (waited != 0 || saved != pages || stat(path, &st) != 0 ||
      st.st_size != (off_t)pages * page_words * 4) {
    std::printf("cxx: looms_save_wait %d, img_u.pgs_w %u, want %u pages in %s\n", waited, saved,
                pages, path);
    return 1;
  }
  std::printf("cxx: saved %u pages, looms_save_wait %d\n", saved, waited);
  return 0;
}
