# Static musl Linux, the runtime's Linux release targets (README: Platforms).
#   make musl-lib     liblooms.a for x86_64 and aarch64 musl, the unwinder in it
#                     (scripts/musl-lib): target/<triple>/release/liblooms.a;
#                     then `make install RUST_TARGET=<triple>` (mk/package.mk)
#   make check-musl   scripts/suites/56-musl.sh in full: every scenario and the
#                     whole crash suite through static hosts, x86_64 natively and
#                     aarch64 under qemu-aarch64, and the unit tests built for
#                     musl (make check runs a slice of it; make soak all of it)
MUSL_TARGETS := x86_64-unknown-linux-musl aarch64-unknown-linux-musl

.PHONY: musl-lib check-musl
musl-lib:
	for t in $(MUSL_TARGETS); do $(LOOMS_ROOT)/scripts/musl-lib $$t || exit 1; done

check-musl: lib
	MUSL_FULL=1 bash $(LOOMS_ROOT)/scripts/suites/56-musl.sh

soak: check-musl
