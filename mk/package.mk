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

# The pkg-config file for the given directories, on stdout.
define looms_render_pc
sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(call looms_pc_dir,$(LIBDIR),exec_prefix)|g' \
    -e 's|@INCLUDEDIR@|$(call looms_pc_dir,$(INCLUDEDIR),prefix)|g' \
    -e 's|@VERSION@|$(LOOMS_VERSION)|g' $(LOOMS_ROOT)/pkgconfig/looms.pc.in
endef

.PHONY: header pc install uninstall abi-check package-check

header:
	CBINDGEN=$(CBINDGEN) $(LOOMS_ROOT)/scripts/header.sh $(LOOMS_ROOT)/include/looms.h

pc:
	@mkdir -p $(LOOMS_ROOT)/target
	$(looms_render_pc) > $(LOOMS_ROOT)/target/looms.pc

LOOMS_BUILT := $(LOOMS_LIB_DIR)/liblooms.so $(LOOMS_LIB_DIR)/liblooms.a $(LOOMS_LIB_DIR)/looms

install:
	@for f in $(LOOMS_BUILT); do \
	    if [ ! -f "$$f" ]; then \
	        echo "make install: $$f is missing; run \`make\` first, as your user (install never builds)" >&2; \
	        exit 1; \
	    fi; \
	done
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 755 $(LOOMS_LIB_DIR)/looms $(DESTDIR)$(BINDIR)/looms
	$(INSTALL) -m 755 $(LOOMS_LIB_DIR)/liblooms.so $(DESTDIR)$(LIBDIR)/$(LOOMS_REAL)
	ln -sf $(LOOMS_REAL) $(DESTDIR)$(LIBDIR)/$(LOOMS_SONAME)
	ln -sf $(LOOMS_SONAME) $(DESTDIR)$(LIBDIR)/liblooms.so
	$(INSTALL) -m 644 $(LOOMS_LIB_DIR)/liblooms.a $(DESTDIR)$(LIBDIR)/liblooms.a
	$(INSTALL) -m 644 $(LOOMS_ROOT)/include/looms.h $(DESTDIR)$(INCLUDEDIR)/looms.h
	$(looms_render_pc) > $(DESTDIR)$(LIBDIR)/pkgconfig/looms.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/looms.pc
	@$(LOOMS_ROOT)/scripts/install-advice.sh "$(DESTDIR)" "$(LIBDIR)" "$(BINDIR)" "$(LOOMS_SONAME)"

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LOOMS_REAL) $(DESTDIR)$(LIBDIR)/$(LOOMS_SONAME) \
	    $(DESTDIR)$(LIBDIR)/liblooms.so $(DESTDIR)$(LIBDIR)/liblooms.a \
	    $(DESTDIR)$(INCLUDEDIR)/looms.h $(DESTDIR)$(LIBDIR)/pkgconfig/looms.pc \
	    $(DESTDIR)$(BINDIR)/looms

abi-check: lib
	bash $(LOOMS_ROOT)/scripts/suites/30-abi.sh

package-check: lib cli
	bash $(LOOMS_ROOT)/scripts/suites/40-package.sh
