# dag.sh — `dag` steps: Airflow's trigger rules on success, failure and skip
# of the upstream tasks (with the skip cascade), branches, short circuits,
# skip_codes, `if`, the leaf rule, concurrency, cancel, and kills after every
# recorded event with each effect run exactly once.
. tests/lib.sh

states() { # the tasks' states of a dag output, as sorted compact JSON
    python3 -c '
import json, sys
d = json.load(sys.stdin)
print(json.dumps({k: v["state"] for k, v in d.items() if sys.argv[1] == "all" or (k.startswith("j_") and k.count("_") == 1)}, sort_keys=True))' "$1"
}

# --- every trigger rule against every combination of upstream states ---
for rule in all_success all_failed all_done all_done_min_one_success all_skipped one_success \
    one_failed one_done none_failed none_failed_min_one_success none_skipped always \
    dummy none_failed_or_skipped; do
    python3 tests/dag/rules.py gen "$rule" >"$T/rule.yaml"
    run_wf run "$T/rule.yaml" --new
    eq "rule $rule: run exits 0" "$RC" 0
    eq "rule $rule: join states on S/F/upstream_failed/K upstreams" "$(states joins <<<"$OUT")" \
        "$(python3 tests/dag/rules.py expect "$rule")"
done

# --- the skip cascade goes through all_success and stops at none_failed ---
cat >"$T/cascade.yaml" <<'Y'
wfdsl: 1
name: cascade
steps:
  - id: d
    dag:
      tasks:
        gate: {fail: {type: skipped, message: no data today}}
        a: {needs: [gate], lua: return 1}
        b: {needs: [a], lua: return 2}
        c: {needs: [b], trigger: none_failed, lua: return 3}
        d2: {needs: [c], lua: return 4}
        e: {needs: [b], trigger: all_failed, lua: return 5}
output: ${ steps.d }
Y
run_wf run "$T/cascade.yaml"
eq "cascade: run succeeds (leaves skipped or success)" "$RC" 0
eq "cascade: all_success and all_failed skip, none_failed runs" "$(states all <<<"$OUT")" \
    '{"a": "skipped", "b": "skipped", "c": "success", "d2": "success", "e": "skipped", "gate": "skipped"}'

# --- branch: the chosen task runs, the other is skipped, joins follow their rule ---
L="$T/branch.ledger"
cat >"$T/branch.yaml" <<'Y'
wfdsl: 1
name: branch
input:
  pick: {type: string}
  ledger: {type: string}
steps:
  - id: d
    dag:
      tasks:
        choose: {branch: true, lua: return input.pick}
        fast: {needs: [choose], shell: {script: 'echo fast >>"$L"', env: {L: "${input.ledger}"}}}
        slow: {needs: [choose], shell: {script: 'echo slow >>"$L"', env: {L: "${input.ledger}"}}}
        join_ok: {needs: [fast, slow], trigger: none_failed_min_one_success, lua: return "joined"}
        join_all: {needs: [fast, slow], lua: return "never"}
        after_join: {needs: [join_ok], lua: return steps.join_ok .. "+"}
output: ${ steps.d }
Y
run_wf run "$T/branch.yaml" --input "{\"pick\": \"fast\", \"ledger\": \"$L\"}"
eq "branch: run succeeds" "$RC" 0
eq "branch: states" "$(states all <<<"$OUT")" \
    '{"after_join": "success", "choose": "success", "fast": "success", "join_all": "skipped", "join_ok": "success", "slow": "skipped"}'
eq "branch: only the chosen task ran" "$(cat "$L")" "fast"
eq "branch: outputs flow to later tasks" "$(json 'd["after_join"]["output"]' "$OUT")" "joined+"
run_wf run "$T/branch.yaml" --new --input "{\"pick\": \"nowhere\", \"ledger\": \"$L\"}"
eq "branch to a task that does not follow: run fails" "$RC" 1
contains "branch to an unknown task: the error names it" "$ERR" "task 'choose' failed: dag.branch: branch task 'choose' must return names of the tasks that need it; not among them: nowhere"

# --- short circuit: downstream skips everything after; direct lets rules decide ---
for mode in downstream direct; do
    cat >"$T/sc.yaml" <<Y
wfdsl: 1
name: sc
steps:
  - id: d
    dag:
      tasks:
        check: {short_circuit: $mode, lua: return false}
        a: {needs: [check], lua: return 1}
        b: {needs: [a], trigger: all_done, lua: return 2}
        other: {lua: return 3}
