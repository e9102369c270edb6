/* activity.c — shell and http activities: from a step's arguments to a
 * child process or an HTTP request on the loop, and from its result to an
 * output or a typed error. See activity.h. It does not retry, record or
 * redact: the engine does. */
#include "activity.h"

#include <ctype.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stdlib/proc.h"

struct vm_act {
    vm_act_cb cb;
    void *ud;
    std_loop *loop;
    json_t *args;
    json_t *expect;
    char *method, *url;
    int64_t timeout_ms;
    /* shell */
    std_proc *proc;
    uint64_t timer;
    int timed_out, cancelled;
    /* http */
    std_http *http;
    unsigned long req;
    size_t cap;
    int *live;
};

static char *dump(json_t *v) { return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY); }

/* Bytes from the world as a JSON string: invalid UTF-8 sequences become
 * U+FFFD, so that every output can be recorded (jansson refuses to encode
 * invalid UTF-8) and replays to the same value. */
static json_t *text_value(const char *p, size_t n)
{
    if (!p) return json_string("");
    json_t *valid = json_stringn(p, n); /* the common case */
    if (valid) return valid;
    std_buf b = {0};
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) ok = ((unsigned char)p[i + k] >> 6) == 2;
        json_t *probe = ok && len > 1 ? json_stringn(p + i, len) : NULL; /* overlongs, surrogates */
        if (len > 1 && !probe) ok = 0;
        json_decref(probe);
        if (ok) std_buf_add(&b, p + i, len);
        else std_buf_adds(&b, "\xEF\xBF\xBD");
        i += ok ? len : 1;
    }
    json_t *v = json_stringn(b.p ? b.p : "", b.len);
    std_buf_free(&b);
    return v ? v : json_string("");
}

/* Text of a value for argv, env, stdin, headers and queries: strings as
 * they are, null as "", anything else as JSON. */
static char *to_text(json_t *v)
{
    if (!v || json_is_null(v)) return strdup("");
    if (json_is_string(v)) return strdup(json_string_value(v));
    return dump(v);
}

static void act_free(vm_act *a)
{
    if (a->live) (*a->live)--;
    json_decref(a->args);
    json_decref(a->expect);
    free(a->method);
    free(a->url);
    free(a);
}

static vm_act *act_new(std_loop *l, json_t *args, const vm_act_ctx *ctx, vm_act_cb cb, void *ud)
{
    vm_act *a = calloc(1, sizeof *a);
    if (!a) abort();
    a->cb = cb;
    a->ud = ud;
    a->loop = l;
    a->args = json_incref(args);
    a->expect = json_incref(ctx->expect);
    a->timeout_ms = ctx->timeout_ms;
    a->cap = ctx->max_output;
    a->live = ctx->live;
    if (a->live) (*a->live)++;
    return a;
}

static json_t *err_new(const char *type, const char *msg)
{
    return json_pack("{s:s, s:s}", "type", type, "message", msg);
}

/* ---- shell ------------------------------------------------------------- */

typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static void strv_add(strv *s, char *str)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) abort();
    }
    s->v[s->n++] = str;
    s->v[s->n] = NULL;
}

