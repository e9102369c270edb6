# samples.sh — every sample runs and gives its documented output.
. tests/lib.sh

run_wf run samples/hello.yaml --input '{"name":"Ada"}'
eq "hello exits 0" "$RC" 0
eq "hello output" "$(json 'd["greeting"], d["length"]' "$OUT")" '["HELLO, ADA!",11]'
eq "hello stderr is quiet off a terminal" "$ERR" ""

run_wf run samples/hello.yaml
eq "hello default input" "$(json 'd["greeting"]' "$OUT")" "HELLO, WORLD!"

run_wf run samples/lua.yaml
eq "lua sample" "$(json 'd["stats"]["sum"], d["stats"]["max"], d["stats"]["count"], d["sorted"]' "$OUT")" '[31,9,8,[1,1,2,3,4,5,6,9]]'

run_wf run samples/shell.yaml
eq "shell sample exit" "$RC" 0
eq "shell sample output" "$(json 'd["bytes"], d["n"], d["tolerated_code"]' "$OUT")" '[16,16,3]'

run_wf run samples/set.yaml
eq "set sample" "$(json 'd["total"], d["items"]' "$OUT")" '[85,["apple","pear"]]'

run_wf run samples/switch.yaml
eq "switch default branch" "$(json 'd["route"], d["rush"]' "$OUT")" '["parcel","standard"]'
run_wf run samples/switch.yaml --input '{"qty": 20, "express": true}'
eq "switch second branch and if" "$(json 'd["route"], d["rush"]' "$OUT")" '["pallet","same day"]'
run_wf run samples/switch.yaml --input '{"qty": 150}'
eq "switch first branch" "$(json 'd["route"]' "$OUT")" "freight"

run_wf run samples/fail.yaml
eq "fail exits 1" "$RC" 1
contains "fail names its type and message" "$ERR" "stock.short: only 120 in stock, 500 ordered"
run_wf show "$(sqlite3 "$WFDSL_DB" "select workflow_id from runs where name='check-stock' order by created_ms desc limit 1")" --json
eq "fail error recorded with details" "$(json 'd["status"], d["error"]["type"], d["error"]["details"]["missing"]' "$OUT")" '["failed","stock.short",380]'
run_wf run samples/fail.yaml --input '{"qty": 5}'
eq "fail skipped by if" "$RC" 0

run_wf run samples/succeed.yaml
eq "succeed early" "$(json 'd["source"]' "$OUT")" "cache"
run_wf run samples/succeed.yaml --input '{"cached": false}'
eq "succeed skipped" "$(json 'd["source"]' "$OUT")" "computed"

run_wf run samples/dag.yaml
eq "dag sample: branch to incremental, full_load skipped" "$(json 'd["report"], d["skipped"]' "$OUT")" '["loaded 3 orders for c1 c2","skipped"]'
run_wf run samples/dag.yaml --input '{"full": true}'
eq "dag sample: branch to full_load" "$(json 'd["report"], d["skipped"]' "$OUT")" '["loaded everything for c1 c2","success"]'