output: \${ steps.d }
Y
    run_wf run "$T/sc.yaml" --new
    eq "short_circuit $mode: run succeeds" "$RC" 0
    if [ $mode = downstream ]; then want='{"a": "skipped", "b": "skipped", "check": "success", "other": "success"}'
    else want='{"a": "skipped", "b": "success", "check": "success", "other": "success"}'; fi
    eq "short_circuit $mode: states" "$(states all <<<"$OUT")" "$want"
done

# --- skip_codes, `if`, and skipped tasks are not retried ---
L="$T/skip.ledger"; : >"$L"
cat >"$T/skip.yaml" <<'Y'
wfdsl: 1
name: skip
input:
  ledger: {type: string}
steps:
  - id: d
    dag:
      tasks:
        bash99:
          shell: {script: 'echo try >>"$L"; exit 99', env: {L: "${input.ledger}"}, skip_codes: [99]}
          retry: {max_attempts: 3, initial_interval: 1ms, retry_on: ["*"]}
        off: {if: input.ledger == "", lua: return 1}
        raised: {lua: 'error({type = "skipped", message = "nothing new"})'}
        after: {needs: [bash99, off, raised], trigger: all_skipped, lua: return "all skipped"}
output: ${ steps.d }
Y
run_wf run "$T/skip.yaml" --input "{\"ledger\": \"$L\"}"
eq "skip: run succeeds" "$RC" 0
eq "skip: skip_codes, a false if and a Lua error of type skipped skip the task" "$(states all <<<"$OUT")" \
    '{"after": "success", "bash99": "skipped", "off": "skipped", "raised": "skipped"}'
eq "skip: a skipped task is not retried" "$(wc -l <"$L")" 1

# --- the leaf rule: a failure upstream of an all_done leaf does not fail the run ---
cat >"$T/leaf.yaml" <<'Y'
wfdsl: 1
name: leaf
steps:
  - id: d
    dag:
      tasks:
        broken: {fail: {type: boom, message: broke}}
        cleanup: {needs: [broken], trigger: all_done, lua: return "cleaned"}
output: ${ steps.d }
Y
run_wf run "$T/leaf.yaml"
eq "leaf rule: an all_done leaf hides the failure (as in Airflow)" "$RC/$(states all <<<"$OUT")" \
    '0/{"broken": "failed", "cleanup": "success"}'
cat >"$T/leaf2.yaml" <<'Y'
wfdsl: 1
name: leaf2
steps:
  - dag:
      tasks:
        broken: {fail: {type: boom, message: broke}}
        ok: {lua: return 1}
        load: {needs: [broken], lua: return 2}
Y
run_wf run "$T/leaf2.yaml" --id leaf2
eq "leaf rule: a failed leaf fails the run" "$RC" 1
contains "leaf rule: the error names the leaf" "$ERR" "dag.failed: dag failed: leaf task 'load' upstream_failed"
run_wf show leaf2
contains "show: the dag step failed, with every task's state under it" "$OUT" \
    "$(printf '    broken                     failed\n    ok                         success\n    load                       upstream_failed')"
run_wf show leaf2 --json
eq "show --json: the dag step has its tasks' states" \
    "$(json '[s["tasks"] for s in d["steps"] if s["kind"] == "dag"][0]' "$OUT")" '{"broken":"failed","ok":"success","load":"upstream_failed"}'
eq "leaf rule: show has the states and the task's error" \
    "$(json 'dict(sorted(d["error"]["details"]["states"].items())), d["error"]["details"]["errors"]["broken"]["type"]' "$OUT")" \
    '[{"broken":"failed","load":"upstream_failed","ok":"success"},"boom"]'

# --- independent tasks run at once; one_success does not wait for the slow one ---
L="$T/conc.ledger"; : >"$L"
cat >"$T/conc.yaml" <<'Y'
wfdsl: 1
name: conc
input:
  ledger: {type: string}
steps:
  - dag:
      tasks:
        slow: {shell: {script: 'sleep 1; echo slow >>"$L"', env: {L: "${input.ledger}"}}}
        fast: {shell: {script: 'echo fast >>"$L"', env: {L: "${input.ledger}"}}}
        first: {needs: [slow, fast], trigger: one_success, shell: {script: 'echo first >>"$L"', env: {L: "${input.ledger}"}}}
        other: {shell: {script: 'sleep 1; echo other >>"$L"', env: {L: "${input.ledger}"}}}