static void strv_addf(strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void strv_addf(strv *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    if (vasprintf(&p, fmt, ap) < 0) abort();
    va_end(ap);
    strv_add(s, p);
}

static void strv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

static void shell_done(std_proc *p, std_proc_result *r, void *ud)
{
    vm_act *a = ud;
    a->proc = NULL;
    if (a->timer) std_loop_timer_cancel(a->loop, a->timer);
    if (a->cancelled) {
        act_free(a);
        return;
    }
    json_t *out = NULL, *err = NULL;
    json_t *args = a->args;
    if (a->timed_out) {
        char msg[160];
        snprintf(msg, sizeof msg, "shell step timed out after %lldms; its process group was killed",
                 (long long)a->timeout_ms);
        err = err_new("timeout", msg);
    } else {
        int ok = 0;
        json_t *codes = json_object_get(args, "ok_codes");
        if (r->exited) {
            if (json_is_array(codes)) {
                size_t i;
                json_t *v;
                json_array_foreach(codes, i, v) ok |= json_integer_value(v) == r->code;
            } else {
                ok = r->code == 0;
            }
        }
        json_t *so = text_value(r->out.p, r->out.len);
        json_t *se = text_value(r->err.p, r->err.len);
        const char *mode = json_string_value(json_object_get(args, "output"));
        int skip = 0; /* skip_codes: the step ends as `skipped` (a dag task's state) */
        json_t *sk = json_object_get(args, "skip_codes");
        if (!ok && r->exited && json_is_array(sk)) {
            size_t i;
            json_t *v;
            json_array_foreach(sk, i, v) skip |= json_integer_value(v) == r->code;
        }
        if (skip) {
            char msg[64];
            snprintf(msg, sizeof msg, "exit code %d is in skip_codes", r->code);
            err = err_new("skipped", msg);
            json_object_set_new(err, "details", json_pack("{s:i, s:o, s:o}", "code", r->code, "stdout", so,
                                                          "stderr", se));
        } else if (!ok) {
            char msg[64];
            if (r->exited) snprintf(msg, sizeof msg, "exit code %d", r->code);
            else snprintf(msg, sizeof msg, "killed by signal %d", r->code);
            err = err_new("shell.exit", msg);
            json_object_set_new(err, "details", json_pack("{s:i, s:o, s:o}", "code",
                                                          r->exited ? r->code : -1, "stdout", so,
                                                          "stderr", se));
        } else if (mode && !strcmp(mode, "json")) {
            json_error_t je;
            out = json_loadb(r->out.p ? r->out.p : "", r->out.len, JSON_DECODE_ANY, &je);
            if (!out) {
                char msg[300];
                snprintf(msg, sizeof msg, "stdout is not JSON: %s (line %d)", je.text, je.line);
                err = err_new("shell.output", msg);
                json_object_set_new(err, "details", json_pack("{s:O}", "stdout", so));
            }
            json_decref(so);
            json_decref(se);
        } else {
            out = json_pack("{s:i, s:o, s:o}", "code", r->code, "stdout", so, "stderr", se);
            if (r->out_truncated || r->err_truncated) json_object_set_new(out, "truncated", json_true());
        }
    }
    a->cb(a->ud, out, err, 0);
    json_decref(out);
    json_decref(err);
    act_free(a);
}

static void shell_timeout(std_loop *l, void *ud)
{
    vm_act *a = ud;
    a->timer = 0;
    if (!a->proc) return;
    a->timed_out = 1;
    std_proc_kill(a->proc, SIGKILL);
}

int vm_act_shell(std_loop *l, json_t *args, const vm_act_ctx *ctx, vm_act_cb cb, void *ud,
                 vm_act **out, std_err *e)
{
    strv argv = {0}, env = {0};
    const char *script = json_string_value(json_object_get(args, "script"));
    if (script) {
        strv_add(&argv, strdup("/bin/sh"));
        strv_add(&argv, strdup("-c"));
        strv_add(&argv, strdup(script));
        strv_add(&argv, strdup(ctx->step)); /* $0 of the script */
    } else {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(args, "argv"), i, v) strv_add(&argv, to_text(v));
    }
    /* a small, explicit environment: what a command needs to find its tools */
    static const char *const inherit[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"};
    for (size_t i = 0; i < sizeof inherit / sizeof *inherit; i++) {
        const char *v = getenv(inherit[i]);
        if (v) strv_addf(&env, "%s=%s", inherit[i], v);
        else if (!strcmp(inherit[i], "PATH")) strv_add(&env, strdup("PATH=/usr/local/bin:/usr/bin:/bin"));
    }
    strv_addf(&env, "WFDSL_RUN_ID=%s", ctx->run_id);
    strv_addf(&env, "WFDSL_WORKFLOW_ID=%s", ctx->workflow_id);
    strv_addf(&env, "WFDSL_STEP=%s", ctx->step);
    strv_addf(&env, "WFDSL_ATTEMPT=%d", ctx->attempt);
    strv_addf(&env, "WFDSL_IDEMPOTENCY_KEY=%s", ctx->idempotency_key);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(args, "env"), k, v) {
        char *t = to_text(v);
        strv_addf(&env, "%s=%s", k, t);
        free(t);
    }
    json_t *jin = json_object_get(args, "stdin"), *jcwd = json_object_get(args, "cwd");
    char *in = jin ? to_text(jin) : NULL, *cwd = jcwd ? to_text(jcwd) : NULL;
    std_proc_spec spec = {.argv = argv.v, .env = env.v, .cwd = cwd, .stdin_data = in,
                          .stdin_len = in ? strlen(in) : 0, .out_cap = ctx->max_output};
    vm_act *a = act_new(l, args, ctx, cb, ud);
    int rc = std_proc_spawn(l, &spec, shell_done, a, &a->proc, e);
    if (rc == 0 && ctx->timeout_ms > 0)
        a->timer = std_loop_timer(l, std_now_ms() + ctx->timeout_ms, shell_timeout, a);
    if (rc != 0) act_free(a);
    else *out = a;
    free(in);
    free(cwd);
    strv_free(&argv);
    strv_free(&env);
    return rc;
}

