# asl.sh — AWS Step Functions (ASL) front end against the corpus in
# ../shared/asl/corpus (ASL_CORPUS overrides): run, import + run, invalid
# definitions, crash + resume, how many imports are fully structured, and the
# cases of tests/asl/cases; see tests/asl/corpus.py. The goldens in
# tests/asl/golden are the imports of representative machines. Cases that tests/asl/COVERAGE.md lists as refused must be
# refused naming the state.
. tests/lib.sh

CORPUS="${ASL_CORPUS:-$PWD/../shared/asl/corpus}"
S=${WFDSL_TEST_TIME_SCALE:-1} # make valgrind: upper time bounds scale with it
check "asl runtime embedded copy is current" sh tests/asl/embed.sh --check
if [ ! -d "$CORPUS" ]; then
    echo "asl.sh: corpus not found at $CORPUS; corpus cases not run" >&2
else
    python3 tests/asl/corpus.py "$WFDSL" "$CORPUS" "$T" || echo "FAIL asl: corpus.py exited $?"
    # goldens: the imported YAML of representative machines, for a reader to judge
    # (ASL_GOLDEN_UPDATE=1 rewrites them); NAME.map.yaml is the resource map
    for g in tests/asl/golden/*.yaml; do
        case "$g" in *.map.yaml) continue ;; esac
        name=$(basename "$g" .yaml)
        src="$CORPUS/$name.asl.json"
        [ -f "$src" ] || src="tests/asl/cases/$name.asl.json"
        res=""
        [ -f "tests/asl/golden/$name.map.yaml" ] && res="--resources tests/asl/golden/$name.map.yaml"
        "$WFDSL" import stepfunctions "$src" $res >"$T/golden.yaml" 2>"$T/golden.err"
        [ -n "${ASL_GOLDEN_UPDATE:-}" ] && cp "$T/golden.yaml" "$g"
        if cmp -s "$T/golden.yaml" "$g"; then
            echo "ok asl golden $name"
        else
            echo "FAIL asl golden $name: the import differs: $(diff "$g" "$T/golden.yaml" | head -6 | tr '\n' ' ') $(head -c 300 "$T/golden.err")"
        fi
        run_wf check "$g"
        eq "asl golden $name: check" "$RC" 0
    done
fi

# structure: a part with no structured form (a cycle entered at two states) keeps the
# dispatcher, with a comment saying why; the rest of the machine stays structured
"$WFDSL" import stepfunctions tests/asl/cases/partly-structured.asl.json >"$T/ps.yaml"
contains "asl import partly structured: the header says so" "$(cat "$T/ps.yaml")" "# Partly structured: 1 part"
contains "asl import partly structured: the comment says why" "$(cat "$T/ps.yaml")" \
    "      # ASL states kept as a dispatcher here: 'Add One' is reached from branches that do not rejoin before it"
contains "asl import partly structured: the other branch is a step" "$(cat "$T/ps.yaml")" "      - id: plain"
contains "asl import partly structured: the state after the Parallel is a step" "$(cat "$T/ps.yaml")" "- id: sum_up"
"$WFDSL" import stepfunctions tests/asl/cases/loop-choice-first.asl.json >"$T/lc.yaml"
contains "asl import loop: a Choice that goes back is a loop's until" "$(cat "$T/lc.yaml")" 'until: "steps.enough ~= \"Add\""'
contains "asl import loop: the way round is a switch branch" "$(cat "$T/lc.yaml")" 'when: "steps.enough == \"Add\""'

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
check "asl wait took about 1s ($el ms)" test "$el" -ge 900 -a "$el" -lt $((5000 * S))

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
    check "asl MaxConcurrencyPath $n: 4 waits of 1 s took $el ms" test "$el" -ge "$lo" -a "$el" -lt $((hi * S))
done

# ASL errors are first-class error types: show, show --json and history print the
# ASL name as the type and the Cause as the message, the same through the imported YAML
# (a Parameters path that selects nothing is States.ParameterPathFailure, an InputPath
# one States.Runtime)
cat >"$T/f.asl.json" <<'JSON'
{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Order.Rejected", "Cause": "no stock"}}}
JSON
cat >"$T/r.asl.json" <<'JSON'
{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "$.nope"}, "End": true}}}
JSON
cat >"$T/n.asl.json" <<'JSON'
{"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.nope", "End": true}}}
JSON
cat >"$T/i.asl.json" <<'JSON'
{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"}, "End": true}}}
JSON
cat >"$T/t.asl.json" <<'JSON'
{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true}}}
JSON
printf 'resources:\n  - match: "*"\n    step: {shell: {script: "echo boom >&2; exit 3"}}\n' >"$T/t.yaml"
for how in run import; do
    for c in f:Order.Rejected:'no stock' r:States.ParameterPathFailure:"The JsonPath argument for the field 'x.\$' could not be found" \
             n:States.Runtime:"Path expression '\$.nope' does not point to a value" \
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

# .waitForTaskToken: the Task's step hands $$.Task.Token out (here a shell step writes it
# to a file, as a queue would carry it); a second process answers with
# `wfdsl signal ID SIGNAL '{"token": ..., "output"|"error"/"cause": ...}'`, SIGNAL and ID
# being the first and last fields of the token.
cat >"$T/tok.asl.json" <<'JSON'
{"StartAt": "Ask Approval", "States": {
  "Ask Approval": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "https://sqs.example/q", "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
    "ResultPath": "$.answer", "TIMEOUT_FIELDS"
    "Catch": [{"ErrorEquals": ["Approval.Later"], "ResultPath": "$.error", "Next": "Later"},
              {"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.error", "Next": "No Heartbeat"}], "End": true},
  "Later": {"Type": "Pass", "Parameters": {"later.$": "$.error.Cause"}, "End": true},
  "No Heartbeat": {"Type": "Pass", "Parameters": {"heartbeat.$": "$.error.Error"}, "End": true}}}
JSON
cat >"$T/tok.yaml" <<YAML
resources:
  - match: "arn:aws:states:::sqs:sendMessage*"
    step:
      shell:
        script: printf '%s' "\$TOKEN" > "\$OUT.tmp" && mv "\$OUT.tmp" "\$OUT"
        env: {TOKEN: "\${ steps.task.input.MessageBody.token }", OUT: "$T/token"}
YAML
sed 's/"TIMEOUT_FIELDS"//' "$T/tok.asl.json" >"$T/tok-plain.asl.json"
sed 's/"TIMEOUT_FIELDS"/"TimeoutSeconds": 1,/' "$T/tok.asl.json" >"$T/tok-timeout.asl.json"
sed 's/"TIMEOUT_FIELDS"/"TimeoutSeconds": 4, "HeartbeatSeconds": 1,/' "$T/tok.asl.json" >"$T/tok-heartbeat.asl.json"
"$WFDSL" import stepfunctions "$T/tok-plain.asl.json" --resources "$T/tok.yaml" >"$T/tok-plain.yaml"
contains "asl task token: the imported YAML says how to answer" "$(cat "$T/tok-plain.yaml")" \
    "#   Ask Approval: wfdsl signal WORKFLOW-ID ask_approval '{\"token\": TOKEN, \"output\": RESULT}'"
# start FILE ID [INPUT]: wfdsl run in the background; TOKEN gets the token it hands out
start_tok() {
    rm -f "$T/token"
    local res=""; case "$1" in *.asl.json) res="--resources $T/tok.yaml";; esac
    local input='{"order": 7}'; [ -n "${3:-}" ] && input=$3
    timeout $((30 * S)) "$WFDSL" run "$1" $res --input "$input" --id "$2" >"$T/tok.out" 2>"$T/tok.err" &
    TOKPID=$!
    for _ in $(seq $((100 * S))); do [ -s "$T/token" ] && break; sleep 0.05; done
    TOKEN=$(cat "$T/token" 2>/dev/null)
}
for src in tok-plain.asl.json tok-plain.yaml; do
    start_tok "$T/$src" "tok-ok-$src"
    contains "asl task token $src: handed out as SIGNAL:UUID:ID" "$TOKEN" "ask_approval:"
    check "asl task token $src: ends with the run id" test "${TOKEN##*:}" = "tok-ok-$src"
    # an answer to another token is skipped, the right one completes the Task
    run_wf signal "tok-ok-$src" ask_approval '{"token": "ask_approval:stale:x", "output": "stale"}'
    run_wf signal "tok-ok-$src" ask_approval "{\"token\": \"$TOKEN\", \"output\": {\"approved\": true}}"
    eq "asl task token $src: signal accepted" "$RC" 0
    wait $TOKPID
    eq "asl task token $src: run succeeds" "$?" 0
    eq "asl task token $src: output" "$(json d "$(cat "$T/tok.out")")" '{"answer":{"approved":true},"order":7}'
    # SendTaskFailure: the Task fails with the error and cause given (uncaught here)
    start_tok "$T/$src" "tok-fail-$src"
    run_wf signal "tok-fail-$src" ask_approval "{\"token\": \"$TOKEN\", \"error\": \"Approval.Denied\", \"cause\": \"not today\"}"
    wait $TOKPID
    eq "asl task token $src: failure exits 1" "$?" 1
    run_wf show "tok-fail-$src" --json
    eq "asl task token $src: failure error" "$(json '[d["error"]["type"], d["error"]["message"]]' "$OUT")" '["Approval.Denied","not today"]'
    # ... and caught by a Catch on the Task
    start_tok "$T/$src" "tok-later-$src"
    run_wf signal "tok-later-$src" ask_approval "{\"token\": \"$TOKEN\", \"error\": \"Approval.Later\", \"cause\": \"ask on Monday\"}"
    wait $TOKPID
    eq "asl task token $src: failure caught" "$(json d "$(cat "$T/tok.out")")" '{"later":"ask on Monday"}'
done
# TimeoutSeconds: no answer in time is States.Timeout
start=$(date +%s%N)
run_wf run "$T/tok-timeout.asl.json" --resources "$T/tok.yaml" --input '{"order": 7}' --id tok-timeout
el=$((($(date +%s%N) - start) / 1000000))
eq "asl task token timeout: exits 1" "$RC" 1
check "asl task token timeout: after about 1 s ($el ms)" test "$el" -ge 900 -a "$el" -lt $((4000 * S))
run_wf show tok-timeout --json
eq "asl task token timeout: States.Timeout" "$(json 'd["error"]["type"]' "$OUT")" States.Timeout
# HeartbeatSeconds: heartbeats keep the wait alive until TimeoutSeconds (not under make
# valgrind, where sending a heartbeat takes longer than the 1 s it must arrive in);
# without them, States.HeartbeatTimeout catches the missing heartbeat
if [ "$S" = 1 ]; then
start_tok "$T/tok-heartbeat.asl.json" tok-hb
start=$(date +%s%N)
for _ in 1 2 3 4 5 6 7 8; do
    sleep 0.5
    "$WFDSL" signal tok-hb ask_approval "{\"token\": \"$TOKEN\", \"heartbeat\": true}" >/dev/null 2>&1
done
wait $TOKPID
el=$((($(date +%s%N) - start) / 1000000))
run_wf show tok-hb --json
eq "asl task token heartbeats: then States.Timeout" "$(json 'd["error"]["type"]' "$OUT")" States.Timeout
check "asl task token heartbeats: kept it waiting until TimeoutSeconds ($el ms)" test "$el" -ge 3000 -a "$el" -lt $((7000 * S))
fi
run_wf run "$T/tok-heartbeat.asl.json" --resources "$T/tok.yaml" --input '{"order": 7}' --id tok-nohb --quiet
eq "asl task token no heartbeat: caught as States.HeartbeatTimeout" "$(json d "$OUT")" '{"heartbeat":"States.Timeout"}'
# HeartbeatSecondsPath: the heartbeat time comes from the input; each wait for the answer
# races a durable timer of that many seconds. Run directly and through the imported YAML:
# heartbeats in time keep it waiting until the answer; none in time is States.Timeout,
# which States.HeartbeatTimeout catches; a value that is not a positive integer is
# States.Runtime (uncaught); killed while waiting, resumed, it still takes the answer
sed 's/"TIMEOUT_FIELDS"/"HeartbeatSecondsPath": "$.hb",/' "$T/tok.asl.json" >"$T/tok-hbpath.asl.json"
"$WFDSL" import stepfunctions "$T/tok-hbpath.asl.json" --resources "$T/tok.yaml" >"$T/tok-hbpath.yaml"
contains "asl HeartbeatSecondsPath: the wait races a timer" "$(cat "$T/tok-hbpath.yaml")" \
    'until: "${ asl.after(now(), steps.ask_approval_input.heartbeat) }"'
for src in tok-hbpath.asl.json tok-hbpath.yaml; do
    if [ "$S" = 1 ]; then
        start_tok "$T/$src" "hbp-ok-$src" '{"order": 7, "hb": 1}'
        start=$(date +%s%N)
        for _ in 1 2 3 4; do
            sleep 0.5
            "$WFDSL" signal "hbp-ok-$src" ask_approval "{\"token\": \"$TOKEN\", \"heartbeat\": true}" >/dev/null 2>&1
        done
        run_wf signal "hbp-ok-$src" ask_approval "{\"token\": \"$TOKEN\", \"output\": \"yes\"}"
        wait $TOKPID
        eq "asl HeartbeatSecondsPath $src: heartbeats in time, then the answer" "$?" 0
        el=$((($(date +%s%N) - start) / 1000000))
        eq "asl HeartbeatSecondsPath $src: output" "$(json d "$(cat "$T/tok.out")")" '{"answer":"yes","hb":1,"order":7}'
        check "asl HeartbeatSecondsPath $src: kept waiting past one heartbeat time ($el ms)" test "$el" -ge 1900
        run_wf replay "hbp-ok-$src"
        eq "asl HeartbeatSecondsPath $src: replays" "$RC" 0
    fi
    start=$(date +%s%N)
    run_wf run "$T/$src" --resources "$T/tok.yaml" --input '{"order": 7, "hb": 1}' --id "hbp-none-$src" --quiet
    el=$((($(date +%s%N) - start) / 1000000))
    eq "asl HeartbeatSecondsPath $src: no heartbeat caught as States.HeartbeatTimeout" "$(json d "$OUT")" \
        '{"heartbeat":"States.Timeout"}'
    check "asl HeartbeatSecondsPath $src: after about 1 s ($el ms)" test "$el" -ge 900 -a "$el" -lt $((4000 * S))
    for bad in '"x"' 0 1.5; do
        run_wf run "$T/$src" --resources "$T/tok.yaml" --input "{\"order\": 7, \"hb\": $bad}" --id "hbp-bad-$bad-$src" --quiet
        eq "asl HeartbeatSecondsPath $src: hb $bad exits 1" "$RC" 1
        run_wf show "hbp-bad-$bad-$src" --json
        eq "asl HeartbeatSecondsPath $src: hb $bad is States.Runtime" "$(json 'd["error"]["type"]' "$OUT")" States.Runtime
        contains "asl HeartbeatSecondsPath $src: hb $bad, the cause" "$(json 'd["error"]["message"]' "$OUT")" \
            "The HeartbeatSecondsPath field refers to value $bad which is not a positive integer"
    done
    run_wf run "$T/$src" --resources "$T/tok.yaml" --input '{"order": 7}' --id "hbp-missing-$src" --quiet
    run_wf show "hbp-missing-$src" --json
    eq "asl HeartbeatSecondsPath $src: no such field is States.Runtime" "$(json 'd["error"]["type"]' "$OUT")" States.Runtime
done
start_tok "$T/tok-hbpath.asl.json" hbp-kill '{"order": 7, "hb": 30}'
kill -9 "$(pgrep -P $TOKPID)"; wait $TOKPID 2>/dev/null
run_wf signal hbp-kill ask_approval "{\"token\": \"$TOKEN\", \"output\": \"after the crash\"}"
run_wf resume hbp-kill --quiet
eq "asl HeartbeatSecondsPath killed and resumed: output" "$(json d "$OUT")" '{"answer":"after the crash","hb":30,"order":7}'
# refused at check time: on a Task without a task token, and a path that is not one
for f in '"Resource": "arn:aws:lambda:us-east-1:1:function:f", "HeartbeatSecondsPath": "$.hb"' \
         '"Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "HeartbeatSecondsPath": "hb"' \
         '"Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "HeartbeatSecondsPath": "$.hb", "HeartbeatSeconds": 2'; do
    printf '{"StartAt": "T", "States": {"T": {"Type": "Task", %s, "End": true}}}\n' "$f" >"$T/hbbad.asl.json"
    run_wf check "$T/hbbad.asl.json"
    eq "asl HeartbeatSecondsPath refused ($f): exits 2" "$RC" 2
    contains "asl HeartbeatSecondsPath refused ($f): names the state and the field" "$ERR" "state 'T': "
    contains "asl HeartbeatSecondsPath refused ($f): names the field" "$ERR" "HeartbeatSecondsPath"
done
# killed while waiting for the answer; the answer comes; resume completes the Task
start_tok "$T/tok-plain.asl.json" tok-kill
kill -9 "$(pgrep -P $TOKPID)"; wait $TOKPID 2>/dev/null   # wfdsl (or valgrind.sh's exec), under timeout
run_wf show tok-kill --json
eq "asl task token killed: the run is left running" "$(json 'd["status"]' "$OUT")" running
run_wf signal tok-kill ask_approval "{\"token\": \"$TOKEN\", \"output\": \"after the crash\"}"
run_wf resume tok-kill --quiet
eq "asl task token killed and resumed: output" "$(json d "$OUT")" '{"answer":"after the crash","order":7}'
# a Map whose processor waits for tokens runs its items one at a time: each answer
# reaches the item whose token it carries
cat >"$T/tokmap.asl.json" <<'JSON'
{"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.orders", "MaxConcurrency": 5,
  "ItemProcessor": {"StartAt": "Ask Approval", "States": {"Ask Approval": {"Type": "Task",
    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token", "order.$": "$"}}, "End": true}}}, "End": true}}}
JSON
rm -f "$T/token"
timeout $((30 * S)) "$WFDSL" run "$T/tokmap.asl.json" --resources "$T/tok.yaml" --input '{"orders": [1, 2, 3]}' --id tok-map >"$T/tok.out" 2>&1 &
TOKPID=$!
answered=0
for i in 1 2 3; do
    for _ in $(seq $((100 * S))); do [ -s "$T/token" ] && break; sleep 0.05; done
    TOKEN=$(cat "$T/token"); rm -f "$T/token"
    "$WFDSL" signal tok-map ask_approval "{\"token\": \"$TOKEN\", \"output\": \"answer $i\"}" >/dev/null && answered=$((answered + 1))
done
wait $TOKPID
eq "asl task token in a Map: answers in item order" "$(json d "$(cat "$T/tok.out")")" '["answer 1","answer 2","answer 3"]'

# TimeoutSeconds and TimeoutSecondsPath on a Task: States.Timeout when the step runs longer
cat >"$T/tmo.asl.json" <<'JSON'
{"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:slow",
  "Parameters": {"secs.$": "$.secs"}, "TIMEOUT", "ResultPath": "$.r",
  "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Timed Out"}], "End": true},
  "Timed Out": {"Type": "Pass", "Parameters": {"timed_out.$": "$.error.Error"}, "End": true}}}
JSON
cat >"$T/tmo.yaml" <<'YAML'
resources:
  - match: "*"
    step: {shell: {argv: [sh, -c, 'sleep "$1"; echo done', sh, "${ steps.task.input.secs }"]}}
YAML
sed 's/"TIMEOUT"/"TimeoutSecondsPath": "$.limit"/' "$T/tmo.asl.json" >"$T/tmo-path.asl.json"
sed 's/"TIMEOUT"/"TimeoutSeconds": 1/' "$T/tmo.asl.json" >"$T/tmo-static.asl.json"
for c in 'path|{"secs": 5, "limit": 1}|{"timed_out":"States.Timeout"}' 'path|{"secs": 0, "limit": 3}|done' \
         'static|{"secs": 5}|{"timed_out":"States.Timeout"}' 'static|{"secs": 0}|done'; do
    IFS='|' read -r kind in want <<<"$c"
    start=$(date +%s%N)
    run_wf run "$T/tmo-$kind.asl.json" --resources "$T/tmo.yaml" --input "$in" --quiet
    el=$((($(date +%s%N) - start) / 1000000))
    if [ "$want" = done ]; then
        eq "asl TimeoutSeconds $kind $in: in time" "$(json 'd["r"]["stdout"]' "$OUT")" "done"
    else
        eq "asl TimeoutSeconds $kind $in: States.Timeout caught" "$(json d "$OUT")" "$want"
        check "asl TimeoutSeconds $kind $in: after about 1 s ($el ms)" test "$el" -ge 900 -a "$el" -lt $((4000 * S))
    fi
done
# a mapped step without a timeout of its own (here a sleep) races a timer
printf 'resources:\n  - match: "*"\n    step: {sleep: 5s}\n' >"$T/tmo-sleep.yaml"
start=$(date +%s%N)
run_wf run "$T/tmo-static.asl.json" --resources "$T/tmo-sleep.yaml" --input '{"secs": 5}' --quiet
el=$((($(date +%s%N) - start) / 1000000))
eq "asl TimeoutSeconds on a sleep step: States.Timeout caught" "$(json d "$OUT")" '{"timed_out":"States.Timeout"}'
check "asl TimeoutSeconds on a sleep step: after about 1 s ($el ms)" test "$el" -ge 900 -a "$el" -lt $((4000 * S))
run_wf run "$T/tmo-path.asl.json" --resources "$T/tmo.yaml" --input '{"secs": 0, "limit": 0}'
eq "asl TimeoutSecondsPath 0: exits 1" "$RC" 1
contains "asl TimeoutSecondsPath 0: States.Runtime" "$ERR" "States.Runtime: An error occurred while executing the state 'Slow'. The TimeoutSecondsPath field refers to value 0"

# the machine's TimeoutSeconds: States.Timeout when it runs longer, its own errors otherwise
cat >"$T/mt.asl.json" <<'JSON'
{"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "F"},
  "F": {"Type": "Pass", "Result": "done", "End": true}}}
JSON
"$WFDSL" import stepfunctions "$T/mt.asl.json" >"$T/mt.yaml"
contains "asl machine TimeoutSeconds: the import is structured" "$(cat "$T/mt.yaml")" "# Structured:"
for src in mt.asl.json mt.yaml; do
    start=$(date +%s%N)
    run_wf run "$T/$src" --input '{"s": 5}' --id "mt-slow-$src"
    el=$((($(date +%s%N) - start) / 1000000))
    contains "asl machine TimeoutSeconds $src: States.Timeout" "$ERR" "failed: States.Timeout"
    check "asl machine TimeoutSeconds $src: after about 1 s ($el ms)" test "$el" -ge 900 -a "$el" -lt $((4000 * S))
    run_wf run "$T/$src" --input '{"s": 0}' --quiet
    eq "asl machine TimeoutSeconds $src: in time" "$OUT" '"done"'
    run_wf run "$T/$src" --input '{"s": -1}' --id "mt-neg-$src"
    run_wf show "mt-neg-$src" --json
    eq "asl machine TimeoutSeconds $src: the machine's own error" "$(json 'd["error"]["type"]' "$OUT")" States.Runtime
done

# arn:aws:states:::http:invoke is an `http` step (no resource map needed); an error status
# is States.Http.StatusCode.NNN
. tests/http.sh
cat >"$T/http.asl.json" <<'JSON'
{"StartAt": "Call", "States": {
  "Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke",
    "Parameters": {"ApiEndpoint.$": "$.url", "Method": "POST", "RequestBody": {"a.$": "$.a"}},
    "ResultSelector": {"status.$": "$.StatusCode", "sent.$": "$.ResponseBody.json"},
    "Catch": [{"ErrorEquals": ["States.Http.StatusCode.503"], "ResultPath": "$.error", "Next": "Unavailable"}], "End": true},
  "Unavailable": {"Type": "Pass", "Parameters": {"error.$": "$.error.Error"}, "End": true}}}
JSON
"$WFDSL" import stepfunctions "$T/http.asl.json" >"$T/http.yaml"
for src in http.asl.json http.yaml; do
    run_wf run "$T/$src" --input "{\"url\": \"$BASE/echo\", \"a\": 1}" --quiet
    eq "asl http:invoke $src: request and result" "$(json d "$OUT")" '{"sent":{"a":1},"status":200}'
    run_wf run "$T/$src" --input "{\"url\": \"$BASE/status/503\", \"a\": 1}" --quiet
    eq "asl http:invoke $src: 503 caught by name" "$(json d "$OUT")" '{"error":"States.Http.StatusCode.503"}'
    run_wf run "$T/$src" --input "{\"url\": \"$BASE/status/404\", \"a\": 1}" --id "http-404-$src"
    run_wf show "http-404-$src" --json
    eq "asl http:invoke $src: 404 uncaught" "$(json 'd["error"]["type"]' "$OUT")" States.Http.StatusCode.404
done

# a bad resource map: every problem at once, with the map's file:line:col
printf 'resources:\n  - match: "*"\n    stp: {lua: "return 1"}\n  - state: a\n    match: b\n    step: 5\n    lambda_payload: maybe\n  - match: "*"\n    step: {lua: "return steps.nope"}\nwaits: {"*": soon}\nretry_waits: nope\nextra: 1\n' >"$T/badmap.yaml"
run_wf check "$T/m.asl.json" --resources "$T/badmap.yaml"
eq "asl bad resource map: exit 2" "$RC" 2
for want in "badmap.yaml:12:1: error: unknown field 'extra' in the resource map" \
            "badmap.yaml:11:14: error: 'retry_waits' must be true or false" \
            "badmap.yaml:3:5: error: unknown field 'stp' in a rule" \
            "badmap.yaml:2:5: error: a rule needs a 'step'" \
            "badmap.yaml:4:5: error: a rule needs exactly one of 'state' and 'match'" \
            "badmap.yaml:6:11: error: a rule needs a 'step'" \
            "badmap.yaml:7:21: error: 'lambda_payload' must be true or false" \
            "badmap.yaml:9:17: error: unknown step 'nope' in expression" \
            "badmap.yaml:10:14: error: 'waits': '*' must be a duration"; do
    contains "asl bad resource map: ${want#*error: }" "$ERR" "$want"
done
echo '[1]' >"$T/badmap2.yaml"
run_wf import stepfunctions "$T/m.asl.json" --resources "$T/badmap2.yaml"
contains "asl resource map not a mapping" "$ERR" "badmap2.yaml:1:1: error: a resource map must be a mapping"
run_wf run "$T/m.asl.json" --resources "$T/nonexistent.yaml"
eq "asl missing resource map: exit 2" "$RC" 2
contains "asl missing resource map: message" "$ERR" "cannot read resource map"

# a malformed answer to a task token fails the Task with States.Runtime
start_tok "$T/tok-plain.asl.json" tok-bad
run_wf signal tok-bad ask_approval '"just text"'
wait $TOKPID
run_wf show tok-bad --json
eq "asl task token malformed answer: States.Runtime" "$(json 'd["error"]["type"]' "$OUT")" States.Runtime
contains "asl task token malformed answer: cause" "$(json 'd["error"]["message"]' "$OUT")" 'must be a JSON object with a "token"'
