# crash.sh — SIGKILL `wfdsl run` after every commit (every step boundary) and
# inside every shell step; resume each time and check that nothing completed
# ran twice, nothing recorded was lost and the output equals an uninterrupted run.
. tests/lib.sh
WF=samples/ledger.yaml

# events of the run with workflow id $1 as "seq type step" lines
events() { sqlite3 "$WFDSL_DB" "select e.seq, e.type, coalesce(json_extract(e.payload,'\$.step'), '') from events e join runs r on r.run_id=e.run_id where r.workflow_id='$1' order by e.seq"; }

# step name of a command seq, from its step_scheduled event
verify() { # NAME ID LEDGER KILLED_AT(event number, or 0)
    local name="$1" id="$2" ledger="$3" killed="$4"
    eq "$name: output equals an uninterrupted run" "$OUT" "$REF"
    local gaps
    gaps=$(sqlite3 "$WFDSL_DB" "select count(*) - max(seq) from events e join runs r using(run_id) where r.workflow_id='$id'")
    eq "$name: history has no gaps" "$gaps" "0"
    local dup
    dup=$(sqlite3 "$WFDSL_DB" "select count(*) from (select json_extract(payload,'\$.seq') s, count(*) c from events e join runs r using(run_id) where r.workflow_id='$id' and type in ('step_scheduled','step_completed') group by type, s having c > 1)")
    eq "$name: every step scheduled and completed once" "$dup" "0"
    # steps whose completion was committed before the kill ran exactly once
    local bad="" s n
    for s in reserve charge ship notify; do
        n=$(grep -c "^$s " "$ledger")
        done_before=$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='$id' and e.type='step_completed' and e.seq <= $killed and json_extract(e.payload,'\$.seq') = (select json_extract(payload,'\$.seq') from events e2 where e2.run_id=e.run_id and e2.type='step_scheduled' and json_extract(e2.payload,'\$.step')='$s')")
        if [ "$done_before" = 1 ] && [ "$n" != 1 ]; then bad="$bad $s ran $n times after completing;"; fi
        if [ "$n" -lt 1 ] || [ "$n" -gt 2 ]; then bad="$bad $s ran $n times;"; fi
        # each execution is a recorded attempt
        attempts=$(sqlite3 "$WFDSL_DB" "select group_concat(json_extract(payload,'\$.attempt'), ' ') from events e join runs r using(run_id) where r.workflow_id='$id' and e.type='step_started' and json_extract(e.payload,'\$.seq') = (select json_extract(payload,'\$.seq') from events e2 where e2.run_id=e.run_id and e2.type='step_scheduled' and json_extract(e2.payload,'\$.step')='$s')")
        ran=$(grep "^$s " "$ledger" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')
        case " $attempts " in *" $ran "*) ;; *) bad="$bad $s ran attempts '$ran' but recorded '$attempts';";; esac
    done
    eq "$name: completed steps ran exactly once" "$bad" ""
    eq "$name: integrity_check" "$(sqlite3 "$WFDSL_DB" 'pragma integrity_check')" "ok"
}

# the uninterrupted reference
"$WFDSL" run "$WF" --id ref --input "{\"ledger\": \"$T/ref.ledger\"}" >"$T/ref.out" 2>"$T/ref.err"
eq "reference run completes" "$?" "0"
REF=$(cat "$T/ref.out")
NEV=$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='ref'")
check "reference history has events" [ "$NEV" -gt 10 ]

# 1. a kill right after each commit: every step boundary
for ((p = 1; p < NEV; p++)); do
    id="b$p"; ledger="$T/$id.ledger"; : >"$ledger"
    WFDSL_TEST_KILL_AFTER_EVENT=$p "$WFDSL" run "$WF" --id "$id" --input "{\"ledger\": \"$ledger\"}" >/dev/null 2>&1
    rc=$?
    if [ $rc -ne 137 ]; then fail "kill after event $p" "exit $rc, expected 137 (SIGKILL)"; continue; fi
    # the first resume is killed again at the next boundary: a crash during recovery
    WFDSL_TEST_KILL_AFTER_EVENT=$((p + 2)) "$WFDSL" resume "$id" >/dev/null 2>&1
    run_wf resume "$id"
    eq "kill after event $p: resume exits 0" "$RC" 0
    verify "kill after event $p" "$id" "$ledger" "$p"
