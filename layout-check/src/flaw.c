/* The C side of u3e_flaw, which ctest does not cover: its size and the
 * value of each enumerator, as include/looms.h declares them. */
#include <stddef.h>

#include "looms.h"

size_t looms_c_flaw_size(void) { return sizeof(u3e_flaw); }

size_t looms_c_flaw_align(void) { return _Alignof(u3e_flaw); }

/* The enumerators in declaration order; -1 out of range. */
int looms_c_flaw_value(int index) {
  static const u3e_flaw values[] = {u3e_flaw_sham, u3e_flaw_base, u3e_flaw_meme,
                                    u3e_flaw_good};
  if (index < 0 || (size_t)index >= sizeof values / sizeof values[0]) {
    return -1;
  }
  return (int)values[index];
}
