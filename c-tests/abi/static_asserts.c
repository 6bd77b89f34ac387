/* The events.c ABI as the runtime measures it (x86_64 Linux), asserted at
 * compile time against include/looms.h, and the host-side layouts the test
 * hosts use (minihost.h). Compiling this file is the test. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "looms.h"
#include "minihost.h"

#define SAME_TYPE(a, b) _Generic((a), b: 1, default: 0)

/* ---- scalar types ------------------------------------------------------- */

_Static_assert(sizeof(c3_w) == 4 && SAME_TYPE((c3_w)0, uint32_t), "c3_w is uint32_t");
_Static_assert(sizeof(c3_o) == 1 && SAME_TYPE((c3_o)0, uint8_t), "c3_o is uint8_t");
_Static_assert(SAME_TYPE((c3_i)0, int), "c3_i is int");
_Static_assert(SAME_TYPE((c3_z)0, size_t), "c3_z is size_t");
_Static_assert(SAME_TYPE((c3_c)0, char), "c3_c is char");
_Static_assert(SAME_TYPE((u3_post)0, uint32_t), "u3_post is uint32_t");

/* ---- constants ---------------------------------------------------------- */

_Static_assert(c3y == 0 && c3n == 1, "loobeans");
_Static_assert(u3a_page == 12, "a page is 4096 words");
_Static_assert(u3a_pages == (1 << 20), "2^20 pages at most");
_Static_assert(LOOMS_DIRTY_WORDS == 32768, "one dirty bit per page");
_Static_assert(U3P_VERLAT == 2, "patch format version");

/* ---- u3e_flaw ----------------------------------------------------------- */

_Static_assert(sizeof(u3e_flaw) == 4, "u3e_flaw is a 4-byte enum");
_Static_assert(u3e_flaw_sham == 0 && u3e_flaw_base == 1, "u3e_flaw sham, base");
_Static_assert(u3e_flaw_meme == 2 && u3e_flaw_good == 3, "u3e_flaw meme, good");

/* ---- u3e_line, u3e_control ---------------------------------------------- */

_Static_assert(sizeof(u3e_line) == 8 && _Alignof(u3e_line) == 4, "u3e_line 8/4");
_Static_assert(offsetof(u3e_line, pag_w) == 0 && offsetof(u3e_line, has_w) == 4, "u3e_line");
_Static_assert(sizeof(u3e_control) == 16 && _Alignof(u3e_control) == 4, "u3e_control 16/4");
_Static_assert(offsetof(u3e_control, ver_w) == 0 && offsetof(u3e_control, has_w) == 4,
               "u3e_control ver_w, has_w");
_Static_assert(offsetof(u3e_control, tot_w) == 8 && offsetof(u3e_control, pgs_w) == 12,
               "u3e_control tot_w, pgs_w");
_Static_assert(offsetof(u3e_control, mem_u) == 16, "u3e_control lines follow the head");

/* ---- u3e_image, u3e_pool ------------------------------------------------ */

_Static_assert(sizeof(u3e_image) == 16 && _Alignof(u3e_image) == 8, "u3e_image 16/8");
_Static_assert(offsetof(u3e_image, nam_c) == 0 && offsetof(u3e_image, fid_i) == 8,
               "u3e_image nam_c, fid_i");
_Static_assert(offsetof(u3e_image, pgs_w) == 12, "u3e_image pgs_w");
_Static_assert(SAME_TYPE(((u3e_image *)0)->fid_i, int), "fid_i is int");
_Static_assert(SAME_TYPE(((u3e_image *)0)->pgs_w, uint32_t), "pgs_w is uint32_t");

_Static_assert(sizeof(u3e_pool) == 131112 && _Alignof(u3e_pool) == 8, "u3e_pool 131112/8");
_Static_assert(offsetof(u3e_pool, dir_c) == 0 && offsetof(u3e_pool, eph_i) == 8,
               "u3e_pool dir_c, eph_i");
