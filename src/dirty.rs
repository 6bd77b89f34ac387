//! The dirty bitmap, `u3P.dit_w`: one bit per loom page.
//!
//! Invariants at quiescence (after boot and after every save):
//! - a clean page is `PROT_READ` and bit 0; it matches the image;
//! - a dirty page is `PROT_READ | PROT_WRITE` and bit 1;
//! - the guard page is `PROT_NONE` and bit 1;
//! - image pages are clean, every other page is dirty.
//!
//! Pure bit arithmetic on a word slice: no system calls, safe in the fault path.

/// The word and bit of `page` in the bitmap.
const fn slot(page: u32) -> (usize, u32) {
    ((page >> 5) as usize, 1 << (page & 31))
}

/// Whether `page` is marked dirty.
pub fn is_dirty(map: &[u32], page: u32) -> bool {
    let (word, bit) = slot(page);
    map[word] & bit != 0
}

/// Marks `page` dirty.
pub fn mark_dirty(map: &mut [u32], page: u32) {
    let (word, bit) = slot(page);
    map[word] |= bit;
}

/// Marks `page` clean.
pub fn mark_clean(map: &mut [u32], page: u32) {
    let (word, bit) = slot(page);
    map[word] &= !bit;
}

/// Marks every page dirty (`u3e_foul`).
pub fn foul(map: &mut [u32]) {
    map.fill(u32::MAX);
}

/// `_ce_loom_track`: pages `[0, clean)` clean, then `[clean, clean + dirty)`
/// dirty; the rest unchanged.
pub fn track(map: &mut [u32], clean: u32, dirty: u32) {
    set_range(map, 0, clean, false);
    set_range(map, clean, clean + dirty, true);
}

/// Sets pages `[from, to)` to `dirty`, a word at a time where it can.
pub fn set_range(map: &mut [u32], from: u32, to: u32, dirty: bool) {
    let mut page = from;
    while page < to {
        let (word, bit) = slot(page);
        if page & 31 == 0 && to - page >= 32 {
            map[word] = if dirty { u32::MAX } else { 0 };
            page += 32;
        } else {
            if dirty {
                map[word] |= bit;
            } else {
                map[word] &= !bit;
            }
            page += 1;
        }
    }
}

/// Counts the dirty pages in `[from, to)`.
pub fn count_dirty(map: &[u32], from: u32, to: u32) -> u32 {
    (from..to).filter(|&page| is_dirty(map, page)).count() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bits_are_where_the_reference_puts_them() {
        let mut map = vec![0u32; 4];
        mark_dirty(&mut map, 0);
        mark_dirty(&mut map, 33);
        mark_dirty(&mut map, 127);
        assert_eq!(map, vec![1, 2, 0, 0x8000_0000]);
        assert!(is_dirty(&map, 33) && !is_dirty(&map, 32));
        mark_clean(&mut map, 33);
        assert_eq!(map[1], 0);
    }

    #[test]
    fn track_cleans_then_dirties() {
        let mut map = vec![0u32; 8];
        foul(&mut map);
        track(&mut map, 40, 0);
        assert_eq!(count_dirty(&map, 0, 256), 256 - 40);
        let mut map = vec![0u32; 8];
        track(&mut map, 3, 70);
        assert_eq!(count_dirty(&map, 0, 3), 0);
        assert_eq!(count_dirty(&map, 3, 73), 70);
        assert_eq!(count_dirty(&map, 73, 256), 0);
    }

    proptest! {
        #[test]
        fn set_range_matches_bit_by_bit(from in 0u32..300, len in 0u32..300, dirty in any::<bool>(), seed in any::<u32>()) {
            let to = (from + len).min(320);
            let from = from.min(to);
            let mut fast: Vec<u32> = (0..10).map(|i| seed.rotate_left(i)).collect();
            let mut slow = fast.clone();
            set_range(&mut fast, from, to, dirty);
            for page in from..to {
                if dirty { mark_dirty(&mut slow, page) } else { mark_clean(&mut slow, page) }
            }
            prop_assert_eq!(fast, slow);
        }
    }
}
