/* libstandin: a stand-in for a runtime's own events.c built as a shared
 * object. It exports every u3e_* symbol and u3e_Pool with the same types
 * as liblooms but deliberately wrong behaviour, so that a host linked
 * against it shows at a glance which library really ran: u3e_live reports
 * an existing pier of 777 pages with the guard at page 1 and maps nothing,
 * and u3e_save writes nothing. */
#include "looms.h"

u3e_pool u3e_Pool;

c3_o u3e_live(c3_o nuu_o, c3_c *dir_c) {
  (void)nuu_o;
  u3e_Pool.dir_c = dir_c;
  u3e_Pool.img_u.pgs_w = 777;
  u3e_Pool.gar_w = 1;
  return c3n;
}

void u3e_save(u3_post low_p, u3_post hig_p) {
  (void)low_p;
  (void)hig_p;
}

u3e_flaw u3e_fault(u3_post low_p, u3_post hig_p, u3_post off_p) {
  (void)low_p;
  (void)hig_p;
  (void)off_p;
  return u3e_flaw_sham;
}

void u3e_toss(u3_post low_p, u3_post hig_p) {
  (void)low_p;
  (void)hig_p;
}

void u3e_ward(u3_post low_p, u3_post hig_p) {
  (void)low_p;
  (void)hig_p;
}

c3_o u3e_backup(c3_c *pux_c, c3_c *pax_c, c3_o ovw_o) {
  (void)pux_c;
  (void)pax_c;
  (void)ovw_o;
  return c3n;
}

void u3e_stop(void) {}

c3_o u3e_yolo(void) { return c3n; }

void u3e_foul(void) {}

void u3e_init(void) {}

c3_i u3e_image_open_any(c3_c *nam_c, c3_c *dir_c, c3_z *len_z) {
  (void)nam_c;
  (void)dir_c;
  if (len_z != 0) {
    *len_z = 0;
  }
  return -1;
}
