# blocks.sh — parallel, foreach, loop, try/catch/finally, sagas, on_error,
# cancel and terminate, end to end.
. tests/lib.sh

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# --- saga: the third step fails, compensations run newest first, once each ---
L="$T/saga.ledger"
run_wf run samples/order_saga.yaml --id saga-ok --input "{\"ledger\": \"$L\"}"
eq "saga sample completes" "$RC" 0
eq "saga output" "$(json 'd["reservation"], d["charge"], d["notified"], d["tracking"]' "$OUT")" '["R-77","CH-9",{"email":"sent","sms":"queued"},"TRACK-1"]'
: >"$L"
run_wf run samples/order_saga.yaml --id saga-fail --input "{\"ledger\": \"$L\", \"fail_shipping\": true}"
eq "failing saga exits 1" "$RC" 1
eq "compensations ran in reverse order, once each, then on_error" "$(grep -v -e email -e sms "$L" | tr '\n' ,)" "reserve A-1001,charge A-1001,refund CH-9,release R-77,alert shell.exit,"
run_wf show saga-fail --json
eq "the error is re-raised with compensated: true" "$(json 'd["status"], d["error"]["type"], d["error"]["compensated"]' "$OUT")" '["failed","shell.exit",true]'

# kill right after every commit from the failure on (during compensation and
# on_error), resume, and compare the effects with the uninterrupted run
# a kill can land inside one parallel branch's effect while the other branch
# commits: that effect may run again (at least once); every other effect,
# compensations included, runs exactly once
REFL=$(grep -v -e email -e sms "$L" | tr '\n' ,)
NEV=$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='saga-fail'")
FIRST=$(sqlite3 "$WFDSL_DB" "select min(seq) from events e join runs r using(run_id) where r.workflow_id='saga-fail' and type='step_failed'")
bad=""
for ((p = 2; p < NEV; p++)); do
    l="$T/saga-$p.ledger"; : >"$l"
    WFDSL_TEST_KILL_AFTER_EVENT=$p "$WFDSL" run samples/order_saga.yaml --id "sk$p" --input "{\"ledger\": \"$l\", \"fail_shipping\": true}" >/dev/null 2>&1
    [ $? -eq 137 ] || bad="$bad $p:not-killed"
    "$WFDSL" resume "sk$p" >/dev/null 2>&1
    [ $? -eq 1 ] || bad="$bad $p:resume-exit"
    [ "$(grep -v -e email -e sms "$l" | tr '\n' ,)" = "$REFL" ] || bad="$bad $p:effects($(tr '\n' , <"$l"))"
    for b in email sms; do
        n=$(grep -c "^$b " "$l"); [ "$n" -ge 1 ] && [ "$n" -le 2 ] || bad="$bad $p:$b-ran-$n"
    done
    st=$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='sk$p'")
    [ "$st" = failed ] || bad="$bad $p:status=$st"
done
eq "kills at each of $NEV boundaries (failure at event $FIRST): every effect exactly once" "$bad" ""

# --- parallel branches run at once ---------------------------------------------
cat >"$T/par.yaml" <<'Y'
wfdsl: 1
name: par
steps:
  - id: both
    parallel:
      branches:
        left: [{shell: "sleep 1; printf L"}]
        right: [{shell: "sleep 1; printf R"}]
output: ${ steps.both.left.stdout .. steps.both.right.stdout }
Y
t0=$(date +%s%N)
run_wf run "$T/par.yaml"
el=$(ms_since $t0)
eq "parallel output" "$OUT" '"LR"'
check "two 1 s branches finish in well under 2 s ($el ms)" [ "$el" -lt $((1000 + 700 * ${WFDSL_TEST_TIME_SCALE:-1})) ]

cat >"$T/any.yaml" <<'Y'
wfdsl: 1
name: race
steps:
  - id: first
    parallel:
      mode: any
      branches:
        slow: [{shell: "sleep 30; printf slow"}]
        fast: [{shell: "sleep 0.2; printf fast"}]
output: ${ steps.first }
Y
t0=$(date +%s%N)
run_wf run "$T/any.yaml"
el=$(ms_since $t0)
eq "mode any: the first branch to succeed wins" "$(json 'list(d.keys()), d["fast"]["stdout"]' "$OUT")" '[["fast"],"fast"]'
check "mode any: the slow branch is cancelled ($el ms)" [ "$el" -lt "$(limit_ms 2000)" ]

cat >"$T/failfast.yaml" <<'Y'
wfdsl: 1
name: failfast
steps:
  - parallel:
      branches:
        bad: [{shell: "sleep 0.2; exit 4"}]
        long: [{shell: "sleep 30"}]
