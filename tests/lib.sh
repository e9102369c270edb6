# lib.sh — helpers for the end-to-end cases in tests/cases/*.sh.
# Each check prints "ok NAME" or "FAIL NAME: why"; tests/run.sh counts them.
set -u
WFDSL="${WFDSL:-$PWD/wfdsl}"
T="$(mktemp -d "${TESTTMP:-/tmp}/case.XXXXXX")"
export WFDSL_DB="$T/wfdsl.db"

ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; }

# check NAME CONDITION-COMMAND...: ok when the command succeeds
check() { local n="$1"; shift; if "$@"; then ok "$n"; else fail "$n" "'$*' is false"; fi; }

# limit_ms MS: a limit on elapsed time, scaled by $WFDSL_TEST_TIME_SCALE (make
# valgrind) up to 20 s: the slow paths the checks rule out take 30 s
limit_ms() { local l=$(($1 * ${WFDSL_TEST_TIME_SCALE:-1})); echo $((l > 20000 ? 20000 : l)); }

# clear_of_clock_edge SECONDS [day|half]: when the UTC clock is within SECONDS of the next
# full hour (of midnight with "day", of the next full or half hour with "half"), wait until
# it has passed, so that checks comparing a run's date or hour with the test's own do not
# straddle the edge
clear_of_clock_edge() {
    local now period=3600 left
    now=$(date -u +%s)
    case "${2:-}" in day) period=86400 ;; half) period=1800 ;; esac
    left=$((period - now % period))
    if [ "$left" -le "$1" ]; then sleep $((left + 1)); fi
    return 0
}

# eq NAME GOT WANT
eq() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1" "got '$2', want '$3'"; fi; }

# contains NAME HAYSTACK NEEDLE
contains() { if [[ "$2" == *"$3"* ]]; then ok "$1"; else fail "$1" "'$3' not in: $2"; fi; }

# run_wf ARGS...: run wfdsl, capturing stdout in $OUT, stderr in $ERR, exit in $RC
run_wf() { "$WFDSL" "$@" >"$T/out" 2>"$T/err"; RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err"); }

# json EXPR JSON: evaluate a python expression over the parsed JSON (d);
# strings print as they are, anything else as compact JSON
json() { python3 -c '
import json, sys
d = json.loads(sys.argv[2])
r = eval(sys.argv[1])
print(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")))' "$1" "$2"; }
