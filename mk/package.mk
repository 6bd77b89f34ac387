# Packaging: the C header, pkg-config file, install and uninstall.
#
#   make header      regenerate include/looms.h with cbindgen (0.29.2)
#   make pc          render target/looms.pc for the current PREFIX/LIBDIR/INCLUDEDIR
#   make install     install the shared and static libraries, looms.h, looms.pc
#                    and the looms command
#   make uninstall   remove exactly what install put there
#   make abi-check   run the ABI suite; make package-check: the packaging suite
#
# install honours PREFIX (default /usr/local), BINDIR (default $(PREFIX)/bin), LIBDIR (default $(PREFIX)/lib),
# INCLUDEDIR (default $(PREFIX)/include) and DESTDIR (a staging root that is
# not written into looms.pc). looms.pc derives LIBDIR and INCLUDEDIR from
# ${prefix} when they lie under PREFIX. It installs what `make` built and
# never builds itself (as root, cargo is often not on PATH, and a build would
# leave target/ owned by root): run `make` first, as your user, then
# `make install` as root if needed. It ends by saying what the directories it
# was given need (scripts/install-advice.sh): ldconfig for one the loader
# searches, else an rpath; PKG_CONFIG_PATH and PATH where they do not name
# them yet; for a DESTDIR, that the tree is staged.
#
# RUST_TARGET=x86_64-unknown-linux-musl (or aarch64-unknown-linux-musl):
# install that target's build instead (`make musl-lib`, mk/musl.mk): a static
# musl target has only liblooms.a, so install puts it, looms.h and a looms.pc
# whose Libs.private is empty (musl's libc.a holds threads, clocks and the
# rest, and the archive holds its unwinder) and nothing else; make pc renders
# that file too.
#
# RUST_TARGET=x86_64-pc-windows-gnu: the same for Windows (`make windows-lib`,
# mk/windows.mk): liblooms.a, looms.h and a looms.pc whose Libs.private is
# the system libraries rustc names for the archive (recorded beside it by
# scripts/windows-lib), for mingw-w64's `pkg-config --static --libs looms`.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
CBINDGEN   ?= cbindgen
INSTALL    ?= install

LOOMS_VERSION := $(shell sed -n 's/^version = "\([^"]*\)"/\1/p' $(LOOMS_ROOT)/Cargo.toml | head -n 1)
LOOMS_MAJOR   := $(firstword $(subst ., ,$(LOOMS_VERSION)))
LOOMS_REAL    := liblooms.so.$(LOOMS_VERSION)
LOOMS_SONAME  := liblooms.so.$(LOOMS_MAJOR)

# $(call looms_pc_dir,DIR,VAR): DIR as looms.pc names it, from ${VAR} when
# DIR is PREFIX or lies under it (so the file still holds when the tree is
# staged or moved), else as given.
looms_pc_dir = $(if $(filter $(PREFIX),$(1)),$${$(2)},$(if $(filter $(PREFIX)/%,$(1)),$${$(2)}$(patsubst $(PREFIX)/%,/%,$(1)),$(1)))

RUST_TARGET ?=
LOOMS_MUSL  := $(filter %-linux-musl,$(RUST_TARGET))
LOOMS_WINDOWS := $(filter %-windows-gnu,$(RUST_TARGET))
# Targets with nothing but the static library (no shared library, no command).
LOOMS_STATIC_ONLY := $(LOOMS_MUSL)$(LOOMS_WINDOWS)
LOOMS_FROM  := $(if $(RUST_TARGET),$(LOOMS_ROOT)/target/$(RUST_TARGET)/release,$(LOOMS_LIB_DIR))
# What a static link of liblooms.a needs from the C library (see looms.pc.in).
LOOMS_LIBS_PRIVATE := $(if $(LOOMS_MUSL),,$(if $(LOOMS_WINDOWS),$(shell cat $(LOOMS_FROM)/native-static-libs 2>/dev/null),-lutil -lrt -lpthread -lm -ldl -lc))