done

# 2. a kill inside each shell step, while its process runs
for s in reserve charge ship notify; do
    id="in-$s"; ledger="$T/$id.ledger"; : >"$ledger"
    "$WFDSL" run "$WF" --id "$id" --input "{\"ledger\": \"$ledger\", \"pause\": \"0.3\"}" >/dev/null 2>&1 &
    pid=$!
    for ((i = 0; i < 200; i++)); do grep -q "^$s " "$ledger" && break; sleep 0.02; done
    kill -9 $pid; wait $pid 2>/dev/null
    last=$(sqlite3 "$WFDSL_DB" "select max(seq) from events e join runs r using(run_id) where r.workflow_id='$id'")
    run_wf resume "$id"
    eq "kill inside $s: resume exits 0" "$RC" 0
    eq "kill inside $s: it ran again as attempt 2" "$(grep "^$s " "$ledger" | tr '\n' ' ')" "$s 1 $s 2 "
    verify "kill inside $s" "$id" "$ledger" "$last"
done

# 3. resuming a finished run replays it without running anything
before=$(wc -l <"$T/ref.ledger")
run_wf resume ref
eq "resume of a finished run gives its output" "$OUT" "$REF"
eq "resume of a finished run runs nothing" "$(wc -l <"$T/ref.ledger")" "$before"
run_wf run "$WF" --id ref --input "{\"ledger\": \"$T/ref.ledger\"}"
eq "run --id of a finished run is refused" "$RC" 2
contains "refusal says why" "$ERR" "already finished (completed); use --new"
run_wf run "$WF" --id ref --new --input "{\"ledger\": \"$T/ref2.ledger\"}"
eq "--new starts a new run with that id" "$RC" 0

# 4. now() and uuid() asked in several fields of one template (vars, a step's env) get their
# recorded values after a crash: a resumed run loads its program from the store (sorted
# keys) where the first run compiled it from the file (the file's order), and the fields
# are evaluated in key order either way. The kill lands inside the shell step, which runs
# again with the same arguments.
cat >"$T/fx.yaml" <<'Y'
wfdsl: 1
name: recorded-values
input:
  ledger: {type: string}
vars:
  ref: ${ uuid() }
  created: ${ now() }
steps:
  - id: work
    shell:
      script: 'echo "$Z $A $VREF $VCREATED" >> "$LEDGER"; sleep 0.5; echo done'
      env: {Z: "${ uuid() }", A: "${ now() }", VREF: "${ vars.ref }", VCREATED: "${ vars.created }", LEDGER: "${ input.ledger }"}
output: ${ {ref = vars.ref, created = vars.created} }
Y
run_wf check "$T/fx.yaml"
eq "recorded values: check accepts now() and uuid() in vars" "$RC" 0
ledger="$T/fx.ledger"; : >"$ledger"
"$WFDSL" run "$T/fx.yaml" --id fx --input "{\"ledger\": \"$ledger\"}" >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 200; i++)); do [ -s "$ledger" ] && break; sleep 0.02; done
kill -9 $pid; wait $pid 2>/dev/null
run_wf resume fx
eq "recorded values: resume completes" "$RC" 0
eq "recorded values: the step ran twice" "$(wc -l <"$ledger")" 2
eq "recorded values: the second attempt had the first one's arguments" "$(sed -n 2p "$ledger")" "$(sed -n 1p "$ledger")"
eq "recorded values: the output has the vars the step saw" "$(json '" ".join([d["ref"], d["created"]])' "$OUT")" \
    "$(cut -d' ' -f3,4 "$ledger" | head -1)"
check "recorded values: vars ref is a UUID" grep -qE ' [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12} [0-9]{4}-' "$ledger"
run_wf replay fx
eq "recorded values: the history replays without divergence" "$RC" 0
