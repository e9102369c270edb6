# cron.sh — triggers under real workers: exactly-once slots with two
# workers, catch-up after downtime, overlap policies, manual actions.
# Time windows are scaled down (seconds instead of minutes).
. tests/lib.sh

worker() { "$WFDSL" worker --quiet --durability normal >>"$T/worker.log" 2>&1 & }
slots() { sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='$1' and kind='$2'"; }

# --- two workers, every: 1s, for 20 s: each slot exactly once --------------------
cat >"$T/every.yaml" <<Y
wfdsl: 1
name: every
triggers:
  - every: 1s
    overlap: allow_all
steps:
  - shell:
      script: echo "\$SLOT" >> "$T/every.ledger"
      env: {SLOT: "\${run.scheduled_at}"}
Y
run_wf deploy "$T/every.yaml"
contains "deploy names the next fire" "$OUT" "deployed every"
worker; w1=$!; worker; w2=$!
sleep 20
kill $w1 $w2; wait $w1 $w2
sleep 0.2
n=$(wc -l <"$T/every.ledger")
check "about 20 slots fired in 20 s ($n)" [ "$n" -ge 18 -a "$n" -le 22 ]
eq "no slot started twice" "$(sort "$T/every.ledger" | uniq -d | wc -l)" 0
eq "each fired slot has one run" "$(sqlite3 "$WFDSL_DB" "select count(distinct workflow_id) from runs where name='every'")" "$(slots every fired)"
eq "run ids are <workflow>@<nominal time>" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='every' and workflow_id not glob 'every@20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'")" 0
run_wf undeploy every
eq "undeploy" "$RC" 0

# --- catch-up: slots inside the window run after downtime, older ones are missed ---
cat >"$T/catchup.yaml" <<Y
wfdsl: 1
name: catchup
triggers:
  - every: 1s
    catchup: 3s
    overlap: allow_all
steps:
  - lua: return run.scheduled_at
Y
"$WFDSL" deploy "$T/catchup.yaml" >/dev/null
deployed=$(date +%s%N)
sleep 8   # the worker is "down" for 8 s
restart=$(date +%s%N)
worker; w=$!
sleep 2
kill $w; wait $w
fired_early=$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='catchup' and kind='fired' and slot_ms < $((restart / 1000000))")
missed=$(slots catchup missed)
check "slots older than the 3 s window were recorded as missed ($missed)" [ "$missed" -ge 4 -a "$missed" -le 6 ]
check "slots inside the window ran after the restart ($fired_early)" [ "$fired_early" -ge 2 -a "$fired_early" -le 4 ]
bad=$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='catchup' and kind='missed' and slot_ms >= $((restart / 1000000)) - 2500")
eq "no slot inside the window was missed" "$bad" 0
run_wf schedule show catchup --json
eq "show counts missed slots" "$(json 'd["counts"]["missed"]' "$OUT")" "$missed"
"$WFDSL" undeploy catchup >/dev/null

# --- overlap: skip never runs two at once; buffer_one runs one buffered slot --------
for pol in skip buffer_one; do
cat >"$T/$pol.yaml" <<Y
wfdsl: 1
name: $pol
triggers:
  - every: 1s
    overlap: $pol
steps:
  - shell:
      script: echo "start \$(date +%s%N)" >> "$T/$pol.ledger"; sleep 2.5; echo "end \$(date +%s%N)" >> "$T/$pol.ledger"
Y
"$WFDSL" deploy "$T/$pol.yaml" >/dev/null
done
worker; w=$!
sleep 7
"$WFDSL" schedule pause skip --note "stop for the test" >/dev/null
"$WFDSL" schedule pause buffer_one --note "stop for the test" >/dev/null
sleep 4
kill $w; wait $w
# overlapping runs would show two starts without an end between them
overlaps() { awk '$1=="start"{if(open)bad++; open=1} $1=="end"{open=0} END{print bad+0}' "$T/$1.ledger"; }
eq "overlap skip: never two runs at once" "$(overlaps skip)" 0
check "overlap skip: slots were skipped ($(slots skip skipped))" [ "$(slots skip skipped)" -ge 2 ]
eq "overlap buffer_one: never two runs at once" "$(overlaps buffer_one)" 0
eq "buffer_one: exactly one slot buffered each time it was busy" "$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='buffer_one' and kind='fired' and slot_ms < (select min(time_ms) from schedule_slots s2 where s2.name='buffer_one' and s2.kind='fired' and s2.time_ms - s2.slot_ms > 500)")" "$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='buffer_one' and kind='fired' and slot_ms < (select min(time_ms) from schedule_slots s2 where s2.name='buffer_one' and s2.kind='fired' and s2.time_ms - s2.slot_ms > 500)")"
late=$(sqlite3 "$WFDSL_DB" "select count(*) from schedule_slots where name='buffer_one' and kind='fired' and time_ms - slot_ms > 500")
check "buffer_one: buffered slots ran after the busy run ($late)" [ "$late" -ge 1 ]
check "buffer_one: the other slots were skipped" [ "$(slots buffer_one skipped)" -ge 1 ]

# --- manual actions are recorded -----------------------------------------------------
run_wf schedule show skip --json
eq "pause is recorded with its note" "$(json '[l["action"] + ":" + (l["note"] or "") for l in d["log"]][0]' "$OUT")" "pause:stop for the test"
eq "a paused schedule says so" "$(json 'd["paused"]' "$OUT")" "true"
run_wf schedule trigger skip --note manual
contains "trigger starts a run now" "$OUT" "skip@"
run_wf schedule backfill skip --from 2026-01-01T00:00:00Z --to 2026-01-01T00:00:04Z --note "replay of new year"
eq "backfill starts one run per slot" "$OUT" "backfill of skip: 5 runs started"
run_wf schedule show skip --json
eq "the log has trigger and backfill" "$(json '[l["action"] for l in d["log"]][:2]' "$OUT")" '["backfill","trigger"]'
run_wf schedule preview "$T/skip.yaml" -n 2 --from 2026-03-01T00:00:00Z --json
eq "preview --json prints RFC 3339 UTC times" "$OUT" "$(printf '[\n  "2026-03-01T00:00:01Z",\n  "2026-03-01T00:00:02Z"\n]')"
run_wf schedule show nope
eq "an unknown schedule is exit 2" "$RC" 2

