# child.sh — child workflows (`call`): own id and history, output returned,
# found again after a crash instead of started twice, cancelled with their
# parent; detached children run under a worker.
. tests/lib.sh

run_wf run samples/parent.yaml --id order-1
eq "parent gets its children's outputs" "$(json 'd["total"], [l["total"] for l in d["lines"]]' "$OUT")" '[1200,[600,600]]'
eq "each child is a run of its own" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'order-1/line_total#%' and status='completed'")" 2
run_wf history 'order-1/line_total#1' --json
eq "with its own history" "$(json 'd[0]["type"], d[-1]["type"]' "$OUT")" '["run_started","run_completed"]'
"$WFDSL" worker --quiet >/dev/null 2>&1 & w=$!
for ((i = 0; i < 100; i++)); do [ "$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='order-1/audit#3'")" = completed ] && break; sleep 0.05; done
kill $w; wait $w
eq "a detached child runs under a worker" "$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='order-1/audit#3'")" completed

cat >"$T/slowchild.yaml" <<Y
wfdsl: 1
name: slow-child
steps:
  - shell: {script: 'echo child-start >> $T/ledger; sleep ${WFDSL_TEST_TIME_SCALE:-1}; echo child-end >> $T/ledger; printf done'}
output: \${ "child " .. steps[1] }
Y
sed -i 's/output: ${ "child " .. steps\[1\] }/output: child-done/' "$T/slowchild.yaml"
cat >"$T/slowparent.yaml" <<Y
wfdsl: 1
name: slow-parent
steps:
  - id: kid
    call: {workflow: slowchild.yaml}
output: \${ steps.kid }
Y
"$WFDSL" run "$T/slowparent.yaml" --id sp >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q child-start "$T/ledger" 2>/dev/null && break; sleep 0.05; done
kill -9 $pid; wait $pid 2>/dev/null
run_wf resume sp
eq "a resumed parent completes" "$OUT" '"child-done"'
eq "its child run was found again, not started twice" "$(sqlite3 "$WFDSL_DB" "select count(*) from runs where workflow_id like 'sp/%'")" 1

: >"$T/ledger"
"$WFDSL" run "$T/slowparent.yaml" --id sp2 >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do grep -q child-start "$T/ledger" && break; sleep 0.05; done
run_wf cancel sp2
wait $pid
eq "cancelling a parent cancels its attached child" "$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id like 'sp2/%'")" cancelled
eq "the parent is cancelled" "$(sqlite3 "$WFDSL_DB" "select status from runs where workflow_id='sp2'")" cancelled
check "the child's step was stopped" bash -c "! grep -q child-end '$T/ledger'"

printf 'wfdsl: 1\nname: bad-call\nsteps:\n  - call: {workflow: missing.yaml}\n' >"$T/badcall.yaml"
run_wf check "$T/badcall.yaml"
eq "a missing child file is a check error" "$RC" 2
contains "naming the file" "$ERR" "cannot read workflow 'missing.yaml'"

# A parent and its child run in one process, each in its own Lua context of
# the engine's one Lua state: globals and library changes of one are not
# seen by the other.
cat >"$T/cleankid.yaml" <<'Y'
wfdsl: 1
name: clean-kid
steps:
  - id: look
    lua: return tostring(_G.leak) .. " " .. string.upper("a")
output: ${ steps.look }
Y
cat >"$T/dirtyparent.yaml" <<'Y'
wfdsl: 1
name: dirty-parent
steps:
  - id: dirty
    lua: |
      leak = "parent"
      local a = pcall(function() _G.leak = "parent" end)
      local b = pcall(function() string.upper = function() return "patched" end end)
      return {a, b, leak}
  - id: kid
    call: {workflow: cleankid.yaml}
  - id: after
    lua: return string.upper("a") .. " " .. tostring(_G.leak)
output: ${ {dirty = steps.dirty, kid = steps.kid, after = steps.after} }
Y
run_wf run "$T/dirtyparent.yaml" --id iso
eq "runs in one process do not see each other's globals; _G and library tables are read-only" \
    "$(json 'd["dirty"], d["kid"], d["after"]' "$OUT")" '[[false,false,"parent"],"nil A","A nil"]'