/* ---- http -------------------------------------------------------------- */

static int status_expected(json_t *expect, long status)
{
    size_t i;
    json_t *v;
    json_array_foreach(expect, i, v) {
        const char *s = json_string_value(v);
        if (s[1] == 'x' ? status / 100 == s[0] - '0' : status == atol(s)) return 1;
    }
    return 0;
}

/* Response headers as an object of lower-case names; repeats joined by ", ". */
static json_t *parse_headers(const std_buf *raw)
{
    json_t *h = json_object();
    const char *p = raw->p ? raw->p : "";
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon && strncmp(p, "HTTP/", 5) != 0) {
            char name[256];
            size_t nl = (size_t)(colon - p) < sizeof name - 1 ? (size_t)(colon - p) : sizeof name - 1;
            for (size_t i = 0; i < nl; i++) name[i] = (char)tolower((unsigned char)p[i]);
            name[nl] = 0;
            const char *val = colon + 1;
            while (val < p + len && (*val == ' ' || *val == '\t')) val++;
            size_t vl = (size_t)(p + len - val);
            while (vl && (val[vl - 1] == ' ' || val[vl - 1] == '\t')) vl--;
            json_t *old = json_object_get(h, name);
            if (old) {
                std_buf b = {0};
                std_buf_addf(&b, "%s, %.*s", json_string_value(old), (int)vl, val);
                json_object_set_new(h, name, text_value(b.p, b.len));
                std_buf_free(&b);
            } else {
                json_object_set_new(h, name, text_value(val, vl));
            }
        }
        if (!eol) break;
        p = eol + 2;
    }
    return h;
}

/* Retry-After: delay-seconds or an HTTP date; 0 when absent or unreadable. */
static int64_t retry_after_ms(json_t *headers)
{
    const char *v = json_string_value(json_object_get(headers, "retry-after"));
    if (!v) return 0;
    char *end;
    long secs = strtol(v, &end, 10);
    if (end != v && !*end && secs >= 0) return (int64_t)secs * 1000 + 1;
    time_t t = curl_getdate(v, NULL);
    if (t < 0) return 0;
    int64_t ms = (int64_t)t * 1000 - std_now_ms();
    return ms > 0 ? ms : 1;
}

static void http_done(std_http_resp *r, void *ud)
{
    vm_act *a = ud;
    json_t *out = NULL, *err = NULL;
    int64_t after = 0;
    char msg[512];
    switch (r->outcome) {
    case STD_HTTP_NET:
        snprintf(msg, sizeof msg, "%s %s: %s", a->method, a->url, r->error);
        err = err_new("net", msg);
        break;
    case STD_HTTP_TIMEOUT:
        snprintf(msg, sizeof msg, "%s %s: no response within %lldms", a->method, a->url,
                 (long long)a->timeout_ms);
        err = err_new("timeout", msg);
        break;
    case STD_HTTP_TOO_LARGE:
        snprintf(msg, sizeof msg, "%s %s: response body is over the %zu byte cap", a->method, a->url,
                 a->cap);
        err = err_new("http.too_large", msg);
        break;
    case STD_HTTP_OK: {
        json_t *headers = parse_headers(&r->headers);
        const char *ct = json_string_value(json_object_get(headers, "content-type"));
        json_t *body = NULL;
        if (ct && strstr(ct, "json") && r->body.len)
            body = json_loadb(r->body.p, r->body.len, JSON_DECODE_ANY, NULL);
        if (!body) body = text_value(r->body.p, r->body.len);
        if (status_expected(a->expect, r->status)) {
            out = json_pack("{s:i, s:o, s:o}", "status", (int)r->status, "headers", headers, "body", body);
        } else {
            char type[32];
            snprintf(type, sizeof type, "http.%ld", r->status);
            snprintf(msg, sizeof msg, "HTTP %ld from %s %s", r->status, a->method, a->url);
            err = err_new(type, msg);
            json_object_set_new(err, "status", json_integer(r->status));
            after = retry_after_ms(headers);
            json_object_set_new(err, "details", json_pack("{s:o, s:o}", "headers", headers, "body", body));
        }
        break;
    }
    }
    a->cb(a->ud, out, err, after);
    json_decref(out);
    json_decref(err);
    act_free(a);
}

