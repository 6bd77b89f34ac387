//! The Rust modules that make up `include/looms.h`, for cbindgen only (this
//! file is not compiled). Naming them here keeps the header to the events.c
//! ABI: nothing else the crate declares, and none of the runtime's symbols
//! the library imports, can reach it.

/// Types and constants of the ABI.
#[path = "../src/abi.rs"]
mod abi;

/// `u3e_Pool`.
#[path = "../src/pool.rs"]
mod pool;

/// The `u3e_*` entry points.
#[path = "../src/ffi/exports.rs"]
mod exports;
