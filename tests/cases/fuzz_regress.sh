# fuzz_regress.sh — replay the inputs that once crashed or hung a fuzz target
# (tests/fuzz/regressions/<target>/*) through the CLI path that reaches the
# same code, with the normal binary (no clang needed): each must end within
# 10 s with a clean exit (0, or 2 for a rejected file or input), never a
# signal, a sanitizer report or a hang. See tests/fuzz/README.md.
. tests/lib.sh
R=tests/fuzz/regressions

# expect_clean NAME ALLOWED_CODES CMD...: run CMD under a 10 s timeout
expect_clean() {
    local name="$1" allowed="$2"; shift 2
    local rc
    rc=$( (timeout -k 5 10 "$@" >"$T/out" 2>"$T/err"; echo $?) 2>/dev/null) # no "Segmentation fault" noise
    echo "$rc" >"$T/rc"
    if [ $rc -eq 124 ]; then fail "$name" "hung (killed after 10 s)"
    elif [ $rc -gt 128 ]; then fail "$name" "killed by signal $((rc - 128)): $(tail -3 "$T/err" | tr '\n' ' ')"
    elif [[ " $allowed " != *" $rc "* ]]; then fail "$name" "exit $rc: $(tail -3 "$T/err" | tr '\n' ' ')"
    elif grep -q 'Sanitizer\|runtime error' "$T/err"; then fail "$name" "$(grep -m1 'Sanitizer\|runtime error' "$T/err")"
    else ok "$name"; fi
}

# yaml_str FILE: the file's bytes as a YAML double-quoted scalar (JSON
# escapes are YAML escapes; bytes that are not UTF-8 become U+FFFD, since a
# workflow file must be UTF-8 anyway)
yaml_str() { python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1],"rb").read().decode("utf-8","replace")))' "$1"; }

# the workflow of fuzz_input must stay valid as the language changes
run_wf check tests/fuzz/input.yaml
eq "fuzz: tests/fuzz/input.yaml compiles" "$RC" "0"

for f in "$R"/fuzz_compile/*; do
    [ -f "$f" ] || continue
    expect_clean "fuzz regression $f" "0 2" "$WFDSL" check "$f"
done

for f in "$R"/fuzz_expr/*; do
    [ -f "$f" ] || continue
    s=$(yaml_str "$f"); x=${s:1:${#s}-2} # without the quotes
    cat >"$T/expr.yaml" <<YAML
wfdsl: 1
name: fz
input: {x: {type: string}}
vars: {v: 0}
steps:
  - id: s
    if: $s
    lua: $s
output:
  a: "\${ $x }"
  b: "a \${$x} b"
YAML
    expect_clean "fuzz regression $f" "0 2" "$WFDSL" check "$T/expr.yaml"
done

for f in "$R"/fuzz_duration/*; do
    [ -f "$f" ] || continue
    s=$(yaml_str "$f")
    printf 'wfdsl: 1\nname: fz\ntimeout: %s\nsteps:\n  - lua: return 1\n    timeout: %s\n' "$s" "$s" >"$T/dur.yaml"
    expect_clean "fuzz regression $f" "0 2" "$WFDSL" check "$T/dur.yaml"
done

for f in "$R"/fuzz_input/*; do
    [ -f "$f" ] || continue
    expect_clean "fuzz regression $f" "0 2" "$WFDSL" run tests/fuzz/input.yaml --db "$T/input.db" --input "@$f"
done

for f in "$R"/fuzz_cron/*; do
    [ -f "$f" ] || continue
    s=$(yaml_str "$f")
    printf 'wfdsl: 1\nname: fz\ntriggers:\n  - cron: %s\n    timezone: America/New_York\nsteps:\n  - lua: return 1\n' "$s" >"$T/cron.yaml"
    expect_clean "fuzz regression $f (check)" "0 2" "$WFDSL" check "$T/cron.yaml"
    # deploy computes the next fire time
    [ "$(cat "$T/rc" 2>/dev/null)" = 0 ] && expect_clean "fuzz regression $f (deploy)" "0" "$WFDSL" deploy "$T/cron.yaml"
done

for d in "$R"/*/; do
    [ -d "$d" ] || continue
    case "$(basename "$d")" in
    fuzz_compile | fuzz_expr | fuzz_duration | fuzz_input | fuzz_cron) ;;
    fuzz_py) ;; # replayed by tests/unit/test_py.c (fuzz_regressions), the front end's own entry point
    *) ls "$d" | grep -q . && fail "fuzz regressions in $d" "no CLI replay for this target in tests/cases/fuzz_regress.sh" ;;
    esac
done
