/* airflow_ops.c — Airflow operators -> wfdsl steps, and the operator map
 * (--map). One function per operator family; an operator it does not know,
 * or one whose arguments it cannot translate, becomes a stub: a `fail` step
 * of type airflow.unconverted carrying the DAG file's line, the operator and
 * its arguments, listed in the report. Nothing is dropped silently. */
#include "airflow_int.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

/* The operator's class name: "BashOperator", "@task.bash", ... (a dotted
 * path keeps its last part). */
static const char *op_class(json_t *task)
{
    const char *op = json_string_value(json_object_get(task, "operator"));
    if (!op) return "?";
    if (op[0] == '@') return op;
    const char *d = strrchr(op, '.');
    return d ? d + 1 : op;
}

static const char *op_module_path(json_t *task, char *buf, size_t n)
{
    const char *op = json_string_value(json_object_get(task, "operator"));
    const char *mod = json_string_value(json_object_get(task, "module"));
    if (!op) return "?";
    if (op[0] == '@' || strchr(op, '.') || !mod) return op;
    snprintf(buf, n, "%s.%s", mod, op);
    return buf;
}

static int is_op(const char *cls, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(cls, *names)) return 1;
    return 0;
}

static const char *const BASH[] = {"BashOperator", "@task.bash", NULL};
static const char *const EMPTY[] = {"EmptyOperator", "DummyOperator", NULL};
static const char *const HTTP[] = {"HttpOperator", "SimpleHttpOperator", NULL};
static const char *const BRANCH[] = {"BranchPythonOperator", "@task.branch", NULL};
static const char *const SHORT[] = {"ShortCircuitOperator", "@task.short_circuit", NULL};
static const char *const DELTA[] = {"TimeDeltaSensor", "TimeDeltaSensorAsync", NULL};
static const char *const DATETIME[] = {"DateTimeSensor", "DateTimeSensorAsync", NULL};
static const char *const TIMES[] = {"TimeSensor", "TimeSensorAsync", NULL};

static json_t *kwarg(af_ctx *x, json_t *kw, const char *k)
{
    json_object_set_new(x->used, k, json_true());
    return json_object_get(kw, k);
}

static const char *task_id(json_t *task) { return json_string_value(json_object_get(task, "task_id")); }
static int task_line(json_t *task) { return (int)json_integer_value(json_object_get(task, "line")); }

/* A step id made from a task id: [a-z][a-z0-9_]*, unique among tasks and
 * other made ids. */
static const char *inner_id(af_ctx *x, const char *task, const char *suffix)
{
    char id[96];
    size_t k = 0;
    if (!isalpha((unsigned char)task[0])) id[k++] = 't', id[k++] = '_';
    for (const char *p = task; *p && k < 60; p++) {
        unsigned char c = (unsigned char)*p;
        id[k++] = isalnum(c) ? (char)tolower(c) : '_';
    }
    id[k] = 0;
    char full[128];
    snprintf(full, sizeof full, "%s_%s", id, suffix);
    char try[140];
    snprintf(try, sizeof try, "%s", full);
    for (int i = 2; json_object_get(x->ids, try) || json_object_get(x->tasks, try); i++)
        snprintf(try, sizeof try, "%s%d", full, i);
    json_object_set_new(x->ids, try, json_true());
    return dsl_strdup(x->doc, try, strlen(try));
}

/* ---- stubs ---------------------------------------------------------------------- */

static dsl_node *stub(af_ctx *x, json_t *task, const char **kind, const char *why)
{
    const char *cls = op_class(task);
    int line = task_line(task);
    std_buf s = {0};
    std_buf_addf(&s, "%s(", cls);
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(json_object_get(task, "kwargs"), k, v) {
        if (s.len > 160) {
            std_buf_adds(&s, ", ...");
            break;
        }
        std_buf_addf(&s, "%s%s=", first ? "" : ", ", k);
        af_summary(&s, v, 1);
        first = 0;
    }
    json_t *cb = json_object_get(task, "callable");
    if (cb && json_is_string(json_object_get(cb, "name")))
        std_buf_addf(&s, "%sdef %s", first ? "" : ", ", json_string_value(json_object_get(cb, "name")));
    std_buf_adds(&s, ")");
    af_report(x, line, "stub", task_id(task), "%s is not converted%s%s: the task fails at run time", cls, why ? ": " : "",
              why ? why : "");
    dsl_node *f = af_map(x);
    af_put(x, f, "type", af_p(x, "airflow.unconverted"));
    char *msg = std_strf("%s:%d: %s was not converted%s%s", x->base, line, s.p, why ? " (" : "", why ? why : "");
    if (why) {
        char *m2 = std_strf("%s)", msg);
        free(msg);
        msg = m2;
    }
    af_put(x, f, "message", af_lit(x, msg));
    free(msg);
    std_buf_free(&s);
    dsl_node *det = af_map(x);
    char mp[256];
    af_put(x, det, "operator", af_lit(x, op_module_path(task, mp, sizeof mp)));
    char ln[32];
    snprintf(ln, sizeof ln, "%d", line);
    af_put(x, det, "line", af_p(x, ln));
    json_t *kws = json_object_get(task, "kwargs");
    af_put(x, det, "kwargs", json_is_object(kws) ? af_json_node(x, kws) : af_map(x));
    if (cb && json_is_string(json_object_get(cb, "name"))) af_put(x, det, "callable", af_lit(x, json_string_value(json_object_get(cb, "name"))));
    json_t *ex = json_object_get(task, "expand");
    if (json_is_object(ex)) af_put(x, det, "expand", af_json_node(x, ex));
    af_put(x, f, "details", det);
    dsl_node *st = af_map(x);
    af_put(x, st, "fail", f);
    *kind = "fail";
    return st;
}

/* ---- shell ---------------------------------------------------------------------------- */

static dsl_node *skip_codes(af_ctx *x, json_t *kw, int *bad)
{
    json_t *sc = json_object_get(kw, "skip_on_exit_code");
    if (!sc) sc = json_object_get(kw, "skip_exit_code");
    json_object_set_new(x->used, "skip_on_exit_code", json_true());
    json_object_set_new(x->used, "skip_exit_code", json_true());
    dsl_node *l = af_seq(x);
    if (!sc) af_app(x, l, af_p(x, "99"));
    else if (json_is_null(sc)) return NULL;
    else if (json_is_integer(sc)) af_app(x, l, af_json_node(x, sc));
    else if (json_is_array(sc)) {
        size_t i;
        json_t *v;
        json_array_foreach(sc, i, v) {
            if (!json_is_integer(v)) *bad = 1;
            else af_app(x, l, af_json_node(x, v));
        }
    } else *bad = 1;
    return l->n ? l : NULL;
}

