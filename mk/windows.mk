# Windows x86_64 (x86_64-pc-windows-gnu), the runtime's Windows release
# target (README: Platforms).
#   make windows-lib     liblooms.a for the target and, beside it, the system
#                        libraries a program links it with (scripts/windows-lib):
#                        target/x86_64-pc-windows-gnu/release/{liblooms.a,native-static-libs}
#   make check-windows   scripts/suites/59-windows.sh in full: hosts cross-built
#                        with mingw-w64 and run under wine, every scenario that
#                        needs nothing of Linux, every spoilt patch, the pier
#                        files compared with the glibc build's in every mode, and
#                        200 kills mid-save per mode (make check runs a slice of
#                        it; make soak, which runs every suite at the soak tier,
#                        all of it)
.PHONY: windows-lib check-windows
windows-lib:
	$(LOOMS_ROOT)/scripts/windows-lib

check-windows: lib
	WINDOWS_FULL=1 bash $(LOOMS_ROOT)/scripts/suites/59-windows.sh
