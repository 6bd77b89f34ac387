//! The patch: `control.bin` (a `u3e_control` and its lines) and `memory.bin`
//! (the changed pages in line order). Pure: encoding, decoding and checking,
//! no system calls, so the fuzzers reach every branch.
//!
//! A control block is `ver_w has_w tot_w pgs_w` then `pgs_w` lines of
//! `pag_w has_w`, all little-endian `u32`; `has_w` is MurmurHash3 of the
//! bytes from `tot_w` to the end.

use crate::abi::{u3a_pages, u3e_line, U3P_VERLAT};
use crate::checksum;
use crate::loom::PAGE_BYTES;

/// Bytes before the first line.
pub const HEAD_BYTES: usize = 16;
/// Bytes per line.
pub const LINE_BYTES: usize = 8;
/// Where the checksummed part of a control block starts (`tot_w`).
const SUMMED_FROM: usize = 8;
/// The longest control block a loom can need: one line per loom page.
pub const MAX_CONTROL_BYTES: u64 = HEAD_BYTES as u64 + LINE_BYTES as u64 * u3a_pages as u64;

/// The length of a control block describing `pages` pages.
pub const fn control_len(pages: u32) -> u64 {
    HEAD_BYTES as u64 + LINE_BYTES as u64 * pages as u64
}

/// A decoded, checked control block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    /// Image length in pages after the patch is applied (`tot_w`).
    pub total: u32,
    /// The patch's pages, strictly ascending, each below `total`.
    pub lines: Vec<u3e_line>,
}

/// Why a patch is refused. Every variant means: discard, apply nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatchError {
    /// control.bin is empty (a save that crashed before writing it).
    Empty,
    /// control.bin is longer than any loom needs.
    Oversized { len: u64 },
    /// control.bin's length does not match the page count it claims.
    Length { len: u64, pages: Option<u32> },
    /// `ver_w` is not `U3P_VERLAT`.
    Version { have: u32 },
    /// The checksum over `tot_w..` does not match `has_w`.
    MetaChecksum { have: u32, need: u32 },
    /// A line names a page at or past `tot_w`.
    PageBeyondTotal { page: u32, total: u32 },
    /// Lines are not strictly ascending (unsorted or duplicated).
    Order { page: u32, after: u32 },
    /// memory.bin does not hold exactly one page per line.
    MemoryLength { len: u64, need: u64 },
    /// A page of memory.bin does not match its line's checksum.
    PageChecksum { page: u32, have: u32, need: u32 },
    /// A patch file is not a regular file (a FIFO, a socket, a directory).
    NotRegular { file: &'static str, why: String },
}

impl core::fmt::Display for PatchError {
    /// The text after `loom: `, matching the reference's wording where it has one.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PatchError::Empty => write!(f, "patch control.bin is empty"),
            PatchError::Oversized { len } => {
                write!(f, "patch control.bin too long for any loom: {len} bytes")
            }
            PatchError::Length {
                len,
                pages: Some(pages),
            } => write!(
                f,
                "patch control.bin has {len} bytes, {pages} pages need {}",
                control_len(*pages)
            ),
            PatchError::Length { len, pages: None } => {
                write!(f, "patch control.bin truncated: {len} bytes")
            }
            PatchError::Version { have } => {
                write!(f, "patch version mismatch: have {have}, need {U3P_VERLAT}")
            }
            PatchError::MetaChecksum { have, need } => {
                write!(
                    f,
                    "patch meta checksum fail: have=0x{have:x}, need=0x{need:x}"
                )
            }
            PatchError::PageBeyondTotal { page, total } => {
                write!(f, "patch page {page} is beyond the image's {total} pages")
            }
            PatchError::Order { page, after } => {
                write!(f, "patch page {page} follows page {after}: not ascending")
            }
            PatchError::MemoryLength { len, need } => {
                write!(
                    f,
                    "patch memory.bin has {len} bytes, control.bin needs {need}"
                )
            }
            PatchError::PageChecksum { page, have, need } => write!(
                f,
                "patch page ({page}) checksum fail: have=0x{have:x}, need=0x{need:x}"
            ),
            PatchError::NotRegular { file, why } => write!(f, "patch {file}: {why}"),
        }
    }
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Encodes a control block for `lines`, with `tot_w = total` and its checksum.
pub fn encode(total: u32, lines: &[u3e_line]) -> Vec<u8> {
    try_encode(total, lines).expect("memory for the control block")
}