/* shell: {script, env, cwd, skip_codes} for a command with Jinja; NULL after a report. */
static dsl_node *shell_of(af_ctx *x, json_t *task, json_t *kw, const char *cmd, int bad_ok, const char *wrap_pre,
                          const char *wrap_post)
{
    const char *id = task_id(task);
    int line = task_line(task);
    dsl_node *env = af_map(x);
    int bad = 0;
    json_t *ev = kwarg(x, kw, "env");
    kwarg(x, kw, "append_env");
    kwarg(x, kw, "output_encoding");
    if (json_is_object(ev) && !af_tag(ev)) {
        const char *k;
        json_t *v;
        json_object_foreach(ev, k, v) af_put(x, env, k, af_value(x, v, id, line, &bad));
    } else if (ev && !json_is_null(ev)) {
        af_report(x, line, "unconverted", id, "env is not a literal mapping");
        bad = 1;
    }
    char *script = af_shell_template(x, cmd, env, id, line);
    if (!script || bad) {
        free(script);
        return NULL;
    }
    dsl_node *sh = af_map(x);
    char *full = std_strf("%s%s%s", wrap_pre ? wrap_pre : "", script, wrap_post ? wrap_post : "");
    af_put(x, sh, "script", af_str(x, full, strchr(full, '\n') ? DSL_BLOCK : DSL_QUOTED));
    free(full);
    free(script);
    if (env->n) af_put(x, sh, "env", env);
    json_t *cwd = kwarg(x, kw, "cwd");
    if (json_is_string(cwd)) {
        dsl_node *c = af_template(x, json_string_value(cwd), id, line);
        if (!c) return NULL;
        af_put(x, sh, "cwd", c);
    }
    if (!bad_ok) {
        dsl_node *sc = skip_codes(x, kw, &bad);
        if (bad) {
            af_report(x, line, "unconverted", id, "skip_on_exit_code is not a code or a list of codes");
            return NULL;
        }
        if (sc) af_put(x, sh, "skip_codes", sc);
    }
    return sh;
}

static dsl_node *op_bash(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    json_t *cmd = kwarg(x, kw, "bash_command");
    if (!strcmp(op_class(task), "@task.bash")) {
        json_t *cb = json_object_get(task, "callable");
        cmd = json_object_get(cb, "returns");
        if (json_array_size(json_object_get(task, "call_args")) || json_object_size(json_object_get(task, "call_kwargs")))
            return stub(x, task, kind, "the function is called with arguments");
    }
    if (!json_is_string(cmd)) return stub(x, task, kind, "the command is not a literal string");
    const char *c = json_string_value(cmd);
    size_t n = strlen(c);
    if ((n > 3 && !strcmp(c + n - 3, ".sh")) || (n > 5 && !strcmp(c + n - 5, ".bash")))
        return stub(x, task, kind, "the command names a script template file");
    dsl_node *sh = shell_of(x, task, kw, c, 0, NULL, NULL);
    if (!sh) return stub(x, task, kind, "its arguments hold templates that are not converted");
    dsl_node *st = af_map(x);
    af_put(x, st, "shell", sh);
    *kind = "shell";
    return st;
}

static dsl_node *lua_step(af_ctx *x, const char *src, const char **kind)
{
    dsl_node *st = af_map(x);
    af_put(x, st, "lua", af_str(x, src, strchr(src, '\n') ? DSL_BLOCK : DSL_QUOTED));
    *kind = "lua";
    return st;
}

/* ---- http ------------------------------------------------------------------------------- */

static dsl_node *http_of(af_ctx *x, json_t *task, json_t *kw, const char *def_method)
{
    const char *id = task_id(task);
    int line = task_line(task);
    int bad = 0;
    json_t *m = kwarg(x, kw, "method");
    char method[16];
    snprintf(method, sizeof method, "%s", json_is_string(m) ? json_string_value(m) : def_method);
    for (char *p = method; *p; p++) *p = (char)toupper((unsigned char)*p);
    json_t *conn = kwarg(x, kw, "http_conn_id");
    const char *cid = json_is_string(conn) ? json_string_value(conn) : "http_default";
    const char *in = af_connection(x, cid, line, id);
    std_buf url = {0};
    std_buf_adds(&url, "${ ");
    af_lua_field(&url, "input", in);
    std_buf_adds(&url, " }");
    json_t *ep = kwarg(x, kw, "endpoint");
    if (json_is_string(ep) && *json_string_value(ep)) {
        dsl_node *e = af_template(x, json_string_value(ep), id, line);
        if (!e) bad = 1;
        else std_buf_addf(&url, "%s%s", e->str[0] == '/' ? "" : "/", e->str);
    } else if (ep && !json_is_null(ep)) {
        af_report(x, line, "unconverted", id, "endpoint is not a string");
        bad = 1;
    }
    std_buf_adds(&url, "");
    dsl_node *h = af_map(x);
    af_put(x, h, "method", af_p(x, method));
    af_put(x, h, "url", af_q(x, url.p));
    std_buf_free(&url);
    json_t *hd = kwarg(x, kw, "headers");
    if (json_is_object(hd) && json_object_size(hd)) af_put(x, h, "headers", af_value(x, hd, id, line, &bad));
    json_t *data = kwarg(x, kw, "data");
    json_t *rp = kwarg(x, kw, "request_params"); /* HttpSensor: the query */
    if (json_is_object(rp) && !af_tag(rp) && json_object_size(rp)) af_put(x, h, "query", af_value(x, rp, id, line, &bad));
    if (data && !json_is_null(data)) {
        if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
            if (json_is_object(data)) af_put(x, h, "query", af_value(x, data, id, line, &bad));
            else {
                af_report(x, line, "unconverted", id, "data for a %s request is not a mapping", method);
                bad = 1;
            }
        } else if (json_is_object(data)) {
            af_put(x, h, "form", af_value(x, data, id, line, &bad)); /* requests form-encodes a dict */
        } else if (json_is_string(data)) {
            json_t *j = json_loads(json_string_value(data), JSON_DECODE_ANY, NULL);
            if (j && !af_has_jinja(json_string_value(data))) {
                af_put(x, h, "body", af_value(x, j, id, line, &bad));
                af_report(x, line, "note", id, "data (a JSON text) is sent as that JSON value");
            } else {
                af_report(x, line, "unconverted", id, "a body that is not JSON text is not converted (wfdsl sends JSON bodies)");
                bad = 1;
            }
            json_decref(j);
        } else {
            af_report(x, line, "unconverted", id, "data is not a literal");
            bad = 1;
        }
    }
    json_t *rf = kwarg(x, kw, "response_filter");
    if (rf && !json_is_null(rf)) af_report(x, line, "unconverted", id, "response_filter is not converted: the output is the whole response");
    kwarg(x, kw, "log_response");
    json_t *eo = kwarg(x, kw, "extra_options");
    if (json_is_object(eo) && json_object_size(eo)) af_report(x, line, "warning", id, "extra_options are ignored");
    return bad ? NULL : h;
}

/* A Python literal at *p (a quoted string, an integer, True/False/None) as Lua. */
static int py_lit(const char **p, std_buf *b)
{
    const char *s = *p;
    while (*s == ' ') s++;
    if (*s == '"' || *s == '\'') {
        char q = *s++;
        const char *e = strchr(s, q);
        if (!e) return 0;
        char *t = std_strf("%.*s", (int)(e - s), s);
        if (strchr(t, '\\')) {
            free(t);
            return 0;
        }
        af_lua_str(b, t);
        free(t);
        *p = e + 1;
        return 1;
    }
    size_t n = 0;
    if (*s == '-') n++;
    while (isdigit((unsigned char)s[n])) n++;
    if (n && s[n - 1] != '-') {
        std_buf_add(b, s, n);
        *p = s + n;
        return 1;
    }
    static const char *const k[][2] = {{"True", "true"}, {"False", "false"}, {"None", "json.null"}};
    for (size_t i = 0; i < 3; i++)
        if (!strncmp(s, k[i][0], strlen(k[i][0]))) {
            std_buf_adds(b, k[i][1]);
            *p = s + strlen(k[i][0]);
            return 1;
        }
    return 0;
}