Y
start=$(date +%s%N)
run_wf run "$T/conc.yaml" --input "{\"ledger\": \"$L\"}"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
eq "concurrency: run succeeds" "$RC" 0
check "concurrency: two 1 s tasks in parallel take < 1.8 s (took ${ms} ms)" [ "$ms" -lt $((1000 + 800 * ${WFDSL_TEST_TIME_SCALE:-1})) ]
eq "one_success: the join ran before the slow upstream ended" "$(head -2 "$L" | tr '\n' ,)" "fast,first,"

# --- kill after every recorded event; resume; effects exactly once, same output ---
cat >"$T/crash.yaml" <<'Y'
wfdsl: 1
name: crash
input:
  ledger: {type: string}
steps:
  - id: d
    dag:
      tasks:
        a: {shell: {script: 'echo a >>"$L"; echo A', env: {L: "${input.ledger}"}}}
        b: {shell: {script: 'echo b >>"$L"; echo B', env: {L: "${input.ledger}"}}}
        pick: {needs: [a, b], branch: true, lua: return "c"}
        c: {needs: [pick], shell: {script: 'echo c >>"$L"; exit 99', env: {L: "${input.ledger}"}, skip_codes: [99]}}
        x: {needs: [pick], shell: {script: 'echo x >>"$L"', env: {L: "${input.ledger}"}}}
        e: {needs: [c, x], trigger: all_done, shell: {script: 'echo e >>"$L"; echo E', env: {L: "${input.ledger}"}}}
output: ${ steps.d }
Y
L="$T/ref.ledger"; : >"$L"
run_wf run "$T/crash.yaml" --id dag-ref --input "{\"ledger\": \"$L\"}"
REF="$OUT"
eq "crash reference: run succeeds" "$RC" 0
REFL=$(sort "$L" | tr '\n' ,)
eq "crash reference: effects" "$REFL" "a,b,c,e,"
NEV=$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='dag-ref'")
bad=""
for ((p = 2; p < NEV; p++)); do
    l="$T/k$p.ledger"; : >"$l"
    WFDSL_TEST_KILL_AFTER_EVENT=$p "$WFDSL" run "$T/crash.yaml" --id "dk$p" --input "{\"ledger\": \"$l\"}" >/dev/null 2>&1
    [ $? -eq 137 ] || bad="$bad $p:not-killed"
    out=$("$WFDSL" resume "dk$p" 2>/dev/null) || bad="$bad $p:resume-failed"
    [ "$out" = "$REF" ] || bad="$bad $p:output"
    # a kill can land between an effect and its record: a and b start together,
    # so only an effect cut mid-way may run twice; a recorded one never
    got=$(sort -u "$l" | tr '\n' ,)
    [ "$got" = "$REFL" ] || bad="$bad $p:effects=$got"
done
eq "kill after each of $((NEV - 2)) events, resume: same output, same effects" "$bad" ""
run_wf history dag-ref --json
eq "history: each task that ran is a step named after it, and the dag step records the states" \
    "$(json 'sorted(e["payload"]["step"] for e in d if e["type"] == "step_scheduled")' "$OUT")" '["a","b","c","d","e","pick"]'

# --- cancel a running dag: running tasks stop, the run ends cancelled ---
cat >"$T/cancel.yaml" <<'Y'
wfdsl: 1
name: cancelme
steps:
  - dag:
      tasks:
        long: {shell: {script: "sleep 30"}}
        after: {needs: [long], lua: return 1}
on_error:
  - id: cleanup
    lua: return "cleaned after " .. err.type
Y
"$WFDSL" run "$T/cancel.yaml" --id dag-cancel >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='dag-cancel' and type='step_started'" 2>/dev/null)" = 1 ] && break
    sleep 0.1
done
run_wf cancel dag-cancel
wait $pid
rc=$?
run_wf show dag-cancel --json
eq "cancel: the run ends cancelled" "$(json 'd["status"]' "$OUT")" "cancelled"
eq "cancel: on_error runs its steps after the dag was cut short" \
    "$(json '[s["output"] for s in d["steps"] if s["step"] == "cleanup"]' "$OUT")" '["cleaned after cancelled"]'
check "cancel: the foreground run exits non-zero ($rc)" [ "$rc" -ne 0 ]

