# The `looms` command: inspect, verify, recover and back up a pier offline.
#   make cli        builds target/release/looms
#   make cli-check  builds it and runs its test suite

.PHONY: cli cli-check
cli:
	$(CARGO) build --release --features cli --bin looms

cli-check: lib
	bash scripts/suites/60-cli.sh