/* A response_check lambda of one of the common shapes, as a Lua condition
 * over the response r ({status, headers, body}):
 *   "text" in response.text        response.status_code == 200
 *   response.json()["a"][0] == "x" (also !=)
 * NULL for anything else. */
static char *response_lua(json_t *rc, const char *r)
{
    const char *t = af_tag(rc);
    json_t *lua = json_object_get(rc, "lua");
    if (!t || (strcmp(t, "lambda") && strcmp(t, "callable"))) return NULL;
    if (json_is_string(lua)) return NULL; /* the front end's vocabulary does not name the response */
    const char *src = json_string_value(json_object_get(rc, "source"));
    const char *pn = json_string_value(json_array_get(json_object_get(rc, "params"), 0));
    if (!src || !pn || strncmp(src, "lambda ", 7)) return NULL;
    const char *p = strchr(src, ':');
    if (!p) return NULL;
    p++;
    while (*p == ' ') p++;
    size_t pl = strlen(pn);
    std_buf b = {0};
    int ok = 0;
    if (*p == '"' || *p == '\'') { /* "x" in r.text */
        std_buf lit = {0};
        if (py_lit(&p, &lit)) {
            std_buf_adds(&lit, "");
            while (*p == ' ') p++;
            if (!strncmp(p, "in ", 3) && !strncmp(p + 3, pn, pl) && !strcmp(p + 3 + pl, ".text")) {
                std_buf_addf(&b, "string.find(type(%s.body) == \"string\" and %s.body or json.encode(%s.body), %s, 1, true) ~= nil",
                             r, r, r, lit.p);
                ok = 1;
            }
        }
        std_buf_free(&lit);
    } else if (!strncmp(p, pn, pl) && p[pl] == '.') {
        p += pl + 1;
        if (!strncmp(p, "status_code", 11)) {
            std_buf_addf(&b, "%s.status", r);
            p += 11;
        } else if (!strncmp(p, "json()", 6)) {
            std_buf_addf(&b, "%s.body", r);
            p += 6;
            while (*p == '[') {
                p++;
                std_buf k = {0};
                if (!py_lit(&p, &k) || *p != ']') {
                    std_buf_free(&k);
                    std_buf_free(&b);
                    return NULL;
                }
                std_buf_adds(&k, "");
                /* Python indexes lists from 0, Lua from 1 */
                if (isdigit((unsigned char)k.p[0])) std_buf_addf(&b, "[%lld]", atoll(k.p) + 1);
                else std_buf_addf(&b, "[%s]", k.p);
                std_buf_free(&k);
                p++;
            }
        } else {
            std_buf_free(&b);
            return NULL;
        }
        while (*p == ' ') p++;
        const char *op = !strncmp(p, "==", 2) ? " == " : !strncmp(p, "!=", 2) ? " ~= " : NULL;
        if (op) {
            p += 2;
            std_buf_adds(&b, op);
            ok = py_lit(&p, &b);
            while (*p == ' ') p++;
            ok = ok && !*p;
        }
    }
    if (!ok) {
        std_buf_free(&b);
        return NULL;
    }
    std_buf_adds(&b, "");
    return std_buf_take(&b);
}

static dsl_node *op_http(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    dsl_node *h = http_of(x, task, kw, "POST");
    if (!h) return stub(x, task, kind, "its arguments are not converted");
    dsl_node *st = af_map(x);
    af_put(x, st, "http", h);
    *kind = "http";
    json_t *rc = kwarg(x, kw, "response_check");
    if (!rc || json_is_null(rc)) return st;
    const char *rid = inner_id(x, task_id(task), "request");
    char *ref = std_strf("steps.%s", rid);
    char *cond = response_lua(rc, ref);
    free(ref);
    if (!cond) {
        af_report(x, task_line(task), "unconverted", task_id(task), "response_check is not converted: any 2xx answer counts as success");
        return st;
    }
    /* the request, then the check: a loop of one iteration whose output is the response */
    dsl_node *req = af_map(x), *chk = af_map(x), *steps = af_seq(x), *lp = af_map(x), *out = af_map(x);
    af_put(x, req, "id", af_p(x, rid));
    af_put(x, req, "http", h);
    char *src = std_strf("if not (%s) then\n  error(\"response_check returned False\")\nend\nreturn steps.%s\n", cond, rid);
    af_put(x, chk, "lua", af_str(x, src, DSL_BLOCK));
    free(src);
    free(cond);
    af_app(x, steps, req);
    af_app(x, steps, chk);
    af_put(x, lp, "max_iterations", af_p(x, "1"));
    af_put(x, lp, "steps", steps);
    af_put(x, out, "loop", lp);
    x->inner = req;
    x->inner_kind = "http";
    *kind = "loop";
    af_report(x, task_line(task), "note", task_id(task), "response_check becomes a lua check after the request");
    return out;
}

/* ---- sensors: a loop that pokes ---------------------------------------------------------------- */

/* loop: {every, max_iterations, until, steps: [poke]}, wrapped in a try that
 * turns exhaustion into a skip when soft_fail. */
static dsl_node *sensor_loop(af_ctx *x, json_t *task, json_t *kw, dsl_node *poke_step, const char *poke_id,
                             const char *until, const char **kind)
{
    int64_t poke = 60000, timeout = 7 * 86400000LL;
    json_t *pi = kwarg(x, kw, "poke_interval");
    if (pi && !af_seconds_ms(pi, &poke)) af_report(x, task_line(task), "warning", task_id(task), "poke_interval is not a duration; 60s used"), poke = 60000;
    json_t *to = kwarg(x, kw, "timeout");
    if (to && !af_seconds_ms(to, &timeout)) af_report(x, task_line(task), "warning", task_id(task), "timeout is not a duration; 7 days used"), timeout = 7 * 86400000LL;
    if (poke < 1000) poke = 1000;
    int64_t n = timeout / poke + 1;
    dsl_node *lp = af_map(x);
    char b[64];
    af_dur(poke, b, sizeof b);
    af_put(x, lp, "every", af_p(x, b));
    snprintf(b, sizeof b, "%lld", (long long)n);
    af_put(x, lp, "max_iterations", af_p(x, b));
    af_put(x, lp, "until", af_q(x, until));
    dsl_node *steps = af_seq(x);
    dsl_node *ps = af_map(x);
    af_put(x, ps, "id", af_p(x, poke_id));
    for (size_t i = 0; i < poke_step->n; i++) dsl_map_add(x->doc, ps, poke_step->keys[i], poke_step->vals[i]);
    af_app(x, steps, ps);
    af_put(x, lp, "steps", steps);
    dsl_node *st = af_map(x);
    af_put(x, st, "loop", lp);
    *kind = "loop";
    if (!af_truthy(kwarg(x, kw, "soft_fail"))) return st;
    /* soft_fail: a sensor that times out is skipped */
    dsl_node *tr = af_map(x), *body = af_seq(x), *catch = af_seq(x), *cl = af_map(x), *errs = af_seq(x), *cs = af_seq(x);
    af_app(x, body, st);
    af_put(x, tr, "steps", body);
    af_app(x, errs, af_p(x, "loop.exhausted"));
    af_put(x, cl, "errors", errs);
    dsl_node *f = af_map(x), *fs = af_map(x);
    af_put(x, f, "type", af_p(x, "skipped"));
    af_put(x, f, "message", af_q(x, "the sensor timed out (soft_fail)"));
    af_put(x, fs, "fail", f);
    af_app(x, cs, fs);
    af_put(x, cl, "steps", cs);
    af_app(x, catch, cl);
    af_put(x, tr, "catch", catch);
    dsl_node *out = af_map(x);
    af_put(x, out, "try", tr);
    *kind = "try";
    return out;
}

