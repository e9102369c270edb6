# hardening.sh — what a durable engine must survive without losing a record,
# crashing or hanging:
#   1. storage faults: the filesystem full, the database read-only, locked by
#      another process past the busy timeout, corrupted, or from a newer schema.
#      Each: a clear message, exit 3, no partial history, and a clean resume
#      once the fault is gone.
#   2. hostile input: 100 MB input, deep YAML and JSON, anchors (billion laughs),
#      invalid UTF-8, 1 MB expressions, unknown ids, payloads that are not JSON,
#      step outputs over the cap. Each: a clear error, never a crash or a hang.
#   3. the Lua sandbox: memory bombs, deep recursion, binary chunks, the removed
#      libraries, shared metatables, endless loops inside pcall, patterns that
#      backtrack. Each fails the step (lua or lua.limit, exit 1); the engine goes on.
#   4. shell safety: payloads like $(touch F) through input (env, argv, stdin,
#      cwd), a signal payload and a step output: nothing runs, values arrive intact.
# Mounts (tmpfs, read-only bind) need root; without it those checks are skipped
# with a "# skip" line.
. tests/lib.sh
S="$PWD/samples"
MOUNTS=()
cleanup() {
    local m
    for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
    [ -n "${LOCKPID:-}" ] && kill "$LOCKPID" 2>/dev/null
    [ -n "${SRVPID:-}" ] && kill "$SRVPID" 2>/dev/null
}
trap cleanup EXIT

