#!/usr/bin/env bash
# The scenarios of 20-scenarios.sh with LOOMS_SAVE=background: every save a
# background save followed by its barrier, the same files and loom checked.
exec env SCENARIO_SAVE=background bash "$(dirname "$0")/20-scenarios.sh"