static dsl_node *op_file_sensor(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    json_t *fp = kwarg(x, kw, "filepath");
    if (!json_is_string(fp)) return stub(x, task, kind, "filepath is not a literal");
    json_t *conn = kwarg(x, kw, "fs_conn_id");
    if (json_is_string(conn) && strcmp(json_string_value(conn), "fs_default"))
        af_report(x, task_line(task), "warning", task_id(task), "fs_conn_id '%s': its base path is not prepended to the file path",
                  json_string_value(conn));
    kwarg(x, kw, "recursive");
    dsl_node *v = af_template(x, json_string_value(fp), task_id(task), task_line(task));
    if (!v) return stub(x, task, kind, "filepath holds a template that is not converted");
    dsl_node *sh = af_map(x), *env = af_map(x), *ok = af_seq(x);
    af_put(x, sh, "script", af_q(x, "for f in $FILEPATH; do [ -e \"$f\" ] && exit 0; done; exit 1"));
    af_put(x, env, "FILEPATH", v);
    af_put(x, sh, "env", env);
    af_app(x, ok, af_p(x, "0"));
    af_app(x, ok, af_p(x, "1"));
    af_put(x, sh, "ok_codes", ok);
    dsl_node *ps = af_map(x);
    af_put(x, ps, "shell", sh);
    const char *pid = inner_id(x, task_id(task), "poke");
    char *until = std_strf("steps.%s.code == 0", pid);
    dsl_node *r = sensor_loop(x, task, kw, ps, pid, until, kind);
    free(until);
    return r;
}

static dsl_node *op_bash_sensor(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    json_t *cmd = kwarg(x, kw, "bash_command");
    if (!json_is_string(cmd)) return stub(x, task, kind, "bash_command is not a literal");
    kwarg(x, kw, "retry_exit_code");
    dsl_node *sh = shell_of(x, task, kw, json_string_value(cmd), 1, "if (\n", "\n); then exit 0; else exit 1; fi");
    if (!sh) return stub(x, task, kind, "its arguments hold templates that are not converted");
    dsl_node *ok = af_seq(x);
    af_app(x, ok, af_p(x, "0"));
    af_app(x, ok, af_p(x, "1"));
    af_put(x, sh, "ok_codes", ok);
    dsl_node *ps = af_map(x);
    af_put(x, ps, "shell", sh);
    const char *pid = inner_id(x, task_id(task), "poke");
    char *until = std_strf("steps.%s.code == 0", pid);
    dsl_node *r = sensor_loop(x, task, kw, ps, pid, until, kind);
    free(until);
    return r;
}

static dsl_node *op_http_sensor(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    dsl_node *h = http_of(x, task, kw, "GET");
    if (!h) return stub(x, task, kind, "its arguments are not converted");
    dsl_node *ex = af_seq(x);
    af_app(x, ex, af_p(x, "2xx"));
    af_app(x, ex, af_p(x, "404")); /* Airflow pokes again on 404 */
    af_put(x, h, "expect", ex);
    dsl_node *ps = af_map(x);
    af_put(x, ps, "http", h);
    const char *pid = inner_id(x, task_id(task), "poke");
    char *until = std_strf("steps.%s.status ~= 404", pid);
    json_t *rc = kwarg(x, kw, "response_check");
    if (rc && !json_is_null(rc)) { /* Airflow pokes again while the check is False */
        char *ref = std_strf("steps.%s", pid);
        char *cond = response_lua(rc, ref);
        free(ref);
        if (cond) {
            char *u2 = std_strf("%s and (%s)", until, cond);
            free(until);
            until = u2;
            free(cond);
        } else {
            af_report(x, task_line(task), "unconverted", task_id(task), "response_check is not converted: any 2xx answer ends the sensor");
        }
    }
    dsl_node *r = sensor_loop(x, task, kw, ps, pid, until, kind);
    free(until);
    return r;
}

/* ---- time sensors -> durable sleeps ------------------------------------------------------------ */

static dsl_node *sleep_until(af_ctx *x, const char *expr, const char **kind)
{
    dsl_node *st = af_map(x), *sl = af_map(x);
    af_put(x, sl, "until", af_q(x, expr));
    af_put(x, st, "sleep", sl);
    *kind = "sleep";
    return st;
}

static dsl_node *op_time_sensor(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    const char *cls = op_class(task);
    int64_t ms = 0;
    char b[256];
    if (is_op(cls, DELTA)) {
        if (!af_seconds_ms(kwarg(x, kw, "delta"), &ms)) return stub(x, task, kind, "delta is not a duration");
        /* Airflow waits until the end of the data interval + delta */
        snprintf(b, sizeof b, "${ time.add(vars.%s, %lld) }", af_date_var(x, "interval_end"), (long long)(ms / 1000));
        return sleep_until(x, b, kind);
    }
    if (!strcmp(cls, "WaitSensor")) {
        if (!af_seconds_ms(kwarg(x, kw, "time_to_wait"), &ms)) return stub(x, task, kind, "time_to_wait is not a duration");
        af_dur(ms, b, sizeof b);
        dsl_node *st = af_map(x);
        af_put(x, st, "sleep", af_p(x, b));
        *kind = "sleep";
        return st;
    }
    json_t *tt = kwarg(x, kw, "target_time");
    const char *tag = af_tag(tt);
    if (is_op(cls, TIMES)) {
        int h, m, s = 0;
        const char *v = tag && !strcmp(tag, "time") ? json_string_value(json_object_get(tt, "value")) : NULL;
        if (!v || sscanf(v, "%d:%d:%d", &h, &m, &s) < 2) return stub(x, task, kind, "target_time is not a time of day");
        /* today's time of day (UTC); a time already past ends at once */
        snprintf(b, sizeof b, "${ time.parse(now()) // 86400 * 86400 + %d }", h * 3600 + m * 60 + s);
        return sleep_until(x, b, kind);
    }
    /* DateTimeSensor: a datetime or a (templated) string */
    if (json_is_string(tt) && af_has_jinja(json_string_value(tt))) {
        dsl_node *n = af_template(x, json_string_value(tt), task_id(task), task_line(task));
        if (!n) return stub(x, task, kind, "target_time holds a template that is not converted");
        return sleep_until(x, n->str, kind);
    }
    if (json_is_string(tt) && strchr(json_string_value(tt), 'T') &&
        (strchr(json_string_value(tt), 'Z') || strchr(json_string_value(tt) + 10, '+')))
        return sleep_until(x, json_string_value(tt), kind);
    if ((tag && !strcmp(tag, "datetime")) || json_is_string(tt)) {
        /* naive text or a datetime: its zone (UTC when naive) */
        const char *v = json_is_string(tt) ? json_string_value(tt) : json_string_value(json_object_get(tt, "value"));
        const char *tz = json_is_string(tt) ? NULL : json_string_value(json_object_get(tt, "tz"));
        if (tz && strcmp(tz, "UTC")) return stub(x, task, kind, "target_time in a time zone other than UTC");
        int y, mo, d, h = 0, mi = 0, s = 0;
        if (!v || sscanf(v, "%d-%d-%d", &y, &mo, &d) != 3) return stub(x, task, kind, "target_time is not a date");
        const char *tp = strpbrk(v, "T ");
        if (tp) sscanf(tp + 1, "%d:%d:%d", &h, &mi, &s);
        snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s);
        return sleep_until(x, b, kind);
    }
    return stub(x, task, kind, "target_time is not a literal");
}

