# The other platforms looms builds for (README: Platforms).
#   make check-aarch64  the library cross-built for aarch64 Linux and its
#                       suites run under qemu-aarch64 (also part of make check)

.PHONY: check-aarch64
check-aarch64: lib
	bash scripts/suites/57-aarch64.sh