# --- cron with a time zone and DST: preview of a deployed file ----------------------
cat >"$T/berlin.yaml" <<'Y'
wfdsl: 1
name: berlin
triggers:
  - cron: "30 2 * * *"
    timezone: Europe/Berlin
steps:
  - lua: return 1
Y
run_wf schedule preview "$T/berlin.yaml" -n 3 --from 2026-03-28T00:00:00Z --json
eq "02:30 Berlin on the spring-forward day fires at 03:00 CEST (01:00Z)" "$(json 'd' "$OUT")" '["2026-03-28T01:30:00Z","2026-03-29T01:00:00Z","2026-03-30T00:30:00Z"]'
printf 'wfdsl: 1\nname: badcron\ntriggers:\n  - cron: "61 * * * *"\nsteps:\n  - lua: return 1\n' >"$T/badcron.yaml"
run_wf check "$T/badcron.yaml"
contains "an invalid expression names its field at check time" "$ERR" "minute: 61 is out of range 0-59"

# --- data intervals (Airflow 2): a slot covers the time since the previous one ---
cat >"$T/interval.yaml" <<'Y'
wfdsl: 1
name: interval
triggers:
  - cron: "0 6 * * MON-FRI"
    interval: data
    start_at: 2026-01-05T00:00:00Z
  - every: 12h
    interval: trigger
    start_at: 2030-01-01T00:00:00Z
steps:
  - id: dates
    lua: |
      return {ds = time.format(run.logical_date, "%Y-%m-%d"), start = run.interval_start,
              ["end"] = run.interval_end, fired = run.scheduled_at}
output: ${ steps.dates }
Y
run_wf schedule preview "$T/interval.yaml" -n 3 --from 2026-01-01T00:00:00Z --json
eq "data interval: the first slot after start_at only opens the first interval" "$(json 'd' "$OUT")" \
    '["2026-01-06T06:00:00Z","2026-01-07T06:00:00Z","2026-01-08T06:00:00Z"]'
run_wf deploy "$T/interval.yaml"
run_wf schedule backfill interval --from 2026-01-09T00:00:00Z --to 2026-01-13T00:00:00Z
eq "data interval: backfill over a weekend" "$OUT" "backfill of interval: 2 runs started"
"$WFDSL" resume 'interval@2026-01-12T06:00:00Z' >/dev/null 2>&1
run_wf show 'interval@2026-01-12T06:00:00Z' --json
eq "data interval: Monday's run covers Friday 06:00 to Monday 06:00, logical date Friday" \
    "$(json 'd["output"]["ds"], d["output"]["start"], d["output"]["end"], d["output"]["fired"]' "$OUT")" \
    '["2026-01-09","2026-01-09T06:00:00.000Z","2026-01-12T06:00:00.000Z","2026-01-12T06:00:00.000Z"]'
run_wf schedule backfill interval --from 2030-01-01T00:00:00Z --to 2030-01-01T00:00:00Z
"$WFDSL" resume 'interval@2030-01-01T00:00:00Z' >/dev/null 2>&1
run_wf show 'interval@2030-01-01T00:00:00Z' --json
eq "trigger interval: the run covers its fire time" \
    "$(json 'd["output"]["ds"], d["output"]["start"], d["output"]["end"]' "$OUT")" \
    '["2030-01-01","2030-01-01T00:00:00.000Z","2030-01-01T00:00:00.000Z"]'
run_wf undeploy interval
printf 'wfdsl: 1\nname: badiv\ntriggers: [{every: 1h, interval: daily}]\nsteps: [{lua: return 1}]\n' >"$T/badiv.yaml"
run_wf check "$T/badiv.yaml"
contains "interval: a bad value is a check error" "$ERR" "badiv.yaml:3:34: error: 'interval' must be 'trigger'"

# --- catch-up from start_at on the first deploy (Airflow's catchup=True) ---
start=$(python3 -c 'import time, datetime; t = int(time.time()) - 5 * 3600 - 1800; print(datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))')
cat >"$T/since.yaml" <<Y
wfdsl: 1
name: since-start
triggers:
  - every: 1h
    interval: data
    start_at: $start
    catchup: 1d
    overlap: allow_all
steps:
  - lua: return run.logical_date
Y
run_wf deploy "$T/since.yaml"
contains "catchup: the first deploy starts at the first interval after start_at" "$OUT" \
    "next fire $(python3 -c 'import datetime,sys; t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ") + datetime.timedelta(hours=1); print(t.strftime("%Y-%m-%dT%H:%M:%S"))' "$start")"
worker; w=$!
for _ in $(seq 50); do
    [ "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='since-start' and status='completed'")" = 5 ] && break
    sleep 0.2
done
kill -TERM $w; wait $w 2>/dev/null
eq "catchup: the 5 intervals since start_at ran once each" \
    "$(sqlite3 "$WFDSL_DB" "select count(*), count(distinct workflow_id) from runs where name='since-start'")" "5|5"
run_wf deploy "$T/since.yaml"
contains "catchup: a redeploy does not catch up again" "$OUT" "next fire"
eq "catchup: no run more after the redeploy" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where name='since-start'")" 5
run_wf undeploy since-start
