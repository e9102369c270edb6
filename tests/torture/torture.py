#!/usr/bin/env python3
"""torture.py — crash torture: every sample workflow under a loop that SIGKILLs
`wfdsl` at random moments and resumes it until the run finishes.

    python3 tests/torture/torture.py --kills N [--seed S] [--seconds T] [--only PAT]

Each trial takes one sample (with an input that lets it run unattended) and
repeats: `wfdsl run FILE --id ID` or `wfdsl resume ID`, killed with SIGKILL
either after a random delay (0-300 ms, bounded by the sample's own duration so
that short samples are hit too) or by the engine itself right after the commit
that takes the history to a random event number (WFDSL_TEST_KILL_AFTER_EVENT),
or left alone (a clean resume). Kills land during effects, during commits,
during compensation and during the replay of a resume. When the run has
finished, the trial proves:

  - the history has no gaps (events 1..n), starts with run_started and has one
    terminal event, matching the run's status;
  - every step is scheduled once, completed (or finally failed) at most once,
    its attempts start in increasing order and none starts after its outcome;
  - every effect whose completion was recorded ran exactly once, and every
    effect that ran had its start committed first (side-channel ledgers: the
    samples' ledger files, the reminder outbox, the HTTP server's request log);
  - the final output (and exit code, status and error) equals an uninterrupted
    run's, a later `resume` prints it again and `replay` finds no divergence;
  - PRAGMA integrity_check is ok.

Prints "ok NAME" / "FAIL NAME: why" lines (tests/run.sh counts them) and a
summary line: kills, resumes, runs, violations. Exit 1 when a check failed.
"""
import argparse
import fnmatch
import glob
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The order saga's ledger lines, by first word, and the step that writes them.
SAGA_LEDGER = {
    "reserve": "reserve",
    "charge": "charge",
    "email": "notify.email[0]",
    "sms": "notify.sms[0]",
    "ship": "ship",
    "refund": "charge.compensate[0]",
    "release": "reserve.compensate[0]",
    "alert": "on_error[0]",
}

# One variant per way a sample is run. Placeholders in inputs: {ledger} a
# per-trial ledger file, {dir} a per-trial directory, {base} the HTTP server,
# {id} the trial's workflow id. ledger: "attempt" (lines "STEP ATTEMPT"), a
# dict (first word -> step, lines counted), "http" (the server's log), None.
VARIANTS = [
    {"name": "hello", "file": "hello.yaml", "input": {"name": "Torture"}},
    {"name": "shell", "file": "shell.yaml", "input": {}},
    {"name": "lua", "file": "lua.yaml", "input": {}},
    {"name": "set", "file": "set.yaml", "input": {"price": 7}},
    {"name": "switch", "file": "switch.yaml", "input": {"qty": 40, "express": True}},
    {"name": "fail", "file": "fail.yaml", "input": {}},
    {"name": "succeed", "file": "succeed.yaml", "input": {}},
    {"name": "succeed-computed", "file": "succeed.yaml", "input": {"cached": False}},
    {"name": "try", "file": "try.yaml", "input": {}},
    {"name": "try-ok", "file": "try.yaml", "input": {"primary_exit": 0}},
    {"name": "fanout", "file": "fanout.yaml", "input": {}},
    # dag: tasks at once, a branch, a skipped task and a join
    {"name": "dag", "file": "dag.yaml", "input": {}},
    {"name": "dag-full", "file": "dag.yaml", "input": {"full": True}},
    # the file appears 0.7 s into the trial: the loop polls durably meanwhile
    {"name": "poll", "file": "poll.yaml", "input": {"path": "{dir}/ready"}, "touch_after": 0.7},
    {"name": "ledger", "file": "ledger.yaml", "input": {"ledger": "{ledger}", "pause": "0.05"},
     "ledger": "attempt"},
    {"name": "saga", "file": "order_saga.yaml", "input": {"ledger": "{ledger}"},
     "ledger": SAGA_LEDGER},
    {"name": "saga-compensate", "file": "order_saga.yaml",
     "input": {"ledger": "{ledger}", "fail_shipping": True}, "ledger": SAGA_LEDGER},
    {"name": "reminder", "file": "reminder.yaml", "input": {"outbox": "{ledger}", "user": "bo"},
     "ledger": {"reminder": "remind"}, "normalize": "reminder"},
    # the signal is sent from the loop, once the run exists
    {"name": "approval", "file": "approval.yaml", "input": {"amount": 120},
     "signal": ["decision", {"approved": True, "by": "ann"}]},
    {"name": "child", "file": "child.yaml", "input": {"sku": "tea", "qty": 3}},
    # call: children with ids derived from the parent's, found again after a crash
    {"name": "parent", "file": "parent.yaml", "input": {}},
    {"name": "http", "file": "http.yaml", "input": {"base_url": "{base}", "order_id": "{id}"},
     "ledger": "http", "normalize": "http"},
]

