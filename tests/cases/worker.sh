# worker.sh — durable timers and signals under `wfdsl worker`, leases shared
# by two workers, crash take-over, run identity and determinism checks.
. tests/lib.sh

count_status() { sqlite3 "$WFDSL_DB" "select count(*) from runs where status='$1'"; }
wait_status() { # ID STATUS SECONDS
    for ((i = 0; i < $3 * 20; i++)); do
        [ "$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='$1' order by created_ms desc limit 1")" = "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
start_worker() { "$WFDSL" worker --quiet "$@" >>"$T/worker.log" 2>&1 & }

# --- a 3 s sleep survives a SIGKILL of its worker -----------------------------
OUTBOX="$T/outbox"
sed 's/sleep: 2s /sleep: 3s /' samples/reminder.yaml >"$T/reminder3.yaml"
run_wf start "$T/reminder3.yaml" --id rem --input "{\"outbox\": \"$OUTBOX\"}"
eq "start prints the workflow id" "$OUT" rem
t0=$(date +%s%N)
start_worker; w1=$!
for ((i = 0; i < 100; i++)); do
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='rem' and type='step_started' and json_extract(payload,'\$.fire_at') is not null")" = 1 ] && break
    sleep 0.05
done
kill -9 $w1; wait $w1 2>/dev/null
sleep 0.5
start_worker; w2=$!
wait_status rem completed 10
el=$(( ($(date +%s%N) - t0) / 1000000 ))
kill $w2; wait $w2; wrc=$?
eq "the reminder completed under the second worker" "$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='rem'")" completed
check "at the right time: 3 s after it began (+-1 s): $el ms" [ "$el" -ge 2800 -a "$el" -le 4200 ]
eq "the sleep is recorded once" "$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='rem' and type='step_scheduled' and json_extract(payload,'\$.kind')='sleep'")" 1
eq "the reminder was sent once" "$(wc -l <"$OUTBOX")" 1
eq "SIGTERM stops a worker cleanly (exit 0)" "$wrc" 0

# --- signals --------------------------------------------------------------------
run_wf start samples/approval.yaml --id exp-1 --input '{"amount": 120}'
run_wf signal exp-1 decision '{"approved": true, "by": "ann"}'
eq "a signal is accepted before the run reaches its wait" "$OUT" "signal decision sent to exp-1"
sed 's/timeout: 3d/timeout: 1s/' samples/approval.yaml >"$T/approval1s.yaml"
run_wf start "$T/approval1s.yaml" --id exp-2 --input '{"amount": 99.5}'
start_worker; w=$!
wait_status exp-1 completed 5
wait_status exp-2 completed 5
kill $w; wait $w
run_wf show exp-1 --json
eq "the early signal was received" "$(json 'd["output"]["outcome"]' "$OUT")" "approved by ann"
run_wf show exp-2 --json
eq "no signal: the 1 s timeout path" "$(json 'd["output"]["outcome"]' "$OUT")" "escalated to finance"
run_wf signal exp-1 decision '{}'
eq "a signal to a finished run is refused" "$RC" 2
run_wf signal nobody decision '{}'
eq "a signal to an unknown run is refused" "$RC" 2
run_wf signal exp-1 decision '{not json'
eq "a payload that is not JSON is refused" "$RC" 2
contains "payload error says why" "$ERR" "not valid JSON"

# several signals of one name queue in order; signal-with-start
cat >"$T/queue.yaml" <<'Y'
wfdsl: 1
name: queue
steps:
  - id: a
    wait: item
  - id: b
    wait: item
output: ${ {steps.a, steps.b} }
Y
run_wf start "$T/queue.yaml" --id q1 --signal item '"first"'
eq "signal-with-start starts the run" "$RC" 0
run_wf start "$T/queue.yaml" --id q1 --signal item '"second"' --if-running use-existing
eq "signal-with-start signals the running run" "$RC" 0
start_worker; w=$!
wait_status q1 completed 5
kill $w; wait $w
eq "signals of one name arrive in order" "$(sqlite3 "$WFDSL_DB" "select output from runs where workflow_id='q1'")" '["first","second"]'

