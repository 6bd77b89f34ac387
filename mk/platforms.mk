# The other platforms looms builds for (README: Platforms).
#   make check-aarch64  the library cross-built for aarch64 Linux and its
#                       suites run under qemu-aarch64 (also part of make check)
#   make check-macos    liblooms.dylib for arm64 and x86_64 macOS, linked by
#                       scripts/macos-link, its symbols and the C programs
#                       built for macOS (also part of make check)

.PHONY: check-aarch64 check-macos
check-aarch64: lib
	bash scripts/suites/57-aarch64.sh

check-macos: lib
	bash scripts/suites/58-macos.sh
