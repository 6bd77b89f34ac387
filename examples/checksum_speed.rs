//! Throughput of the page checksum on 16 KiB pages: the `murmur3` crate,
//! `checksum::hash` one page at a time, and `checksum::hash_all` four pages
//! at a time, measured in one run; the ratios are against the crate.
//! `cargo run --release --example checksum_speed`

use std::time::Instant;

use looms::checksum::{hash, hash_all, SEED};

const PAGES: usize = 4096;
const PAGE: usize = 16384;

fn best_of<F: FnMut() -> Vec<u32>>(mut run: F) -> (f64, Vec<u32>) {
    let mut best = f64::MAX;
    let mut out = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        out = run();
        best = best.min(start.elapsed().as_secs_f64());
    }
    (best, out)
}

fn main() {
    let pages: Vec<Vec<u8>> = (0..PAGES)
        .map(|n| (0..PAGE).map(|i| (i * 7 + n * 13) as u8).collect())
        .collect();
    let slices: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let bytes = (PAGES * PAGE) as f64;

    let (crate_s, want) = best_of(|| {
        slices
            .iter()
            .map(|p| murmur3::murmur3_32(&mut std::io::Cursor::new(p), SEED).unwrap())
            .collect()
    });
    let (one_s, one) = best_of(|| slices.iter().map(|p| hash(p)).collect());
    let (four_s, four) = best_of(|| hash_all(&slices));
    assert_eq!(one, want, "hash differs from the murmur3 crate");
    assert_eq!(four, want, "hash_all differs from the murmur3 crate");

    println!("checksum of {PAGES} pages of 16 KiB (best of 5), all three agree");
    for (what, secs) in [
        ("murmur3 crate", crate_s),
        ("hash, one page at a time", one_s),
        ("hash_all, four pages at a time", four_s),
    ] {
        println!(
            "  {what:<32} {:6.2} GB/s  {:5.2}x the crate",
            bytes / secs / 1e9,
            crate_s / secs
        );
    }
}
