# cli.sh — the command line: help texts, usage errors, `check`, input
# checking (nothing recorded on bad input), list/show/history, exit codes,
# --db vs $WFDSL_DB, the Lua instruction limit and program pinning on resume.
. tests/lib.sh

# ---- help ------------------------------------------------------------------

run_wf --help
eq "--help exits 0" "$RC" 0
contains "--help has a usage line" "$OUT" "usage: wfdsl COMMAND"
HELP="$OUT"
# the commands --help lists: the lines between "commands:" and the next blank line
LISTED=$(sed -n '/^commands:/,/^$/p' <<<"$HELP" | awk 'NF && $1 != "commands:" {print $1}')
for c in run resume check explain list show history help; do
    check "--help lists '$c'" grep -qx "$c" <<<"$LISTED"
done
run_wf help
eq "help exits 0" "$RC" 0
eq "'wfdsl help' prints the same as --help" "$OUT" "$HELP"
run_wf -h
eq "-h prints the same as --help" "$OUT" "$HELP"

for c in $LISTED; do
    run_wf "$c" --help
    eq "$c --help exits 0" "$RC" 0
    contains "$c --help prints its usage line" "$(head -1 <<<"$OUT")" "usage: wfdsl $c"
    eq "$c --help writes nothing on stderr" "$ERR" ""
    run_wf help "$c"
    eq "help $c exits 0" "$RC" 0
    contains "help $c prints its usage line" "$(head -1 <<<"$OUT")" "usage: wfdsl $c"
done

run_wf --version
eq "--version exits 0" "$RC" 0
contains "--version names the program" "$OUT" "wfdsl "

# ---- usage errors ------------------------------------------------------------

run_wf
eq "no command exits 2" "$RC" 2
contains "no command prints the usage on stderr" "$ERR" "usage: wfdsl COMMAND"
eq "no command prints nothing on stdout" "$OUT" ""

run_wf rn samples/hello.yaml
eq "unknown command exits 2" "$RC" 2
contains "unknown command has a did-you-mean" "$ERR" "unknown command 'rn' (did you mean 'run'?)"
run_wf frobnicate
eq "unknown command without a near name exits 2" "$RC" 2
contains "unknown command is named" "$ERR" "unknown command 'frobnicate'"
run_wf help frobnicate
eq "help of an unknown command exits 2" "$RC" 2

run_wf list --bogus
eq "unknown long option exits 2" "$RC" 2
contains "unknown long option is named" "$ERR" "unknown option '--bogus'"
run_wf run samples/hello.yaml -x
eq "unknown short option exits 2" "$RC" 2
contains "unknown short option is named" "$ERR" "unknown option '-x'"
run_wf run samples/hello.yaml --input
eq "option without its value exits 2" "$RC" 2
contains "option without its value says so" "$ERR" "'--input' needs a value"
run_wf list --json=yes
eq "flag given a value exits 2" "$RC" 2
run_wf list --limit many
eq "bad --limit exits 2" "$RC" 2
run_wf run
eq "run without a file exits 2" "$RC" 2
run_wf show
eq "show without an id exits 2" "$RC" 2

# ---- check -------------------------------------------------------------------

run_wf check samples/hello.yaml
eq "check of a valid file exits 0" "$RC" 0
eq "check of a valid file prints FILE: ok" "$OUT" "samples/hello.yaml: ok"
eq "check of a valid file is quiet on stderr" "$ERR" ""

run_wf check samples/hello.yaml samples/lua.yaml samples/switch.yaml
eq "check of several valid files exits 0" "$RC" 0
eq "check reports each file" "$OUT" "samples/hello.yaml: ok
samples/lua.yaml: ok
samples/switch.yaml: ok"

run_wf check samples/hello.yaml tests/errors/steps_empty.yaml samples/set.yaml tests/errors/wrong_version.yaml
eq "check with an invalid file exits 2" "$RC" 2
eq "check still reports the valid files" "$OUT" "samples/hello.yaml: ok
samples/set.yaml: ok"
eq "check reports each invalid file with its errors" "$ERR" "tests/errors/steps_empty.yaml:3:8: error: 'steps' is empty
tests/errors/steps_empty.yaml: 1 error
tests/errors/wrong_version.yaml:1:8: error: unsupported language version '2' (this wfdsl reads version 1)
tests/errors/wrong_version.yaml: 1 error"

run_wf check
eq "check without files exits 2" "$RC" 2
run_wf check "$T/no-such-file.yaml"
eq "check of a missing file exits 2" "$RC" 2
contains "check of a missing file says it cannot read it" "$ERR" "$T/no-such-file.yaml:1:1: error: cannot read file"

