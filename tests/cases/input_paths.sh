# input_paths.sh — every way a run starts checks its input against the
# workflow's `input:` schema and fills defaults, like `wfdsl run --input`:
# child runs (`call`), continued runs (`continue_as_new`), triggers (`check`,
# `deploy`, worker, `schedule trigger`, `backfill`).
. tests/lib.sh

# --- call ------------------------------------------------------------------------
cat >"$T/kid.yaml" <<'Y'
wfdsl: 1
name: kid
input:
  qty: {type: integer, default: 2}
  sku: {type: string}
steps:
  - id: look
    lua: return {qty = input.qty, sku = input.sku}
output: ${ steps.look }
Y
# parent PARENT-NAME CALL-INPUT: a parent calling kid.yaml with that input
parent() {
    cat >"$T/$1.yaml" <<Y
wfdsl: 1
name: $1
steps:
  - id: kid
    call: {workflow: kid.yaml, input: $2}
output: \${ steps.kid }
Y
}
parent good '{sku: a}'
run_wf run "$T/good.yaml" --id good
eq "a child run gets its defaults (qty == 2)" "$(json 'd' "$OUT")" '{"qty":2,"sku":"a"}'
eq "its recorded input is the completed one" \
    "$(sqlite3 "$WFDSL_DB" "select input from runs where workflow_id='good/kid#1'")" '{"sku":"a","qty":2}'

# bad CHILD-INPUT NAME MESSAGE: the call step fails with type input, the run
# fails (exit 1), and no child run is recorded
bad() {
    parent "p$2" "$1"
    run_wf run "$T/p$2.yaml" --id "p$2"
    eq "call with $2: the parent fails (exit 1)" "$RC" 1
    contains "call with $2: the error names the field" "$ERR" "input: $3 (step kid)"
    run_wf show "p$2" --json
    eq "call with $2: the step error has type input" "$(json 'd["error"]["type"], d["error"]["step"]' "$OUT")" '["input","kid"]'
    eq "call with $2: no child run is recorded" \
        "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'p$2/%'")" 0
}
bad '{sku: a, nmae: x}' unknown "input of workflow 'kid': unknown field 'nmae'"
bad '{sku: 5}' wrongtype "input of workflow 'kid': field 'sku' must be a string, not integer"
bad '{qty: 3}' missing "input of workflow 'kid': missing required field 'sku' (string)"
bad '"${ {sku = \"a\", qty = 1.5} }"' computed "input of workflow 'kid': field 'qty' must be an integer, not number"

# a detached child is refused the same way
cat >"$T/pdetach.yaml" <<'Y'
wfdsl: 1
name: pdetach
steps:
  - id: kid
    call: {workflow: kid.yaml, input: {qty: 1}, detach: true}
Y
run_wf run "$T/pdetach.yaml" --id pdetach
eq "a detached call with a bad input fails" "$RC" 1
contains "naming the missing field" "$ERR" "missing required field 'sku'"
eq "and records no child run" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'pdetach/%'")" 0

# the parent catches the call's input error like any step failure
cat >"$T/pcatch.yaml" <<'Y'
wfdsl: 1
name: pcatch
steps:
  - id: guarded
    try:
      steps:
        - id: kid
          call: {workflow: kid.yaml, input: {sku: a, nmae: x}}
      catch:
        - errors: [input]
          as: err
          steps:
            - id: fallback
              call: {workflow: kid.yaml, input: {sku: fixed}}
            - set: {seen: "${ err.type .. ' / ' .. err.message }"}
vars: {seen: ""}
output: ${ {seen = vars.seen, kid = steps.fallback} }
Y
run_wf run "$T/pcatch.yaml" --id pcatch
eq "a parent catches the call's input error" "$RC" 0
eq "it sees type and message, and its retry with a good input runs" \
    "$(json 'd["seen"], d["kid"]' "$OUT")" "[\"input / input of workflow 'kid': unknown field 'nmae'\",{\"qty\":2,\"sku\":\"fixed\"}]"
eq "only the good child run is recorded" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'pcatch/%'")" 1

# --- continue_as_new -------------------------------------------------------------
cat >"$T/chain.yaml" <<'Y'
wfdsl: 1
name: chain
input:
  n: {type: integer, default: 0, max: 5}
  qty: {type: integer, default: 2}
