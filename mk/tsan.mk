# The library built with ThreadSanitizer (scripts/suites/23-tsan-library.sh).
#   make tsan-lib   target/tsan-lib/x86_64-unknown-linux-gnu/release/liblooms.so
# The nightly toolchain with its rust-src: -Zsanitizer=thread and the
# standard library rebuilt with it (-Zbuild-std), so that TSan sees std's
# threads, Arc and joins as well as the library's own atomics. The profile's
# panic=abort needs panic_abort among the crates rebuilt. A target directory
# of its own keeps the normal build as it is.
TSAN_TARGET  := $(CURDIR)/target/tsan-lib
TSAN_LIB_DIR := $(TSAN_TARGET)/x86_64-unknown-linux-gnu/release

.PHONY: tsan-lib
tsan-lib:
	RUSTFLAGS="-Zsanitizer=thread" $(CARGO) +nightly build -Zbuild-std=std,panic_abort \
	  --release --lib --target x86_64-unknown-linux-gnu --target-dir $(TSAN_TARGET)
	@# build.rs puts the soname link beside the build script's output, which
	@# -Zbuild-std moves out of the target's directory: put it here too.
	soname=$$(readelf -d $(TSAN_LIB_DIR)/liblooms.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p') && \
	  ln -sfn liblooms.so $(TSAN_LIB_DIR)/$$soname
