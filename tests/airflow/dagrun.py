#!/usr/bin/env python3
"""dagrun.py — check a finished run of an imported DAG (tests/cases/airflow.sh).

usage: dagrun.py WFDSL RUN-ID EXPECT

EXPECT is a space-separated list of
  status=completed|failed     the run's status
  TASK=STATE                  a task's final state (success, failed, upstream_failed, skipped)
  A<B                         task A ended before task B started
  TASK~REGEX                  REGEX matches in the task's output (as compact JSON)
  error~REGEX                 REGEX matches in the run's error (as compact JSON)
It prints nothing and exits 0 when all hold, else one line per mismatch.
"""
import json
import re
import subprocess
import sys


def wf(*args):
    r = subprocess.run([sys.argv[1], *args], capture_output=True, text=True)
    return json.loads(r.stdout) if r.stdout.strip() else None


def main():
    show = wf("show", sys.argv[2], "--json")
    hist = wf("history", sys.argv[2], "--json")
    if show is None or hist is None:
        print("no such run " + sys.argv[2])
        return 1
    out = show.get("output")
    err = show.get("error") or {}
    tasks = out if isinstance(out, dict) else (err.get("details") or {}).get("tasks") or {}
    # order: a task's name -> (first scheduled event index, last end event index)
    seqs, start, end = {}, {}, {}
    for i, ev in enumerate(hist):
        p = ev.get("payload") or {}
        if ev["type"] == "step_scheduled":
            seqs[p["seq"]] = p["step"]
            start.setdefault(p["step"], i)
        elif ev["type"] in ("step_completed", "step_failed") and p.get("seq") in seqs:
            end[seqs[p["seq"]]] = i
    bad = []
    for e in sys.argv[3].split():
        if e.startswith("status="):
            if show["status"] != e[7:]:
                bad.append("status %s, want %s (error: %s)" % (show["status"], e[7:], json.dumps(err)[:300]))
        elif "<" in e:
            a, b = e.split("<", 1)
            if a not in end or b not in start or not end[a] < start[b]:
                bad.append("%s did not end before %s started" % (a, b))
        elif e.startswith("error~"):
            if not re.search(e[6:], json.dumps(err, separators=(",", ":"))):
                bad.append("%r not in the error %s" % (e[6:], json.dumps(err)[:300]))
        elif "~" in e:
            t, text = e.split("~", 1)
            got = json.dumps((tasks.get(t) or {}).get("output"), separators=(",", ":"))
            if not re.search(text, got):
                bad.append("%r not in the output of %s: %s" % (text, t, got[:300]))
        else:
            t, want = e.split("=", 1)
            got = (tasks.get(t) or {}).get("state")
            if got != want:
                bad.append("task %s is %s, want %s" % (t, got, want))
    for b in bad:
        print(b)
    return 1 if bad else 0


sys.exit(main())