Y
t0=$(date +%s%N)
run_wf run "$T/failfast.yaml" --id failfast
el=$(ms_since $t0)
eq "fail_fast: a failing branch fails the parallel" "$RC" 1
check "fail_fast: the other branch is stopped at once ($el ms)" [ "$el" -lt "$(limit_ms 2000)" ]
run_wf history failfast --json
eq "the stopped branch's step is recorded as cancelled" "$(json 'len([e for e in d if e["type"]=="step_cancelled"])' "$OUT")" 1

# --- foreach: bounded concurrency, results in input order -----------------------
cat >"$T/each.yaml" <<'Y'
wfdsl: 1
name: each
input:
  dir: {type: string}
steps:
  - id: all
    foreach:
      items: ${ nil }
      concurrency: 3
      steps:
        - id: work
          shell:
            script: |
              touch "$DIR/run.$N"; ls "$DIR" | grep -c '^run\.' >> "$DIR/inflight"
              sleep "0.$(( (N * 7) % 5 ))"; rm "$DIR/run.$N"; printf '%s' "$N"
            env: {DIR: "${input.dir}", N: "${index}"}
      result: ${ tonumber(steps.work.stdout) * 10 }
output: ${ steps.all }
Y
sed -i 's/items: ${ nil }/items: "{1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20}"/' "$T/each.yaml"
mkdir -p "$T/each"
run_wf run "$T/each.yaml" --input "{\"dir\": \"$T/each\"}"
eq "foreach results in input order" "$(json 'd' "$OUT")" "[10,20,30,40,50,60,70,80,90,100,110,120,130,140,150,160,170,180,190,200]"
eq "never more than 3 in flight" "$(sort -n "$T/each/inflight" | tail -1)" 3
eq "all 20 ran" "$(wc -l <"$T/each/inflight")" 20

run_wf run samples/fanout.yaml
eq "fan-out sample" "$(json '[t["file"] for t in d["thumbnails"]]' "$OUT")" '["thumb-a.png","thumb-b.png","thumb-c.png","thumb-d.png","thumb-e.png","thumb-f.png"]'

cat >"$T/big.yaml" <<'Y'
wfdsl: 1
name: big-fanout
steps:
  - id: all
    foreach:
      items: "(function() local t = {} for i = 1, 10000 do t[i] = i end return t end)()"
      concurrency: 50
      steps:
        - id: sq
          lua: return index * index
      result: ${ steps.sq }
output: ${ {n = len(steps.all), last = steps.all[10000]} }
Y
run_wf run "$T/big.yaml"
eq "foreach over 10,000 items" "$OUT" "$(printf '{\n  "last": 100000000,\n  "n": 10000\n}')"

# a pure step of one iteration fails while its siblings' next pure steps are issued in the
# same turn: the siblings stop before those steps start (they would read released scopes),
# as the replay of the same history does; the history has one `second`, and replays cleanly
cat >"$T/sibstop.yaml" <<'Y'
wfdsl: 1
name: sibling-stop
steps:
  - id: guarded
    try:
      steps:
        - id: all
          foreach:
            items: "{1, 2, 3}"
            concurrency: 3
            steps:
              - id: first
                lua: return {n = index}
              - id: second
                lua: |
                  if index == 1 then error("item one fails") end
                  return steps.first.n
      catch:
        - errors: [lua]
          as: failure
          steps:
            - id: caught
              lua: return failure.index
output: ${ steps.caught }
Y
run_wf run "$T/sibstop.yaml" --id sibstop
eq "failed iteration: caught with its index" "$RC:$OUT" "0:1"
eq "failed iteration: the siblings' next steps never start" \
    "$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='sibstop' and e.type='step_scheduled' and e.payload like '%\"step\":\"second\"%'")" 1
run_wf replay sibstop
eq "failed iteration: the history replays without divergence" "$RC" 0

# --- try / catch / finally --------------------------------------------------------
run_wf run samples/try.yaml
eq "catch by type, then finally" "$(json 'd["source"], d["cleanup"]' "$OUT")" '["fallback","cleaned"]'
eq "the error is bound in catch" "$(json 'd["detail"]' "$OUT")" "fallback after exit code 3"
run_wf run samples/try.yaml --input '{"primary_exit": 0}'
eq "no error: body and finally" "$(json 'd["source"], d["detail"], d["cleanup"]' "$OUT")" '["primary","none","cleaned"]'
cat >"$T/rethrow.yaml" <<'Y'
wfdsl: 1
name: rethrow
vars: {log: ""}
steps:
  - try:
      steps:
        - fail: {type: payment.declined, message: card refused}
      catch:
        - errors: [http.5*]
          steps: [{set: {log: "wrong catch"}}]
      finally:
        - set: {log: "finally ran"}
on_error:
  - id: seen
    lua: return err.type .. " / " .. vars.log
