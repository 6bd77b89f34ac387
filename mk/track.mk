# Dirty tracking (LOOMS_TRACKING=mprotect|uffd|auto): c-tests/track and
# scripts/suites/55-track.sh.
#   make track-check  the tracking suite at the check tier (part of make check)
#   make soak-track   500,000 scattered first stores in a 16 GiB loom under
#                     both backends; not run in CI (minutes, ~36 GiB of disk)

.PHONY: track-check soak-track

track-check: lib
	bash $(LOOMS_ROOT)/scripts/suites/55-track.sh

soak-track: lib
	bash $(LOOMS_ROOT)/scripts/suites/55-track.sh soak

# `make soak` runs this soak too, in 55-track.sh at the soak tier
# (mk/crash.mk).
