//! looms: incremental, crash-safe snapshots of Urbit's loom, as a drop-in
//! replacement for the runtime's `events.c`.
//!
//! From a store fault to `image.bin`: `fault` marks the page dirty,
//! `snapshot::save` writes the dirty pages as a patch (`patch`) and then
//! into the image (`image`), and remaps the loom (`loom`).
#![allow(non_camel_case_types, non_upper_case_globals)]

// Unwinding across the C boundary is undefined behaviour: every profile must
// abort on panic. (`cargo test` builds the unit tests with unwinding.)
#[cfg(not(any(panic = "abort", test, doc)))]
compile_error!("looms must be built with panic = \"abort\"");

pub mod abi;
pub mod background;
pub mod capture;
pub mod checksum;
pub mod dirty;
pub mod durable;
pub mod fault;
pub mod ffi;
pub mod image;
pub mod load;
pub mod loom;
pub mod msg;
pub mod patch;
pub mod pier;
pub mod pool;
pub mod process;
pub mod recovery;
pub mod reserve;
pub mod runtime;
pub mod snapshot;
pub mod sys;
pub mod track;

pub use pool::u3e_Pool;

/// Rust's allocations in the library, with a reserve behind the C
/// library's allocator (see `reserve`).
#[global_allocator]
static ALLOCATOR: reserve::Reserved = reserve::Reserved;