steps:
  - id: more
    if: input.n < 2
    continue_as_new: {input: {n: "${ input.n + 1 }"}}
output: ${ {n = input.n, qty = input.qty} }
Y
run_wf run "$T/chain.yaml" --id chain
eq "continued runs get their defaults (qty == 2)" "$(json 'd' "$OUT")" '{"n":2,"qty":2}'
eq "each continued run's recorded input is completed" \
    "$(sqlite3 "$WFDSL_DB" "select group_concat(input, ' ') from (select input from runs where workflow_id='chain' order by rowid)")" \
    '{"n":0,"qty":2} {"n":1,"qty":2} {"n":2,"qty":2}'

# canbad NAME NEXT-INPUT MESSAGE: continue_as_new with a bad input fails its
# step; the run fails (not continued) and no next run starts
canbad() {
    cat >"$T/$1.yaml" <<Y
wfdsl: 1
name: $1
input:
  n: {type: integer, default: 0, max: 5}
steps:
  - id: again
    continue_as_new: {input: $2}
Y
    run_wf run "$T/$1.yaml" --id "$1"
    eq "continue_as_new with $1: the run fails (exit 1)" "$RC" 1
    contains "continue_as_new with $1: the error names the field" "$ERR" "input: input of the next run: $3 (step again)"
    eq "continue_as_new with $1: the run is failed, not continued, and has no successor" \
        "$(sqlite3 "$WFDSL_DB" "select group_concat(status) from runs where workflow_id='$1'")" failed
}
canbad canunknown '{nn: 1}' "unknown field 'nn'"
canbad cantype '{n: one}' "field 'n' must be an integer, not string"
canbad canmax '{n: 9}' "field 'n' is 9, above its maximum 5"
cat >"$T/canreq.yaml" <<'Y'
wfdsl: 1
name: canreq
input:
  who: {type: string}
steps:
  - try:
      steps:
        - id: again
          continue_as_new: {input: {}}
      catch:
        - errors: [input]
          steps:
            - id: caught
              lua: return "caught " .. input.who
output: ${ steps.caught }
Y
run_wf run "$T/canreq.yaml" --id canreq --input '{"who": "w"}'
eq "a missing required field fails continue_as_new; the run catches it and goes on" "$RC/$OUT" '0/"caught w"'

# --- triggers: check and deploy ----------------------------------------------------
cat >"$T/sched.yaml" <<'Y'
wfdsl: 1
name: sched
input:
  qty: {type: integer, default: 2, max: 5}
  who: {type: string, default: nobody}
triggers:
  - every: 1h
    input: {nmae: x}
  - every: 2h
    input: [1]
  - every: 3h
    input: {qty: 9}
  - every: 4h
    input: {qty: "3"}
steps:
  - lua: return 1
Y
run_wf check "$T/sched.yaml"
eq "check refuses trigger inputs that do not fit (exit 2)" "$RC" 2
eq "each at the file:line:col of the field or the input" "$ERR" "$T/sched.yaml:8:13: error: trigger input: unknown field 'nmae'
$T/sched.yaml:10:12: error: trigger input must be a JSON object, not array
$T/sched.yaml:12:18: error: trigger input: field 'qty' is 9, above its maximum 5
$T/sched.yaml:14:18: error: trigger input: field 'qty' must be an integer, not string
$T/sched.yaml: 4 errors"
run_wf deploy "$T/sched.yaml"
eq "deploy refuses them too (exit 2)" "$RC" 2
contains "with the same message" "$ERR" "$T/sched.yaml:8:13: error: trigger input: unknown field 'nmae'"
eq "nothing is deployed" "$(sqlite3 "$WFDSL_DB" "select count(*) from schedules where name='sched'")" 0

cat >"$T/needy.yaml" <<'Y'
wfdsl: 1
name: needy
input:
  who: {type: string}
triggers:
  - every: 1h
steps:
  - id: hi
    lua: return "hi " .. input.who
