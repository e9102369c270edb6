# worker_unloadable.sh — a run a worker cannot load (its stored program is
# damaged or not the one its hash names, its history is damaged, its secret
# is not set) is marked needs_attention with the reason, named once on the
# worker's stderr, and not claimed again; `resume` continues it once the
# cause is fixed. The worker goes on with the other runs.
. tests/lib.sh

status_of() { sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='$1'"; }
wait_status() { # ID STATUS: within 10 s
    for ((i = 0; i < 200; i++)); do [ "$(status_of "$1")" = "$2" ] && return 0; sleep 0.05; done
    return 1
}
prog_of() { sqlite3 "$WFDSL_DB" "select program_hash from runs where workflow_id='$1'"; }
for n in badjson badhash badhist nosecret healthy; do
    printf 'wfdsl: 1\nname: %s\nsteps:\n  - id: s\n    shell: {script: "printf %s"}\noutput: ${ steps.s.stdout }\n' \
        "$n" "$n" >"$T/$n.yaml"
done
printf 'secrets: [WFDSL_TEST_UNLOAD_SECRET]\n' >>"$T/nosecret.yaml"
for n in badjson badhash badhist healthy; do "$WFDSL" start "$T/$n.yaml" --id "$n" >/dev/null; done
WFDSL_TEST_UNLOAD_SECRET=s3 "$WFDSL" start "$T/nosecret.yaml" --id nosecret >/dev/null
sqlite3 "$WFDSL_DB" "create table keep as select hash, code from programs"
# not JSON; valid JSON of another program; a history whose first event is damaged
sqlite3 "$WFDSL_DB" "update programs set code = '{not json' where hash = '$(prog_of badjson)'"
sqlite3 "$WFDSL_DB" "update programs set code = replace(cast(code as text), '\"name\":\"badhash\"', '\"name\":\"other\"') where hash = '$(prog_of badhash)'"
sqlite3 "$WFDSL_DB" "update events set payload = '{cut' where seq = 1 and run_id = (select run_id from runs where workflow_id = 'badhist')"

"$WFDSL" worker --quiet 2>"$T/worker.err" & w=$!
check "the healthy run completes beside them" wait_status healthy completed
for n in badjson badhash badhist nosecret; do check "$n is marked needs_attention" wait_status $n needs_attention; done
sleep 1 # a worker that retried them would name them again by now
kill $w; wait $w
eq "the worker named each once on stderr" "$(grep -c 'cannot be loaded' "$T/worker.err")" 4
contains "naming the run and the reason" "$(grep '^wfdsl worker: run badjson ' "$T/worker.err")" \
    "cannot be loaded: stored program is not valid JSON"
contains "and what to do" "$(grep '^wfdsl worker: run badjson ' "$T/worker.err")" "'wfdsl resume badjson' continues it"
eq "nothing of them ran" "$(sqlite3 "$WFDSL_DB" "select count(*) from events where type = 'step_started'")" 1
run_wf show badhash --json
eq "show: a program that is not the one its hash names" \
    "$(json 'd["status"], d["error"]["type"], "is not the one it started on" in d["error"]["message"]' "$OUT")" \
    '["needs_attention","load",true]'
run_wf show badhist --json
contains "show: a damaged history" "$(json 'd["error"]["message"]' "$OUT")" "history event 1 of run"
run_wf show nosecret
contains "show: a secret not set" "$OUT" "secret WFDSL_TEST_UNLOAD_SECRET is not set in the environment"
run_wf list --status needs_attention
eq "list --status needs_attention lists the four" "$(tail -n +2 "$T/out" | awk '{print $1}' | sort | tr '\n' ,)" \
    "badhash,badhist,badjson,nosecret,"

# resume before the cause is fixed: refused, still needs_attention
run_wf resume badjson
eq "resume of a run still damaged: exit 3" "$RC" 3
contains "with the reason" "$ERR" "stored program is not valid JSON"
eq "it stays needs_attention" "$(status_of badjson)" needs_attention
# the cause fixed: resume continues it
sqlite3 "$WFDSL_DB" "update programs set code = (select code from keep where keep.hash = programs.hash)"
run_wf resume badjson
eq "resume once the program is repaired completes it" "$OUT" '"badjson"'
run_wf resume badhash
eq "so does the program whose hash matches again" "$OUT" '"badhash"'
WFDSL_TEST_UNLOAD_SECRET=s3 "$WFDSL" resume nosecret >"$T/out" 2>"$T/err"
eq "and the run whose secret is set now" "$(cat "$T/out")" '"nosecret"'
run_wf show nosecret --json
eq "its status and error are those of its end" "$(json 'd["status"], d["error"]' "$OUT")" '["completed",null]'
"$WFDSL" worker --quiet 2>"$T/worker2.err" & w=$!
sleep 0.5
kill $w; wait $w
eq "a later worker leaves the damaged one alone" "$(cat "$T/worker2.err")" ""
eq "which still needs attention" "$(status_of badhist)" needs_attention
