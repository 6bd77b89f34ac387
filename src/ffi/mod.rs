//! The C boundary: what the library exports (what it imports from the
//! runtime is `crate::runtime`, at the bottom, for every room to ask).
pub mod exports;
