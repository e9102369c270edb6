# commits.sh — what shares a commit, and what must be committed first.
# 1. A new run is recorded in the engine's transaction and committed with the
#    first events of its turn: an effect still sees, from another connection,
#    the run, its input and its own step_started before it starts.
# 2. Batched claims: a worker takes the leases of a whole claim in one
#    transaction; each lease is still a conditional update under the write
#    lock, so two workers woken by the same due time never take the same run:
#    every effect runs once, and both workers take part. Parking is batched
#    the same way (one commit per turn), and a FULL worker fires many due
#    timers with far fewer fsyncs than runs.
. tests/lib.sh

# --- 1. the run and the effect's step_started are committed before it starts ------
cat >"$T/sees.yaml" <<'Y'
wfdsl: 1
name: sees
input:
  db: {type: string}
steps:
  - id: pure
    lua: return 41
  - id: look
    shell:
      argv: [sqlite3, "${input.db}", "select r.input || ' ' || group_concat(e.type, ',') from runs r join events e using(run_id) where r.workflow_id = 'sees-1' group by r.run_id"]
output: ${ steps.look.stdout }
Y
run_wf run "$T/sees.yaml" --id sees-1 --input "{\"db\": \"$WFDSL_DB\"}"
eq "a run whose first steps are pure completes" "$RC" 0
contains "its effect saw the run and its input committed" "$OUT" '{\"db\":'
contains "... and every event before its own start" "$OUT" "run_started,step_scheduled,step_started,step_completed,step_scheduled,step_started"

N=300
AT=$(($(date +%s) + 8))
cat >"$T/due.yaml" <<Y
wfdsl: 1
name: due
input:
  at: {type: number}
steps:
  - sleep: {until: "\${input.at}"}
  - shell:
      script: echo "\$WFDSL_WORKFLOW_ID \$PPID" >> "$T/effects"
Y
cat >"$T/spawn.yaml" <<Y
wfdsl: 1
name: spawn
input:
  at: {type: number}
steps:
  - id: all
    foreach:
      items: "(function() local t = {} for i = 1, $N do t[i] = i end return t end)()"
      concurrency: 50
      steps:
        - call: {workflow: due.yaml, input: {at: "\${input.at}"}, detach: true, id: "due-\${index}"}
Y
run_wf run "$T/spawn.yaml" --input "{\"at\": $AT}" --durability normal
eq "$N runs recorded for the workers" "$RC/$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='due'")" "0/$N"

start_worker() { "$WFDSL" worker --quiet "$@" >>"$T/worker.log" 2>&1 & }
start_worker --concurrency 40; wa=$!
start_worker --concurrency 40; wb=$!
for ((i = 0; i < 100; i++)); do
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='due' and status='waiting'")" = $N ] && break
    sleep 0.05
done
eq "both workers parked all $N runs before they were due" \
    "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='due' and status='waiting' and owner is null")" $N
check "before the due time" [ "$(date +%s)" -lt $AT ]
for ((i = 0; i < 600; i++)); do
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='due' and status='completed'")" = $N ] && break
    sleep 0.1
done
kill $wa $wb; wait $wa; ra=$?; wait $wb; rb=$?
eq "both workers stopped cleanly" "$ra/$rb" "0/0"
eq "all $N runs completed" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='due' and status='completed'")" $N
eq "every effect ran exactly once" "$(cut -d' ' -f1 "$T/effects" | sort | uniq -d | wc -l)/$(wc -l <"$T/effects")" "0/$N"
check "both workers took part" [ "$(cut -d' ' -f2 "$T/effects" | sort -u | wc -l)" -eq 2 ]
eq "each run's shell step was started once" \
    "$(sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r using(run_id) where r.name='due' and e.type='step_started'")" $((2 * N))
eq "no worker reported an error" "$(cat "$T/worker.log")" ""

# One FULL worker, 200 runs parked, then due at once: parks, claims, unparks
# and completions share commits (a handful of fsyncs per claim of up to 100
# runs, where each run used to cost 3 of its own).
if command -v strace >/dev/null; then
    AT=$(($(date +%s) + 5))
    printf 'wfdsl: 1\nname: late\ninput:\n  at: {type: number}\nsteps:\n  - sleep: {until: "${input.at}"}\n  - lua: return 1\n' >"$T/late.yaml"
    sed 's/due-/late-/; s/due.yaml/late.yaml/; s/i = 1, '$N'/i = 1, 200/' "$T/spawn.yaml" >"$T/spawn2.yaml"
    run_wf run "$T/spawn2.yaml" --input "{\"at\": $AT}" --durability normal
    strace -f -c -e trace=fdatasync,fsync -o "$T/strace.txt" "$WFDSL" worker --quiet --concurrency 100 >>"$T/worker.log" 2>&1 &
    w=$!
    for ((i = 0; i < 600; i++)); do
        [ "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'late-%' and status='completed'")" = 200 ] && break
        sleep 0.1
    done
    kill $(pgrep -P $w); wait $w # the worker; strace ends with it
    eq "200 late runs completed" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'late-%' and status='completed'")" 200
    syncs=$(awk '$NF == "fdatasync" || $NF == "fsync" {n += $4} END {print n + 0}' "$T/strace.txt")
    check "fsyncs of the worker for 200 runs parked and woken: $syncs (< 60)" [ "$syncs" -lt 60 ]
fi
rm -rf "$T"
