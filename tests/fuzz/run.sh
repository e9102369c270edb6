#!/usr/bin/env bash
# run.sh SECONDS FUZZ_BUILD TARGET... — run each libFuzzer target for SECONDS
# (`make fuzz SECONDS=N` calls it). Each target starts from its committed seed
# corpus tests/fuzz/corpus/<target>/ (read only: never grown) plus a fresh
# working corpus FUZZ_BUILD/corpus/<target>/ that receives what it finds.
# Crashes, leaks, timeouts and OOMs go to FUZZ_BUILD/artifacts/<target>/.
# Before fuzzing, each target replays tests/fuzz/regressions/<target>/*.
# Every target runs even after another failed; exit 1 if any failed.
#   FUZZ_FLAGS="..."  extra libFuzzer flags (e.g. "-fork=1 -ignore_crashes=1")
set -u
secs="$1" build="$2"; shift 2
cd "$(dirname "$0")/../.."
failed=()
for t in "$@"; do
    bad=0
    bin="$build/$t"
    work="$build/corpus/$t" art="$build/artifacts/$t" log="$build/logs/$t.log"
    rm -rf "$work" "$art"
    mkdir -p "$work" "$art" "$build/logs" "tests/fuzz/corpus/$t"
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    # more seed folders of the repository (tests/fuzz/<target>.seeds: one a line)
    seeds=()
    [ -f "tests/fuzz/$t.seeds" ] && while IFS= read -r d; do [ -d "$d" ] && seeds+=("$d"); done <"tests/fuzz/$t.seeds"
    # first the inputs that once failed (tests/fuzz/regressions/<target>/)
    for f in tests/fuzz/regressions/"$t"/*; do
        [ -f "$f" ] || continue
        if ! timeout 60 "$bin" -timeout=10 -rss_limit_mb=2048 "$f" >"$build/logs/$t.regression.log" 2>&1; then
            bad=1
            echo "FAIL $t: regression $f still fails:" >&2
            grep -E 'ERROR: |runtime error|SUMMARY' "$build/logs/$t.regression.log" | head -3 | sed 's/^/  /' >&2
        fi
    done
    echo "== $t: ${secs}s, log $log" >&2
    # -print_final_stats: the figures of tests/fuzz/README.md
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/" "${dict[@]}" ${FUZZ_FLAGS:-} \
        "$work" "tests/fuzz/corpus/$t" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|^stat::peak_rss' "$log" | sed "s/^/  $t: /" >&2
    if [ $rc -ne 0 ]; then
        bad=1
        echo "FAIL $t: fuzzing failed (exit $rc): reproducer(s):" >&2
        for f in "$art"/*; do [ -e "$f" ] && echo "  $f" >&2; done
        grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | head -5 | sed 's/^/  /' >&2
        echo "  reproduce: $bin FILE   (log: $log)" >&2
    else
        echo "ok $t: nothing found in ${secs}s" >&2
    fi
    [ $bad -eq 0 ] || failed+=("$t")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
