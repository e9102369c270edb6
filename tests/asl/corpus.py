#!/usr/bin/env python3
"""corpus.py — run the ASL corpus (../shared/asl/corpus) against wfdsl.

Prints "ok NAME" / "FAIL NAME: why" lines (tests/lib.sh style):
  * every valid case: `wfdsl run X.asl.json` with its input and a resource map made
    from X.mocks.json gives the expected envelope (ground truth: aws-expected >
    spec-expected > expected), and `wfdsl replay` replays it without divergence;
  * the same through `wfdsl import stepfunctions` then `wfdsl check` and `run` of the YAML;
  * how many imports are fully structured (no part kept as a dispatcher), printed and
    checked against a floor;
  * every invalid case: `wfdsl check` exits 2 and names a state;
  * some cases killed (SIGKILL) after each of several history events and resumed give
    the same envelope.
The same for the cases of tests/asl/cases (authored here, same file kinds, truth in
X.expected.json). Cases that COVERAGE.md lists as refused (JSONata) must be refused by check, run and
import, naming a state. Usage: corpus.py WFDSL CORPUS_DIR TMPDIR
"""
import json, os, re, subprocess, sys

WFDSL, CORPUS, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
PAST = "2020-01-01T00:00:00Z"


def unsupported():
    """The cases listed under "## Corpus cases wfdsl refuses" in COVERAGE.md."""
    names, inside = set(), False
    for line in open(os.path.join(HERE, "COVERAGE.md")):
        if line.startswith("## "):
            inside = line.startswith("## Corpus cases wfdsl refuses")
        m = re.match(r"^- `([^`]+)`", line)
        if inside and m:
            names.add(m.group(1))
    return names


