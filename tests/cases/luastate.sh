# luastate.sh — the Lua sandbox keeps no state a replay would not redo: values
# the engine hands to a chunk are read-only and the globals a chunk assigns
# last for that call, so a run killed (SIGKILL) at any step boundary and
# resumed ends exactly as an uninterrupted one.
. tests/lib.sh

nevents() { sqlite3 "$WFDSL_DB" "select count(*) from events e join runs r on r.run_id=e.run_id where r.workflow_id='$1'"; }

# kill_each FILE REF PREFIX NAME WANT: run FILE killed (SIGKILL) after each event of the
# uninterrupted run REF's history, resume it, and compare "exit:stderr" (WANT starting
# with "1:") or "exit:stdout" with WANT; the run's own id in stderr reads as REF's
kill_each() {
    local file=$1 ref=$2 pre=$3 name=$4 want=$5 n p rc got
    n=$(nevents "$ref")
    for ((p = 1; p < n; p++)); do
        WFDSL_TEST_KILL_AFTER_EVENT=$p "$WFDSL" run "$file" --id "$pre-$p" >/dev/null 2>&1
        rc=$?
        if [ $rc -ne 137 ]; then fail "$name, kill after event $p" "exit $rc, expected 137 (SIGKILL)"; continue; fi
        run_wf resume "$pre-$p"
        if [ "$RC" -eq 0 ]; then got="$RC:$OUT"; else got="$RC:${ERR/$pre-$p/$ref}"; fi
        eq "$name, kill after event $p: resumed as the uninterrupted run" "$got" "$want"
    done
}

# 1. a chunk that changes what it was given fails, uninterrupted and resumed
cat >"$T/mut.yaml" <<'Y'
wfdsl: 1
name: mut
input:
  n: {type: integer, default: 1}
vars:
  total: 0
steps:
  - id: a
    lua: |
      input.n = input.n + 100
      vars.total = 5
      counter = 7            -- a global
      return input.n
  - id: wait
    sleep: 1s
  - id: b
    lua: return {n = input.n, total = vars.total, counter = _G.counter}
output: ${ steps.b }
Y
run_wf run "$T/mut.yaml" --id mut-ref
eq "mutating input: the run fails" "$RC" 1
contains "mutating input: the error names the chunk's line" "$ERR" "mut.yaml:10: setting field \"n\": cannot change a value the step was given (input, vars, steps, items are read-only): copy it first with copy() (step a)"
REFERR="$ERR"
check "mutating input: the failed run has a history" [ "$(nevents mut-ref)" -gt 2 ]
kill_each "$T/mut.yaml" mut-ref mut "mutating input" "1:$REFERR"

# 2. the same work on copies: the same output uninterrupted and resumed at
# every step boundary; a global of step a is not seen by step b
cat >"$T/copied.yaml" <<'Y'
wfdsl: 1
name: copied
input:
  n: {type: integer, default: 1}
  items: {type: array, default: [{x: 1}, {x: 2}]}
vars:
  total: 0
steps:
  - id: a
    lua: |
      local inp, v = copy(input), copy(vars)
      inp.n = inp.n + 100
      v.total = 5
      table.insert(inp.items, {x = 3})
      inp.items[1].x = 10
      counter = 7            -- a global, for this call only
      function sum(t) local s = 0 for _, i in ipairs(t) do s = s + i.x end return s end
      return {n = inp.n, total = v.total, sum = sum(inp.items), counter = counter}
  - id: wait
    sleep: 1s
  - id: b
    lua: |
      return {n = input.n, total = vars.total, items = input.items, a = steps.a,
              counter = rawget(_G, "counter") or "unset", sum = rawget(_G, "sum") or "unset"}
output: ${ steps.b }
Y
run_wf run "$T/copied.yaml" --id cp-ref
eq "copies: the run completes" "$RC" 0
REF="$OUT"
eq "copies: step a worked on copies, step b sees the originals and no global of a" \
    "$(json 'd' "$REF")" \
    '{"a":{"counter":7,"n":101,"sum":15,"total":5},"counter":"unset","items":[{"x":1},{"x":2}],"n":1,"sum":"unset","total":0}'
kill_each "$T/copied.yaml" cp-ref cp "copies" "0:$REF"

# 3. every value the engine hands over is read-only: foreach items, caught
# errors, step outputs, run, the steps and vars tables; a failing write is a
# `lua` error that a catch can handle
cat >"$T/ro.yaml" <<'Y'
wfdsl: 1
name: ro
input:
  items: {type: array, default: [{k: 1}, {k: 2}]}
vars:
  x: 0
steps:
  - id: made
    lua: return {list = {3, 1, 2}}
  - id: each
    foreach:
      items: input.items
      as: item
      steps:
        - id: inner
          lua: |
            local before = item.k
            local ok, e = pcall(function() item.k = 0 end)
            item = {k = 0}   -- the name, for this call only
            return {ok = ok, k = before, mine = item.k, e = e}
        - id: later
          lua: return item.k
      result: ${ {ok = steps.inner.ok, k = steps.inner.k, mine = steps.inner.mine, later = steps.later, e = steps.inner.e} }
  - id: caught
    try:
      steps:
        - id: boom
          lua: error({type = "app.bad", message = "m"})
      catch:
        - errors: [app.bad]
          as: failure
          steps:
            - id: handler
              lua: |
                local r = {}
                r.err = pcall(function() failure.message = "x" end)
                r.sort = pcall(table.sort, steps.made.list)
                r.steps = pcall(function() steps.made = 1 end)
                r.vars = pcall(function() vars.x = 1 end)
                r.run = pcall(function() run.id = "x" end)
                r.lib = pcall(function() string.x = 1 end)
                r.g = pcall(function() _G.x = 1 end)
                return r
  - id: sorted
    lua: |
      local l = copy(steps.made.list)
      table.sort(l)
      return {sorted = l, original = steps.made.list, empty = copy(json.array())}
output: ${ {each = steps.each, handler = steps.handler, sorted = steps.sorted} }
Y
run_wf run "$T/ro.yaml"
eq "read-only values: the run completes" "$RC" 0
eq "read-only values: foreach items cannot be changed, assigning the item's name lasts for the call" \
    "$(json '[[i["ok"], i["k"], i["mine"], i["later"]] for i in d["each"]]' "$OUT")" '[[false,1,0,1],[false,2,0,2]]'
contains "read-only values: the error names the line" "$(json 'd["each"][0]["e"]' "$OUT")" "ro.yaml:18: setting field \"k\": cannot change a value"
eq "read-only values: caught errors, steps, vars, run, library tables and _G" \
    "$(json 'd["handler"]' "$OUT")" '{"err":false,"g":false,"lib":false,"run":false,"sort":false,"steps":false,"vars":false}'
eq "read-only values: a copy can be sorted, an empty array stays []" \
    "$(json 'd["sorted"]' "$OUT")" '{"empty":[],"original":[3,1,2],"sorted":[1,2,3]}'
