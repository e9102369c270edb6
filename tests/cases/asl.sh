# asl.sh — AWS Step Functions (ASL) front end against the corpus in
# ../shared/asl/corpus (ASL_CORPUS overrides): run, import + run, invalid
# definitions, crash + resume; see tests/asl/corpus.py. Cases listed in
# tests/asl/UNSUPPORTED.md are skipped (nothing printed for them).
. tests/lib.sh

CORPUS="${ASL_CORPUS:-$PWD/../shared/asl/corpus}"
check "asl runtime embedded copy is current" sh tests/asl/embed.sh --check
if [ ! -d "$CORPUS" ]; then
    echo "asl.sh: corpus not found at $CORPUS; corpus cases not run" >&2
else
    python3 tests/asl/corpus.py "$WFDSL" "$CORPUS" "$T"
fi

# import errors: an unmapped resource is listed; JSONata is refused naming the state
cat >"$T/m.asl.json" <<'JSON'
{"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}}}
JSON
run_wf import stepfunctions "$T/m.asl.json"
eq "asl import unmapped exits 2" "$RC" 2
contains "asl import lists the unmapped resource" "$ERR" "arn:aws:lambda:us-east-1:1:function:f (state 'Call')"
printf 'resources:\n  - match: "arn:aws:lambda:*"\n    step: {lua: "return {got = steps.task.input}"}\n' >"$T/m.yaml"
run_wf run "$T/m.asl.json" --resources "$T/m.yaml" --input '{"a": 1}' --quiet
eq "asl run with a resource map" "$(json 'd' "$OUT")" '{"got":{"a":1}}'
cat >"$T/j.asl.json" <<'JSON'
{"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
JSON
run_wf check "$T/j.asl.json"
eq "asl jsonata check exits 2" "$RC" 2
contains "asl jsonata is refused naming the state" "$ERR" "state 'P': QueryLanguage JSONata is not supported"

# a real (not overridden) Wait sleeps durably
cat >"$T/w.asl.json" <<'JSON'
{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "D"}, "D": {"Type": "Pass", "Result": "done", "End": true}}}
JSON
start=$(date +%s%N)
run_wf run "$T/w.asl.json" --quiet
el=$((($(date +%s%N) - start) / 1000000))
eq "asl wait output" "$OUT" '"done"'
check "asl wait took about 1s ($el ms)" test "$el" -ge 900 -a "$el" -lt 5000

# MaxConcurrencyPath is honoured at run time: 4 items of 1 s, 2 at once, take about 2 s
cat >"$T/mc.asl.json" <<'JSON'
{"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrencyPath": "$.mc", "ItemsPath": "$.items",
  "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}, "End": true}}}
JSON
for mc in 2:1900:2900 0:900:1900; do
    n=${mc%%:*}; rest=${mc#*:}; lo=${rest%%:*}; hi=${rest#*:}
    start=$(date +%s%N)
    run_wf run "$T/mc.asl.json" --input "{\"mc\": $n, \"items\": [1, 2, 3, 4]}" --quiet
    el=$((($(date +%s%N) - start) / 1000000))
    eq "asl MaxConcurrencyPath $n: output" "$(json d "$OUT")" "[1,2,3,4]"
    check "asl MaxConcurrencyPath $n: 4 waits of 1 s took $el ms" test "$el" -ge "$lo" -a "$el" -lt "$hi"
done

# ASL errors are first-class error types: show, show --json and history print the
# ASL name as the type and the Cause as the message, the same through the imported YAML
cat >"$T/f.asl.json" <<'JSON'
{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Order.Rejected", "Cause": "no stock"}}}
JSON
cat >"$T/r.asl.json" <<'JSON'
{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "$.nope"}, "End": true}}}
JSON
cat >"$T/i.asl.json" <<'JSON'
{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"}, "End": true}}}
JSON
cat >"$T/t.asl.json" <<'JSON'
{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}}}
JSON
printf 'resources:\n  - match: "*"\n    step: {shell: {script: "echo boom >&2; exit 3"}}\n' >"$T/t.yaml"
for how in run import; do
    for c in f:Order.Rejected:'no stock' r:States.Runtime:"The JsonPath argument for the field 'x.\$' could not be found" \
             i:States.IntrinsicFailure:'States.ArrayGetItem' t:States.TaskFailed:'exit code 3'; do
        f=${c%%:*}; rest=${c#*:}; name=${rest%%:*}; cause=${rest#*:}
        res=""; [ "$f" = t ] && res="--resources $T/t.yaml"
        src="$T/$f.asl.json"
        if [ "$how" = import ]; then
            "$WFDSL" import stepfunctions "$src" $res >"$T/$f.imported.yaml" 2>/dev/null
            src="$T/$f.imported.yaml"; res=""
        fi
        run_wf run "$src" $res --input '{"a": [1]}' --id "asl-$how-$f" --quiet
        eq "asl $how $f: run fails" "$RC" 1
        run_wf show "asl-$how-$f" --json
        eq "asl $how $f: show --json error type" "$(json 'd["error"]["type"]' "$OUT")" "$name"
        contains "asl $how $f: show --json cause" "$(json 'd["error"]["message"]' "$OUT")" "$cause"
        run_wf show "asl-$how-$f"
        contains "asl $how $f: show prints the ASL name" "$OUT" "\"type\":\"$name\""
        run_wf history "asl-$how-$f"
        contains "asl $how $f: history has the ASL name" "$OUT" "run_failed      {\"error\":{\"type\":\"$name\""
    done
done