# a definition error stops `run` before anything is recorded
run_wf run tests/errors/unknown_name.yaml --db "$T/deferr.db"
eq "run of an invalid file exits 2" "$RC" 2
contains "run of an invalid file prints the errors" "$ERR" "unknown name 'inptu'"
check "run of an invalid file records nothing" [ ! -e "$T/deferr.db" ]

# ---- input -------------------------------------------------------------------

cat >"$T/in.yaml" <<'EOF'
wfdsl: 1
name: inputs
input:
  name: {type: string}
  qty: {type: integer, min: 1, max: 10, default: 2}
  color: {type: string, enum: [red, blue], default: red}
steps:
  - id: echo
    lua: return input
output: ${ steps.echo }
EOF
IDB="$T/input.db"

bad_input() { # NAME INPUT MESSAGE
    run_wf run "$T/in.yaml" --db "$IDB" --input "$2"
    eq "input $1: exits 2" "$RC" 2
    contains "input $1: says why" "$ERR" "$3"
    eq "input $1: prints nothing on stdout" "$OUT" ""
}
bad_input "not JSON" '{"name": ' "--input is not valid JSON"
bad_input "not an object" '[1, 2]' "input must be a JSON object, not array"
bad_input "missing required" '{"qty": 3}' "input: missing required field 'name' (string)"
bad_input "wrong type" '{"name": 42}' "input: field 'name' must be a string, not integer"
bad_input "not an integer" '{"name": "a", "qty": 1.5}' "input: field 'qty' must be an integer, not number"
bad_input "below min" '{"name": "a", "qty": 0}' "input: field 'qty' is 0, below its minimum 1"
bad_input "above max" '{"name": "a", "qty": 11}' "input: field 'qty' is 11, above its maximum 10"
bad_input "not in enum" '{"name": "a", "color": "green"}' "input: field 'color' must be one of [\"red\",\"blue\"]"
bad_input "unknown field" '{"name": "a", "size": 3}' "input: unknown field 'size'"
bad_input "missing @file" "@$T/no-such.json" "--input @$T/no-such.json: unable to open"
eq "input missing @file: no bogus line number" "$(grep -c 'line -1' <<<"$ERR")" 0
echo '{"name": ' >"$T/broken.json"
bad_input "bad JSON in @file" "@$T/broken.json" "--input @$T/broken.json:"
check "bad inputs created no database" [ ! -e "$IDB" ]
run_wf list --json --db "$IDB"
eq "bad inputs recorded no run" "$(json 'len(d)' "$OUT")" 0

run_wf run "$T/in.yaml" --db "$IDB" --input '{"name": "Bo"}'
eq "defaults: exits 0" "$RC" 0
eq "defaults are applied" "$(json '[d["name"], d["qty"], d["color"]]' "$OUT")" '["Bo",2,"red"]'
echo '{"name": "Ada", "qty": 3, "color": "blue"}' >"$T/in.json"
run_wf run "$T/in.yaml" --db "$IDB" --input "@$T/in.json"
eq "--input @file: exits 0" "$RC" 0
eq "--input @file is read" "$(json '[d["name"], d["qty"], d["color"]]' "$OUT")" '["Ada",3,"blue"]'
run_wf list --json --db "$IDB"
eq "good inputs recorded their runs" "$(json 'len(d)' "$OUT")" 2

# ---- run, list, show, history ------------------------------------------------

run_wf run samples/hello.yaml --id h1 --input '{"name": "Ada"}'
eq "completed run exits 0" "$RC" 0
eq "run prints its output as JSON on stdout" "$(json 'd["greeting"]' "$OUT")" "HELLO, ADA!"
check "run prints only JSON on stdout" python3 -c 'import json, sys; json.loads(sys.argv[1])' "$OUT"
eq "run off a terminal prints nothing on stderr" "$ERR" ""

run_wf run samples/fail.yaml --id f1
eq "failed run exits 1" "$RC" 1
eq "failed run prints nothing on stdout" "$OUT" ""
contains "failed run names the error on stderr" "$ERR" "stock.short: only 120 in stock, 500 ordered"

run_wf list
eq "list exits 0" "$RC" 0
contains "list has a header" "$(head -1 <<<"$OUT")" "STATUS"
contains "list shows the completed run" "$(grep '^h1 ' <<<"$OUT")" "completed"
contains "list shows the failed run" "$(grep '^f1 ' <<<"$OUT")" "failed"

run_wf list --json
eq "list --json exits 0" "$RC" 0
eq "list --json: newest first, with status" "$(json '[[r["id"], r["workflow"], r["status"]] for r in d]' "$OUT")" \
    '[["f1","check-stock","failed"],["h1","hello","completed"]]'
run_wf list --status failed --json
eq "list --status failed" "$(json '[r["id"] for r in d]' "$OUT")" '["f1"]'
run_wf list --status completed --json
eq "list --status completed" "$(json '[r["id"] for r in d]' "$OUT")" '["h1"]'
run_wf list --limit 1 --json
eq "list --limit 1" "$(json '[r["id"] for r in d]' "$OUT")" '["f1"]'

