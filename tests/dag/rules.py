#!/usr/bin/env python3
"""rules.py — the trigger-rule matrix of tests/cases/dag.sh.

`rules.py gen RULE` prints a workflow with one join task per combination of
upstream states (S success, F failed, U upstream_failed, K skipped; one and
two upstream tasks) using RULE; `rules.py expect RULE` prints the state each
join must end in, from Airflow's TriggerRuleDep as documented (written here
independently of the C code under test).
"""
import itertools
import json
import sys

STATES = "SFUK"
COMBOS = [c for n in (1, 2) for c in itertools.combinations_with_replacement(STATES, n)]


def airflow(rule, ups):
    n, s, f, u, k = len(ups), ups.count("S"), ups.count("F"), ups.count("U"), ups.count("K")
    done = n == s + f + u + k  # every upstream is terminal here
    if rule in ("always", "dummy"):
        return "success"
    if rule == "all_success":
        return "upstream_failed" if f or u else "skipped" if k else "success"
    if rule == "all_failed":
        return "skipped" if s or k else "success"
    if rule == "all_done":
        return "success"
    if rule == "all_done_min_one_success":
        return "skipped" if k else "success" if s else "upstream_failed"
    if rule == "all_skipped":
        return "skipped" if s or f or u else "success"
    if rule == "one_success":
        return "success" if s else "skipped" if k == n else "upstream_failed"
    if rule == "one_failed":
        return "success" if f or u else "skipped"
    if rule == "one_done":
        return "success" if s or f else "skipped"
    if rule == "none_failed":
        return "upstream_failed" if f or u else "success"
    if rule in ("none_failed_min_one_success", "none_failed_or_skipped"):
        return "upstream_failed" if f or u else "skipped" if k == n else "success"
    if rule == "none_skipped":
        return "skipped" if k else "success"
    raise SystemExit("unknown rule " + rule)


def name(combo):
    return "j_" + "".join(combo)


def gen(rule):
    out = ["wfdsl: 1", "name: rules", "steps:", "  - try:", "      steps:", "        - id: d",
           "          dag:", "            tasks:"]
    for combo in COMBOS:
        needs = []
        for i, st in enumerate(combo):
            t = "%s_%d" % (name(combo), i)
            needs.append(t)
            if st == "S":
                out += ["              %s:" % t, "                lua: return 1"]
            elif st == "F":
                out += ["              %s:" % t, "                fail: {type: boom, message: no}"]
            elif st == "K":
                out += ["              %s:" % t, "                fail: {type: skipped, message: nothing to do}"]
            else:  # upstream_failed: it needs a failed task
                out += ["              %s_f:" % t, "                fail: {type: boom, message: no}",
                        "              %s:" % t, "                needs: [%s_f]" % t, "                lua: return 1"]
        out += ["              %s:" % name(combo), "                needs: [%s]" % ", ".join(needs),
                "                trigger: %s" % rule, "                lua: return 1"]
    out += ["      catch:", "        - errors: [dag.failed]", "          as: e", "          steps:",
            "            - id: caught", "              lua: return e.details.tasks",
            "output: ${ steps.caught or steps.d }"]
    print("\n".join(out))


def expect(rule):
    print(json.dumps({name(c): airflow(rule, "".join(c)) for c in COMBOS}, sort_keys=True))


if __name__ == "__main__":
    {"gen": gen, "expect": expect}[sys.argv[1]](sys.argv[2])
