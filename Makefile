# looms: build, demo and test entry points. `make demo` and `make check`
# are all a fresh clone needs.

CARGO   ?= cargo
LIB_DIR := $(CURDIR)/target/release
export LOOMS_ROOT    := $(CURDIR)
export LOOMS_LIB_DIR := $(LIB_DIR)

.PHONY: all lib demo check
all: lib

lib:
	$(CARGO) build --release --lib

demo: lib
	$(MAKE) -C c-tests/host demo

check: lib
	scripts/check.sh

# Each area keeps its own targets in a fragment: mk/*.mk
-include mk/*.mk
