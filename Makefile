# looms: build, demo and test entry points. `make demo` and `make check`
# are all a fresh clone needs.

CARGO   ?= cargo
LIB_DIR := $(CURDIR)/target/release
export LOOMS_ROOT    := $(CURDIR)
export LOOMS_LIB_DIR := $(LIB_DIR)

# The pier `make demo` leaves, for `looms info` and the other commands.
override DEMO_PIER := $(CURDIR)/target/demo-pier

.PHONY: all lib demo ab-demo check
# The library (shared and static) and the looms command: what install takes.
all: lib cli

# With the command's feature on, as `make cli` builds it: the library's code
# is the same either way, but cargo rebuilds a cdylib whenever its feature
# set changes, so one set for both keeps `make`, `make demo` and `make check`
# from rebuilding the library back and forth.
lib:
	$(CARGO) build --release --features cli --lib

# VERBOSE=1: the library's verbose mode (the runtime's -v) for the demo.
demo: lib cli
	rm -rf $(DEMO_PIER)
	$(MAKE) -C c-tests/host demo DEMO_PIER=$(DEMO_PIER) DEMO_FLAGS=$(if $(VERBOSE),-v)
	@echo
	@echo "$$ looms info $(DEMO_PIER)"
	@$(LIB_DIR)/looms info $(DEMO_PIER)
	@echo
	@echo "$$ looms verify $(DEMO_PIER)"
	@$(LIB_DIR)/looms verify $(DEMO_PIER)
	@echo
	@echo "the pier stays in $(DEMO_PIER): try the looms commands on it (README.md)"

# The LD_PRELOAD A/B run: one host on a stand-in events.c, then on looms
# preloaded; the same report and the same pier files (scripts/ab-demo.sh).
ab-demo: lib
	scripts/ab-demo.sh

check: lib cli
	scripts/check.sh

# Each area keeps its own targets in a fragment: mk/*.mk
-include mk/*.mk