FINISHED = ("completed", "failed", "terminated", "cancelled")
TERMINAL = {"run_completed": "completed", "run_failed": "failed",
            "run_terminated": "terminated"}


class Torture:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.wfdsl = a.wfdsl
        self.dir = a.dir
        self.db = os.path.join(self.dir, "torture.db")
        self.kills = self.kills_timed = self.kills_event = 0
        self.kills_replay = self.kills_failure = self.kills_worker = self.worker_runs = 0
        self.budget_spent = 0  # runs whose retries were spent on interrupted attempts
        self.resumes = self.runs = self.invocations = 0
        self.violations = 0
        self.per_variant = {}
        self.refs = {}
        self.base = None
        self.srvlog = os.path.join(self.dir, "requests.log")
        self.server = None

    # ---- output -----------------------------------------------------------
    def ok(self, name):
        print("ok " + name, flush=True)

    def fail(self, name, why):
        self.violations += 1
        print("FAIL %s: %s" % (name, why.replace("\n", " | ")[:2000]), flush=True)

    # ---- database -----------------------------------------------------------
    def q(self, sql, *args):
        c = sqlite3.connect(self.db, timeout=30)
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def run_status(self, wid):
        r = self.q("select status from runs where workflow_id = ? order by created_ms desc limit 1", wid)
        return r[0][0] if r else None

    def last_event(self, wid):
        r = self.q("select coalesce(max(seq), 0) from events e join runs r using(run_id) "
                   "where r.workflow_id = ?", wid)
        return r[0][0] if r else 0

    # ---- the HTTP test server ----------------------------------------------
    def start_server(self):
        port_file = os.path.join(self.dir, "port")
        self.server = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "tests/http_server.py"),
             "--port-file", port_file, "--log", self.srvlog],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
                break
            time.sleep(0.05)
        with open(port_file) as f:
            self.base = "http://127.0.0.1:%d" % int(f.read())

    def stop_server(self):
        if self.server:
            self.server.kill()
            self.server.wait()

    # ---- running wfdsl ----------------------------------------------------------
    def invoke(self, argv, mode="none", delay_ms=0, kill_after=0, hang_s=60, tag="x"):
        """Run wfdsl; mode: timed (SIGKILL after delay_ms), event (the engine
        kills itself after event kill_after) or none. Returns (rc, out, err,
        hung, ms); rc is -9 when killed."""
        env = dict(os.environ)
        env["WFDSL_DB"] = self.db
        env.pop("WFDSL_TEST_KILL_AFTER_EVENT", None)
        if mode == "event":
            env["WFDSL_TEST_KILL_AFTER_EVENT"] = str(kill_after)
        outp = os.path.join(self.dir, "inv.out")
        errp = os.path.join(self.dir, "inv.err")
        hung = False
        t0 = time.monotonic()
        # files, not pipes: orphaned shell children must not hold our pipes open
        with open(outp, "wb") as fo, open(errp, "wb") as fe:
            for tries in range(100):  # the binary may be being rebuilt right now
                try:
                    p = subprocess.Popen([self.wfdsl] + argv, stdin=subprocess.DEVNULL,
                                         stdout=fo, stderr=fe, env=env, cwd=self.dir)
                    break
                except OSError:
                    if tries == 99:
                        raise
                    time.sleep(0.1)
            self.invocations += 1
            try:
                p.wait(timeout=delay_ms / 1000.0 if mode == "timed" else hang_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                hung = mode != "timed"
        ms = (time.monotonic() - t0) * 1000
        with open(outp, "rb") as f:
            out = f.read().decode("utf-8", "replace")
        with open(errp, "rb") as f:
            err = f.read().decode("utf-8", "replace")
        return p.returncode, out, err, hung, ms

    def invoke_worker(self, wid, mode, delay_ms=0, kill_after=0, hang_s=60):
        """Run `wfdsl worker` until run wid finishes (then SIGTERM: a clean
        stop) or it is killed: SIGKILL after delay_ms (timed) or by itself
        after event kill_after (event). Returns (rc, err, hung)."""
        env = dict(os.environ)
        env["WFDSL_DB"] = self.db
        env.pop("WFDSL_TEST_KILL_AFTER_EVENT", None)
        if mode == "event":
            env["WFDSL_TEST_KILL_AFTER_EVENT"] = str(kill_after)
        errp = os.path.join(self.dir, "worker.err")
        hung = False
        with open(errp, "wb") as fe:
            p = subprocess.Popen([self.wfdsl, "worker"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=fe, env=env, cwd=self.dir)
            self.invocations += 1
            t0 = time.monotonic()
            limit = delay_ms / 1000.0 if mode == "timed" else hang_s
            while p.poll() is None and time.monotonic() - t0 < limit:
                if mode != "timed" and self.run_status(wid) in FINISHED:
                    break
                time.sleep(0.02)
            if p.poll() is None:
                if mode == "timed":
                    p.kill()
                else:
                    if time.monotonic() - t0 >= limit:
                        hung = True
                    p.terminate()
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        hung = True
                        p.kill()
            p.wait()
        with open(errp, "rb") as f:
            err = f.read().decode("utf-8", "replace")
        return p.returncode, err, hung

    def send_signal(self, wid, sig):
        rc, out, err, hung, _ = self.invoke(["signal", wid, sig[0], json.dumps(sig[1])], hang_s=20)
        return rc == 0

    # ---- variants ------------------------------------------------------------------
    def materialize(self, v, wid, tdir):
        ledger = os.path.join(tdir, "ledger")
        subst = {"{ledger}": ledger, "{dir}": tdir, "{base}": self.base or "", "{id}": wid}
        inp = {}
        for k, val in v["input"].items():
            if isinstance(val, str):
                for ph, rep in subst.items():
                    val = val.replace(ph, rep)
            inp[k] = val
        return inp, ledger

    def normalize(self, v, out, wid):
        """The output JSON with run-dependent parts checked and replaced."""
        out = out.strip().replace(json.dumps(wid + "/")[:-1], '"<id>/')
        if not out:
            return ""
        try:
            d = json.loads(out)
        except ValueError:
            return out
        kind = v.get("normalize")
        if kind == "reminder" and isinstance(d, dict):
            since = d.get("since")
            d["since"] = "<time>" if isinstance(since, str) and re.match(
                r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", since) else since
        if kind == "http" and isinstance(d, dict):
            # a kill after the server answered but before the completion was
            # committed repeats the request: the counter may pass 3
            if isinstance(d.get("attempts"), int) and d["attempts"] >= 3 and \
                    d.get("confirmed") == d["attempts"]:
                d["attempts"] = d["confirmed"] = "n>=3, equal"
        return json.dumps(d, sort_keys=True)

    def show(self, wid):
        rc, out, err, hung, _ = self.invoke(["show", wid, "--json"], hang_s=30)
        try:
            d = json.loads(out)
        except ValueError:
            return {"show_rc": rc, "show_err": err.strip()}
        e = d.get("error") or {}
        return {"status": d.get("status"), "error": [e.get("type"), e.get("message"), e.get("step")]}

    def reference(self, v):
        wid = "ref-" + v["name"]
        tdir = os.path.join(self.dir, wid)
        os.makedirs(tdir, exist_ok=True)
        inp, ledger = self.materialize(v, wid, tdir)
        if v.get("touch_after"):
            open(os.path.join(tdir, "ready"), "w").close()
        argv = ["run", os.path.join(ROOT, "samples", v["file"]), "--id", wid, "--input", json.dumps(inp)]
        if v.get("signal"):
            # the signal as soon as the run exists
            def sender():
                for _ in range(400):
                    if self.run_status(wid) and self.send_signal(wid, v["signal"]):
                        return
                    time.sleep(0.05)
            th = threading.Thread(target=sender)
            th.start()
            rc, out, err, hung, ms = self.invoke(argv, hang_s=60)
            th.join()
        else:
            rc, out, err, hung, ms = self.invoke(argv, hang_s=60)
        name = "torture %s: reference run" % v["name"]
        if hung or rc not in (0, 1):
            self.fail(name, "exit %s%s: %s" % (rc, " (hung)" if hung else "", err.strip()))
            return None
        ref = {"rc": rc, "out": self.normalize(v, out, wid), "show": self.show(wid), "ms": ms,
               "nev": self.last_event(wid)}
        bad = self.verify(v, wid, ledger, ref, rc, out, final_check=False)
        for b in bad:
            self.fail(name, b)
        if not bad:
            self.ok(name)
        return ref

    # ---- one trial: kill and resume until the run finishes -------------------------------
    def trial(self, v, ref, n):
        wid = "t%d-%s" % (n, v["name"])
        tdir = os.path.join(self.dir, wid)
        os.makedirs(tdir, exist_ok=True)
        inp, ledger = self.materialize(v, wid, tdir)
        run_argv = ["run", os.path.join(ROOT, "samples", v["file"]), "--id", wid, "--input",
                    json.dumps(inp)]
        signalled = not v.get("signal")
        inv = kills = 0
        touch = None
        if v.get("touch_after"):
            touch = threading.Timer(v["touch_after"],
                                    lambda: open(os.path.join(tdir, "ready"), "w").close())
            touch.start()
        name = "torture %s (%s)" % (v["name"], wid)
        # short samples get kills within their own duration
        bound = min(300.0, max(25.0, ref["ms"] * 1.5))
        if self.rng.random() < self.a.worker:
            return self.worker_trial(v, ref, wid, inp, ledger, name, touch)
        while True:
            inv += 1
            if inv > 400:
                self.fail(name, "did not finish after 400 invocations")
                return kills
            status = self.run_status(wid)
            if status in ("completed", "failed", "terminated"):
                argv = ["resume", wid]   # run --id of a finished run is refused
            elif status is None or self.rng.random() < 0.4:
                argv = run_argv          # starts the run, or continues it
            else:
                argv = ["resume", wid]
            if inv > 1:
                self.resumes += 1
            r = self.rng.random()
            if not signalled or r < 0.6:
                mode = "timed"
            elif r < 0.95:
                mode = "event"
            else:
                mode = "none"
            delay = self.rng.uniform(0, bound)
            cur = self.last_event(wid)
            kill_after = self.rng.randint(cur + 1, max(cur + 1, ref["nev"] + 1))
            rc, out, err, hung, _ = self.invoke(argv, mode, delay, kill_after)
            if "Sanitizer" in err or "runtime error:" in err:
                self.fail(name, "sanitizer report from 'wfdsl %s': %s" % (argv[0], err.strip()[-600:]))
            if hung:
                self.fail(name, "'wfdsl %s' hung (mode %s): %s" % (" ".join(argv[:2]), mode, err.strip()[-300:]))
                return kills
            if rc == -9:
                kills += 1
                self.kills += 1
                after = self.last_event(wid)
                if inv > 1 and after == cur:
                    self.kills_replay += 1  # before its first commit: start-up or replay
                if self.q("select count(*) from events e join runs r using(run_id) where "
                          "r.workflow_id = ? and e.type = 'step_failed'", wid)[0][0]:
                    self.kills_failure += 1  # compensation, on_error, catch or a retry
                if mode == "event":
                    self.kills_event += 1
                else:
                    self.kills_timed += 1
            elif rc in (0, 1):
                break
            else:
                self.fail(name, "'wfdsl %s' exited %s (invocation %d, mode %s): %s"
                          % (" ".join(argv[:2]), rc, inv, mode, err.strip()[-500:]))
                return kills
            if not signalled and self.run_status(wid):
                signalled = self.send_signal(wid, v["signal"])
        if touch:
            touch.join()
        self.runs += 1
        st = self.per_variant.setdefault(v["name"], [0, 0])
        st[0] += 1
        st[1] += kills
        if v.get("ledger") in ("attempt",) or isinstance(v.get("ledger"), dict):
            time.sleep(0.35)  # shell children of killed engines may still be finishing
        bad = self.verify(v, wid, ledger, ref, rc, out, final_check=True)
        for b in bad:
            self.fail(name + " after %d kills" % kills, b)
        if self.a.verbose and not bad:
            self.ok(name + " after %d kills" % kills)
        return kills

    def worker_trial(self, v, ref, wid, inp, ledger, name, touch):
        """The same under `wfdsl worker`: start records the run, workers are
        killed and restarted until it finishes (parked runs, claims, lease
        take-over and wake-ups are exercised too)."""
        name = name.replace("torture ", "torture worker ", 1)
        rc, out, err, hung, _ = self.invoke(
            ["start", os.path.join(ROOT, "samples", v["file"]), "--id", wid, "--input",
             json.dumps(inp)], hang_s=30)
        if rc != 0:
            self.fail(name, "start exited %s: %s" % (rc, err.strip()))
            return 0
        if v.get("signal") and not self.send_signal(wid, v["signal"]):
            self.fail(name, "the signal was refused")
        kills = inv = 0
        bound = 300.0 + min(300.0, ref["ms"])  # a worker first polls, then claims
        while self.run_status(wid) not in FINISHED:
            inv += 1
            if inv > 400:
                self.fail(name, "did not finish after 400 workers")
                return kills
            if inv > 1:
                self.resumes += 1
            r = self.rng.random()
            mode = "timed" if r < 0.6 else "event" if r < 0.95 else "none"
            cur = self.last_event(wid)
            kill_after = self.rng.randint(cur + 1, max(cur + 1, ref["nev"] + 1))
            rc, err, hung = self.invoke_worker(wid, mode, self.rng.uniform(0, bound), kill_after)
            if "Sanitizer" in err or "runtime error:" in err:
                self.fail(name, "sanitizer report from the worker: %s" % err.strip()[-600:])
            if hung:
                self.fail(name, "worker hung (mode %s): %s" % (mode, err.strip()[-300:]))
                return kills
            if rc == -9:
                kills += 1
                self.kills += 1
                self.kills_worker += 1
                if mode == "event":
                    self.kills_event += 1
                else:
                    self.kills_timed += 1
                if self.last_event(wid) == cur and inv > 1:
                    self.kills_replay += 1
                if self.q("select count(*) from events e join runs r using(run_id) where "
                          "r.workflow_id = ? and e.type = 'step_failed'", wid)[0][0]:
                    self.kills_failure += 1
            elif rc != 0:
                self.fail(name, "worker exited %s (mode %s): %s" % (rc, mode, err.strip()[-500:]))
                return kills
        if touch:
            touch.join()
        self.runs += 1
        self.worker_runs += 1
        st = self.per_variant.setdefault(v["name"], [0, 0])
        st[0] += 1
        st[1] += kills
        if v.get("ledger") in ("attempt",) or isinstance(v.get("ledger"), dict):
            time.sleep(0.35)
        rc, out, err, hung, _ = self.invoke(["resume", wid], hang_s=30)
        bad = self.verify(v, wid, ledger, ref, rc, out, final_check=True)
        for b in bad:
            self.fail(name + " after %d kills" % kills, b)
        if self.a.verbose and not bad:
            self.ok(name + " after %d kills" % kills)
        return kills

    # ---- the checks ---------------------------------------------------------------------
    def check_history(self, run_id, status, finished=True):
        """The history rules for one run; returns (violations, events, info)."""
        bad = []
        evs = [(s, t, json.loads(p) if p else None) for s, t, p in self.q(
            "select seq, type, payload from events where run_id = ? order by seq", run_id)]
        seqs = [e[0] for e in evs]
        if seqs != list(range(1, len(evs) + 1)):
            bad.append("history has gaps or does not start at 1: %d events, max seq %s"
                       % (len(evs), max(seqs) if seqs else None))
        if not evs or evs[0][1] != "run_started":
            bad.append("the first event is not run_started")
        terms = [e for e in evs if e[1] in TERMINAL]
        if status in TERMINAL.values() or finished:
            if len(terms) != 1 or terms[0] is not evs[-1]:
                bad.append("%d terminal events, expected exactly one, last" % len(terms))
            elif TERMINAL[terms[0][1]] != status:
                bad.append("run status %s but history ends with %s" % (status, terms[0][1]))
        elif terms:
            bad.append("run status %s but history has %s" % (status, terms[0][1]))
        sched, started, done, failed_final = {}, {}, {}, {}
        step_of = {}
        keys = set()
        for s, t, p in evs:
            if t == "side_effect":
                k = p.get("key")
                if k in keys:
                    bad.append("side effect %s recorded twice" % k)
                keys.add(k)
            if t not in ("step_scheduled", "step_started", "step_completed", "step_failed",
                         "step_cancelled"):
                continue
            c = p.get("seq")
            if t == "step_scheduled":
                if c in sched:
                    bad.append("command %s (%s) scheduled twice (events %d and %d)"
                               % (c, p.get("step"), sched[c], s))
                sched[c] = s
                step_of[c] = p.get("step")
                continue
            if c not in sched:
                bad.append("event %d %s for command %s that was not scheduled before" % (s, t, c))
            if c in done or c in failed_final:
                bad.append("event %d %s for command %s (%s) after its outcome"
                           % (s, t, c, step_of.get(c)))
            if t == "step_started":
                a = p.get("attempt")
                prev = started.setdefault(c, [])
                if prev and a <= prev[-1]:
                    bad.append("command %s (%s) started attempt %s after attempt %s"
                               % (c, step_of.get(c), a, prev[-1]))
                prev.append(a)
            elif t == "step_completed":
                done[c] = p.get("attempt")
                if started.get(c) and p.get("attempt") != started[c][-1]:
                    bad.append("command %s (%s) completed attempt %s, last started %s"
                               % (c, step_of.get(c), p.get("attempt"), started[c][-1]))
            elif t == "step_failed" and p.get("final"):
                failed_final[c] = p.get("attempt")
        return bad, evs, (step_of, started, done)

    def verify(self, v, wid, ledger, ref, rc, out, final_check):
        runs = self.q("select run_id, status from runs where workflow_id = ?", wid)
        if len(runs) != 1:
            return ["%d runs for workflow id %s, expected 1" % (len(runs), wid)]
        run_id, status = runs[0]
        bad, evs, (step_of, started, done) = self.check_history(run_id, status)
        # child runs (call): one run per child id, each with a sound history
        kids = self.q("select workflow_id, run_id, status from runs where workflow_id like ? "
                      "escape '!'", wid.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "/%")
        per = {}
        for kw, krun, kst in kids:
            per[kw] = per.get(kw, 0) + 1
            kb, _, _ = self.check_history(krun, kst, finished=False)
            bad += ["child %s: %s" % (kw, b) for b in kb]
        bad += ["child %s started %d times" % (k, n) for k, n in per.items() if n != 1]
        ic = self.q("pragma integrity_check")
        if ic != [("ok",)]:
            bad.append("integrity_check: %s" % ic)

        # the side channel: what really ran
        by_step = {}
        for c, st in step_of.items():
            by_step.setdefault(st, []).append(c)
        lk = v.get("ledger")
        if lk == "attempt" or isinstance(lk, dict):
            lines = open(ledger).read().splitlines() if os.path.exists(ledger) else []
            ran = {}
            for ln in lines:
                w = ln.split(" ")
                step = w[0] if lk == "attempt" else lk.get(w[0])
                if lk == "attempt" and (len(w) < 2 or not w[1].isdigit()):
                    step = None
                if step is None:
                    bad.append("ledger line from no known step: %r" % ln)
                    continue
                ran.setdefault(step, []).append(int(w[1]) if lk == "attempt" else None)
            for step, got in sorted(ran.items()):
                cs = by_step.get(step, [])
                if len(cs) != 1:
                    bad.append("ledger has %d lines of %s, which was scheduled %d times"
                               % (len(got), step, len(cs)))
                    continue
                c = cs[0]
                att = started.get(c, [])
                if len(got) > len(att):
                    bad.append("%s ran %d times but only %d attempts were started first"
                               % (step, len(got), len(att)))
                if lk == "attempt":
                    if len(set(got)) != len(got):
                        bad.append("%s ran one attempt twice: %s" % (step, got))
                    if not set(got) <= set(att):
                        bad.append("%s ran attempts %s, started %s" % (step, got, att))
                    if c in done and (done[c] not in got or max(got) > done[c]):
                        bad.append("%s completed with attempt %s but ran %s"
                                   % (step, done[c], got))
            for c, a in done.items():
                st = step_of.get(c)
                if (lk == "attempt" and st in ("reserve", "charge", "ship", "notify")) or \
                        (isinstance(lk, dict) and st in lk.values()):
                    n = len(ran.get(st, []))
                    if n < 1:
                        bad.append("%s completed but never ran" % st)
                    if len(started.get(c, [])) == 1 and n != 1:
                        bad.append("%s completed on its only attempt but ran %d times" % (st, n))
        elif lk == "http":
            reqs = []
            if os.path.exists(self.srvlog):
                for ln in open(self.srvlog):
                    try:
                        reqs.append(json.loads(ln))
                    except ValueError:
                        pass
            order = wid
            mine = {"create": [r for r in reqs if r["path"].startswith("/seq/%s/" % order)],
                    "confirm": [r for r in reqs if r["path"] == "/echo"
                                and r["query"].get("order") == order]}
            ikeys = {}
            for step, rs in mine.items():
                cs = by_step.get(step, [])
                if len(cs) != 1:
                    if rs:
                        bad.append("%d requests of %s, scheduled %d times" % (len(rs), step, len(cs)))
                    continue
                c = cs[0]
                if len(rs) > len(started.get(c, [])):
                    bad.append("%s sent %d requests, only %d attempts started first"
                               % (step, len(rs), len(started.get(c, []))))
                if c in done and not rs:
                    bad.append("%s completed but the server saw no request" % step)
                ks = {r["headers"].get("Idempotency-Key") for r in rs}
                if len(ks) > 1:
                    bad.append("%s sent %d different idempotency keys" % (step, len(ks)))
                ikeys[step] = ks
                if step == "create" and c in done:
                    o = [p for s, t, p in evs if t == "step_completed" and p.get("seq") == c][0]
                    got = (o.get("output") or {}).get("body", {}).get("attempt")
                    if got != len(rs):
                        bad.append("create completed with the server's request %s but the server "
                                   "saw %d: a request ran after the completion" % (got, len(rs)))
            if ikeys.get("create") and ikeys.get("confirm") and ikeys["create"] & ikeys["confirm"]:
                bad.append("two steps share an idempotency key")

        # the result equals an uninterrupted run's
        if final_check:
            # An interrupted attempt counts toward max_attempts (design-notes:
            # "An interrupted attempt counts"): crashes can spend a retry budget
            # that the uninterrupted run needed. Then the run fails at that step,
            # which is right; everything but the result is still checked.
            ended = [p for s, t, p in evs if t == "step_failed" and p.get("final")]
            spent = False
            if status == "failed" and ref["show"].get("status") == "completed" and ended:
                c = ended[-1].get("seq")
                outcomes = {p.get("attempt") for s, t, p in evs
                            if t in ("step_failed", "step_completed") and p.get("seq") == c}
                lost = [a for a in started.get(c, []) if a not in outcomes]
                spent = bool(lost) and ended[-1]["error"].get("type") != "lua"
            if spent:
                self.budget_spent += 1
            want_rc, want_out = (1, "") if spent else (ref["rc"], ref["out"])
            if rc != want_rc:
                bad.append("exit %s, the uninterrupted run exited %s" % (rc, ref["rc"]))
            got = self.normalize(v, out, wid)
            if got != want_out:
                bad.append("output %s, the uninterrupted run gave %s" % (got, ref["out"]))
            sh = self.show(wid)
            if sh != ref["show"] and not spent:
                bad.append("show %s, the uninterrupted run %s" % (sh, ref["show"]))
            rc2, out2, err2, hung2, _ = self.invoke(["resume", wid], hang_s=30)
            if rc2 != want_rc or self.normalize(v, out2, wid) != want_out:
                bad.append("resume of the finished run: exit %s output %s: %s"
                           % (rc2, out2.strip(), err2.strip()))
            rc3, out3, err3, hung3, _ = self.invoke(["replay", wid], hang_s=30)
            if rc3 != 0:
                bad.append("replay: exit %s: %s %s" % (rc3, out3.strip(), err3.strip()))
            if self.last_event(wid) != len(evs):
                bad.append("resume of the finished run wrote events")
        return bad

    # ---- main loop ------------------------------------------------------------------------
    def main(self):
        t0 = time.monotonic()
        variants = [v for v in VARIANTS if fnmatch.fnmatch(v["name"], self.a.only)]
        if self.a.only == "*":
            covered = {v["file"] for v in VARIANTS}
            for f in sorted(glob.glob(os.path.join(ROOT, "samples", "*.yaml"))):
                if os.path.basename(f) not in covered:
                    self.fail("torture covers every sample", "%s has no torture variant" % f)
        if any(v.get("ledger") == "http" for v in variants):
            self.start_server()
        try:
            for v in variants:
                self.refs[v["name"]] = self.reference(v)
            variants = [v for v in variants if self.refs.get(v["name"])]
            n = 0
            while variants and self.kills < self.a.kills:
                order = variants[:]
                self.rng.shuffle(order)
                for v in order:
                    if self.kills >= self.a.kills:
                        break
                    if self.a.seconds and time.monotonic() - t0 > self.a.seconds:
                        break
                    n += 1
                    self.trial(v, self.refs[v["name"]], n)
                if self.a.seconds and time.monotonic() - t0 > self.a.seconds:
                    break
        finally:
            self.stop_server()
        el = time.monotonic() - t0
        for name, (runs, kills) in sorted(self.per_variant.items()):
            print("# %-18s %4d runs %5d kills" % (name, runs, kills))
        summary = ("kills %d (%d timed, %d at commits; %d of workers, %d before the resume's "
                   "first commit, %d after a step failed), resumes %d, runs %d (%d under "
                   "workers, %d whose retries went to interrupted attempts), violations %d "
                   "(%d invocations, %d workflows, seed %d, %.0f s)"
                   % (self.kills, self.kills_timed, self.kills_event, self.kills_worker,
                      self.kills_replay, self.kills_failure, self.resumes, self.runs,
                      self.worker_runs, self.budget_spent, self.violations, self.invocations,
                      len(self.per_variant), self.a.seed, el))
        print("# torture: " + summary, flush=True)
        if self.kills < self.a.kills and not self.a.seconds:
            self.fail("torture reached %d kills" % self.a.kills,
                      "only %d kills within the time budget" % self.kills)
        if self.violations == 0:
            self.ok("torture: %d kills, %d resumes, %d runs, 0 violations"
                    % (self.kills, self.resumes, self.runs))
        return 1 if self.violations else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=1000, help="stop after this many kills")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=0, help="time budget (0: none)")
    ap.add_argument("--worker", type=float, default=0.25,
                    help="share of trials driven by `wfdsl worker` instead of run/resume")
    ap.add_argument("--only", default="*", help="variants whose name matches this glob")
    ap.add_argument("--wfdsl", default=os.environ.get("WFDSL", os.path.join(ROOT, "wfdsl")))
    ap.add_argument("--dir", default=None, help="work directory (default: a new temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("-v", "--verbose", action="store_true", help="an ok line per trial")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "little")
    a.wfdsl = os.path.abspath(a.wfdsl)
    made = a.dir is None
    if made:
        a.dir = tempfile.mkdtemp(prefix="wfdsl-torture.", dir=os.environ.get("TESTTMP"))
    os.makedirs(a.dir, exist_ok=True)
    rc = Torture(a).main()
    if made and not a.keep and rc == 0:
        subprocess.call(["rm", "-rf", a.dir])
    elif made:
        print("# work directory kept: %s" % a.dir)
    return rc


if __name__ == "__main__":
    sys.exit(main())