/// `encode`, or `None` without the memory for it.
pub fn try_encode(total: u32, lines: &[u3e_line]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    out.try_reserve_exact(control_len(lines.len() as u32) as usize)
        .ok()?;
    out.extend_from_slice(&U3P_VERLAT.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&(lines.len() as u32).to_le_bytes());
    for line in lines {
        out.extend_from_slice(&line.pag_w.to_le_bytes());
        out.extend_from_slice(&line.has_w.to_le_bytes());
    }
    let sum = checksum::hash(&out[SUMMED_FROM..]);
    out[4..8].copy_from_slice(&sum.to_le_bytes());
    Some(out)
}

/// Checks that a file of `len` bytes could be a control block, before
/// reading it: nothing is allocated for a length this refuses.
pub fn check_control_len(len: u64) -> Result<(), PatchError> {
    if len == 0 {
        Err(PatchError::Empty)
    } else if len > MAX_CONTROL_BYTES {
        Err(PatchError::Oversized { len })
    } else if len < HEAD_BYTES as u64 {
        Err(PatchError::Length { len, pages: None })
    } else {
        Ok(())
    }
}

/// Decodes and checks a control block, in the reference's order (length,
/// version, checksum), then the page numbers the reference never checked.
pub fn decode(bytes: &[u8]) -> Result<Control, PatchError> {
    let len = bytes.len() as u64;
    check_control_len(len)?;
    let pages = word(bytes, 12);
    if len != control_len(pages) {
        return Err(PatchError::Length {
            len,
            pages: Some(pages),
        });
    }
    let version = word(bytes, 0);
    if version != U3P_VERLAT {
        return Err(PatchError::Version { have: version });
    }
    let need = word(bytes, 4);
    let have = checksum::hash(&bytes[SUMMED_FROM..]);
    if have != need {
        return Err(PatchError::MetaChecksum { have, need });
    }
    let total = word(bytes, 8);
    let mut lines = Vec::with_capacity(pages as usize);
    for at in (HEAD_BYTES..bytes.len()).step_by(LINE_BYTES) {
        let line = u3e_line {
            pag_w: word(bytes, at),
            has_w: word(bytes, at + 4),
        };
        if line.pag_w >= total {
            return Err(PatchError::PageBeyondTotal {
                page: line.pag_w,
                total,
            });
        }
        if let Some(last) = lines.last().map(|l: &u3e_line| l.pag_w) {
            if line.pag_w <= last {
                return Err(PatchError::Order {
                    page: line.pag_w,
                    after: last,
                });
            }
        }
        lines.push(line);
    }
    Ok(Control { total, lines })
}

impl Control {
    /// The exact length memory.bin must have.
    pub fn memory_len(&self) -> u64 {
        self.lines.len() as u64 * PAGE_BYTES as u64
    }

    /// Checks memory.bin's length against the lines.
    pub fn check_memory_len(&self, len: u64) -> Result<(), PatchError> {
        let need = self.memory_len();
        if len == need {
            Ok(())
        } else {
            Err(PatchError::MemoryLength { len, need })
        }
    }