_Static_assert(offsetof(u3e_pool, dit_w) == 12, "u3e_pool dit_w");
_Static_assert(sizeof(((u3e_pool *)0)->dit_w) == 32768 * 4, "dit_w holds 32768 words");
_Static_assert(offsetof(u3e_pool, pag_w) == 131084, "u3e_pool pag_w");
_Static_assert(offsetof(u3e_pool, gar_w) == 131088, "u3e_pool gar_w");
_Static_assert(offsetof(u3e_pool, img_u) == 131096, "u3e_pool img_u");
_Static_assert(SAME_TYPE(((u3e_pool *)0)->gar_w, uint32_t), "gar_w is uint32_t");
_Static_assert(SAME_TYPE(&u3e_Pool, u3e_pool *), "u3e_Pool is a u3e_pool");

/* ---- the functions' types ----------------------------------------------- */

_Static_assert(SAME_TYPE(&u3e_backup, c3_o (*)(c3_c *, c3_c *, c3_o)), "u3e_backup");
_Static_assert(SAME_TYPE(&u3e_fault, u3e_flaw (*)(u3_post, u3_post, u3_post)), "u3e_fault");
_Static_assert(SAME_TYPE(&u3e_save, void (*)(u3_post, u3_post)), "u3e_save");
_Static_assert(SAME_TYPE(&u3e_toss, void (*)(u3_post, u3_post)), "u3e_toss");
_Static_assert(SAME_TYPE(&u3e_live, c3_o (*)(c3_o, c3_c *)), "u3e_live");
_Static_assert(SAME_TYPE(&u3e_stop, void (*)(void)), "u3e_stop");
_Static_assert(SAME_TYPE(&u3e_yolo, c3_o (*)(void)), "u3e_yolo");
_Static_assert(SAME_TYPE(&u3e_foul, void (*)(void)), "u3e_foul");
_Static_assert(SAME_TYPE(&u3e_init, void (*)(void)), "u3e_init");
_Static_assert(SAME_TYPE(&u3e_ward, void (*)(u3_post, u3_post)), "u3e_ward");
_Static_assert(SAME_TYPE(&u3e_image_open_any, c3_i (*)(c3_c *, c3_c *, c3_z *)),
               "u3e_image_open_any");

/* ---- what the host defines (minihost.h) --------------------------------- */

_Static_assert(sizeof(minihost_config) == 88, "u3o_config is 88 bytes");
_Static_assert(offsetof(minihost_config, who_w) == 0 && offsetof(minihost_config, dir_c) == 8,
               "u3o_config who, dir_c");
_Static_assert(offsetof(minihost_config, eph_c) == 16 && offsetof(minihost_config, wag_w) == 24,
               "u3o_config eph_c, wag_w");
_Static_assert(offsetof(minihost_config, wor_i) == 32 && offsetof(minihost_config, tos_w) == 40,
               "u3o_config wor_i, tos_w");
_Static_assert(MINIHOST_ROAD_BYTES == 1368, "a road is 1368 bytes");
_Static_assert(MINIHOST_ROAD_CAP_P == 12 && MINIHOST_ROAD_HAT_P == 16, "road cap_p, hat_p");
_Static_assert(MINIHOST_ROAD_MAT_P == 20 && MINIHOST_ROAD_RUT_P == 24, "road mat_p, rut_p");
_Static_assert(MINIHOST_ROAD_HEP_LEN_W == 1220 && MINIHOST_ROAD_HEP_PAG_P == 1224,
               "road hep.len_w, hep.pag_p");
_Static_assert(SAME_TYPE(&u3o_Config, minihost_config *), "u3o_Config");

/* Prints the sizes it asserted, so a run shows what was compiled. */
int main(void) {
  printf("u3e_pool %zu, u3e_image %zu, u3e_control %zu, u3e_line %zu, u3e_flaw %zu\n",
         sizeof(u3e_pool), sizeof(u3e_image), sizeof(u3e_control), sizeof(u3e_line),
         sizeof(u3e_flaw));
  return 0;
}
