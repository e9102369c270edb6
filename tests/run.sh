#!/usr/bin/env bash
# run.sh — the whole suite: C unit tests, error messages, explain goldens and
# end-to-end cases against the real binary. Ends with "N passed, N failed".
#   WFDSL=path/to/wfdsl   binary under test (default ./wfdsl)
#   UNIT_DIR=dir          unit test binaries (default build/tests)
#   ONLY=pattern          run only the parts whose name matches (a|b: either)
#   UNIT_WRAP=command     run each unit test binary under command (make valgrind)
#   UPDATE_GOLDEN=1       rewrite explain goldens and expected error files
set -u
shopt -s lastpipe # `... | count` must update the counters of this shell, not a subshell
cd "$(dirname "$0")/.."
export WFDSL="${WFDSL:-$PWD/wfdsl}"
UNIT_DIR="${UNIT_DIR:-build/tests}"
export TESTTMP="$(mktemp -d /tmp/wfdsl-test.XXXXXX)"
trap '[ -n "${KEEP:-}" ] || rm -rf "$TESTTMP"' EXIT
passed=0 failed=0
failures=()

count() { # read "ok NAME" / "FAIL NAME: why" lines from a part's output
    local part="$1" line
    while IFS= read -r line; do
        case "$line" in
        "ok "*) passed=$((passed + 1)) ;;
        "FAIL "*) failed=$((failed + 1)); failures+=("$part: ${line#FAIL }") ;;
        esac
    done
}

want() {
    [ -z "${ONLY:-}" ] && return 0
    local p
    IFS='|' read -ra pats <<<"$ONLY"
    for p in "${pats[@]}"; do [[ "$1" == *$p* ]] && return 0; done
    return 1
}

# 1. C unit tests
for t in "$UNIT_DIR"/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    want "$name" || continue
    out=$(${UNIT_WRAP:-} "$t" 2>"$TESTTMP/$name.err"); rc=$?
    count "$name" <<<"$out"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
        failed=$((failed + 1)); failures+=("$name: exited $rc: $(tail -3 "$TESTTMP/$name.err")")
    fi
    echo "$out" | grep -c '^ok ' | xargs printf '%-28s %s checks\n' "$name" >&2
done

# 2. error messages: tests/errors/NAME.yaml must fail `check` with NAME.expected
if want errors; then
    for y in tests/errors/*.yaml; do
        exp="${y%.yaml}.expected"
        got=$("$WFDSL" check "$y" 2>&1 >/dev/null); rc=$?
        if [ -n "${UPDATE_GOLDEN:-}" ]; then printf '%s\n' "$got" >"$exp"; fi
        if [ $rc -ne 2 ]; then
            echo "FAIL $y: exit $rc, expected 2"
        elif [ "$got" != "$(cat "$exp" 2>/dev/null)" ]; then
            echo "FAIL $y: got: $got"
        else
            echo "ok $y"
        fi
    done | count errors
fi

# 3. explain goldens for every sample
if want golden; then
    for y in samples/*.yaml; do
        g="tests/golden/$(basename "${y%.yaml}").explain"
        got=$("$WFDSL" explain "$y" 2>&1)
        if [ -n "${UPDATE_GOLDEN:-}" ]; then printf '%s\n' "$got" >"$g"; fi
        if [ "$got" == "$(cat "$g" 2>/dev/null)" ]; then echo "ok golden $y"
        else echo "FAIL golden $y: explain output differs from $g"; fi
    done | count golden
fi

# 4. end-to-end cases
for c in tests/cases/*.sh; do
    name=$(basename "$c" .sh)
    want "$name" || continue
    out=$(bash "$c" 2>"$TESTTMP/$name.err"); rc=$?
    count "$name" <<<"$out"
    if [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
        failed=$((failed + 1)); failures+=("$name: exited $rc: $(tail -3 "$TESTTMP/$name.err")")
    fi
    echo "$out" | grep -c '^ok ' | xargs printf '%-28s %s checks\n' "$name" >&2
done

for f in "${failures[@]}"; do echo "FAIL $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