run_wf show h1 --json
eq "show --json exits 0" "$RC" 0
eq "show --json: id, workflow, status" "$(json '[d["id"], d["workflow"], d["status"]]' "$OUT")" '["h1","hello","completed"]'
eq "show --json: input with defaults applied" "$(json 'd["input"]' "$OUT")" '{"name":"Ada"}'
eq "show --json: output" "$(json 'd["output"]["greeting"], d["output"]["length"]' "$OUT")" '["HELLO, ADA!",11]'
eq "show --json: no error" "$(json 'd["error"]' "$OUT")" null
eq "show --json: steps with kind, status and attempts" \
    "$(json '[[s["step"], s["kind"], s["status"], s["attempts"]] for s in d["steps"]]' "$OUT")" \
    '[["greet","shell","completed",1],["shout","lua","completed",1]]'
eq "show --json: every step has a duration_ms" \
    "$(json 'all(isinstance(s["duration_ms"], int) and s["duration_ms"] >= 0 for s in d["steps"])' "$OUT")" true
eq "show --json: step outputs" "$(json 'd["steps"][1]["output"]' "$OUT")" "HELLO, ADA!"
check "show --json has a run_id and program hash" python3 -c '
import json, sys; d = json.loads(sys.argv[1])
assert len(d["run_id"]) == 32 and len(d["program"]) == 64' "$OUT"

run_wf show f1 --json
eq "show --json of a failed run: status and error" "$(json '[d["status"], d["error"]["type"], d["error"]["step"]]' "$OUT")" '["failed","stock.short","steps[1]"]'
eq "show --json of a failed run: the failed step" "$(json '[d["steps"][-1]["status"], d["steps"][-1]["error"]["type"]]' "$OUT")" '["failed","stock.short"]'

run_wf show h1
eq "show exits 0" "$RC" 0
contains "show prints the status" "$OUT" "status    completed"
contains "show prints the steps" "$OUT" "shout"

run_wf history h1 --json
eq "history --json exits 0" "$RC" 0
eq "history --json: seq is 1..n in order" "$(json '[e["seq"] for e in d] == list(range(1, len(d) + 1))' "$OUT")" true
eq "history --json: events in order" "$(json '[e["type"] for e in d]' "$OUT")" \
    '["run_started","step_scheduled","step_started","step_completed","step_scheduled","step_started","step_completed","run_completed"]'
eq "history --json: step names" "$(json '[e["payload"]["step"] for e in d if e["type"] == "step_scheduled"]' "$OUT")" '["greet","shout"]'
eq "history --json: every event has a time" "$(json 'all(e["time"].endswith("Z") for e in d)' "$OUT")" true
run_wf history h1
eq "history exits 0" "$RC" 0
eq "history prints one line per event" "$(wc -l <<<"$OUT")" 8

for c in show history resume; do
    run_wf "$c" no-such-run
    eq "$c of an unknown id exits 2" "$RC" 2
    contains "$c of an unknown id says so" "$ERR" "no run with id 'no-such-run'"
done

# ---- exit code 3: storage ------------------------------------------------------

run_wf run samples/hello.yaml --db "$T/no-such-dir/x.db"
eq "--db in a missing directory exits 3" "$RC" 3
contains "--db in a missing directory names the database" "$ERR" "$T/no-such-dir/x.db"
head -c 4096 /dev/urandom | base64 >"$T/not-a-db"
run_wf run samples/hello.yaml --db "$T/not-a-db"
eq "--db on a file that is not a database exits 3" "$RC" 3
contains "--db on a file that is not a database says so" "$ERR" "is not a wfdsl database"
run_wf list --db "$T/not-a-db"
eq "list on a file that is not a database exits 3" "$RC" 3
run_wf show h1 --db "$T/not-a-db"
eq "show on a file that is not a database exits 3" "$RC" 3

# ---- --db vs $WFDSL_DB ---------------------------------------------------------

