# child_stop.sh — `terminate` of a parent reaches its attached children and
# theirs, wherever they run: in the same `run` process, under a worker, in
# another process, or parked in the database with no process (then the
# terminate loads them). Detached children are left alone. A parent's run
# timeout terminates them too; a cancel of a parent resumed by `cancel`
# reaches its child.
. tests/lib.sh

S=${WFDSL_TEST_TIME_SCALE:-1}
L="$T/ledger"
: >"$L"
# The child's shell step notes its start (and its process group), sleeps,
# then writes the marker that must never appear for a terminated child.
cat >"$T/kid.yaml" <<Y
wfdsl: 1
name: kid
steps:
  - shell: {script: 'echo "start \$WFDSL_WORKFLOW_ID \$\$" >> $L; sleep $((2 * S)); echo "end \$WFDSL_WORKFLOW_ID" >> $L; printf done'}
output: done
Y
cat >"$T/parent.yaml" <<'Y'
wfdsl: 1
name: parent
steps:
  - id: kid
    call: {workflow: kid.yaml}
output: ${ steps.kid }
Y
cat >"$T/grand.yaml" <<'Y'
wfdsl: 1
name: grand
steps:
  - id: mid
    call: {workflow: parent.yaml}
output: ${ steps.mid }
Y
cat >"$T/detparent.yaml" <<Y
wfdsl: 1
name: detparent
steps:
  - id: kid
    call: {workflow: kid.yaml, detach: true}
  - shell: {script: 'echo "start \$WFDSL_WORKFLOW_ID \$\$" >> $L; sleep $((4 * S)); echo "end \$WFDSL_WORKFLOW_ID" >> $L'}
Y