# runt ARGS...: run_wf under `timeout 20` (a hang is exit 137)
runt() {
    timeout -s KILL 20 "$WFDSL" "$@" >"$T/out" 2>"$T/err"
    RC=$?; OUT=$(cat "$T/out"); ERR=$(head -c 20000 "$T/err")
}
# runm ARGS...: runt, but the process is also killed once it holds more than
# 1 GiB (an unbounded read must not take the machine down); MEMKILL says so
runm() {
    "$WFDSL" "$@" >"$T/out" 2>"$T/err" &
    local pid=$! i rss
    MEMKILL=""
    for ((i = 0; i < 400; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        if [ "${rss:-0}" -gt 1048576 ]; then MEMKILL="killed at ${rss} kB of memory"; break; fi
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid"; RC=$?
    OUT=$(cat "$T/out"); ERR=$(head -c 20000 "$T/err")
    [ -n "$MEMKILL" ] && ERR="$MEMKILL; $ERR"
    [ "$i" -ge 400 ] && ERR="killed after 20 s; $ERR"
}
# sane NAME: the last command neither crashed nor hung nor tripped a sanitizer
sane() {
    if [ "$RC" -gt 3 ]; then
        fail "$1: no crash or hang" "exit $RC: $(head -c 400 <<<"$ERR")"
    elif grep -q -e 'Sanitizer' -e 'runtime error:' <<<"$ERR"; then
        fail "$1: no sanitizer report" "$(grep -m2 -e Sanitizer -e 'runtime error:' <<<"$ERR")"
    else
        ok "$1: no crash or hang"
    fi
}
# matches NAME TEXT REGEX (extended, case-insensitive)
matches() { if grep -qiE -- "$3" <<<"$2"; then ok "$1"; else fail "$1" "/$3/ not in: $(head -c 400 <<<"$2")"; fi; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# sound NAME ID [DB]: the run's history is whole: events 1..n without gaps, no
# step scheduled or completed twice, no event without a payload, integrity ok
sound() {
    local db="${3:-$WFDSL_DB}" r
    r=$(sqlite3 "$db" "select count(*) - coalesce(max(seq), 0), count(*) from events e join runs r using(run_id) where r.workflow_id='$2'")
    eq "$1: history has no gaps" "${r%|*}" 0
    r=$(sqlite3 "$db" "select count(*) from (select type, json_extract(payload,'\$.seq') s, count(*) c from events e join runs r using(run_id) where r.workflow_id='$2' and type in ('step_scheduled','step_completed') group by type, s having c > 1)")
    eq "$1: no step scheduled or completed twice" "$r" 0
    r=$(sqlite3 "$db" "select count(*) from events e join runs r using(run_id) where r.workflow_id='$2' and (payload is null or not json_valid(payload))")
    eq "$1: every event has its payload" "$r" 0
    eq "$1: integrity_check" "$(sqlite3 "$db" 'pragma integrity_check')" ok
}
nevents() { sqlite3 "${2:-$WFDSL_DB}" "select count(*) from events e join runs r using(run_id) where r.workflow_id='$1'"; }
nruns() { sqlite3 "${2:-$WFDSL_DB}" "select count(*) from runs where workflow_id='$1'"; }

# ledger FILE: its lines joined with commas
ledger() { tr '\n' , <"$1"; }

# ============================================================================
# 1. storage faults
# ============================================================================

ROOT_OK=""
mkdir -p "$T/probe"
if mount -t tmpfs -o size=1m tmpfs "$T/probe" 2>/dev/null; then
    ROOT_OK=1
    umount "$T/probe"
fi

# fill.yaml: a small step, a 2 MB step, a last step; each appends to a ledger
cat >"$T/fill.yaml" <<'Y'
wfdsl: 1
name: fill
input:
  ledger: {type: string}
  n: {type: integer, default: 2000000}
steps:
  - id: small
    shell:
      script: echo small >> "$L"; printf small
      env: {L: "${input.ledger}"}
  - id: big
    shell:
      script: echo big >> "$L"; head -c "$N" /dev/zero | tr '\0' x
      env: {L: "${input.ledger}", N: "${input.n}"}
  - id: after
    shell:
      script: echo after >> "$L"; printf done
      env: {L: "${input.ledger}"}
output: ${ {small = steps.small.stdout, big = len(steps.big.stdout), after = steps.after.stdout} }
Y
FILL_OUT=$(printf '{\n  "after": "done",\n  "big": 2000000,\n  "small": "small"\n}')

# --- the filesystem full -------------------------------------------------------
if [ -n "$ROOT_OK" ]; then
    FS="$T/fs"; mkdir -p "$FS"
    mount -t tmpfs -o size=1m tmpfs "$FS"; MOUNTS+=("$FS")
    DB="$FS/wf.db"
    # a run whose 2 MB step output cannot be committed on a 1 MB filesystem
    runt run "$T/fill.yaml" --db "$DB" --id full-1 --input "{\"ledger\": \"$T/full-1.ledger\"}"
    eq "disk full during a run: exit 3" "$RC" 3
    matches "disk full during a run: says the database is full" "$ERR" "database is full|no space"
    contains "disk full during a run: says how to continue" "$ERR" "wfdsl resume full-1"
    sane "disk full during a run"
    mount -o remount,size=16m "$FS"
    eq "disk full: the run is recorded up to its last commit" \
        "$(sqlite3 "$DB" "select group_concat(type, ',') from (select type from events e join runs r using(run_id) where r.workflow_id='full-1' order by seq)")" \
        "run_started,step_scheduled,step_started,step_completed,step_scheduled,step_started"
    sound "disk full: no partial history" full-1 "$DB"
    runt resume full-1 --db "$DB"
    eq "disk full, space freed: resume exits 0" "$RC" 0
    eq "disk full, space freed: the output" "$OUT" "$FILL_OUT"
    eq "disk full, space freed: completed steps ran once, the step in flight again" \
        "$(ledger "$T/full-1.ledger")" "small,big,big,after,"
    sound "disk full, resumed" full-1 "$DB"

    # a full filesystem when the database is opened (no room for its -shm file)
    runt run "$S/hello.yaml" --db "$DB" --id full-2
    eq "disk full at open: the database works before" "$RC" 0
    head -c 32m /dev/zero >"$FS/filler" 2>/dev/null
    runt run "$S/hello.yaml" --db "$DB" --id full-3
    eq "disk full at open: exit 3" "$RC" 3
    matches "disk full at open: says the disk is full (not 'disk I/O error')" "$ERR" "full|no space"
    sane "disk full at open"
    rm -f "$FS/filler"
    eq "disk full at open: nothing recorded" "$(nruns full-3 "$DB")" 0
    runt run "$S/hello.yaml" --db "$DB" --id full-3
    eq "disk full at open, space freed: the run completes" "$RC" 0
    sound "disk full at open, then run" full-3 "$DB"
else
    echo "# skip: disk full (cannot mount a tmpfs: not root)"
fi

# --- the database read-only ----------------------------------------------------
if [ -n "$ROOT_OK" ]; then
    RW="$T/rw"; RO="$T/ro"; mkdir -p "$RW" "$RO"
    L="$T/ro-1.ledger"
    WFDSL_TEST_KILL_AFTER_EVENT=4 "$WFDSL" run "$S/ledger.yaml" --db "$RW/wf.db" --id ro-1 \
        --input "{\"ledger\": \"$L\"}" >/dev/null 2>&1
    eq "read-only: a run interrupted first" "$?" 137
    mount --bind "$RW" "$RO" && mount -o remount,ro,bind "$RO" && MOUNTS+=("$RO")
    # (read through the read-only path: a writable sqlite3 would checkpoint
    # and remove the -wal and -shm files on close)
    before=$(nevents ro-1 "$RO/wf.db")
    # the killed process left its -wal and -shm files: reads work, writes fail
    runt resume ro-1 --db "$RO/wf.db"
    eq "read-only (after a crash): resume exits 3" "$RC" 3
    matches "read-only (after a crash): says read-only" "$ERR" "read-only"
    sane "read-only (after a crash)"
    runt show ro-1 --db "$RO/wf.db"
    eq "read-only (after a crash): show still works" "$RC" 0
    eq "read-only: nothing written" "$(nevents ro-1 "$RO/wf.db")" "$before"
    runt run "$S/hello.yaml" --db "$RO/wf.db" --id ro-2
    eq "read-only: a new run exits 3" "$RC" 3
    matches "read-only: a new run says read-only" "$ERR" "read-only"
    # a database closed cleanly: no -shm file, and none can be created
    "$WFDSL" run "$S/hello.yaml" --db "$RW/clean.db" --id ro-3 >/dev/null 2>&1
    runt run "$S/hello.yaml" --db "$RO/clean.db" --id ro-4
    eq "read-only (clean database): a run exits 3" "$RC" 3
    matches "read-only (clean database): says read-only (not 'unable to open database file')" "$ERR" "read-only"
    sane "read-only (clean database)"
    runt run "$S/hello.yaml" --db "$RO/new.db"
    eq "read-only directory: a new database exits 3" "$RC" 3
    matches "read-only directory: says read-only" "$ERR" "read-only"
    check "read-only directory: no file created" [ ! -e "$RW/new.db" ]
    umount "$RO"
    runt resume ro-1 --db "$RW/wf.db"
    eq "read-only, then writable: resume exits 0" "$RC" 0
    eq "read-only, then writable: the output" "$OUT" "$(printf '{\n  "total": 100\n}')"
    eq "read-only, then writable: each completed step ran once" \
        "$(cut -d' ' -f1 "$L" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" "charge=1 notify=1 reserve=1 ship=1 "
    sound "read-only, resumed" ro-1 "$RW/wf.db"
    runt run "$S/hello.yaml" --db "$RW/clean.db" --id ro-4
    eq "read-only, then writable: a new run completes" "$RC" 0
else
    echo "# skip: read-only database (cannot bind-mount: not root)"
fi

# --- locked by another process past the busy timeout (5 s) ------------------------
DB="$T/locked.db"; L="$T/lock-1.ledger"
WFDSL_TEST_KILL_AFTER_EVENT=4 "$WFDSL" run "$S/ledger.yaml" --db "$DB" --id lock-1 \
    --input "{\"ledger\": \"$L\"}" >/dev/null 2>&1
before=$(nevents lock-1 "$DB")
( printf 'BEGIN EXCLUSIVE;\nSELECT 1;\n'; sleep 7; printf 'COMMIT;\n' ) | sqlite3 "$DB" >/dev/null &
LOCKPID=$!
sleep 0.5
t0=$(date +%s%N)
runt resume lock-1 --db "$DB"
el=$(ms_since "$t0")
eq "locked: resume exits 3" "$RC" 3
matches "locked: says locked by another process" "$ERR" "locked by another process"
check "locked: it waited the busy timeout, then gave up ($el ms)" [ "$el" -ge 4500 -a "$el" -lt 6900 ]
sane "locked"
wait "$LOCKPID"; LOCKPID=""
eq "locked: nothing written" "$(nevents lock-1 "$DB")" "$before"
runt resume lock-1 --db "$DB"
eq "locked, then released: resume exits 0" "$RC" 0
eq "locked, then released: the output" "$OUT" "$(printf '{\n  "total": 100\n}')"
eq "locked, then released: completed steps ran once" "$(cut -d' ' -f1 "$L" | sort -u | tr '\n' ' ')" "charge notify reserve ship "
check "locked, then released: reserve (completed before) ran once" [ "$(grep -c '^reserve ' "$L")" = 1 ]
sound "locked, resumed" lock-1 "$DB"

# the lock is taken while a step runs: its completion cannot be committed
L="$T/lock-2.ledger"
"$WFDSL" run "$S/ledger.yaml" --db "$DB" --id lock-2 --input "{\"ledger\": \"$L\", \"pause\": \"1\"}" \
    >"$T/lock2.out" 2>"$T/lock2.err" &
rp=$!
for ((i = 0; i < 100; i++)); do grep -q '^reserve' "$L" 2>/dev/null && break; sleep 0.05; done
( printf 'BEGIN EXCLUSIVE;\nSELECT 1;\n'; sleep 7; printf 'COMMIT;\n' ) | sqlite3 "$DB" >/dev/null &
LOCKPID=$!
wait "$rp"; RC=$?; ERR=$(cat "$T/lock2.err")
eq "locked during a step: exit 3" "$RC" 3
matches "locked during a step: says locked" "$ERR" "locked by another process"
contains "locked during a step: says how to continue" "$ERR" "wfdsl resume lock-2"
wait "$LOCKPID"; LOCKPID=""
sound "locked during a step: no partial history" lock-2 "$DB"
runt resume lock-2 --db "$DB"
eq "locked during a step, released: resume exits 0" "$RC" 0
eq "locked during a step, released: the output" "$OUT" "$(printf '{\n  "total": 100\n}')"
eq "locked during a step, released: the step in flight ran again, the rest once" \
    "$(cut -d' ' -f1 "$L" | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')" "reserve=2 charge=1 ship=1 notify=1 "
sound "locked during a step, resumed" lock-2 "$DB"

# --- a corrupted database file ----------------------------------------------------------
DB="$T/corrupt.db"; L="$T/corrupt.ledger"
for i in 1 2 3 4 5 6; do "$WFDSL" run "$S/lua.yaml" --db "$DB" --id "c-$i" >/dev/null 2>&1; done
WFDSL_TEST_KILL_AFTER_EVENT=6 "$WFDSL" run "$S/ledger.yaml" --db "$DB" --id corrupt-1 \
    --input "{\"ledger\": \"$L\"}" >/dev/null 2>&1
sqlite3 "$DB" 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
cp "$DB" "$T/corrupt.backup"
SIZE=$(stat -c %s "$DB")
# overwrite everything after the first page (the schema) with a pattern
python3 -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(4096)
f.write(bytes((i * 37 + 11) % 256 for i in range(int(sys.argv[2]) - 4096)))' "$DB" "$SIZE"
for c in "resume corrupt-1" "show corrupt-1" "history c-1" "list" "run $S/hello.yaml --id c-new" "replay c-2"; do
    runt $c --db "$DB"
    eq "corrupted ($c): exit 3" "$RC" 3
    matches "corrupted ($c): says corrupt" "$ERR" "corrupt|malformed|not a (wfdsl )?database"
    sane "corrupted ($c)"
done
cp "$T/corrupt.backup" "$DB"
runt resume corrupt-1 --db "$DB"
eq "corrupted, restored from a copy: resume exits 0" "$RC" 0
eq "corrupted, restored: the output" "$OUT" "$(printf '{\n  "total": 100\n}')"
check "corrupted, restored: completed steps ran once" [ "$(grep -c '^reserve ' "$L")" = 1 ]
sound "corrupted, restored" corrupt-1 "$DB"
# small corruptions anywhere: every command ends with a message, never a crash
python3 -c '
import sys
src, n = sys.argv[1], int(sys.argv[2])
data = open(src, "rb").read()
for k in range(n):
    o = 100 + k * (len(data) - 200) // n
    d = bytearray(data); d[o:o + 48] = bytes((i * 73 + o) % 256 for i in range(48))
    open("%s.%d" % (sys.argv[3], k), "wb").write(d)' "$T/corrupt.backup" 24 "$T/sweep.db"
bad=""
for ((k = 0; k < 24; k++)); do
    for c in "resume corrupt-1" "show c-3" "history c-4" "list" "replay c-5"; do
        timeout -s KILL 20 "$WFDSL" $c --db "$T/sweep.db.$k" >/dev/null 2>"$T/sweep.err"
        rc=$?
        if [ $rc -gt 3 ] || grep -q -e Sanitizer -e 'runtime error:' "$T/sweep.err"; then
            bad="$bad [copy $k, $c: exit $rc $(head -c 200 "$T/sweep.err")]"
        fi
    done
done
eq "48 bytes overwritten at 24 places: no crash or hang in 5 commands" "$bad" ""

# --- a database from a newer schema version ------------------------------------------
DB="$T/newer.db"; L="$T/newer.ledger"
WFDSL_TEST_KILL_AFTER_EVENT=6 "$WFDSL" run "$S/ledger.yaml" --db "$DB" --id newer-1 \
    --input "{\"ledger\": \"$L\"}" >/dev/null 2>&1
V=$(sqlite3 "$DB" 'pragma user_version')
before=$(nevents newer-1 "$DB")
sqlite3 "$DB" 'pragma user_version = 99'
for c in "resume newer-1" "show newer-1" "list" "run $S/hello.yaml"; do
    runt $c --db "$DB"
    eq "schema version 99 ($c): exit 3" "$RC" 3
    contains "schema version 99 ($c): says so" "$ERR" "has schema version 99, newer than this wfdsl supports ($V)"
done
eq "schema version 99: the database is left alone" "$(sqlite3 "$DB" 'pragma user_version')|$(nevents newer-1 "$DB")" "99|$before"
sqlite3 "$DB" "pragma user_version = $V"
runt resume newer-1 --db "$DB"
eq "schema version restored: resume exits 0" "$RC" 0
check "schema version restored: completed steps ran once" [ "$(grep -c '^reserve ' "$L")" = 1 ]
sound "schema version restored" newer-1 "$DB"

# ============================================================================
# 2. hostile input
# ============================================================================

# --- a 100 MB input: refused before anything is recorded --------------------------
{ printf '{"name": "'; head -c 100000000 /dev/zero | tr '\0' a; printf '"}'; } >"$T/big.json"
t0=$(date +%s%N)
runt run "$S/hello.yaml" --db "$T/big.db" --id big-input --input "@$T/big.json"
el=$(ms_since "$t0")
sane "100 MB input"
eq "100 MB input: refused as bad input (exit 2)" "$RC" 2
matches "100 MB input: the message says it is too large" "$ERR" "input.*(too large|limit|cap|bytes)"
eq "100 MB input: no run recorded" "$(nruns big-input "$T/big.db")" 0
rm -f "$T/big.json" "$T/big.db"*

# the same through a pipe (no file size to look at), and an endless one
t0=$(date +%s%N)
runt run "$S/hello.yaml" --db "$T/big.db" --id big-pipe \
    --input @<(printf '{"name": "'; head -c 100000000 /dev/zero | tr '\0' a; printf '"}')
sane "100 MB input through a pipe"
eq "100 MB input through a pipe: refused as bad input (exit 2)" "$RC" 2
matches "100 MB input through a pipe: the message says it is too large" "$ERR" "input.*(too large|limit|cap|bytes)"
eq "100 MB input through a pipe: no run recorded" "$(nruns big-pipe "$T/big.db")" 0
runm run "$S/hello.yaml" --db "$T/big.db" --id endless-pipe --input @<(printf '{"name": "'; yes | tr -d '\n')
sane "endless input through a pipe (read within a bound, not until memory runs out)"
eq "endless input through a pipe: refused as bad input (exit 2)" "$RC" 2
rm -f "$T/big.db"*
# an endless workflow file
for c in check run; do
    runm $c /dev/zero
    sane "wfdsl $c /dev/zero (read within a bound, not until memory runs out)"
    eq "wfdsl $c /dev/zero: exit 2" "$RC" 2
done

# --- deep nesting ----------------------------------------------------------------------
python3 -c '
n = 10000
open("'"$T"'/deep-flow.yaml", "w").write("wfdsl: 1\nname: deep\nsteps:\n  - lua: return 1\noutput: " + "[" * n + "]" * n + "\n")
open("'"$T"'/deep-block.yaml", "w").write("wfdsl: 1\nname: deep\nsteps:\n  - lua: return 1\noutput:\n" + "".join("  " * (i + 1) + "k%d:\n" % i for i in range(n)))
open("'"$T"'/deep.json", "w").write("[" * 100000 + "]" * 100000)'
for f in deep-flow deep-block; do
    runt check "$T/$f.yaml"
    eq "YAML nested 10,000 deep ($f): exit 2" "$RC" 2
    contains "YAML nested 10,000 deep ($f): says how deep is allowed" "$ERR" "nesting deeper than"
    sane "YAML nested 10,000 deep ($f)"
done
runt run "$S/hello.yaml" --input "@$T/deep.json"
eq "JSON input nested 100,000 deep: exit 2" "$RC" 2
sane "JSON input nested 100,000 deep"

# --- billion laughs: anchors and aliases are refused ----------------------------------
{
    printf 'wfdsl: 1\nname: laughs\nvars:\n  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    prev=a
    for v in b c d e f g h i; do printf '  %s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n' $v $v $prev $prev $prev $prev $prev $prev $prev $prev $prev; prev=$v; done
    printf 'steps:\n  - lua: return len(vars.i)\n'
} >"$T/laughs.yaml"
t0=$(date +%s%N)
runt run "$T/laughs.yaml"
el=$(ms_since "$t0")
eq "billion laughs: exit 2" "$RC" 2
contains "billion laughs: anchors are refused" "$ERR" "anchors and aliases are not supported: write the value out"
check "billion laughs: refused at once ($el ms)" [ "$el" -lt 3000 ]
sane "billion laughs"

# --- invalid UTF-8 ----------------------------------------------------------------------------
printf 'wfdsl: 1\nname: bad\xff\xfename\nsteps:\n  - lua: return 1\n' >"$T/badutf.yaml"
runt check "$T/badutf.yaml"
eq "invalid UTF-8 in a workflow: exit 2" "$RC" 2
contains "invalid UTF-8 in a workflow: says where" "$ERR" "badutf.yaml:2:10: error: invalid UTF-8: byte 0xFF"
runt run "$S/hello.yaml" --input "$(printf '{"name": "a\xff\xfeb"}')"
eq "invalid UTF-8 in --input: exit 2" "$RC" 2
contains "invalid UTF-8 in --input: says so" "$ERR" "--input is not valid JSON"
printf '{"name": "a\xc3\x28b"}' >"$T/badutf.json"
runt run "$S/hello.yaml" --input "@$T/badutf.json"
eq "invalid UTF-8 in --input @file: exit 2" "$RC" 2
runt run "$S/hello.yaml" --id "$(printf 'bad-id-\xff')"
sane "invalid UTF-8 in --id"
eq "invalid UTF-8 in --id: refused (exit 2), not a run without its input" "$RC" 2
eq "invalid UTF-8 in --id: nothing recorded" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id = cast(x'6261642d69642dff' as text)")" 0

# a shell step or an HTTP response that is not UTF-8: the completion is
# recorded with its output (a crash after it must not lose it)
cat >"$T/bytes.yaml" <<'Y'
wfdsl: 1
name: bytes
input:
  ledger: {type: string}
steps:
  - id: bytes
    shell: printf 'a\377\376b'; printf '\300' >&2
  - id: next
    shell:
      script: echo next >> "$L"; sleep 0.3; printf ok
      env: {L: "${input.ledger}"}
output: ${ {next = steps.next.stdout, n = len(steps.bytes.stdout)} }
Y
runt run "$T/bytes.yaml" --id bytes-1 --input "{\"ledger\": \"$T/bytes-1.ledger\"}"
sane "shell output that is not UTF-8"
sound "shell output that is not UTF-8: its completion is recorded" bytes-1
WFDSL_TEST_KILL_AFTER_EVENT=6 "$WFDSL" run "$T/bytes.yaml" --id bytes-2 --input "{\"ledger\": \"$T/bytes-2.ledger\"}" >/dev/null 2>&1
runt resume bytes-2
eq "shell output that is not UTF-8, then a crash: resume exits 0" "$RC" 0
contains "shell output that is not UTF-8, then a crash: the run completes" "$OUT" '"next": "ok"'
runt replay bytes-1
eq "shell output that is not UTF-8: replay finds no divergence" "$RC" 0

# --- a 1 MB expression -----------------------------------------------------------------------------
python3 -c '
T = "'"$T"'"
head = "wfdsl: 1\nname: bigexpr\nsteps:\n  - lua: return 1\noutput: "
open(T + "/expr-str.yaml", "w").write(head + "${ len(\x27" + "x" * (1 << 20) + "\x27) }\n")
open(T + "/expr-sum.yaml", "w").write(head + "${ " + "+".join(["1"] * (1 << 19)) + " }\n")
open(T + "/expr-nest.yaml", "w").write(head + "${ " + "(" * (1 << 19) + "1" + ")" * (1 << 19) + " }\n")'
runt run "$T/expr-str.yaml"
eq "1 MB string literal in an expression: evaluated" "$RC|$OUT" "0|1048576"
runt run "$T/expr-sum.yaml"
eq "1 MB sum expression: evaluated" "$RC|$OUT" "0|524288"
runt run "$T/expr-nest.yaml"
eq "1 MB of nested parentheses: exit 2" "$RC" 2
contains "1 MB of nested parentheses: a syntax error" "$ERR" "expr-nest.yaml:5:9: error: Lua syntax error"
sane "1 MB of nested parentheses"

# --- unknown ids, payloads that are not JSON ----------------------------------------------------
for c in "signal nosuch go {}" "cancel nosuch" "terminate nosuch" "resume nosuch" "show nosuch" "history nosuch" "replay nosuch"; do
    runt $c
    eq "unknown id ($c): exit 2" "$RC" 2
    contains "unknown id ($c): says so" "$ERR" "no run with id 'nosuch'"
done
runt signal "" go '{}'
eq "empty id: exit 2" "$RC" 2
"$WFDSL" run "$S/approval.yaml" --id sig-1 --input '{"amount": 5}' >"$T/sig.out" 2>"$T/sig.err" &
rp=$!
for ((i = 0; i < 100; i++)); do [ "$(nruns sig-1)" = 1 ] && break; sleep 0.05; done
for p in '{approved: true' 'true false' '' "$(printf '"\xff"')" '"\udc00"' '{"by": "\u0000"}' "'single'" 'NaN'; do
    runt signal sig-1 decision "$p"
    eq "signal payload '$p': exit 2" "$RC" 2
    contains "signal payload '$p': not valid JSON" "$ERR" "the signal payload is not valid JSON"
done
eq "payloads that are not JSON are not stored" "$(sqlite3 "$WFDSL_DB" "select count(*) from signals where run_id=(select run_id from runs where workflow_id='sig-1')")" 0
runt signal sig-1 decision '{"approved": true, "by": "ann"}'
eq "then a valid payload is sent" "$RC" 0
wait "$rp"
eq "the run gets the valid one" "$(json 'd["outcome"]' "$(cat "$T/sig.out")")" "approved by ann"
runt signal sig-1 decision '{"approved": false}'
eq "a signal to a finished run: exit 2" "$RC" 2
contains "a signal to a finished run: says so" "$ERR" "already finished (completed); the signal was not delivered"
runt cancel sig-1
eq "cancel of a finished run: exit 2" "$RC" 2

# --- step outputs over the cap (4 MiB) ------------------------------------------------------------
cat >"$T/flood.yaml" <<'Y'
wfdsl: 1
name: flood
steps:
  - id: flood
    shell: head -c 10485760 /dev/zero | tr '\0' x; head -c 6000000 /dev/zero | tr '\0' y >&2
output: ${ {out = len(steps.flood.stdout), err = len(steps.flood.stderr), truncated = steps.flood.truncated, code = steps.flood.code} }
Y
runt run "$T/flood.yaml" --id flood-1
eq "a shell step printing 10 MB: exit 0" "$RC" 0
eq "a shell step printing 10 MB: stdout and stderr capped at 4 MiB, marked truncated" \
    "$(json 'd["out"], d["err"], d["truncated"], d["code"]' "$OUT")" "[4194304,4194304,true,0]"
check "a shell step printing 10 MB: the recorded output is capped too" \
    [ "$(sqlite3 "$WFDSL_DB" "select max(length(payload)) from events e join runs r using(run_id) where r.workflow_id='flood-1'")" -lt 9000000 ]
sane "a shell step printing 10 MB"
cat >"$T/floodj.yaml" <<'Y'
wfdsl: 1
name: floodj
steps:
  - id: j
    shell:
      script: printf '["'; head -c 10485760 /dev/zero | tr '\0' x; printf '"]'
      output: json
Y
runt run "$T/floodj.yaml"
eq "10 MB of JSON output: the step fails (exit 1)" "$RC" 1
contains "10 MB of JSON output: shell.output" "$ERR" "shell.output: stdout is not JSON"

. tests/http.sh
trap cleanup EXIT # http.sh set its own; cleanup kills the server too
cat >"$T/bighttp.yaml" <<'Y'
wfdsl: 1
name: bighttp
input:
  url: {type: string}
steps:
  - id: get
    http: ${ input.url }
output: ${ len(steps.get.body) }
Y
runt run "$T/bighttp.yaml" --input "{\"url\": \"$BASE/big/4194304\"}"
eq "an HTTP body of exactly 4 MiB is accepted" "$RC|$OUT" "0|4194304"
for q in "" "?chunked=1"; do
    runt run "$T/bighttp.yaml" --input "{\"url\": \"$BASE/big/10000000$q\"}"
    eq "an HTTP body of 10 MB$q: the step fails (exit 1)" "$RC" 1
    contains "an HTTP body of 10 MB$q: http.too_large" "$ERR" "http.too_large: GET $BASE/big/10000000$q: response body is over the 4194304 byte cap"
    sane "an HTTP body of 10 MB$q"
done
# a response body that is not UTF-8 (served from a file): recorded, replayable
mkdir -p "$T/www"; printf 'a\377b' >"$T/www/bytes.txt"
python3 -c '
import http.server, functools, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
h = functools.partial(Quiet, directory=sys.argv[1])
s = http.server.HTTPServer(("127.0.0.1", 0), h)
open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1])); __import__("os").rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()' "$T/www" "$T/www.port" &
WWWPID=$!
for ((i = 0; i < 100; i++)); do [ -s "$T/www.port" ] && break; sleep 0.05; done
runt run "$T/bighttp.yaml" --id bytes-http --input "{\"url\": \"http://127.0.0.1:$(cat "$T/www.port")/bytes.txt\"}"
kill $WWWPID 2>/dev/null
sane "an HTTP body that is not UTF-8"
sound "an HTTP body that is not UTF-8: its completion is recorded" bytes-http
runt replay bytes-http
eq "an HTTP body that is not UTF-8: replay finds no divergence" "$RC" 0