/* ---- branches and short circuits ---------------------------------------------------------------- */

/* Declare what a front-end Lua expression reads: run dates, inputs. */
static void lua_uses(af_ctx *x, const char *lua)
{
    static const char *const dv[] = {"logical_date", "interval_start", "interval_end"};
    for (size_t i = 0; i < 3; i++) {
        char *p = std_strf("vars.%s", dv[i]);
        if (strstr(lua, p)) af_date_var(x, dv[i]);
        free(p);
    }
    for (const char *p = strstr(lua, "input."); p; p = strstr(p + 1, "input.")) {
        if (p > lua && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.')) continue;
        char nm[64];
        size_t k = 0;
        for (const char *q = p + 6; (isalnum((unsigned char)*q) || *q == '_') && k < sizeof nm - 1; q++) nm[k++] = *q;
        nm[k] = 0;
        if (k && !json_object_get(x->inputs, nm)) af_need_input(x, nm, json_pack("{s:s, s:b}", "type", "any", "required", 0));
    }
}

/* `return <expr>` for a python callable the front end could translate. */
static char *callable_lua(af_ctx *x, json_t *cb)
{
    const char *t = af_tag(cb);
    if (!t || (strcmp(t, "callable") && strcmp(t, "lambda"))) return NULL;
    json_t *lua = json_object_get(cb, "lua");
    if (json_is_string(lua)) {
        lua_uses(x, json_string_value(lua));
        return std_strf("return %s", json_string_value(lua));
    }
    json_t *r = json_object_get(cb, "returns");
    if (!r) return NULL;
    std_buf b = {0};
    std_buf_adds(&b, "return ");
    if (!af_lua_lit(&b, r)) {
        std_buf_free(&b);
        return NULL;
    }
    std_buf_adds(&b, "");
    return std_buf_take(&b);
}

static json_t *task_callable(af_ctx *x, json_t *task, json_t *kw)
{
    json_t *cb = json_object_get(task, "callable");
    return json_is_object(cb) ? cb : kwarg(x, kw, "python_callable");
}

/* The callable takes arguments other than *args / **context. */
static int has_params(json_t *cb)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(cb, "params"), i, p)
        if (!json_is_string(p) || json_string_value(p)[0] != '*') return 1;
    return 0;
}

static dsl_node *op_branch(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    json_t *cb = task_callable(x, task, kw);
    kwarg(x, kw, "op_args");
    kwarg(x, kw, "op_kwargs");
    char *src = callable_lua(x, cb);
    if (!src) return stub(x, task, kind, "the callable is not a constant or simple expression");
    dsl_node *st = lua_step(x, src, kind);
    free(src);
    af_put(x, st, "branch", af_p(x, "true"));
    return st;
}

static dsl_node *op_short_circuit(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    json_t *cb = task_callable(x, task, kw);
    kwarg(x, kw, "op_args");
    kwarg(x, kw, "op_kwargs");
    char *src = callable_lua(x, cb);
    if (!src) return stub(x, task, kind, "the callable is not a constant or simple expression");
    dsl_node *st = lua_step(x, src, kind);
    free(src);
    json_t *ig = kwarg(x, kw, "ignore_downstream_trigger_rules");
    af_put(x, st, "short_circuit", af_p(x, ig && !af_truthy(ig) ? "direct" : "downstream"));
    return st;
}

/* A python callable whose whole body is `return <constant or simple
 * expression>` and that takes no arguments: a lua task giving that value. */
static dsl_node *op_python(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    json_t *cb = task_callable(x, task, kw);
    json_t *oa = kwarg(x, kw, "op_args"), *ok = kwarg(x, kw, "op_kwargs");
    kwarg(x, kw, "templates_dict");
    if (has_params(cb) || json_array_size(oa) || json_object_size(ok) ||
        json_array_size(json_object_get(task, "call_args")) || json_object_size(json_object_get(task, "call_kwargs")))
        return stub(x, task, kind, NULL);
    char *src = callable_lua(x, cb);
    if (!src) return stub(x, task, kind, NULL);
    dsl_node *st = lua_step(x, src, kind);
    free(src);
    af_report(x, task_line(task), "note", task_id(task), "%s: its callable only returns a value; converted to a lua task", op_class(task));
    return st;
}

/* The run date a date branch compares: logical date or the wall clock. */
static const char *branch_now(af_ctx *x, json_t *kw)
{
    json_t *u = kwarg(x, kw, "use_task_logical_date");
    json_t *u2 = kwarg(x, kw, "use_task_execution_day");
    json_t *u3 = kwarg(x, kw, "use_task_execution_date");
    if (af_truthy(u) || af_truthy(u2) || af_truthy(u3)) return std_strf("vars.%s", af_date_var(x, "logical_date"));
    return std_strf("now()");
}

static int follow_lit(af_ctx *x, json_t *kw, const char *k, std_buf *b)
{
    json_t *v = kwarg(x, kw, k);
    if (json_is_string(v)) {
        json_t *a = json_pack("[O]", v);
        int r = af_lua_lit(b, a);
        json_decref(a);
        return r;
    }
    return json_is_array(v) && af_lua_lit(b, v);
}

static int weekday_num(const char *s)
{
    static const char *const d[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
    char l[16];
    size_t k = 0;
    for (; s[k] && k < sizeof l - 1; k++) l[k] = (char)tolower((unsigned char)s[k]);
    l[k] = 0;
    for (int i = 0; i < 7; i++)
        if (!strcmp(l, d[i])) return i + 1;
    return 0;
}

static dsl_node *op_branch_weekday(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    std_buf t = {0}, f = {0}, cond = {0};
    dsl_node *r = NULL;
    json_t *wd = kwarg(x, kw, "week_day");
    json_t *list = json_is_array(wd) ? json_incref(wd) : json_pack("[O]", wd ? wd : json_null());
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "value"));
        int n = s ? weekday_num(s) : 0;
        if (!n) goto out;
        std_buf_addf(&cond, "%sd == %d", cond.len ? " or " : "", n);
    }
    if (!cond.len || !follow_lit(x, kw, "follow_task_ids_if_true", &t) || !follow_lit(x, kw, "follow_task_ids_if_false", &f))
        goto out;
    std_buf_adds(&t, "");
    std_buf_adds(&f, "");
    std_buf_adds(&cond, "");
    char *now = (char *)branch_now(x, kw);
    char *src = std_strf("local d = tonumber(time.format(%s, \"%%u\"))\nif %s then return %s end\nreturn %s\n", now, cond.p, t.p, f.p);
    free(now);
    r = lua_step(x, src, kind);
    free(src);
    af_put(x, r, "branch", af_p(x, "true"));