# The pkg-config file for the given directories, on stdout.
define looms_render_pc
sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call looms_pc_dir,$(LIBDIR),exec_prefix)|g' \
    -e 's|@INCLUDEDIR@|$(call looms_pc_dir,$(INCLUDEDIR),prefix)|g' \
    -e 's|@VERSION@|$(LOOMS_VERSION)|g' -e 's|@LIBS_PRIVATE@|$(LOOMS_LIBS_PRIVATE)|g' \
    -e 's| *$$||' $(LOOMS_ROOT)/pkgconfig/looms.pc.in
endef

.PHONY: header pc install uninstall abi-check package-check

header:
	CBINDGEN=$(CBINDGEN) $(LOOMS_ROOT)/scripts/header.sh $(LOOMS_ROOT)/include/looms.h

pc:
	@mkdir -p $(LOOMS_ROOT)/target
	$(looms_render_pc) > $(LOOMS_ROOT)/target/looms.pc

LOOMS_BUILT := $(if $(LOOMS_STATIC_ONLY),$(LOOMS_FROM)/liblooms.a $(if $(LOOMS_WINDOWS),$(LOOMS_FROM)/native-static-libs),$(LOOMS_FROM)/liblooms.so $(LOOMS_FROM)/liblooms.a $(LOOMS_FROM)/looms)

install:
	@for f in $(LOOMS_BUILT); do \
	    if [ ! -f "$$f" ]; then \
	        echo "make install: $$f is missing; run \`make$(if $(LOOMS_MUSL), musl-lib)$(if $(LOOMS_WINDOWS), windows-lib)\` first, as your user (install never builds)" >&2; \
	        exit 1; \
	    fi; \
	done
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
ifeq ($(LOOMS_STATIC_ONLY),)
	$(INSTALL) -d $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 755 $(LOOMS_FROM)/looms $(DESTDIR)$(BINDIR)/looms
	$(INSTALL) -m 755 $(LOOMS_FROM)/liblooms.so $(DESTDIR)$(LIBDIR)/$(LOOMS_REAL)
	ln -sf $(LOOMS_REAL) $(DESTDIR)$(LIBDIR)/$(LOOMS_SONAME)
	ln -sf $(LOOMS_SONAME) $(DESTDIR)$(LIBDIR)/liblooms.so
endif
	$(INSTALL) -m 644 $(LOOMS_FROM)/liblooms.a $(DESTDIR)$(LIBDIR)/liblooms.a
	$(INSTALL) -m 644 $(LOOMS_ROOT)/include/looms.h $(DESTDIR)$(INCLUDEDIR)/looms.h
	$(looms_render_pc) > $(DESTDIR)$(LIBDIR)/pkgconfig/looms.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/looms.pc
ifneq ($(LOOMS_STATIC_ONLY),)
	@echo "installed the static liblooms for $(RUST_TARGET) into $(DESTDIR)$(LIBDIR):"
	@echo "  link with $(if $(LOOMS_MUSL),-static and )\`pkg-config --static --libs looms\` (PKG_CONFIG_PATH=$(LIBDIR)/pkgconfig)."
else
	@$(LOOMS_ROOT)/scripts/install-advice.sh "$(DESTDIR)" "$(LIBDIR)" "$(BINDIR)" "$(LOOMS_SONAME)"
endif

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LOOMS_REAL) $(DESTDIR)$(LIBDIR)/$(LOOMS_SONAME) \
	    $(DESTDIR)$(LIBDIR)/liblooms.so $(DESTDIR)$(LIBDIR)/liblooms.a \
	    $(DESTDIR)$(INCLUDEDIR)/looms.h $(DESTDIR)$(LIBDIR)/pkgconfig/looms.pc \
	    $(DESTDIR)$(BINDIR)/looms

abi-check: lib
	bash $(LOOMS_ROOT)/scripts/suites/30-abi.sh

package-check: lib cli
	bash $(LOOMS_ROOT)/scripts/suites/40-package.sh