# --- run identity -------------------------------------------------------------------
run_wf start "$T/queue.yaml" --id ident
run_wf start "$T/queue.yaml" --id ident
eq "a running id is refused by default" "$RC" 2
contains "and says so" "$ERR" "already running"
run_wf start "$T/queue.yaml" --id q1 --if-finished reject
eq "--if-finished reject" "$RC" 2
run_wf start "$T/queue.yaml" --id q1 --if-finished allow-failed
eq "--if-finished allow-failed refuses a completed run" "$RC" 2
run_wf start "$T/queue.yaml" --id q1
eq "a finished id may start again (Temporal's default)" "$RC" 0
eq "each run keeps its own run id" "$(sqlite3 "$WFDSL_DB" "select count(distinct run_id) from runs where workflow_id='q1'")" 2

# --- two workers, 200 runs: each completes once, none runs twice ----------------------
cat >"$T/count.yaml" <<Y
wfdsl: 1
name: count
steps:
  - shell:
      script: echo "\$WFDSL_WORKFLOW_ID \$PPID" >> "$T/effects"
Y
for i in $(seq 1 200); do echo "c$i"; done | while read -r id; do "$WFDSL" start "$T/count.yaml" --id "$id" --durability normal >/dev/null; done
start_worker --concurrency 20 --durability normal; wa=$!
start_worker --concurrency 20 --durability normal; wb=$!
for ((i = 0; i < 900; i++)); do [ "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'c%' and status='completed'")" = 200 ] && break; sleep 0.1; done
kill $wa $wb; wait $wa; ra=$?; wait $wb; rb=$?
eq "both workers stopped cleanly" "$ra/$rb" "0/0"
eq "all 200 runs completed" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'c%' and status='completed'")" 200
eq "every effect ran exactly once" "$(cut -d' ' -f1 "$T/effects" | sort | uniq -d | wc -l)/$(wc -l <"$T/effects")" "0/200"
check "both workers took part" [ "$(cut -d' ' -f2 "$T/effects" | sort -u | wc -l)" -ge 2 ]

# --- determinism: a changed step kind on resume -----------------------------------------
cat >"$T/v1.yaml" <<Y
wfdsl: 1
name: edited
steps:
  - id: first
    shell: {script: 'echo one'}
  - id: second
    shell: {script: 'sleep 5'}
Y
sed 's/    shell: {script: .echo one.}/    lua: return "one"/' "$T/v1.yaml" >"$T/v2.yaml"
"$WFDSL" run "$T/v1.yaml" --id ed >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do [ "$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='ed' and type='step_started'")" = 2 ] && break; sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null; pkill -f '^sleep 5$'
run_wf replay ed
eq "replay of the run in flight finds no divergence" "$RC" 0
run_wf replay ed --program "$T/v2.yaml"
eq "replay on the edited program reports the divergence" "$RC" 1
contains "naming both sides" "$ERR" "recorded step 'first' (shell) as command 1, but the program now issues step 'first' (lua)"
run_wf resume ed --program "$T/v2.yaml"
eq "a forced resume on the edited program stops" "$RC" 1
eq "as nondeterministic" "$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='ed'")" nondeterministic

# --- signal and cancel reach runs a worker parked (status waiting) ---
run_wf start samples/approval.yaml --id pk-sig --input '{"amount": 120}'
run_wf start samples/approval.yaml --id pk-can --input '{"amount": 120}'
"$WFDSL" worker --quiet >/dev/null 2>&1 &
w=$!
for _ in $(seq 100); do
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'pk-%' and status='waiting'")" = 2 ] && break
    sleep 0.1
done
eq "both runs are parked" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'pk-%' and status='waiting'")" 2
run_wf signal pk-sig decision '{"approved": true, "by": "ann"}'
eq "a parked run takes a signal" "$RC:$OUT" "0:signal decision sent to pk-sig"
run_wf cancel pk-can
eq "a parked run can be cancelled" "$RC" 0
for _ in $(seq 100); do
    [ "$(sqlite3 "$WFDSL_DB" "select group_concat(status) from (select status from runs where workflow_id like 'pk-%' order by workflow_id)")" = "cancelled,completed" ] && break
    sleep 0.1
done
kill $w; wait $w
eq "the signalled run completed, the other was cancelled" \
    "$(sqlite3 "$WFDSL_DB" "select group_concat(workflow_id || '=' || status) from (select * from runs where workflow_id like 'pk-%' order by workflow_id)")" \
    "pk-can=cancelled,pk-sig=completed"