    /// Checks page `index` of memory.bin against its line.
    pub fn verify_page(&self, index: usize, page: &[u8]) -> Result<(), PatchError> {
        let line = self.lines[index];
        let have = checksum::hash(page);
        if have == line.has_w {
            Ok(())
        } else {
            Err(PatchError::PageChecksum {
                page: line.pag_w,
                have,
                need: line.has_w,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(pages: &[u32]) -> Vec<u3e_line> {
        pages
            .iter()
            .map(|&p| u3e_line {
                pag_w: p,
                has_w: p.wrapping_mul(0x9e37_79b9),
            })
            .collect()
    }

    #[test]
    fn layout_is_the_c_struct() {
        let bytes = encode(9, &lines(&[1, 4]));
        assert_eq!(bytes.len(), 32);
        assert_eq!(word(&bytes, 0), 2);
        assert_eq!(word(&bytes, 8), 9);
        assert_eq!(word(&bytes, 12), 2);
        assert_eq!(word(&bytes, 16), 1);
        assert_eq!(word(&bytes, 24), 4);
        assert_eq!(word(&bytes, 4), checksum::hash(&bytes[8..]));
    }

    #[test]
    fn empty_patch_checksum() {
        // tot_w = 0, pgs_w = 0: the checksum covers eight zero bytes.
        let bytes = encode(0, &[]);
        assert_eq!(word(&bytes, 4), checksum::hash(&[0u8; 8]));
        assert_eq!(
            decode(&bytes).unwrap(),
            Control {
                total: 0,
                lines: vec![]
            }
        );
    }

    #[test]
    fn refusals() {
        let good = encode(10, &lines(&[2, 3, 7]));
        assert_eq!(decode(&[]), Err(PatchError::Empty));
        assert_eq!(
            decode(&good[..12]),
            Err(PatchError::Length {
                len: 12,
                pages: None
            })
        );
        assert_eq!(
            decode(&good[..31]),
            Err(PatchError::Length {
                len: 31,
                pages: Some(3)
            })
        );
        let mut long = good.clone();
        long.extend_from_slice(&[0; 8]);
        assert_eq!(
            decode(&long),
            Err(PatchError::Length {
                len: 48,
                pages: Some(3)
            })
        );
        let mut version = good.clone();
        version[0] = 3;
        assert_eq!(decode(&version), Err(PatchError::Version { have: 3 }));
        let mut meta = good.clone();
        meta[20] ^= 1;
        assert!(matches!(
            decode(&meta),
            Err(PatchError::MetaChecksum { .. })
        ));
        assert_eq!(
            decode(&encode(7, &lines(&[2, 7]))),
            Err(PatchError::PageBeyondTotal { page: 7, total: 7 })
        );
        assert_eq!(
            decode(&encode(9, &lines(&[3, 2]))),
            Err(PatchError::Order { page: 2, after: 3 })
        );
        assert_eq!(
            decode(&encode(9, &lines(&[3, 3]))),
            Err(PatchError::Order { page: 3, after: 3 })
        );
        assert_eq!(
            check_control_len(MAX_CONTROL_BYTES + 1),
            Err(PatchError::Oversized {
                len: MAX_CONTROL_BYTES + 1
            })
        );
        let mut huge = good[..16].to_vec();
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&huge), Err(PatchError::Length { .. })));
    }

    #[test]
    fn messages_match_the_reference() {
        assert_eq!(
            PatchError::Version { have: 3 }.to_string(),
            "patch version mismatch: have 3, need 2"
        );
        assert_eq!(
            PatchError::MetaChecksum {
                have: 0xab,
                need: 0x10
            }
            .to_string(),
            "patch meta checksum fail: have=0xab, need=0x10"
        );
        assert_eq!(
            PatchError::PageChecksum {
                page: 5,
                have: 1,
                need: 0xff
            }
            .to_string(),
            "patch page (5) checksum fail: have=0x1, need=0xff"
        );
    }

    #[test]
    fn pages_are_checked_against_lines() {
        let page = vec![7u8; PAGE_BYTES];
        let line = u3e_line {
            pag_w: 4,
            has_w: checksum::hash(&page),
        };
        let control = decode(&encode(5, &[line])).unwrap();
        assert_eq!(control.check_memory_len(PAGE_BYTES as u64), Ok(()));
        assert!(control.check_memory_len(PAGE_BYTES as u64 - 1).is_err());
        assert!(control.check_memory_len(2 * PAGE_BYTES as u64).is_err());
        assert_eq!(control.verify_page(0, &page), Ok(()));
        let mut bad = page.clone();
        bad[100] = 0;
        assert!(matches!(
            control.verify_page(0, &bad),
            Err(PatchError::PageChecksum { page: 4, .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(mut pages in proptest::collection::btree_set(0u32..5000, 0..64), extra in 1u32..100) {
            let pages: Vec<u32> = std::mem::take(&mut pages).into_iter().collect();
            let total = pages.last().map_or(0, |p| p + extra);
            let control = decode(&encode(total, &lines(&pages))).unwrap();
            prop_assert_eq!(control.total, total);
            prop_assert_eq!(control.lines, lines(&pages));
        }

        #[test]
        fn any_bit_flip_is_refused(pages in proptest::collection::btree_set(0u32..100, 1..8), bit in any::<usize>()) {
            let pages: Vec<u32> = pages.into_iter().collect();
            let mut bytes = encode(200, &lines(&pages));
            let bit = bit % (bytes.len() * 8);
            bytes[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode(&bytes).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
