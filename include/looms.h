#ifndef LOOMS_H
#define LOOMS_H

/* looms: a drop-in replacement for Urbit's events.c snapshot module. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define c3y 0
#define c3n 1
#define u3a_page 12
#define u3a_pages (1 << 20)
#define LOOMS_DIRTY_WORDS (u3a_pages >> 5)
#define U3P_VERLAT 2

typedef uint32_t c3_w;
typedef char c3_c;
typedef uint8_t c3_o;
typedef int c3_i;
typedef size_t c3_z;
typedef uint32_t u3_post;

typedef enum u3e_flaw {
  u3e_flaw_sham = 0,
  u3e_flaw_base = 1,
  u3e_flaw_meme = 2,
  u3e_flaw_good = 3,
} u3e_flaw;

typedef struct u3e_line {
  c3_w pag_w;
  c3_w has_w;
} u3e_line;

typedef struct u3e_control {
  c3_w ver_w;
  c3_w has_w;
  c3_w tot_w;
  c3_w pgs_w;
  u3e_line mem_u[0];
} u3e_control;

typedef struct u3e_image {
  const c3_c *nam_c;
  c3_i fid_i;
  c3_w pgs_w;
} u3e_image;

typedef struct u3e_pool {
  c3_c *dir_c;
  c3_i eph_i;
  c3_w dit_w[LOOMS_DIRTY_WORDS];
  c3_w pag_w;
  c3_w gar_w;
  u3e_image img_u;
} u3e_pool;

extern u3e_pool u3e_Pool;

c3_o u3e_backup(c3_c *pux_c, c3_c *pax_c, c3_o ovw_o);
u3e_flaw u3e_fault(u3_post low_p, u3_post hig_p, u3_post off_p);
void u3e_save(u3_post low_p, u3_post hig_p);
void u3e_toss(u3_post low_p, u3_post hig_p);
c3_o u3e_live(c3_o nuu_o, c3_c *dir_c);
void u3e_stop(void);
c3_o u3e_yolo(void);
void u3e_foul(void);
void u3e_init(void);
void u3e_ward(u3_post low_p, u3_post hig_p);
c3_i u3e_image_open_any(c3_c *nam_c, c3_c *dir_c, c3_z *len_z);

#endif /* LOOMS_H */
