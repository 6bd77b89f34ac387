//! The C boundary: what the library exports and what it imports.
pub mod exports;
pub mod host;