Y
run_wf run "$T/rethrow.yaml" --id rethrow
eq "unmatched error goes through finally and on to the run" "$RC" 1
contains "unmatched error keeps its type" "$ERR" "payment.declined: card refused"
run_wf show rethrow --json
eq "on_error sees err and what finally did" "$(json '[s.get("output") for s in d["steps"] if s["step"]=="seen"]' "$OUT")" '["payment.declined / finally ran"]'

# --- loop --------------------------------------------------------------------------
rm -f "$T/ready"
( sleep "$(awk "BEGIN { print 0.6 * ${WFDSL_TEST_TIME_SCALE:-1} }")"; touch "$T/ready" ) &
run_wf run samples/poll.yaml --id poll --input "{\"path\": \"$T/ready\"}"
eq "loop polls until ready" "$OUT" "$(printf '{\n  "ready": true\n}')"
run_wf history poll --json
n=$(json 'len([e for e in d if e["type"]=="step_completed" and e["payload"]["output"] is None])' "$OUT")
check "loop waited durably between iterations ($n waits)" [ "$n" -ge 2 -a "$n" -le $((5 * ${WFDSL_TEST_TIME_SCALE:-1})) ]
cat >"$T/exhaust.yaml" <<'Y'
wfdsl: 1
name: exhaust
steps:
  - loop:
      max_iterations: 3
      until: false
      steps: [{lua: return 1}]
Y
run_wf run "$T/exhaust.yaml"
contains "loop.exhausted after max_iterations" "$ERR" "loop.exhausted: 'until' still false after 3 iterations"

# --- cancel and terminate ------------------------------------------------------------
L="$T/cancel.ledger"; : >"$L"
cat >"$T/long.yaml" <<Y
wfdsl: 1
name: long
steps:
  - id: book
    shell: {script: 'echo book >> $L'}
    compensate:
      - shell: {script: 'echo unbook >> $L'}
  - id: wait
    shell: {script: 'echo started >> $L; sleep 30; echo finished >> $L'}
Y
"$WFDSL" run "$T/long.yaml" --id long >"$T/long.out" 2>"$T/long.err" &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q started "$L" && break; sleep 0.05; done
t0=$(date +%s%N)
run_wf cancel long --reason "customer changed their mind"
eq "cancel is accepted" "$RC" 0
wait $pid; rc=$?
el=$(ms_since $t0)
eq "the cancelled run exits 1" "$rc" 1
check "cancel stops the long step at once ($el ms)" [ "$el" -lt 3000 ]
eq "compensation ran, the step never finished" "$(tr '\n' , <"$L")" "book,started,unbook,"
run_wf show long --json
eq "status cancelled, with the reason" "$(json 'd["status"], d["error"]["type"], d["error"]["message"]' "$OUT")" '["cancelled","cancelled","customer changed their mind"]'
check "no sleep left running" bash -c "! pgrep -f '^sleep 30$' >/dev/null"
run_wf cancel long
eq "cancel of a finished run is refused" "$RC" 2
run_wf cancel no-such-run
eq "cancel of an unknown id is refused" "$RC" 2

: >"$L"
"$WFDSL" run "$T/long.yaml" --id long2 >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q started "$L" && break; sleep 0.05; done
run_wf terminate long2
wait $pid
eq "terminate runs nothing more" "$(tr '\n' , <"$L")" "book,started,"
run_wf show long2 --json
eq "status terminated" "$(json 'd["status"]' "$OUT")" terminated

# a cancel of a run nobody executes (its process was killed) is applied by `cancel` itself
: >"$L"
"$WFDSL" run "$T/long.yaml" --id long3 >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q started "$L" && break; sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null; pkill -f 'sleep 30'
run_wf cancel long3
eq "cancel of an orphaned run runs its compensations here" "$(json 'd' "\"$OUT\"" 2>/dev/null || echo "$OUT")" "run long3 cancelled"
eq "orphaned run: compensation ran" "$(tr '\n' , <"$L")" "book,started,unbook,"

# --- replaying finished runs reproduces them without effects -------------------------
for id in saga-ok saga-fail rethrow poll; do
    before=$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='$id'")
    sl=$(cat "$T/saga.ledger" | wc -l)
    "$WFDSL" resume "$id" >/dev/null 2>&1
    after=$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='$id'")
    st=$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='$id' order by created_ms desc limit 1")
    eq "replay of $id adds no events and keeps its status ($st)" "$after/$(wc -l <"$T/saga.ledger")" "$before/$sl"
    check "replay of $id is not nondeterministic" [ "$st" != nondeterministic ]
done

# --- blocks cut short by a caught error and entered again (their state is freed) ---
run_wf run tests/blocks/reenter.yaml
eq "re-entered foreach and parallel: the run completes (and leaks nothing under ASan)" "$RC:$OUT" '0:"done"'
