//! Generates the layout tests: ctest reads the Rust ABI types in
//! `src/abi.rs` of looms and writes a C file that includes
//! `include/looms.h`, compiled here, plus the Rust side that compares each
//! type's size and alignment and each field's offset, size and type.
//! `src/flaw.c` adds the enum, which ctest does not cover.
//!
//! `LOOMS_LAYOUT_INCLUDE` names another directory holding a `looms.h` to
//! check instead (the ABI suite uses it to prove a wrong header fails).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest
        .parent()
        .expect("layout-check sits in the looms tree");
    let abi = root.join("src").join("abi.rs");
    let include = match std::env::var_os("LOOMS_LAYOUT_INCLUDE") {
        Some(dir) => PathBuf::from(dir),
        None => root.join("include"),
    };

    let mut cfg = ctest::TestGenerator::new();
    cfg.header("looms.h").include(&include);
    // looms.h names every struct by its typedef, never `struct NAME`.
    cfg.rename_struct_ty(|ty| Some(ty.to_string()));
    // `const _: () = { ... }` holds abi.rs's own compile-time assertions.
    cfg.skip_const(|c| c.ident() == "_");
    // u3e_control ends in a flexible array member (`u3e_line mem_u[];`):
    // C has no sizeof for it and no passing the struct by value. The
    // struct's size is still compared here, and the member's offset (16) is
    // asserted on both sides (src/abi.rs, c-tests/abi/static_asserts.c).
    cfg.skip_struct_field(|s, f| s.ident() == "u3e_control" && f.ident() == "mem_u");
    cfg.skip_roundtrip(|ty| ty == "u3e_control");
    ctest::generate_test(&mut cfg, &abi, "layout.rs").expect("generating the layout tests");

    cc::Build::new()
        .file(manifest.join("src").join("flaw.c"))
        .include(&include)
        .flag("-std=c11")
        .warnings_into_errors(true)
        .compile("flaw");

    println!("cargo:rerun-if-env-changed=LOOMS_LAYOUT_INCLUDE");
    println!("cargo:rerun-if-changed={}", abi.display());
    println!(
        "cargo:rerun-if-changed={}",
        include.join("looms.h").display()
    );
    println!("cargo:rerun-if-changed=src/flaw.c");
    println!("cargo:rerun-if-changed=build.rs");
}