static int has_header(json_t *headers, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v) if (!strcasecmp(k, name)) return 1;
    return 0;
}

int vm_act_http(std_loop *l, std_http *h, json_t *args, const vm_act_ctx *ctx, vm_act_cb cb,
                void *ud, vm_act **out, std_err *e)
{
    const char *method = json_string_value(json_object_get(args, "method"));
    json_t *jurl = json_object_get(args, "url");
    if (!json_is_string(jurl) || !json_string_length(jurl))
        return std_errf(e, "http.request", "'url' must be a non-empty string");
    std_buf url = {0};
    std_buf_adds(&url, json_string_value(jurl));
    const char *k;
    json_t *v;
    int first = strchr(url.p, '?') == NULL;
    json_object_foreach(json_object_get(args, "query"), k, v) {
        char *t = to_text(v);
        std_buf_adds(&url, first ? "?" : "&");
        std_http_urlencode(&url, k, strlen(k));
        std_buf_adds(&url, "=");
        std_http_urlencode(&url, t, strlen(t));
        free(t);
        first = 0;
    }
    strv hdrs = {0};
    json_t *headers = json_object_get(args, "headers");
    json_object_foreach(headers, k, v) {
        char *t = to_text(v);
        if (strpbrk(k, "\r\n:") || strpbrk(t, "\r\n")) {
            free(t);
            strv_free(&hdrs);
            std_buf_free(&url);
            return std_errf(e, "http.request", "header '%s' contains a line break or colon", k);
        }
        strv_addf(&hdrs, "%s: %s", k, t);
        free(t);
    }
    if (!has_header(headers, "Idempotency-Key"))
        strv_addf(&hdrs, "Idempotency-Key: %s", ctx->idempotency_key);
    if (!has_header(headers, "User-Agent")) strv_add(&hdrs, strdup("User-Agent: wfdsl"));
    char *body = NULL;
    json_t *jbody = json_object_get(args, "body"), *form = json_object_get(args, "form");
    if (jbody) {
        body = dump(jbody);
        if (!has_header(headers, "Content-Type")) strv_add(&hdrs, strdup("Content-Type: application/json"));
    } else if (form) {
        std_buf fb = {0};
        int f1 = 1;
        json_object_foreach(form, k, v) {
            char *t = to_text(v);
            if (!f1) std_buf_adds(&fb, "&");
            std_http_urlencode(&fb, k, strlen(k));
            std_buf_adds(&fb, "=");
            std_http_urlencode(&fb, t, strlen(t));
            free(t);
            f1 = 0;
        }
        body = std_buf_take(&fb);
        if (!has_header(headers, "Content-Type"))
            strv_add(&hdrs, strdup("Content-Type: application/x-www-form-urlencoded"));
    }
    if (!hdrs.v) strv_add(&hdrs, strdup("Accept: */*"));
    vm_act *a = act_new(l, args, ctx, cb, ud);
    a->http = h;
    a->method = strdup(method ? method : "GET");
    a->url = strdup(url.p);
    std_http_req req = {.method = a->method, .url = a->url, .headers = hdrs.v, .body = body,
                        .body_len = body ? strlen(body) : 0, .timeout_ms = (long)ctx->timeout_ms,
                        .max_body = ctx->max_output};
    a->req = std_http_start(h, &req, http_done, a, e);
    free(body);
    strv_free(&hdrs);
    std_buf_free(&url);
    if (!a->req) {
        act_free(a);
        if (!e->type[0]) snprintf(e->type, sizeof e->type, "http.request");
        return -1;
    }
    *out = a;
    return 0;
}

void vm_act_cancel(vm_act *a)
{
    if (!a) return;
    if (a->http) {
        std_http_cancel(a->http, a->req);
        act_free(a);
        return;
    }
    a->cancelled = 1;
    if (a->timer) std_loop_timer_cancel(a->loop, a->timer);
    a->timer = 0;
    if (a->proc) std_proc_kill(a->proc, SIGKILL);
}