out:
    json_decref(list);
    std_buf_free(&t);
    std_buf_free(&f);
    std_buf_free(&cond);
    return r ? r : stub(x, task, kind, "week_day or the follow_task_ids are not literals");
}

/* A target bound as Lua seconds: a datetime constant, or a time of day on n's date. */
static int bound(json_t *v, std_buf *b, int *is_time)
{
    const char *tag = af_tag(v);
    *is_time = 0;
    if (!v || json_is_null(v)) {
        std_buf_adds(b, "nil");
        return 1;
    }
    const char *s = tag ? json_string_value(json_object_get(v, "value")) : NULL;
    int y, mo, d, h = 0, mi = 0, se = 0;
    if (tag && !strcmp(tag, "time") && s && sscanf(s, "%d:%d:%d", &h, &mi, &se) >= 2) {
        std_buf_addf(b, "n - n %% 86400 + %d", h * 3600 + mi * 60 + se);
        *is_time = 1;
        return 1;
    }
    if (tag && !strcmp(tag, "datetime") && s && sscanf(s, "%d-%d-%d", &y, &mo, &d) == 3) {
        const char *tz = json_string_value(json_object_get(v, "tz"));
        if (tz && strcmp(tz, "UTC")) return 0;
        const char *tp = strchr(s, 'T');
        if (tp) sscanf(tp + 1, "%d:%d:%d", &h, &mi, &se);
        std_buf_addf(b, "time.parse(\"%04d-%02d-%02dT%02d:%02d:%02dZ\")", y, mo, d, h, mi, se);
        return 1;
    }
    return 0;
}

static dsl_node *op_branch_datetime(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    std_buf t = {0}, f = {0}, lo = {0}, up = {0};
    dsl_node *r = NULL;
    int lt = 0, ut = 0;
    json_t *l = kwarg(x, kw, "target_lower"), *u = kwarg(x, kw, "target_upper");
    if ((!l || json_is_null(l)) && (!u || json_is_null(u))) goto out;
    if (!bound(l, &lo, &lt) || !bound(u, &up, &ut)) goto out;
    if (!follow_lit(x, kw, "follow_task_ids_if_true", &t) || !follow_lit(x, kw, "follow_task_ids_if_false", &f)) goto out;
    std_buf_adds(&t, "");
    std_buf_adds(&f, "");
    std_buf_adds(&lo, "");
    std_buf_adds(&up, "");
    char *now = (char *)branch_now(x, kw);
    /* Airflow: times of day are taken on the compared date; an upper time
     * before the lower one is on the next day; true iff lower <= now <= upper */
    char *src = std_strf("local n = time.parse(%s)\nlocal lo, up = %s, %s\n%s"
                       "if (up and up < n) or (lo and lo > n) then return %s end\nreturn %s\n",
                       now, lo.p, up.p, lt && ut ? "if up < lo then up = up + 86400 end\n" : "", f.p, t.p);
    free(now);
    r = lua_step(x, src, kind);
    free(src);
    af_put(x, r, "branch", af_p(x, "true"));
out:
    std_buf_free(&t);
    std_buf_free(&f);
    std_buf_free(&lo);
    std_buf_free(&up);
    return r ? r : stub(x, task, kind, "the targets or follow_task_ids are not literals");
}

static dsl_node *op_latest_only(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    if (!x->period_s) {
        af_report(x, task_line(task), "note", task_id(task), "LatestOnlyOperator in a DAG without a schedule: every run is the latest");
        dsl_node *st = lua_step(x, "return true", kind);
        af_put(x, st, "short_circuit", af_p(x, "direct"));
        return st;
    }
    if (x->period_varies)
        af_report(x, task_line(task), "warning", task_id(task), "LatestOnlyOperator: the schedule's intervals vary; the shortest (%llds) "
                  "is taken as the time until the next slot", (long long)x->period_s);
    /* a scheduled run is the latest while its next slot has not come;
     * a run started by hand always is */
    char *src = std_strf("if not run.scheduled_at then return true end\n"
                       "return time.parse(now()) <= time.parse(run.scheduled_at) + %lld\n",
                       (long long)x->period_s);
    dsl_node *st = lua_step(x, src, kind);
    free(src);
    af_put(x, st, "short_circuit", af_p(x, "direct"));
    return st;
}

/* ---- TriggerDagRunOperator -> call ------------------------------------------------------------------ */

static dsl_node *op_trigger(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    json_t *id = kwarg(x, kw, "trigger_dag_id");
    if (!json_is_string(id) || af_has_jinja(json_string_value(id)))
        return stub(x, task, kind, "trigger_dag_id is not a literal");
    int bad = 0;
    dsl_node *c = af_map(x);
    char nm[160];
    const char *s = json_string_value(id);
    size_t k = 0;
    if (!isalpha((unsigned char)s[0])) k = (size_t)snprintf(nm, sizeof nm, "dag-");
    for (; *s && k + 6 < sizeof nm; s++) {
        char o = isalnum((unsigned char)*s) ? (char)tolower((unsigned char)*s) : *s == '_' ? '_' : '-';
        if (o == '-' && k && nm[k - 1] == '-') continue;
        nm[k++] = o;
    }
    nm[k] = 0;
    strcat(nm, ".yaml");
    af_put(x, c, "workflow", af_q(x, nm));
    json_t *conf = kwarg(x, kw, "conf");
    if (conf && !json_is_null(conf)) af_put(x, c, "input", af_value(x, conf, task_id(task), task_line(task), &bad));
    json_t *w = kwarg(x, kw, "wait_for_completion");
    if (!af_truthy(w)) af_put(x, c, "detach", af_p(x, "true"));
    kwarg(x, kw, "poke_interval");
    kwarg(x, kw, "allowed_states");
    kwarg(x, kw, "failed_states");
    kwarg(x, kw, "reset_dag_run");
    kwarg(x, kw, "skip_when_already_exists");
    json_t *ld = kwarg(x, kw, "logical_date");
    if (!ld) ld = kwarg(x, kw, "execution_date");
    if (ld && !json_is_null(ld)) af_report(x, task_line(task), "warning", task_id(task), "logical_date of the triggered run is not converted");
    if (bad) return stub(x, task, kind, "conf holds values that are not converted");
    af_report(x, task_line(task), "note", task_id(task), "calls %s: import DAG '%s' into that file next to this one", nm,
              json_string_value(id));
    if (json_object_size(conf))
        af_report(x, task_line(task), "warning", task_id(task), "conf becomes the call's input: each key must be an input (a param) of "
                  "DAG '%s', as wfdsl refuses unknown input fields where Airflow accepts any conf", json_string_value(id));
    dsl_node *st = af_map(x);
    af_put(x, st, "call", c);
    *kind = "call";
    return st;
}

/* ---- the operator map (--map) ------------------------------------------------------------------------- */