output: ${ steps.hi }
Y
run_wf check "$T/needy.yaml"
eq "check passes a trigger without a required field (run --input gives it)" "$RC" 0
eq "but warns that deploy refuses it" "$ERR" "$T/needy.yaml:6:5: warning: trigger input: missing required field 'who' (string) ('wfdsl deploy' refuses the file)"
run_wf run "$T/needy.yaml" --input '{"who": "w"}'
eq "and the file runs with --input" "$OUT" '"hi w"'
run_wf deploy "$T/needy.yaml"
eq "deploy refuses it (exit 2)" "$RC" 2
eq "naming the trigger" "$ERR" "$T/needy.yaml:6:5: error: trigger input: missing required field 'who' (string)
$T/needy.yaml: 1 error"
eq "nothing is deployed" "$(sqlite3 "$WFDSL_DB" "select count(*) from schedules where name='needy'")" 0

# --- triggers: scheduled runs get defaults ---------------------------------------------
cat >"$T/tick.yaml" <<'Y'
wfdsl: 1
name: tick
input:
  qty: {type: integer, default: 2}
  who: {type: string, default: nobody}
triggers:
  - cron: "0 0 1 1 *"
    input: {who: newyear, qty: 7}
  - every: 1s
    overlap: allow_all
    input: {who: cron}
steps:
  - id: look
    lua: return input.who .. " " .. input.qty
output: ${ steps.look }
Y
run_wf deploy "$T/tick.yaml"
eq "a good trigger input deploys" "$RC" 0
run_wf schedule trigger tick
eq "schedule trigger starts a run" "$RC" 0
tid=$OUT
eq "with the first trigger's input (a time no trigger fires at)" \
    "$(sqlite3 "$WFDSL_DB" "select input from runs where workflow_id='$tid'")" '{"who":"newyear","qty":7}'
run_wf schedule backfill tick --from 2026-01-02T00:00:05Z --to 2026-01-02T00:00:05Z
eq "backfill of a slot of the second trigger" "$RC/$OUT" "0/backfill of tick: 1 runs started"
eq "gets that trigger's input, defaults filled" \
    "$(sqlite3 "$WFDSL_DB" "select input from runs where workflow_id='tick@2026-01-02T00:00:05Z'")" '{"who":"cron","qty":2}'
"$WFDSL" worker --quiet >"$T/worker.log" 2>&1 & w=$!
for ((i = 0; i < 100; i++)); do
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='tick' and status='completed' and input='{\"who\":\"cron\",\"qty\":2}'")" -ge 3 ] && break
    sleep 0.1
done
kill $w; wait $w
check "the worker's scheduled runs get the defaults and complete" \
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='tick' and status='completed' and input='{\"who\":\"cron\",\"qty\":2}' and output='\"cron 2\"'")" -ge 3 ]
eq "the triggered run completed with the first trigger's input" \
    "$(sqlite3 "$WFDSL_DB" "select output from runs where workflow_id='$tid'")" '"newyear 7"'

# --- a schedule stored before trigger inputs were checked -------------------------------
# (its input edited in the database): each slot is refused once, logged, and
# the schedule goes on with the next slot
sqlite3 "$WFDSL_DB" "update schedules set data=replace(replace(data, '\"who\":\"cron\"', '\"nmae\":1'), '\"who\":\"newyear\"', '\"nmae\":2') where name='tick'"
run_wf schedule trigger tick
eq "schedule trigger with a bad stored input exits 2" "$RC" 2
contains "saying why" "$ERR" "wfdsl schedule trigger: schedule tick: no run for "
contains "naming the field" "$ERR" "trigger input: unknown field 'nmae'"
before=$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='tick'")
"$WFDSL" worker --quiet >"$T/worker2.log" 2>&1 & w=$!
for ((i = 0; i < 100; i++)); do
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='tick' and kind='refused'")" -ge 3 ] && break
    sleep 0.1
done
kill $w; wait $w
check "the worker refuses slot after slot (the schedule is not stuck)" \
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='tick' and kind='refused'")" -ge 3 ]
eq "and starts no run" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='tick'")" "$before"
contains "the worker reports it" "$(cat "$T/worker2.log")" "wfdsl worker: schedules: schedule tick: no run for "
eq "each refused slot is logged once" \
    "$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_log where name='tick' and action='refused'")" \
    "$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='tick' and kind='refused'")"
run_wf schedule show tick
contains "show counts refused slots" "$OUT" "refused (trigger input) "
run_wf schedule show tick --json
check "show --json counts them" [ "$(json 'd["counts"]["refused"]' "$OUT")" -ge 3 ]
