# http.sh — http steps, retry policies, timeouts, idempotency keys, secrets
# and the error model, against a real HTTP server on 127.0.0.1.
. tests/lib.sh
. tests/http.sh

wf() { # NAME BODY: write a workflow file with the common header
    printf 'wfdsl: 1\nname: %s\ninput:\n  base: {type: string}\n%s\n' "$1" "$2" >"$T/$1.yaml"
}
IN="{\"base\": \"$BASE\"}"

# --- the sample: 503, 503, 200 succeeds on attempt 3 -------------------------
run_wf run samples/http.yaml --id sample --input "{\"base_url\": \"$BASE\"}"
eq "sample exits 0" "$RC" 0
eq "sample output" "$(json 'd["attempts"], d["confirmed"], d["status"]' "$OUT")" '[3,3,200]'
R=$(requests /seq/A-1001)
eq "server saw three requests" "$(json 'len(d)' "$R")" 3
eq "one Idempotency-Key for every attempt" "$(json 'len(set(r["headers"]["Idempotency-Key"] for r in d))' "$R")" 1
eq "the key is 32 hex chars" "$(json 'len(d[0]["headers"]["Idempotency-Key"])' "$R")" 32
eq "JSON body sent with its content type" "$(json 'd[0]["headers"]["Content-Type"], json.loads(d[0]["body"])["qty"]' "$R")" '["application/json",2]'
run_wf show sample --json
eq "show: attempts of the flaky step" "$(json 'd["steps"][0]["attempts"], d["steps"][0]["status"]' "$OUT")" '[3,"completed"]'
run_wf history sample --json
eq "history: two failed attempts with http.503" "$(json '[e["payload"]["error"]["type"] for e in d if e["type"]=="step_failed"]' "$OUT")" '["http.503","http.503"]'
eq "history: attempts 1, 2, 3 started" "$(json '[e["payload"]["attempt"] for e in d if e["type"]=="step_started" and e["payload"]["seq"]==1]' "$OUT")" '[1,2,3]'
eq "failed attempts are not final" "$(json '[e["payload"]["final"] for e in d if e["type"]=="step_failed"]' "$OUT")" '[false,false]'
# waits follow the policy: 200ms then 400ms (from event timestamps, +-150ms)
waits=$(python3 -c '
import json, sys
ev = json.loads(sys.argv[1])
fails = [e for e in ev if e["type"] == "step_failed"]
starts = [e for e in ev if e["type"] == "step_started" and e["payload"]["seq"] == 1]
import datetime
def ms(t): return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000
print(" ".join("ok" if abs(ms(starts[i+1]["time"]) - ms(fails[i]["time"]) - w) < 150 else "bad:%d" % (ms(starts[i+1]["time"]) - ms(fails[i]["time"])) for i, w in enumerate([200, 400])))' "$OUT")
eq "backoff waits of 200ms and 400ms" "$waits" "ok ok"

# --- which errors are retried --------------------------------------------------
wf notfound 'retry_policies: {fast: {max_attempts: 3, initial_interval: 10ms}}
steps:
  - id: get
    retry: fast
    http: "${input.base}/seq/nf1/404,200"'
run_wf run "$T/notfound.yaml" --input "$IN"
eq "404 is not retried by default" "$RC" 1
contains "404 error names its type" "$ERR" "http.404: HTTP 404 from GET $BASE/seq/nf1/404,200"
eq "404: one request" "$(json 'len(d)' "$(requests /seq/nf1)")" 1

wf retry404 'steps:
  - id: get
    retry: {max_attempts: 3, initial_interval: 10ms, retry_on: [http.404]}
    http: "${input.base}/seq/nf2/404,200"'
run_wf run "$T/retry404.yaml" --input "$IN"
eq "retry_on: [http.404] retries it" "$RC" 0
eq "retry404: two requests" "$(json 'len(d)' "$(requests /seq/nf2)")" 2

wf nonretry 'steps:
  - id: get
    retry: {max_attempts: 3, initial_interval: 10ms, retry_on: [http], non_retryable: [http.404]}
    http: "${input.base}/seq/nf3/404,200"'
run_wf run "$T/nonretry.yaml" --input "$IN"
eq "non_retryable wins over retry_on" "$RC" 1
eq "nonretry: one request" "$(json 'len(d)' "$(requests /seq/nf3)")" 1

wf exhaust 'steps:
  - id: get
    retry: {max_attempts: 2, initial_interval: 10ms}
    http: "${input.base}/seq/ex/500"'
run_wf run "$T/exhaust.yaml" --input "$IN" --id exhaust
eq "max_attempts exhausted fails the run" "$RC" 1
eq "exhaust: two requests" "$(json 'len(d)' "$(requests /seq/ex)")" 2
run_wf show exhaust --json
eq "run error is {type, message, status, step, attempt}" "$(json '[d["error"][k] for k in ("type","status","step","attempt")]' "$OUT")" '["http.500",500,"get",2]'

# --- timeouts ------------------------------------------------------------------
wf slow 'steps:
  - id: get
    timeout: 300ms
    retry: {max_attempts: 2, initial_interval: 10ms}
    http: "${input.base}/delay/30000"'
start=$(date +%s%N)
run_wf run "$T/slow.yaml" --input "$IN" --id slow
el=$(( ($(date +%s%N) - start) / 1000000 ))
eq "a slow request fails with timeout" "$RC" 1
contains "timeout error" "$ERR" "timeout: GET $BASE/delay/30000: no response within 300ms"
eq "timeout is retried per policy" "$(json 'len(d)' "$(requests /delay/30000)")" 2
check "two 300ms attempts take well under 3s ($el ms)" [ "$el" -lt "$(limit_ms 2500)" ]

wf sleepy 'steps:
  - id: nap
    timeout: 200ms
    shell: {script: "sleep 30 & sleep 30; echo done"}'
start=$(date +%s%N)
run_wf run "$T/sleepy.yaml" --input "$IN"
el=$(( ($(date +%s%N) - start) / 1000000 ))
contains "a shell step past its timeout fails with timeout" "$ERR" "timeout: shell step timed out after 200ms"
check "its process group is killed at once ($el ms)" [ "$el" -lt "$(limit_ms 2000)" ]

wf runtimeout 'timeout: 500ms
steps:
  - shell: sleep 3'
run_wf run "$T/runtimeout.yaml" --input "$IN"
eq "whole-run timeout fails the run" "$RC" 1
contains "whole-run timeout error" "$ERR" "timeout: the run did not finish within its timeout of 500ms"
# resumed after its deadline: it fails at once, without starting its step
WFDSL_TEST_KILL_AFTER_EVENT=2 "$WFDSL" run "$T/runtimeout.yaml" --input "$IN" --id late >/dev/null 2>&1
eq "run killed before its deadline" "$?" 137
sleep 0.7
run_wf resume late
eq "resumed past its deadline: fails with timeout" "$RC" 1
contains "resumed past its deadline: the timeout error" "$ERR" "timeout: the run did not finish within its timeout of 500ms"

# --- net errors and Retry-After -------------------------------------------------
wf reset 'steps:
  - id: get
    retry: {max_attempts: 2, initial_interval: 10ms}
    http: "${input.base}/reset"'
run_wf run "$T/reset.yaml" --input "$IN"
contains "a reset connection is a net error" "$ERR" "net: GET $BASE/reset"
eq "net errors are retried" "$(json 'len(d)' "$(requests /reset)")" 2

wf after 'steps:
  - id: get
    retry: {max_attempts: 3, initial_interval: 10ms}
    http: "${input.base}/retry-after/ra/1/1"'
start=$(date +%s%N)
run_wf run "$T/after.yaml" --input "$IN"
el=$(( ($(date +%s%N) - start) / 1000000 ))
eq "Retry-After: succeeds after the wait" "$RC" 0
check "Retry-After: 1 is honoured ($el ms)" [ "$el" -ge 950 ]

# --- responses ------------------------------------------------------------------
wf shapes 'steps:
  - id: text
    http: "${input.base}/text"
  - id: echo
    http:
      method: PUT
      url: "${input.base}/echo"
      headers: {X-Trace: abc, Idempotency-Key: mine}
      query: {q: "a b&c", n: 5}
      form: {name: "Ann Lee", n: 1}
output:
  text: ${ steps.text.body }
  ctype: ${ steps.text.headers["content-type"] }
  method: ${ steps.echo.body.method }
  query: ${ steps.echo.body.query }
  trace: ${ steps.echo.body.headers["X-Trace"] }
  key: ${ steps.echo.body.headers["Idempotency-Key"] }
  form: ${ steps.echo.body.body }'
run_wf run "$T/shapes.yaml" --input "$IN"
eq "response shapes" "$(json 'd["text"], d["ctype"].split(";")[0], d["method"], d["trace"], d["key"]' "$OUT")" '["hello","text/plain","PUT","abc","mine"]'
eq "query is encoded" "$(json 'd["query"]' "$OUT")" '{"n":"5","q":"a b&c"}'
eq "form is url-encoded" "$(json 'd["form"]' "$OUT")" 'name=Ann%20Lee&n=1'

wf big 'steps:
  - http: "${input.base}/big/5000000"'
run_wf run "$T/big.yaml" --input "$IN"
contains "a body past the cap is a clear error" "$ERR" "http.too_large"

# --- secrets --------------------------------------------------------------------
wf secret 'secrets: [API_TOKEN]
steps:
  - id: call
    http:
      url: "${input.base}/echo"
      headers: {Authorization: "Bearer ${secrets.API_TOKEN}"}
  - id: sh
    shell:
      script: echo "token is $TOKEN"
      env: {TOKEN: "${secrets.API_TOKEN}"}
output:
  seen: ${ steps.call.body.headers.Authorization }
  said: ${ steps.sh.stdout }'
run_wf run "$T/secret.yaml" --input "$IN" --id secret
eq "missing secret refuses to start" "$RC" 2
contains "missing secret message" "$ERR" "secret API_TOKEN is not set in the environment"
API_TOKEN=s3cr3t-value-42 run_wf run "$T/secret.yaml" --input "$IN" --id secret
eq "secret run exits 0" "$RC" 0
eq "the server got the real secret" "$(json 'd[-1]["headers"]["Authorization"]' "$(requests /echo)")" "Bearer s3cr3t-value-42"
eq "outputs are redacted" "$(json 'd["seen"], d["said"]' "$OUT")" '["Bearer ***","token is ***\n"]'
run_wf show secret --json; s1="$OUT"; run_wf history secret --json
check "the secret is not in show or history" bash -c "! grep -q s3cr3t <<<'$s1$OUT'"
check "the secret is not in the database file" bash -c "! grep -aq s3cr3t '$WFDSL_DB' '$WFDSL_DB-wal' 2>/dev/null"

# --- a kill during a backoff wait resumes with only the remaining time -----------
wf backoff 'steps:
  - id: first
    http: "${input.base}/seq/bo1/200"
  - id: flaky
    retry: {max_attempts: 3, initial_interval: 2s, backoff: 1}
    http: "${input.base}/seq/bo2/503,200"'
"$WFDSL" run "$T/backoff.yaml" --input "$IN" --id backoff >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do [ "$(json 'len(d)' "$(requests /seq/bo2)")" = 1 ] && break; sleep 0.05; done
sleep 0.8
kill -9 $pid; wait $pid 2>/dev/null
start=$(date +%s%N)
run_wf resume backoff
el=$(( ($(date +%s%N) - start) / 1000000 ))
eq "resume after a kill in backoff completes" "$RC" 0
check "it waited only the remaining ~1.2s ($el ms)" [ "$el" -ge 500 -a "$el" -lt $((1000 + 900 * ${WFDSL_TEST_TIME_SCALE:-1})) ]
eq "the completed request was not resent" "$(json 'len(d)' "$(requests /seq/bo1)")" 1
eq "the flaky request was sent twice in all" "$(json 'len(d)' "$(requests /seq/bo2)")" 2