int af_load_map(af_ctx *x, const char *path)
{
    size_t len = 0;
    std_err e = {0};
    char *text = std_read_file(path, &len, &e);
    if (!text) {
        std_diag(x->d, path, 1, 1, "cannot read operator map: %s", e.msg);
        return -1;
    }
    int rc = dsl_yaml_load(path, text, len, &x->map, x->d);
    free(text);
    if (rc != 0) return -1;
    const dsl_node *root = x->map ? x->map->root : NULL;
    if (!root || root->kind != DSL_MAP) {
        std_diag(x->d, path, root ? root->line : 1, root ? root->col : 1, "an operator map is a mapping with 'operators: [...]'");
        return -1;
    }
    for (size_t i = 0; i < root->n; i++)
        if (strcmp(root->keys[i]->str, "operators"))
            std_diag(x->d, path, root->keys[i]->line, root->keys[i]->col, "unknown field '%s' in the operator map (only 'operators')",
                     root->keys[i]->str);
    const dsl_node *ops = dsl_map_get(root, "operators");
    if (!ops || ops->kind != DSL_SEQ) {
        std_diag(x->d, path, ops ? ops->line : root->line, ops ? ops->col : root->col,
                 "'operators' must be a list of {match: CLASS-GLOB, task: ID-GLOB, step: STEP}");
        return -1;
    }
    for (size_t i = 0; i < ops->n; i++) {
        const dsl_node *r = ops->vals[i];
        if (r->kind != DSL_MAP) {
            std_diag(x->d, path, r->line, r->col, "operators[%zu] must be a mapping {match, task, step}", i);
            continue;
        }
        for (size_t k = 0; k < r->n; k++) {
            const char *key = r->keys[k]->str;
            if (strcmp(key, "match") && strcmp(key, "task") && strcmp(key, "step"))
                std_diag(x->d, path, r->keys[k]->line, r->keys[k]->col, "operators[%zu]: unknown field '%s' (match, task, step)", i, key);
            else if (strcmp(key, "step") && r->vals[k]->kind != DSL_SCALAR)
                std_diag(x->d, path, r->vals[k]->line, r->vals[k]->col, "operators[%zu]: '%s' must be a glob string", i, key);
        }
        const dsl_node *m = dsl_map_get(r, "match"), *st = dsl_map_get(r, "step");
        if (!m) std_diag(x->d, path, r->line, r->col, "operators[%zu]: 'match' (a glob on the operator class) is required", i);
        if (!st || st->kind != DSL_MAP || !st->n)
            std_diag(x->d, path, st ? st->line : r->line, st ? st->col : r->col, "operators[%zu]: 'step' must be a step (a mapping like {shell: ...})",
                     i);
    }
    x->rules = ops;
    return x->d->n ? -1 : 0;
}

static const dsl_node *map_rule(af_ctx *x, json_t *task)
{
    if (!x->rules) return NULL;
    char mp[256];
    const char *cls = op_class(task), *path = op_module_path(task, mp, sizeof mp), *id = task_id(task);
    for (size_t i = 0; i < x->rules->n; i++) {
        const dsl_node *r = x->rules->vals[i];
        const dsl_node *m = dsl_map_get(r, "match"), *t = dsl_map_get(r, "task");
        if (!m || m->kind != DSL_SCALAR) continue;
        const char *subject = strchr(m->str, '.') && m->str[0] != '@' ? path : cls;
        if (fnmatch(m->str, subject, 0) != 0) continue;
        if (t && t->kind == DSL_SCALAR && fnmatch(t->str, id, 0) != 0) continue;
        return r;
    }
    return NULL;
}

typedef struct {
    af_ctx *x;
    json_t *task, *kw;
    const char *expanded; /* the expanded kwarg: its slot is the foreach item */
    int bad;
} inst;

/* The text of a kwarg for a slot inside a longer string. raw: no Jinja
 * translation (a shell script is never interpolated). */
