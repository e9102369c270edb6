# bench_smoke.sh — `make bench` in smoke mode (tiny counts, a few seconds), so
# that the benchmark never rots: it must run every scenario and write every
# figure of bench-results.json as a number (the node peer's ASL time may be
# null: node and its packages are optional).
# The binary is $BENCH, else the bench next to the unit tests ($UNIT_DIR/..).
. tests/lib.sh

BENCH="${BENCH:-${UNIT_DIR:-build/tests}/../bench}"
if [ ! -x "$BENCH" ]; then
    fail "bench smoke" "$BENCH is not built (make test builds it; or make $BENCH)"
    exit 0
fi
"$BENCH" --smoke --json "$T/bench.json" --dir "$T/bench" >"$T/bench.out" 2>"$T/bench.err"
rc=$?
eq "bench --smoke exits 0" "$rc" 0
[ $rc -eq 0 ] || sed 's/^/# /' "$T/bench.err" >&2
contains "bench prints its table" "$(cat "$T/bench.out")" "sequential 3-step lua runs"

KEYS="sqlite_full_commits_per_s sqlite_batched_rows_per_s sequential_lua_runs_per_s
sequential_http_runs_per_s concurrent_steps_per_s replay_100k_events_s vm_ns_per_instruction
startup_ms parked_100k_rss_mb timers_fired_per_s http_overhead_us asl_map1000_s"
J=$(cat "$T/bench.json" 2>/dev/null)
[ -n "$J" ] || J='{}'
for k in $KEYS; do
    got=$(json "type(d.get('$k', 'missing')).__name__ if '$k' in d else 'missing'" "$J" 2>&1)
    check "bench-results.json: $k is a number (got $got)" [ "$got" = float -o "$got" = int ]
done
rm -rf "$T"
