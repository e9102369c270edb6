# http.sh — start the test HTTP server for a case: sets $BASE and $SRVLOG.
# Sourced after tests/lib.sh; the server is killed when the case exits.
SRVLOG="$T/requests.log"
python3 tests/http_server.py --port-file "$T/port" --log "$SRVLOG" &
SRVPID=$!
trap 'kill $SRVPID 2>/dev/null; wait $SRVPID 2>/dev/null' EXIT
for ((i = 0; i < 100; i++)); do [ -s "$T/port" ] && break; sleep 0.05; done
BASE="http://127.0.0.1:$(cat "$T/port")"

# requests PATH-PREFIX: the recorded requests whose path starts with it, as a JSON array
requests() { python3 -c '
import json, sys
out = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["path"].startswith(sys.argv[2]): out.append(r)
print(json.dumps(out))' "$SRVLOG" "$1"; }

# event_times ID TYPE: epoch ms of the run's events of that type, one per line
event_times() { sqlite3 "$WFDSL_DB" "select e.time_ms from events e join runs r using(run_id) where r.workflow_id='$1' and e.type='$2' order by e.seq"; }