static void slot_text(inst *in, const char *name, std_buf *b, int raw)
{
    af_ctx *x = in->x;
    if (!strcmp(name, "task_id")) {
        std_buf_adds(b, task_id(in->task));
        return;
    }
    if (!strcmp(name, "dag_id")) {
        std_buf_adds(b, x->dag_id);
        return;
    }
    const char *k = name + 7; /* kwargs. */
    json_object_set_new(x->used, k, json_true());
    if (in->expanded && !strcmp(k, in->expanded)) {
        if (raw) {
            af_report(x, task_line(in->task), "unconverted", task_id(in->task), "the expanded argument %s cannot go into a script", k);
            in->bad = 1;
        } else std_buf_adds(b, "${ item }");
        return;
    }
    json_t *v = json_object_get(in->kw, k);
    if (!v || json_is_null(v)) return;
    if (json_is_string(v)) {
        if (raw) {
            if (af_has_jinja(json_string_value(v))) {
                af_report(x, task_line(in->task), "unconverted", task_id(in->task), "argument %s holds a template and goes into a script", k);
                in->bad = 1;
            }
            std_buf_adds(b, json_string_value(v));
            return;
        }
        dsl_node *n = af_template(x, json_string_value(v), task_id(in->task), task_line(in->task));
        if (!n) in->bad = 1;
        else std_buf_adds(b, n->str);
        return;
    }
    if (af_tag(v)) {
        af_summary(b, v, 0);
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    std_buf_adds(b, s);
    free(s);
}

static int slot_name(const char *s, size_t n)
{
    if (n == 7 && !strncmp(s, "task_id", 7)) return 1;
    if (n == 6 && !strncmp(s, "dag_id", 6)) return 1;
    if (n > 7 && !strncmp(s, "kwargs.", 7)) {
        for (size_t i = 7; i < n; i++)
            if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return 0;
        return 1;
    }
    return 0;
}

static dsl_node *instantiate(inst *in, const dsl_node *n, int raw)
{
    af_ctx *x = in->x;
    if (n->kind == DSL_MAP) {
        dsl_node *m = af_map(x);
        for (size_t i = 0; i < n->n; i++)
            dsl_map_add(x->doc, m, af_str(x, n->keys[i]->str, n->keys[i]->style),
                        instantiate(in, n->vals[i], raw || !strcmp(n->keys[i]->str, "script")));
        return m;
    }
    if (n->kind == DSL_SEQ) {
        dsl_node *s = af_seq(x);
        for (size_t i = 0; i < n->n; i++) af_app(x, s, instantiate(in, n->vals[i], raw));
        return s;
    }
    const char *s = n->str;
    size_t len = strlen(s);
    /* a whole slot: the typed value */
    if (len > 3 && s[0] == '$' && s[1] == '{' && s[len - 1] == '}' && slot_name(s + 2, len - 3) && !raw &&
        !strncmp(s + 2, "kwargs.", 7)) {
        char k[128];
        snprintf(k, sizeof k, "%.*s", (int)(len - 10), s + 9);
        json_object_set_new(x->used, k, json_true());
        if (in->expanded && !strcmp(k, in->expanded)) return af_q(x, "${ item }");
        json_t *v = json_object_get(in->kw, k);
        if (!v) return af_p(x, "null");
        const char *tag = af_tag(v);
        if (tag && strcmp(tag, "xcom") && strcmp(tag, "variable")) { /* a callable: its name */
            std_buf b = {0};
            af_summary(&b, v, 0);
            std_buf_adds(&b, "");
            dsl_node *r = af_lit(x, b.p);
            std_buf_free(&b);
            return r;
        }
        return af_value(x, v, task_id(in->task), task_line(in->task), &in->bad);
    }
    std_buf b = {0};
    int any = 0;
    for (const char *p = s; *p;) {
        const char *e = p[0] == '$' && p[1] == '{' ? strchr(p, '}') : NULL;
        if (e && slot_name(p + 2, (size_t)(e - p - 2))) {
            char nm[128];
            snprintf(nm, sizeof nm, "%.*s", (int)(e - p - 2), p + 2);
            slot_text(in, nm, &b, raw);
            any = 1;
            p = e + 1;
        } else {
            std_buf_add(&b, p, 1);
            p++;
        }
    }
    std_buf_adds(&b, "");
    dsl_node *r = af_str(x, b.p, any && n->style == DSL_PLAIN ? DSL_QUOTED : n->style);
    std_buf_free(&b);
    return r;
}

static const char *const KINDS[] = {"lua", "shell", "http", "set", "switch", "parallel", "foreach", "loop", "try",
                                    "saga", "sleep", "wait", "call", "fail", "succeed", "dag", NULL};

static const char *step_kind(const dsl_node *st)
{
    for (size_t i = 0; st && i < st->n; i++)
        for (const char *const *k = KINDS; *k; k++)
            if (!strcmp(st->keys[i]->str, *k)) return *k;
    return "lua";
}

/* ---- expand -> foreach --------------------------------------------------------------------------------- */

/* The items of an .expand(k=...): a Lua expression; NULL when not converted. */
static char *expand_items(af_ctx *x, json_t *task, const char **key)
{
    json_t *ex = json_object_get(task, "expand");
    if (json_object_size(ex) != 1) return NULL;
    const char *k;
    json_t *v;
    json_object_foreach(ex, k, v) *key = k;
    v = json_object_get(ex, *key);
    std_buf b = {0};
    const char *t = af_tag(v);
    if (t && !strcmp(t, "xcom") && json_is_string(json_object_get(v, "task_id")) &&
        json_object_get(x->kinds, json_string_value(json_object_get(v, "task_id")))) {
        af_xcom_expr(x, &b, json_string_value(json_object_get(v, "task_id")));
    } else if (!json_is_array(v) || !af_lua_lit(&b, v)) {
        std_buf_free(&b);
        return NULL;
    }
    std_buf_adds(&b, "");
    return std_buf_take(&b);
}

static dsl_node *foreach_of(af_ctx *x, const char *items, dsl_node *inner, const char **kind)
{
    dsl_node *fe = af_map(x), *steps = af_seq(x);
    af_put(x, fe, "items", af_q(x, items));
    af_put(x, fe, "concurrency", af_p(x, "16"));
    af_app(x, steps, inner);
    af_put(x, fe, "steps", steps);
    dsl_node *st = af_map(x);
    af_put(x, st, "foreach", fe);
    x->inner = inner;
    x->inner_kind = *kind;
    *kind = "foreach";
    return st;
}

/* ---- dispatch -------------------------------------------------------------------------------------------- */

const char *af_task_kind(af_ctx *x, json_t *task)
{
    const dsl_node *r = map_rule(x, task);
    if (r) return step_kind(dsl_map_get(r, "step"));
    const char *cls = op_class(task);
    if (json_object_size(json_object_get(task, "expand"))) return "foreach";
    if (is_op(cls, BASH)) return "shell";
    if (is_op(cls, HTTP)) return "http";
    if (!strcmp(cls, "TriggerDagRunOperator")) return "call";
    if (!strcmp(cls, "PythonOperator") || !strcmp(cls, "@task")) {
        json_t *cb = json_object_get(task, "callable");
        if (!json_is_object(cb)) cb = json_object_get(json_object_get(task, "kwargs"), "python_callable");
        return json_object_get(cb, "returns") || json_object_get(cb, "lua") ? "lua" : "fail";
    }
    if (is_op(cls, EMPTY) || is_op(cls, BRANCH) || is_op(cls, SHORT) || !strcmp(cls, "LatestOnlyOperator") ||
        !strcmp(cls, "BranchDayOfWeekOperator") || !strcmp(cls, "BranchDateTimeOperator"))
        return "lua";
    return "fail";
}

dsl_node *af_task_step(af_ctx *x, json_t *task, json_t *kw, const char **kind)
{
    const char *cls = op_class(task);
    x->inner = NULL;
    const dsl_node *r = map_rule(x, task);
    x->mapped = r != NULL;
    const char *ekey = NULL;
    char *items = NULL;
    int expanded = json_object_size(json_object_get(task, "expand")) > 0;
    if (expanded) {
        items = expand_items(x, task, &ekey);
        if (!items) return stub(x, task, kind, "expand over several arguments or a value that is not a literal list");
    }
    dsl_node *st = NULL;
    if (r) {
        inst in = {.x = x, .task = task, .kw = kw, .expanded = ekey};
        st = instantiate(&in, dsl_map_get(r, "step"), 0);
        *kind = step_kind(st);
        af_report(x, task_line(task), "note", task_id(task), "%s mapped by the operator map (rule at %s:%d)", cls, x->map->file,
                  r->line);
        if (in.bad) st = stub(x, task, kind, "the operator map's template got arguments that are not converted");
    } else if (expanded) {
        if (is_op(cls, BASH) && !strcmp(ekey, "bash_command")) {
            json_object_set_new(x->used, "bash_command", json_true());
            dsl_node *sh = shell_of(x, task, kw, "sh -c \"$BASH_COMMAND\"", 0, NULL, NULL);
            if (sh) {
                dsl_node *env = dsl_map_get(sh, "env");
                if (!env) {
                    env = af_map(x);
                    af_put(x, sh, "env", env);
                }
                af_put(x, env, "BASH_COMMAND", af_q(x, "${ item }"));
                st = af_map(x);
                af_put(x, st, "shell", sh);
                *kind = "shell";
            }
        } else if (is_op(cls, EMPTY)) {
            st = lua_step(x, "return nil", kind);
        }
        if (!st) {
            free(items);
            return stub(x, task, kind, "expand of this operator is not converted");
        }
    }
    if (st) {
        if (expanded && strcmp(*kind, "fail")) st = foreach_of(x, items, st, kind);
        free(items);
        return st;
    }
    if (is_op(cls, BASH)) return op_bash(x, task, kw, kind);
    if (is_op(cls, EMPTY)) return lua_step(x, "return nil", kind);
    if (is_op(cls, HTTP)) return op_http(x, task, kw, kind);
    if (!strcmp(cls, "HttpSensor")) return op_http_sensor(x, task, kw, kind);
    if (is_op(cls, BRANCH)) return op_branch(x, task, kw, kind);
    if (is_op(cls, SHORT)) return op_short_circuit(x, task, kw, kind);
    if (!strcmp(cls, "BranchDayOfWeekOperator")) return op_branch_weekday(x, task, kw, kind);
    if (!strcmp(cls, "BranchDateTimeOperator")) return op_branch_datetime(x, task, kw, kind);
    if (!strcmp(cls, "LatestOnlyOperator")) return op_latest_only(x, task, kw, kind);
    if (!strcmp(cls, "TriggerDagRunOperator")) return op_trigger(x, task, kw, kind);
    if (is_op(cls, DELTA) || is_op(cls, DATETIME) || is_op(cls, TIMES) || !strcmp(cls, "WaitSensor"))
        return op_time_sensor(x, task, kw, kind);
    if (!strcmp(cls, "FileSensor")) return op_file_sensor(x, task, kw, kind);
    if (!strcmp(cls, "BashSensor")) return op_bash_sensor(x, task, kw, kind);
    if (!strcmp(cls, "PythonOperator") || !strcmp(cls, "@task")) return op_python(x, task, kw, kind);
    return stub(x, task, kind, NULL);
}
