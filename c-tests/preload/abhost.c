/* abhost: one run of the snapshot module as a runtime would drive it,
 * reporting what the host itself observes, for the LD_PRELOAD A/B test.
 *
 *   abhost DIR PAGES
 *
 * Boots DIR (a new pier), fills pages [0, PAGES), saves, and prints
 * key=value lines: what u3e_live returned, the host's own reads of
 * u3e_Pool.img_u.pgs_w and u3e_Pool.gar_w after boot and after the save,
 * image.bin's size and whether its bytes are the pages written, whether
 * the loom page at gar_w is really inaccessible (/proc/self/maps), and
 * whether the u3e_Pool the host reads lies inside the executable (a copy
 * relocation). The suite decides which library produced them; stderr
 * names the object whose u3e_save ran. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "minihost.h"

static long image_bytes(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* 1 when image.bin holds exactly PAGES pages of SEED's pattern. */
static int image_matches(const char *path, uint32_t seed, uint32_t pages) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    return 0;
  }
  int good = 1;
  uint32_t word;
  for (uint32_t page = 0; page < pages && good; page++) {
    for (uint32_t i = 0; i < MINIHOST_PAGE_WORDS && good; i++) {
      good = fread(&word, sizeof word, 1, file) == 1 && word == minihost_pattern(seed, page, i);
    }
  }
  good = good && fgetc(file) == EOF;
  fclose(file);
  return good;
}

/* 1 when the mapping holding loom page PAGE is ---p in /proc/self/maps. */
static int page_inaccessible(uint32_t page) {
  uintptr_t addr = (uintptr_t)minihost_page(page);
  FILE *maps = fopen("/proc/self/maps", "r");
  if (maps == NULL) {
    minihost_die("/proc/self/maps");
  }
  char line[512];
  int none = 0;
  while (fgets(line, sizeof line, maps) != NULL) {
    unsigned long lo, hi;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) {
      none = strncmp(perms, "---", 3) == 0;
      break;
    }
  }
  fclose(maps);
  return none;
}

/* dl_iterate_phdr visits the executable first: is DATA in one of its
 * loaded segments? */
static int in_executable(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  uintptr_t addr = (uintptr_t)data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && addr >= lo && addr < lo + ph->p_memsz) {
      return 1;
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: abhost DIR PAGES\n");
    return 2;
  }
  char *dir = argv[1];
  uint32_t pages = (uint32_t)strtoul(argv[2], NULL, 10);
  uint32_t seed = 42;
  uint32_t top = (uint32_t)(MINIHOST_LOOM_WORDS >> u3a_page) - 1;

  minihost_start(dir);
  minihost_watermarks(0, top * MINIHOST_PAGE_WORDS);
  printf("live=%u\n", (unsigned)u3e_live(c3n, dir));
  printf("boot_pgs_w=%u\nboot_gar_w=%u\n", u3e_Pool.img_u.pgs_w, u3e_Pool.gar_w);

  for (uint32_t page = 0; page < pages; page++) {
    uint32_t *words = minihost_page(page);
    for (uint32_t i = 0; i < MINIHOST_PAGE_WORDS; i++) {
      words[i] = minihost_pattern(seed, page, i);
    }
  }
  u3e_save(pages * MINIHOST_PAGE_WORDS, top * MINIHOST_PAGE_WORDS);

  char image[4096];
  snprintf(image, sizeof image, "%s/.urb/chk/image.bin", dir);
  printf("save_pgs_w=%u\nsave_gar_w=%u\n", u3e_Pool.img_u.pgs_w, u3e_Pool.gar_w);
  printf("image_bytes=%ld\n", image_bytes(image));
  printf("image_matches=%d\n", image_matches(image, seed, pages));
  printf("guard_inaccessible=%d\n", u3e_Pool.gar_w <= top && page_inaccessible(u3e_Pool.gar_w));
  printf("pool_in_executable=%d\n", dl_iterate_phdr(in_executable, &u3e_Pool) == 1);
  Dl_info where;
  void *save = dlsym(RTLD_DEFAULT, "u3e_save");
  if (save != NULL && dladdr(save, &where) != 0) {
    fprintf(stderr, "abhost: u3e_save is %s's\n", where.dli_fname);
  }
  u3e_stop();
  return 0;
}
