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

# a Fail state's ASL name shows in `show`
cat >"$T/f.asl.json" <<'JSON'
{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Order.Rejected", "Cause": "no stock"}}}
JSON
run_wf run "$T/f.asl.json" --id aslfail --quiet
run_wf show aslfail
contains "asl error name in show" "$OUT" '"error":"Order.Rejected"'