# ============================================================================
# 3. the Lua sandbox
# ============================================================================

# lua_case NAME TYPE MESSAGE CHUNK: the chunk fails its step with TYPE and a
# message containing MESSAGE; the run fails (exit 1) within 20 s. The cases
# run in parallel (a hang costs 20 s once); lua_results checks them in order.
LUA_CASES=() LUA_PIDS=()
lua_case() {
    local name="$1" chunk="$4"
    { printf 'wfdsl: 1\nname: sandbox\nsteps:\n  - id: evil\n    lua: |\n'
      sed 's/^/      /' <<<"$chunk"
      printf 'output: ${ steps.evil }\n'; } >"$T/lua-$name.yaml"
    LUA_CASES+=("$1" "$2" "$3")
    ( timeout -s KILL 20 "$WFDSL" run "$T/lua-$name.yaml" --db "$T/lua-$name.db" --id "lua-$name" \
          >"$T/lua-$name.out" 2>"$T/lua-$name.err"
      echo $? >"$T/lua-$name.rc" ) &
    LUA_PIDS+=($!)
}
lua_results() {
    wait "${LUA_PIDS[@]}"
    local i name type msg got
    for ((i = 0; i < ${#LUA_CASES[@]}; i += 3)); do
        name="${LUA_CASES[i]}" type="${LUA_CASES[i + 1]}" msg="${LUA_CASES[i + 2]}"
        RC=$(cat "$T/lua-$name.rc"); ERR=$(head -c 20000 "$T/lua-$name.err")
        if [ "$RC" -gt 3 ]; then # one line for a hang or a crash, not four
            fail "lua $name: fails its step with $type within 20 s" "exit $RC (137: killed after 20 s): $(tail -c 300 <<<"$ERR")"
            continue
        fi
        sane "lua $name"
        eq "lua $name: the run fails (exit 1)" "$RC" 1
        runt show "lua-$name" --json --db "$T/lua-$name.db"
        got=$(json '[d["error"]["type"], d["error"]["step"]] if d.get("error") else d["status"]' "$OUT" 2>/dev/null)
        eq "lua $name: the step fails with $type" "$got" "[\"$type\",\"evil\"]"
        contains "lua $name: a clear message" "$(json 'd["error"]["message"]' "$OUT" 2>/dev/null)" "$msg"
    done
    LUA_CASES=() LUA_PIDS=()
}
lua_case rep-huge lua "resulting string too large" 'return string.rep("x", 1 << 40)'
lua_case rep-many lua.limit "memory limit of 67108864 bytes exceeded" \
    'local s = string.rep("x", 1 << 20); local t = {}; for i = 1, 200 do t[i] = s .. i end; return #t'
lua_case rep-double lua.limit "memory limit of 67108864 bytes exceeded" \
    'local s = "x"; for i = 1, 40 do s = s .. s end; return #s'
lua_case rep-sep lua "resulting string too large" 'return #string.rep("", 1e12, "ab")'
lua_case table-bomb lua.limit "memory limit" 'local t = {}; for i = 1, 1e9 do t[i] = {i} end'
lua_case recursion lua "stack overflow" 'local function f(n) return f(n + 1) + 1 end; return f(1)'
lua_case meta-recursion lua "stack overflow" \
    'local t = setmetatable({}, {__index = function(t, k) return t[k .. "x"] end}); return t.a'
lua_case loop lua.limit "instruction limit of 20000000 exceeded" 'while true do end'
lua_case loop-in-pcall lua.limit "instruction limit of 20000000 exceeded" \
    'local ok, e = pcall(function() while true do end end); return {ok = ok, e = e}'
lua_case loop-in-xpcall lua.limit "instruction limit" \
    'return xpcall(function() while true do end end, function(e) return e end)'
lua_case error-handler-loop lua.limit "instruction limit" \
    'return xpcall(function() error("x") end, function(e) while true do end end)'
lua_case sort-loop lua.limit "limit" \
    'local t = {}; for i = 1, 1e5 do t[i] = i end; table.sort(t, function(a, b) while true do end end)'
lua_case gsub-loop lua.limit "limit" \
    'return (string.rep("a", 1000):gsub("a", function() while true do end end))'
lua_case tostring-loop lua.limit "limit" \
    'return tostring(setmetatable({}, {__tostring = function() while true do end end}))'
# backtracking patterns: quadratic on a long subject, exponential on a short one
lua_case pattern-quadratic lua.limit "limit" 'return (string.rep("a", 100000)):find(".-b")'
lua_case pattern-lazy lua.limit "limit" 'return (string.rep("a", 3000)):find(".-.-.-b")'
lua_case pattern-exponential lua.limit "limit" \
    'return (string.rep("a", 28)):find(string.rep("a?", 28) .. string.rep("a", 28))'
lua_case gmatch-quadratic lua.limit "limit" \
    'local n = 0; for m in (string.rep("a", 100000)):gmatch(".-b") do n = n + 1 end; return n'
lua_results

# what is removed: used by name it is a check error; reached through _G it is nil
for name in load loadstring dofile loadfile require package debug io os coroutine collectgarbage print; do
    printf 'wfdsl: 1\nname: absent\nsteps:\n  - lua: return %s\n' "$name" >"$T/absent.yaml"
    runt check "$T/absent.yaml"
    eq "lua: '$name' by name is a check error" "$RC" 2
    contains "lua: '$name' by name: says so" "$ERR" "unknown name '$name'"
done
{ printf 'wfdsl: 1\nname: absent\nsteps:\n  - id: probe\n    lua: |\n'
  printf '      local out = {}\n'
  printf '      for _, n in ipairs({"load", "loadstring", "dofile", "loadfile", "require", "package", "debug", "io", "os", "coroutine", "collectgarbage", "print", "rawset", "next", "warn"}) do out[n] = type(rawget(_G, n)) end\n'
  printf '      out["string.dump"] = type(string.dump)\n      out["math.random"] = type(math.random)\n'
  printf '      return out\noutput: ${ steps.probe }\n'; } >"$T/absent.yaml"
runt run "$T/absent.yaml"
eq "lua: the removed functions are nil at run time" \
    "$(json 'sorted(set(d.values()))' "$OUT")" '["nil"]'
lua_case call-load lua "attempt to call a nil value" 'return rawget(_G, "lo" .. "ad")("return 1")'
lua_case call-os-exit lua "attempt to index a nil value" 'return rawget(_G, "o" .. "s").exit(0)'
lua_case call-collectgarbage lua "attempt to call a nil value" \
    'for i = 1, 100 do rawget(_G, "collect" .. "garbage")("collect") end'
lua_case call-coroutine lua "attempt to index a nil value" \
    'local co = rawget(_G, "corou" .. "tine").wrap(function() while true do end end); return co()'
lua_case call-require lua "attempt to call a nil value" 'return rawget(_G, "req" .. "uire")("os")'
lua_case string-dump lua "attempt to call a nil value" 'return string.dump(function() end)'
lua_results
# a binary chunk: only text is compiled
printf 'wfdsl: 1\nname: binary\nsteps:\n  - id: evil\n    lua: "\\eLuaT\\x00\\x19\\x93return 1"\n' >"$T/binary.yaml"
runt run "$T/binary.yaml" --id lua-binary
sane "lua binary chunk"
check "lua binary chunk: refused (exit 1 or 2)" [ "$RC" = 1 -o "$RC" = 2 ]
matches "lua binary chunk: a syntax error, never loaded" "$ERR" "syntax|binary|unexpected symbol"
# shared metatables
lua_case string-metatable lua "attempt to index a boolean value" \
    'getmetatable("").__index = {evil = function() return "pwned" end}; return ("x"):evil()'
lua_case setmetatable-string lua "bad argument" 'setmetatable("", {})'
lua_case array-metatable lua "attempt to index a string value" \
    'local mt = getmetatable(json.array()); mt.__index = function() return "pwned" end; return json.array()[1]'
lua_case gc-metamethod lua "__gc" 'return setmetatable({}, {__gc = function() end})'
lua_case format-p lua "%p" 'return string.format("%p", {})'
lua_results
# a run cannot poison its library tables (they are read-only) nor keep a
# global; another run (a child in the same process) sees clean ones
cat >"$T/kid.yaml" <<'Y'
wfdsl: 1
name: kid
steps:
  - id: up
    lua: return {upper = string.upper("abc"), leak = rawget(_G, "leak") or "none", rep = string.rep("a", 2)}
output: ${ steps.up }
Y
cat >"$T/poison.yaml" <<'Y'
wfdsl: 1
name: poison
steps:
  - id: poison
    lua: |
      local a = pcall(function() string.upper = function() return "pwned" end end)
      local b, e = pcall(function() string.rep = function() return "pwned" end end)
      leak = "global"
      return {a, b, e, string.upper("abc"), leak}
  - id: after
    lua: return rawget(_G, "leak") or "none"
  - id: kid
    call: {workflow: kid.yaml}
output: ${ {poison = steps.poison, after = steps.after, kid = steps.kid} }
Y
runt run "$T/poison.yaml"
eq "lua: library tables are read-only, a global lasts for its call" \
    "$(json 'd["poison"], d["after"]' "$OUT")" \
    '[[false,false,"poison.yaml:7: setting field \"rep\": the library tables (string, table, math, utf8, json, time...) are read-only: keep your own helpers in local variables","ABC","global"],"none"]'
eq "lua: another run (a child, same process) has clean library tables" \
    "$(json 'd["kid"]' "$OUT")" '{"leak":"none","rep":"aa","upper":"ABC"}'
# after each failure the run goes on: try/catch around every bomb in turn
cat >"$T/goes-on.yaml" <<'Y'
wfdsl: 1
name: goes-on
input:
  kinds: {type: array, default: [mem, loop, rec, rep]}
steps:
  - id: all
    foreach:
      items: input.kinds
      as: kind
      steps:
        - try:
            steps:
              - id: evil
                lua: |
                  if kind == "mem" then local t = {} for i = 1, 1e9 do t[i] = tostring(i) end end
                  if kind == "loop" then pcall(function() while true do end end) end
                  if kind == "rec" then local function f() return 1 + f() end return f() end
                  if kind == "rep" then return string.rep("x", 1 << 40) end
            catch:
              - errors: [lua]
                as: e
                steps:
                  - id: caught
                    lua: return e.type
      result: ${ steps.caught }
  - id: after
    lua: return string.rep("ok", 2) .. " " .. len(json.array()) .. " " .. string.upper("x")
output: ${ {caught = steps.all, after = steps.after} }
Y
runt run "$T/goes-on.yaml"
sane "lua: four bombs in one run"
eq "lua: four bombs caught in turn, then the run goes on with a sound state" \
    "$(json '[t.split(".")[0] for t in d["caught"]], d["after"]' "$OUT" 2>/dev/null)" '[["lua","lua","lua","lua"],"okok 0 X"]'

# ============================================================================
# 4. shell safety
# ============================================================================

cat >"$T/inject.yaml" <<'Y'
wfdsl: 1
name: inject
input:
  p: {type: string}
  dir: {type: string}
steps:
  - id: env
    shell:
      script: printf '%s' "$P"
      env: {P: "${input.p}"}
  - id: argv
    shell:
      argv: [printf, "%s", "${input.p}"]
  - id: argv_sh
    shell:
      argv: [sh, -c, 'printf "%s" "$1"', sh, "${input.p}"]
  - id: stdin
    shell:
      script: cat
      stdin: ${ input.p }
  - id: cwd
    shell:
      script: pwd
      cwd: "${input.dir}/${input.p}"
  - id: script
    shell:
      script: printf '%s' '${input.p}'
  - id: ids
    shell:
      script: printf '%s' "$WFDSL_WORKFLOW_ID"
  - id: sig
    wait: {signal: payload, timeout: 30s}
  - id: from_signal
    shell:
      script: printf '%s' "$S"
      env: {S: "${steps.sig.p}"}
  - id: from_output
    shell:
      argv: [printf, "%s", "${steps.env.stdout}"]
output:
  env: ${ steps.env.stdout }
  argv: ${ steps.argv.stdout }
  argv_sh: ${ steps.argv_sh.stdout }
  stdin: ${ steps.stdin.stdout }
  cwd: ${ steps.cwd.stdout }
  script: ${ steps.script.stdout }
  ids: ${ steps.ids.stdout }
  from_signal: ${ steps.from_signal.stdout }
  from_output: ${ steps.from_output.stdout }
Y
PW="$T/pwned"
k=0
while IFS= read -r tmpl; do
    k=$((k + 1))
    f="$PW-$k"
    p="${tmpl//FILE/$f}"
    mkdir -p "$T/cwd/$p"
    id="inject-$k-$p"
    in=$(python3 -c 'import json, sys; print(json.dumps({"p": sys.argv[1], "dir": sys.argv[2]}))' "$p" "$T/cwd")
    sig=$(python3 -c 'import json, sys; print(json.dumps({"p": sys.argv[1]}))' "$p")
    "$WFDSL" run "$T/inject.yaml" --id "$id" --input "$in" >"$T/inj.out" 2>"$T/inj.err" &
    rp=$!
    for ((i = 0; i < 100; i++)); do "$WFDSL" signal "$id" payload "$sig" >/dev/null 2>&1 && break; sleep 0.05; done
    wait "$rp"; RC=$?
    eq "payload $k ($p): the run completes" "$RC" 0
    got=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); p = sys.argv[2]
want = {"env": p, "argv": p, "argv_sh": p, "stdin": p, "cwd": sys.argv[3] + "/" + p + "\n",
        "script": "${input.p}", "ids": sys.argv[4], "from_signal": p, "from_output": p}
print(" ".join(k for k in want if d.get(k) != want[k]) or "intact")' "$T/inj.out" "$p" "$T/cwd" "$id" 2>&1)
    eq "payload $k ($p): arrives intact in env, argv, stdin, cwd, the id, from a signal and a step output" "$got" intact
    check "payload $k ($p): nothing ran" [ ! -e "$f" ]
done <<'P'
$(touch FILE)
`touch FILE`
; touch FILE
|| touch FILE
&& touch FILE
| touch FILE
x'; touch FILE; echo '
x"; touch FILE; echo "
$(touch FILE)${IFS}`touch FILE`
P
check "no payload ran anywhere" bash -c "! ls '$T' | grep -q '^pwned'"