def glob(name):
    """A glob that matches exactly this state name."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def mock_map(case):
    """The resource map for a case: one rule per mocked state, echo for the rest
    (the peer's default), every Wait 0 s unless "$waits", retry pauses 0 s."""
    mocks = {}
    p = os.path.join(CORPUS, case + ".mocks.json")
    if os.path.exists(p):
        mocks = json.load(open(p))
    waits = {}
    for state, ms in (mocks.pop("$waits", None) or {}).items():
        waits[glob(state)] = "%dms" % ms
    waits["*"] = "0"
    rules = []
    for state, spec in mocks.items():
        text = json.dumps(spec)
        rules.append({"state": glob(state),
                      "step": {"lua": "return asl.mock(json.decode[==[%s]==], steps.task)\n" % text}})
    rules.append({"match": "*", "step": {"lua": "return steps.task.input\n"}})
    return {"resources": rules, "waits": waits, "retry_waits": False}


def truth(case):
    for kind in ("aws-expected", "spec-expected", "expected"):
        p = os.path.join(CORPUS, "%s.%s.json" % (case, kind))
        if os.path.exists(p):
            return json.load(open(p)), kind
    return None, None


NATIVE = {"lua", "net", "timeout", "input", "error", "nondeterminism", "cancelled", "terminated"}
NATIVE_PREFIX = ("lua.", "shell.", "http.", "signal.", "sleep.", "loop.", "child.", "compensation.")


def error_of(err):
    """The ASL name and cause of a run's error: an ASL error is a typed error
    (type = the name, message = the Cause, "" for none); wfdsl's own types
    are mapped as asl.error_of in the runtime does."""
    t, m = err.get("type") or "", err.get("message")
    if t not in NATIVE and not t.startswith(NATIVE_PREFIX):
        return t, (m or None)
    if t == "lua" and m and "{" in m:
        try:
            v = json.loads(m[m.index("{"):])
            if isinstance(v, dict) and "asl_error" in v:
                return v["asl_error"], v.get("cause")
        except ValueError:
            pass
    if t in ("timeout", "signal.timeout"):
        return "States.Timeout", m
    return "States.TaskFailed", m


def envelope(db, wid):
    r = subprocess.run([WFDSL, "show", wid, "--json", "--db", db], capture_output=True, text=True)
    if r.returncode != 0:
        return {"status": "?", "why": r.stderr.strip()}
    s = json.loads(r.stdout)
    if s["status"] == "completed":
        return {"status": "SUCCEEDED", "output": s["output"]}
    if s["status"] == "failed":
        e, c = error_of(s["error"])
        return {"status": "FAILED", "error": e, "cause": c}
    return {"status": s["status"]}


def same(case, got, want):
    if got.get("status") != want["status"]:
        return False
    if want["status"] == "FAILED":
        return got.get("error") == want["error"] and got.get("cause") == want.get("cause")
    g, w = got.get("output"), want.get("output")
    if case == "av-intrinsic-functions" and isinstance(g, dict) and isinstance(w, dict):
        # random values: presence and shape only
        ok = isinstance(g.get("MathRandom"), int) and 1 <= g["MathRandom"] <= 10 and \
            re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", g.get("UUID") or "")
        g = {k: v for k, v in g.items() if k not in ("MathRandom", "UUID")}
        w = {k: v for k, v in w.items() if k not in ("MathRandom", "UUID")}
        return bool(ok) and g == w
    return g == w


def prepare(case):
    inp = os.path.join(CORPUS, case + ".input.json")
    text = open(inp).read() if os.path.exists(inp) else "{}"
    text = text.replace("<timestamp>", PAST)
    ip = os.path.join(TMP, case + ".input.json")
    open(ip, "w").write(text)
    mp = os.path.join(TMP, case + ".map.json")
    json.dump(mock_map(case), open(mp, "w"), indent=1)
    want, kind = truth(case)
    if want is not None:
        want = json.loads(json.dumps(want).replace("<timestamp>", PAST))
    return ip, mp, want, kind


def run(args, env=None):
    r = subprocess.run([WFDSL] + args, capture_output=True, text=True, env=env)
    if "Sanitizer" in r.stderr or "runtime error:" in r.stderr:  # make asan test
        print("FAIL asl sanitizer report from wfdsl %s: %s" % (" ".join(args[:3]), r.stderr.strip()[:400]))
    return r


def brief(v):
    s = json.dumps(v, sort_keys=True)
    return s if len(s) < 300 else s[:300] + "..."


def main():
    global CORPUS
    shared = CORPUS
    for d in (shared, os.path.join(HERE, "cases")):
        CORPUS = d
        run_dir()
    CORPUS = shared
    structured_figure(shared)
    crash_resume()


# import: how many cases become fully structured YAML (no part kept as a
# dispatcher); the figure must not drop below these
STRUCTURED = {}
STRUCTURED_FLOOR = {"corpus": 37, "cases": 17}


def structured_figure(shared):
    for d, got in sorted(STRUCTURED.items()):
        which = "corpus" if d == shared else "cases"
        n = sum(1 for _, ok in got if ok)
        fb = [c for c, ok in got if not ok]
        line = "asl structured imports (%s): %d of %d fully structured, %d keep a dispatcher part (%s)" % (
            which, n, len(got), len(fb), ", ".join(fb))
        if n >= STRUCTURED_FLOOR[which]:
            print("ok " + line)
        else:
            print("FAIL %s; expected at least %d" % (line, STRUCTURED_FLOOR[which]))


def run_dir():
    skip = unsupported()
    db = os.path.join(TMP, "asl.db")
    cases = sorted(f[:-9] for f in os.listdir(CORPUS) if f.endswith(".asl.json") and not f.endswith(".invalid.asl.json"))
    for case in cases:
        if case in skip:
            # refused (JSONata): check, run and import exit 2 naming a state and JSONata
            src = os.path.join(CORPUS, case + ".asl.json")
            bad = []
            for args in (["check", src], ["run", src, "--db", db], ["import", "stepfunctions", src]):
                r = run(args)
                if r.returncode != 2 or "state '" not in r.stderr or "JSONata" not in r.stderr:
                    bad.append("%s: exit %d: %s" % (args[0], r.returncode, r.stderr.strip()[:200]))
            if bad:
                print("FAIL asl refused %s: %s" % (case, "; ".join(bad)))
            else:
                print("ok asl refused %s (JSONata, naming the state)" % case)
            continue
        ip, mp, want, kind = prepare(case)
        if want is None:
            print("FAIL asl %s: no expected envelope and not listed as unsupported" % case)
            continue
        r = run(["run", os.path.join(CORPUS, case + ".asl.json"), "--input", "@" + ip, "--resources", mp,
                 "--db", db, "--id", "run-" + case, "--quiet"])
        got = envelope(db, "run-" + case)
        if same(case, got, want):
            print("ok asl run %s (%s)" % (case, kind))
        else:
            print("FAIL asl run %s: got %s, want %s (%s) %s" % (case, brief(got), brief(want), kind, r.stderr.strip()[:300]))
        r = run(["replay", "run-" + case, "--db", db])
        if r.returncode == 0 and "without divergence" in r.stdout:
            print("ok asl replay %s" % case)
        else:
            print("FAIL asl replay %s: exit %d: %s" % (case, r.returncode, (r.stdout + r.stderr).strip()[:300]))
        # import, check, run the YAML
        yp = os.path.join(TMP, case + ".yaml")
        r = run(["import", "stepfunctions", os.path.join(CORPUS, case + ".asl.json"), "--resources", mp])
        if r.returncode != 0:
            print("FAIL asl import %s: exit %d: %s" % (case, r.returncode, r.stderr.strip()[:300]))
            continue
        open(yp, "w").write(r.stdout)
        STRUCTURED.setdefault(CORPUS, []).append((case, r.stdout.find("\n# Structured:") >= 0))
        c = run(["check", yp])
        if c.returncode != 0:
            print("FAIL asl import %s: check of the YAML: %s" % (case, c.stderr.strip()[:300]))
            continue
        run(["run", yp, "--input", "@" + ip, "--db", db, "--id", "yaml-" + case, "--quiet"])
        got = envelope(db, "yaml-" + case)
        if same(case, got, want):
            print("ok asl import %s" % case)
        else:
            print("FAIL asl import %s: got %s, want %s" % (case, brief(got), brief(want)))

    for f in sorted(os.listdir(CORPUS)):
        if not f.endswith(".invalid.asl.json"):
            continue
        case = f[:-len(".invalid.asl.json")]
        r = run(["check", os.path.join(CORPUS, f)])
        if r.returncode == 2 and "state '" in r.stderr:
            print("ok asl invalid %s" % case)
        else:
            print("FAIL asl invalid %s: exit %d: %s" % (case, r.returncode, r.stderr.strip()[:300]))



def crash_resume():
    """kill the process right after history event N, resume, compare"""
    global CORPUS
    skip = unsupported()
    db = os.path.join(TMP, "asl.db")
    shared, own = CORPUS, os.path.join(HERE, "cases")
    for d, case in ((shared, "av-job-status-poller"), (shared, "map-catch"), (shared, "parallel-catch"),
                    (shared, "als-retry-three-retriers"), (own, "map-tolerated-count"),
                    (own, "map-max-concurrency-path-lanes"), (own, "assign-wait-choice"),
                    (own, "loop-choice-first")):
        CORPUS = d
        if case in skip:
            continue
        ip, mp, want, kind = prepare(case)
        bad, killed = [], 0
        for n in (3, 6, 9, 14, 20):
            wid = "crash-%s-%d" % (case, n)
            env = dict(os.environ, WFDSL_TEST_KILL_AFTER_EVENT=str(n))
            r = run(["run", os.path.join(CORPUS, case + ".asl.json"), "--input", "@" + ip, "--resources", mp,
                     "--db", db, "--id", wid, "--quiet"], env=env)
            killed += r.returncode == -9
            run(["resume", wid, "--db", db, "--quiet"])
            got = envelope(db, wid)
            if not same(case, got, want):
                bad.append("killed after event %d: %s" % (n, brief(got)))
        if not killed:
            bad.append("the process was never killed")
        if bad:
            print("FAIL asl crash-resume %s: %s" % (case, "; ".join(bad)))
        else:
            print("ok asl crash-resume %s" % case)
    CORPUS = shared


main()