WFDSL_DB="$T/env.db" "$WFDSL" run samples/hello.yaml --id from-env >/dev/null 2>&1
WFDSL_DB="$T/env.db" "$WFDSL" run samples/hello.yaml --id from-opt --db "$T/opt.db" >/dev/null 2>&1
eq "\$WFDSL_DB is used without --db" "$(WFDSL_DB="$T/env.db" "$WFDSL" list --json | json '[r["id"] for r in d]' "$(cat)")" '["from-env"]'
eq "--db wins over \$WFDSL_DB" "$("$WFDSL" list --json --db "$T/opt.db" | json '[r["id"] for r in d]' "$(cat)")" '["from-opt"]'
run_wf show from-env --db "$T/env.db"
eq "show reads --db" "$RC" 0
run_wf show from-env --db "$T/opt.db"
eq "the run is only in its own database" "$RC" 2
mkdir -p "$T/cwd" && cp samples/hello.yaml "$T/cwd/hello.yaml"
(cd "$T/cwd" && env -u WFDSL_DB "$WFDSL" run hello.yaml --id in-cwd >/dev/null 2>&1)
check "without --db and \$WFDSL_DB the database is ./wfdsl.db" [ -s "$T/cwd/wfdsl.db" ]
eq "./wfdsl.db has that run" "$(cd "$T/cwd" && env -u WFDSL_DB "$WFDSL" list --json | json '[r["id"] for r in d]' "$(cat)")" '["in-cwd"]'

# ---- Lua instruction limit -----------------------------------------------------

cat >"$T/spin.yaml" <<'EOF'
wfdsl: 1
name: spin
steps:
  - id: spin
    lua: while true do end
EOF
t0=$(date +%s%N)
run_wf run "$T/spin.yaml" --id spin
ms=$((($(date +%s%N) - t0) / 1000000))
eq "endless Lua loop fails the run" "$RC" 1
check "endless Lua loop is stopped within 2s (took ${ms}ms)" [ "$ms" -lt $((2000 * ${WFDSL_TEST_TIME_SCALE:-1})) ]
contains "endless Lua loop: stderr names lua.limit" "$ERR" "lua.limit"
run_wf show spin --json
eq "endless Lua loop: show says lua.limit" "$(json '[d["status"], d["error"]["type"], d["steps"][0]["error"]["type"]]' "$OUT")" '["failed","lua.limit","lua.limit"]'
run_wf history spin --json
eq "endless Lua loop: history says lua.limit" "$(json '[e["payload"]["error"]["type"] for e in d if e["type"] in ("step_failed", "run_failed")]' "$OUT")" '["lua.limit","lua.limit"]'

# ---- program pinning: a resumed run keeps the program it started with ----------

COPY="$T/pinned.yaml"
cat >"$COPY" <<'EOF'
wfdsl: 1
name: pinned
steps:
  - id: first
    lua: return "old"
  - id: nap
    shell: sleep 1
output:
  first: ${ steps.first }
EOF
"$WFDSL" run "$COPY" --id pin >"$T/pin.out" 2>"$T/pin.err" &
pid=$!
started=0
for ((i = 0; i < 500; i++)); do
    started=$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.workflow_id='pin' and e.type='step_started' and json_extract(e.payload,'\$.seq')=(select json_extract(payload,'\$.seq') from events e2 where e2.run_id=e.run_id and e2.type='step_scheduled' and json_extract(e2.payload,'\$.step')='nap')" 2>/dev/null)
    [ "${started:-0}" -ge 1 ] && break
    sleep 0.01
done
eq "pinning: the second step started" "$started" 1
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
eq "pinning: killed while sleeping" "$?" 137
run_wf show pin --json
eq "pinning: the run is left running" "$(json 'd["status"]' "$OUT")" "running"
PROGRAM=$(json 'd["program"]' "$OUT")
# change the first step's output and add a step
sed -i 's/return "old"/return "new"/; s/^output:/  - id: extra\n    lua: return "added"\noutput:/' "$COPY"
run_wf check "$COPY"
eq "pinning: the edited copy is valid" "$RC" 0
run_wf run "$COPY" --id pin
eq "pinning: run --id resumes and completes" "$RC" 0
eq "pinning: the output is the old program's" "$(json 'd' "$OUT")" '{"first":"old"}'
contains "pinning: a note names the changed file" "$ERR" "note: run pin started on program ${PROGRAM:0:12}; $COPY has changed since"
contains "pinning: the note says the stored program is used" "$ERR" "continuing on the stored program"
run_wf show pin --json
eq "pinning: the steps are the old program's" "$(json '[[s["step"], s["status"]] for s in d["steps"]]' "$OUT")" '[["first","completed"],["nap","completed"]]'
eq "pinning: the run keeps its program" "$(json 'd["program"]' "$OUT")" "$PROGRAM"
eq "pinning: the interrupted step ran again as attempt 2" "$(json 'd["steps"][1]["attempts"]' "$OUT")" 2
run_wf history pin --json
eq "pinning: the first step completed once" "$(json 'len([e for e in d if e["type"] == "step_completed" and e["payload"]["seq"] == 1])' "$OUT")" 1
run_wf run "$COPY" --id pin
eq "pinning: the finished run is not run again" "$RC" 2
contains "pinning: refusal says to use --new" "$ERR" "already finished (completed); use --new"
run_wf run "$COPY" --id pin --new
eq "pinning: --new runs the edited program" "$(json '[d["first"]]' "$OUT")" '["new"]'