# wait_line TEXT: until the ledger has a line starting with TEXT (10 s)
wait_line() { for ((i = 0; i < 200; i++)); do grep -q "^$1" "$L" && return 0; sleep 0.05; done; return 1; }
status_of() { sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='$1' order by created_ms desc limit 1"; }
wait_status() { # ID STATUS: within 10 s
    for ((i = 0; i < 200; i++)); do [ "$(status_of "$1")" = "$2" ] && return 0; sleep 0.05; done
    return 1
}
# terminated_kid NAME ID PARENT: show --json of ID says terminated with PARENT
terminated_kid() {
    run_wf show "$2" --json
    eq "$1: $2 is terminated" "$(json 'd["status"], d["error"]["message"]' "$OUT")" \
        "[\"terminated\",\"terminated with its parent run $3\"]"
    run_wf history "$2" --json
    eq "$1: $2 ends with its own run_terminated" "$(json 'd[-1]["type"]' "$OUT")" run_terminated
}
# kill_orphan ID: the shell of ID's step outlives a SIGKILLed wfdsl; stop it
kill_orphan() { local p; p=$(grep "^start $1 " "$L" | tail -1 | cut -d' ' -f3); [ -n "$p" ] && kill -9 -- "-$p" 2>/dev/null; }

# --- (a) one `wfdsl run` drives parent and child; terminate from another process
"$WFDSL" run "$T/parent.yaml" --id ta >/dev/null 2>&1 & pid=$!
check "a: the child's step started" wait_line "start ta/kid#1"
run_wf terminate ta
eq "a: terminate hands the request to the run process" "$RC" 0
contains "a: saying so" "$OUT" "terminate requested for run ta"
wait $pid; rc=$?
eq "a: the run process ends with exit 1" "$rc" 1
eq "a: the parent is terminated" "$(status_of ta)" terminated
terminated_kid a 'ta/kid#1' ta

# --- (b) a worker drives them -------------------------------------------------------
run_wf start "$T/parent.yaml" --id tb
"$WFDSL" worker --quiet >>"$T/worker.log" 2>&1 & w=$!
check "b: the child's step started under the worker" wait_line "start tb/kid#1"
run_wf terminate tb
eq "b: terminate is handed to the worker" "$RC" 0
check "b: the child is terminated by the worker" wait_status 'tb/kid#1' terminated
eq "b: the parent is terminated" "$(status_of tb)" terminated
terminated_kid b 'tb/kid#1' tb

# --- detached children are left alone ----------------------------------------------
run_wf start "$T/detparent.yaml" --id td
check "detached: the parent's own step started" wait_line "start td "
check "detached: the child's step started" wait_line "start td/kid#1"
run_wf terminate td
check "detached: the parent is terminated" wait_status td terminated
check "detached: the detached child runs on to completion" wait_status 'td/kid#1' completed
kill $w; wait $w

# --- (c) nothing drives them: the run process was killed ----------------------------
"$WFDSL" run "$T/parent.yaml" --id tc >/dev/null 2>&1 & pid=$!
check "c: the child's step started" wait_line "start tc/kid#1"
kill -9 $pid; wait $pid 2>/dev/null
kill_orphan 'tc/kid#1'
run_wf terminate tc
eq "c: terminate drives the parent itself (exit 0)" "$RC" 0
eq "c: and says how it ended" "$OUT" "run tc terminated"
terminated_kid c 'tc/kid#1' tc
run_wf resume 'tc/kid#1'
eq "c: resume of the terminated child exits 1" "$RC" 1
contains "c: saying it was terminated" "$ERR" "terminated with its parent run tc"
eq "c: resume leaves it terminated" "$(status_of 'tc/kid#1')" terminated
run_wf replay tc
eq "c: the terminated parent replays to its recorded end" "$RC" 0

# --- (c') the child alone is driven by another process: `resume` of the child ------
"$WFDSL" run "$T/parent.yaml" --id te >/dev/null 2>&1 & pid=$!
check "c': the child's step started" wait_line "start te/kid#1"
kill -9 $pid; wait $pid 2>/dev/null
kill_orphan 'te/kid#1'
"$WFDSL" resume 'te/kid#1' >/dev/null 2>&1 & rpid=$!
for ((i = 0; i < 200; i++)); do [ "$(grep -c "^start te/kid#1" "$L")" = 2 ] && break; sleep 0.05; done
run_wf terminate te
eq "c': terminate drives the dead parent" "$OUT" "run te terminated"
wait $rpid; rc=$?
eq "c': the process driving the child applies the request (exit 1)" "$rc" 1
terminated_kid "c'" 'te/kid#1' te

# --- grandchildren: in one process, and parked with no process ---------------------
"$WFDSL" run "$T/grand.yaml" --id tg >/dev/null 2>&1 & pid=$!
check "grand: the grandchild's step started" wait_line "start tg/mid#1/kid#1"
run_wf terminate tg
wait $pid
terminated_kid grand 'tg/mid#1' tg
terminated_kid grand 'tg/mid#1/kid#1' 'tg/mid#1'
"$WFDSL" run "$T/grand.yaml" --id th >/dev/null 2>&1 & pid=$!
check "grand, killed: the grandchild's step started" wait_line "start th/mid#1/kid#1"
kill -9 $pid; wait $pid 2>/dev/null
kill_orphan 'th/mid#1/kid#1'
run_wf terminate th
eq "grand, killed: terminate drives the parent" "$OUT" "run th terminated"
terminated_kid "grand, killed" 'th/mid#1' th
terminated_kid "grand, killed" 'th/mid#1/kid#1' 'th/mid#1'
"$WFDSL" worker --quiet >>"$T/worker.log" 2>&1 & w=$!
sleep 0.5
kill $w; wait $w
eq "grand, killed: a worker afterwards finds nothing to run" \
    "$(sqlite3 "$WFDSL_DB" "select group_concat(status) from runs where workflow_id like 'th%'")" \
    terminated,terminated,terminated

# --- a parent's whole-run timeout ends its child too ---------------------------------
sed 's/^name: parent$/name: tparent\ntimeout: 1s/' "$T/parent.yaml" >"$T/tparent.yaml"
run_wf run "$T/tparent.yaml" --id tt
eq "timeout: the parent fails (exit 1)" "$RC" 1
contains "timeout: with its timeout" "$ERR" "did not finish within its timeout of 1s"
terminated_kid timeout 'tt/kid#1' tt

# --- a cancel of a parent resumed by `cancel` reaches its child ----------------------
"$WFDSL" run "$T/parent.yaml" --id tk >/dev/null 2>&1 & pid=$!
check "cancel: the child's step started" wait_line "start tk/kid#1"
kill -9 $pid; wait $pid 2>/dev/null
kill_orphan 'tk/kid#1'
run_wf cancel tk
eq "cancel: the parent is cancelled" "$OUT" "run tk cancelled"
run_wf show 'tk/kid#1' --json
eq "cancel: so is its child" "$(json 'd["status"], d["error"]["message"]' "$OUT")" \
    '["cancelled","the parent run was cancelled"]'

# --- no terminated child ran its step to the end, nor again -------------------------
sleep $((2 * S)).5
for id in 'ta/kid#1' 'tb/kid#1' 'tc/kid#1' 'tg/mid#1/kid#1' 'th/mid#1/kid#1' 'tk/kid#1' 'tt/kid#1'; do
    check "no end marker of $id" bash -c "! grep -q '^end $id\$' '$L'"
    eq "$id's step started once" "$(grep -c "^start $id " "$L")" 1
done
check "no end marker of te/kid#1 (its second attempt was stopped)" bash -c "! grep -q '^end te/kid#1\$' '$L'"
check "the detached child did end" grep -q '^end td/kid#1$' "$L"

# --- bad input ----------------------------------------------------------------------
run_wf terminate nosuch
eq "terminate of an unknown id: exit 2" "$RC" 2
contains "naming it" "$ERR" "no run with id 'nosuch'"
run_wf terminate 'ta/kid#1'
eq "terminate of a finished run: exit 2" "$RC" 2
contains "saying so" "$ERR" "already finished (terminated)"
run_wf terminate
eq "terminate without an id: exit 2" "$RC" 2
rm -rf "$T"