# --- time helpers (Jinja's ds, ds_nodash, macros.ds_add) ---
clear_of_clock_edge 30 day # ds below is compared with the date
run_wf run tests/dag/time.yaml
eq "time: format, add, parse" "$(json '[d[k] for k in ("nodash", "add", "back", "parse", "frac", "num", "same")]' "$OUT")" \
    '["20260102","2026-02-01T00:00:00.000Z","2026-02-28T00:00:00.000Z",60,0.5,"Thursday January 001 4 4",true]'
check "time: ds of a run by hand is its start date" [ "$(json 'd["ds"]' "$OUT")" = "$(date -u +%Y-%m-%d)" ]
for bad in 'time.format(nil, "%Y")|expected an RFC 3339 time or Unix seconds, got nil' \
    'time.format(1, "%s")|unsupported conversion %s' 'time.add("yesterday", 1)|got '"'"'yesterday'"'"'' \
    'time.add(0, 1e300)|out of range'; do
    printf 'wfdsl: 1\nname: tbad\nsteps: [{lua: %s}]\n' "'return ${bad%%|*}'" >"$T/tbad.yaml"
    run_wf run "$T/tbad.yaml" --new
    contains "time: $bad" "$RC:$ERR" "1:"
    contains "time: error for ${bad%%|*}" "$ERR" "${bad#*|}"
done

# --- graph: the dag's tasks with their needs, between the steps around it ---
cat >"$T/graph.yaml" <<'Y'
wfdsl: 1
name: graph-me
input:
  x: {type: string, default: a}
steps:
  - id: prepare
    lua: return 1
  - id: etl
    dag:
      tasks:
        a: {lua: return 1}
        b: {lua: return 2}
        c: {needs: [a, b], trigger: one_success, lua: return 3}
        d: {needs: [a], short_circuit: direct, lua: return 4}
  - parallel:
      branches:
        left: [{id: l1, lua: return 1}]
        right: [{id: r1, lua: return 2}]
  - switch:
      - when: input.x == "a"
        steps: [{id: sa, lua: return 1}]
      - default: [{id: sd, lua: return 2}]
  - id: done
    lua: return 5
Y
run_wf graph "$T/graph.yaml"
eq "graph text" "$OUT" "$(printf '%s\n' 'graph-me' '  prepare: lua' '  etl: dag' '    a: lua' '    b: lua' \
    '    c: lua [one_success]  <- a, b' '    d: lua (short circuit)  <- a' '  parallel' '    branch left' \
    '      l1: lua' '    branch right' '      r1: lua' '  switch' '    when input.x == "a"' '      sa: lua' \
    '    default' '      sd: lua' '  done: lua')"
run_wf graph "$T/graph.yaml" --format dot
contains "graph dot: title" "$OUT" 'digraph "graph-me" {'
contains "graph dot: quotes in labels are escaped" "$OUT" 'label="when input.x == \"a\"";'
eq "graph dot: edges (prepare to the roots, needs, leaves to the branches, branches to done)" \
    "$(grep -- '->' <<<"$OUT" | tr -d ' ;' | tr '\n' ,)" "n2->n4,n3->n4,n2->n5,n1->n2,n1->n3,n4->n6,n4->n7,n5->n6,n5->n7,n6->n8,n6->n9,n7->n8,n7->n9,n8->n10,n9->n10,"
contains "graph dot: the dag is a cluster" "$OUT" 'label="etl: dag";'
run_wf graph "$T/graph.yaml" --format mermaid
contains "graph mermaid" "$OUT" "$(printf 'flowchart TB\n  n1["prepare: lua"]')"
contains "graph mermaid: a task" "$OUT" 'n4["c: lua [one_success]"]'
contains "graph mermaid: escaped quotes in labels" "$OUT" 'subgraph c6["when input.x == #quot;a#quot;"]'
run_wf graph "$T/graph.yaml" --format svg
eq "graph: unknown format exits 2" "$RC:$ERR" "2:wfdsl graph: unknown graph format 'svg' (use dot, mermaid or text)"
run_wf graph tests/errors/dag_cycle.yaml
eq "graph: a file with errors exits 2 with them" "$RC" 2
contains "graph: the cycle is named" "$ERR" "the dag's tasks form a cycle: b -> c -> a -> b"
run_wf graph --help
contains "graph --help" "$OUT" "usage: wfdsl graph FILE"
