#!/usr/bin/env bash
# torture.sh — crash torture: every sample workflow is run under a loop that
# SIGKILLs wfdsl at random moments (random delays, and exact commits through
# WFDSL_TEST_KILL_AFTER_EVENT) and resumes it until the run finishes; then the
# history, the side-channel ledgers and the output are checked (torture.py
# says what exactly). Prints "ok NAME" / "FAIL NAME: why" lines and a summary:
#   # torture: kills K (...), resumes R, runs N, violations V (...)
#
#   bash tests/torture/torture.sh [KILLS] [torture.py options]
#     KILLS                 total kills before it stops (default 1000)
#     TORTURE_SEED=S        reproduce a run (the seed is printed in the summary)
#     TORTURE_SECONDS=T     time budget: no new trial starts after T seconds
#     WFDSL=path            binary under test (default ./wfdsl)
# `make torture N=1000` runs it with 1,000 kills.
set -u
cd "$(dirname "$0")/../.."
kills="${1:-1000}"
shift || true
args=(--kills "$kills")
[ -n "${TORTURE_SEED:-}" ] && args+=(--seed "$TORTURE_SEED")
[ -n "${TORTURE_SECONDS:-}" ] && args+=(--seconds "$TORTURE_SECONDS")
exec python3 tests/torture/torture.py "${args[@]}" "$@"
