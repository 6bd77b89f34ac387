//! Fuzzes everything the library reads from a pier before trusting it: the
//! control block, the memory file's length and pages, and the image size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use looms::image::{classify, Size};
use looms::loom::PAGE_BYTES;
use looms::patch::{self, MAX_CONTROL_BYTES};

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose where control.bin ends and memory.bin starts.
    if data.len() < 2 {
        return;
    }
    let split = (usize::from(data[0]) << 8 | usize::from(data[1])).min(data.len() - 2);
    let (control, memory) = data[2..].split_at(split);
    // When the top bit of the first byte is set, the control block's
    // checksum is made right, so the checks behind it are reached too.
    let mut fixed;
    let control = if data[0] & 0x80 != 0 && control.len() >= 16 {
        fixed = control.to_vec();
        let sum = looms::checksum::hash(&fixed[8..]);
        fixed[4..8].copy_from_slice(&sum.to_le_bytes());
        &fixed[..]
    } else {
        control
    };

    // A length check that refuses never leads to an allocation.
    if patch::check_control_len(control.len() as u64).is_err() {
        assert!(patch::decode(control).is_err());
        return;
    }
    assert!(control.len() as u64 <= MAX_CONTROL_BYTES);
    let Ok(decoded) = patch::decode(control) else {
        return;
    };
    // Whatever decodes is exactly what the encoder writes for it.
    assert_eq!(patch::encode(decoded.total, &decoded.lines), control);
    for pair in decoded.lines.windows(2) {
        assert!(pair[0].pag_w < pair[1].pag_w);
    }
    assert!(decoded.lines.iter().all(|line| line.pag_w < decoded.total));

    // memory.bin must hold exactly one page per line, and each page must match.
    if decoded.check_memory_len(memory.len() as u64).is_ok() {
        for (index, page) in memory.chunks_exact(PAGE_BYTES).enumerate() {
            let _ = decoded.verify_page(index, page);
        }
    } else {
        assert_ne!(memory.len() as u64, decoded.memory_len());
    }

    // Image sizes: a whole number of pages, or refused.
    let mut raw = [0u8; 8];
    let take = data.len().min(8);
    raw[..take].copy_from_slice(&data[..take]);
    let len = u64::from_le_bytes(raw);
    match classify(len) {
        Size::Pages(pages) => assert_eq!(u64::from(pages) * PAGE_BYTES as u64, len),
        Size::Odd(odd) => assert_ne!(odd % PAGE_BYTES as u64, 0),
        Size::Overflow(big) => assert!(big / PAGE_BYTES as u64 > u64::from(u32::MAX)),
    }
});
