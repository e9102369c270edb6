/* asl.c — Amazon States Language (JSONPath mode) to a wfdsl workflow tree:
 * validation, the resource map, the dispatcher the structured translation
 * (asl_struct.c) falls back to, the entry points and the YAML emitter of
 * `import`. It does not run anything: the programs it makes call the `asl`
 * Lua runtime. See asl.h for the translation and the resource map. */
#include "asl.h"

#include <ctype.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../stdlib/duration.h"
#include "asl_int.h"
#include "compile.h"

/* ---- positions and errors ------------------------------------------------- */

/* Position of a state: the line of its name as a key in the text. */
static void pos_of(dsl_asl_ctx *x, const char *name, int *line, int *col)
{
    *line = 1;
    *col = 1;
    if (!name || !x->text) return;
    size_t nl = strlen(name);
    for (const char *p = strchr(x->text, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, name, nl) == 0 && p[nl + 1] == '"') {
            const char *q = p + nl + 2;
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
            if (*q != ':') continue;
            int l = 1;
            const char *ls = x->text;
            for (const char *r = x->text; r < p; r++)
                if (*r == '\n') {
                    l++;
                    ls = r + 1;
                }
            *line = l;
            *col = (int)(p - ls) + 1;
            return;
        }
    }
}

#define ERRS(x, state, ...) asl_err((x), (state), __VA_ARGS__)
__attribute__((format(printf, 3, 4))) static void asl_err(dsl_asl_ctx *x, const char *state, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    pos_of(x, state, &line, &col);
    if (state) std_diag(x->d, x->file, line, col, "state '%s': %s", state, msg);
    else std_diag(x->d, x->file, line, col, "%s", msg);
    x->errors++;
}

/* ---- step ids ---------------------------------------------------------------- */

/* A unique step id from a state name: [a-z][a-z0-9_]*. */
const char *dsl_asl_new_id(dsl_asl_ctx *x, const char *base, const char *suffix)
{
    char id[96];
    size_t k = 0;
    const char *p = base;
    for (; *p && k < 48; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c)) id[k++] = (char)tolower(c);
        else if (k && id[k - 1] != '_') id[k++] = '_';
        /* CamelCase: a word break before an upper-case letter after a lower one */
        if (p[1] && isupper((unsigned char)p[1]) && islower(c) && k < 48) id[k++] = '_';
    }
    if (*p && isalnum((unsigned char)*p)) /* cut at a word's end */
        while (k > 8 && id[k - 1] != '_') k--;
    while (k && id[k - 1] == '_') k--;
    id[k] = 0;
    char full[128];
    snprintf(full, sizeof full, "%s%s%s%s", (!k || !islower((unsigned char)id[0])) ? "s_" : "", id,
             suffix && *suffix ? "_" : "", suffix ? suffix : "");
    char try[140];
    snprintf(try, sizeof try, "%s", full);
    for (int i = 2; json_object_get(x->ids, try); i++) snprintf(try, sizeof try, "%s%d", full, i);
    json_object_set_new(x->ids, try, json_true());
    return dsl_strdup(x->doc, try, strlen(try));
}

/* ---- JSON to a Lua literal ------------------------------------------------------ */

void dsl_asl_lua_str(std_buf *b, const char *s, size_t n)
{
    std_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') std_buf_addf(b, "\\%c", c);
        else if (c == '\n') std_buf_adds(b, "\\n");
        else if (c < 32 || c == 127) std_buf_addf(b, "\\%03d", c);
        else if (c == '$' && i + 1 < n && s[i + 1] == '{') std_buf_adds(b, "$\\123"), i++; /* no `${` in YAML text */
        else std_buf_add(b, (const char *)&c, 1);
    }
    std_buf_add(b, "\"", 1);
}


/* A table key: name, or ["text"] when it is not a Lua name. */
void dsl_asl_lua_key(std_buf *b, const char *k)
{
    int ident = isalpha((unsigned char)k[0]) || k[0] == '_';
    for (const char *p = k; *p && ident; p++) ident = isalnum((unsigned char)*p) || *p == '_';
    static const char *const kw[] = {"and", "break", "do", "else", "elseif", "end", "false", "for",
                                     "function", "goto", "if", "in", "local", "nil", "not", "or",
                                     "repeat", "return", "then", "true", "until", "while"};
    for (size_t i = 0; ident && i < sizeof kw / sizeof *kw; i++)
        if (!strcmp(k, kw[i])) ident = 0;
    if (ident) {
        std_buf_adds(b, k);
    } else {
        std_buf_adds(b, "[");
        dsl_asl_lua_str(b, k, strlen(k));
        std_buf_adds(b, "]");
    }
}


/* Pretty: is the compact form of container v too long for one line? */
static int too_long(json_t *v, int pretty)
{
    if (!pretty || !(json_is_object(v) ? json_object_size(v) : json_is_array(v) ? json_array_size(v) : 0)) return 0;
    std_buf t = {0};
    dsl_asl_lua_lit(&t, v, 0, 0);
    int r = t.len > 72;
    std_buf_free(&t);
    return r;
}

static void lua_sep(std_buf *b, int first, int multi, int depth)
{
    if (multi) {
        std_buf_adds(b, first ? "\n" : ",\n");
        for (int i = 0; i < 2 * (depth + 1); i++) std_buf_add(b, " ", 1);
    } else if (!first) {
        std_buf_adds(b, ", ");
    }
}

static void lua_close(std_buf *b, int multi, int depth, const char *end)
{
    if (multi) {
        std_buf_adds(b, ",\n");
        for (int i = 0; i < 2 * depth; i++) std_buf_add(b, " ", 1);
    }
    std_buf_adds(b, end);
}

/* v as a Lua value; pretty: containers too long for a line get one entry per
 * line, indented by depth. */
void dsl_asl_lua_lit(std_buf *b, json_t *v, int depth, int pretty)
{
    int multi = too_long(v, pretty);
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *val;
        std_buf_adds(b, "{");
        int first = 1;
        json_object_foreach(v, k, val) {
            lua_sep(b, first, multi, depth);
            first = 0;
            dsl_asl_lua_key(b, k);
            std_buf_adds(b, " = ");
            dsl_asl_lua_lit(b, val, depth + 1, pretty);
        }
        lua_close(b, multi && !first, depth, "}");
        break;
    }
    case JSON_ARRAY: {
        std_buf_adds(b, "json.array({");
        for (size_t i = 0; i < json_array_size(v); i++) {
            lua_sep(b, i == 0, multi, depth);
            dsl_asl_lua_lit(b, json_array_get(v, i), depth + 1, pretty);
        }
        lua_close(b, multi && json_array_size(v), depth, "})");
        break;
    }
    case JSON_STRING: dsl_asl_lua_str(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: std_buf_addf(b, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: {
        char t[64];
        snprintf(t, sizeof t, "%.17g", json_real_value(v));
        if (!strpbrk(t, ".eEn")) strcat(t, ".0");
        std_buf_adds(b, t);
        break;
    }
    case JSON_TRUE: std_buf_adds(b, "true"); break;
    case JSON_FALSE: std_buf_adds(b, "false"); break;
    default: std_buf_adds(b, "json.null"); break;
    }
}

/* The spec of a state as a Lua literal: its fields (minus nested machines)
 * plus _name and the front end's flags. */
static char *spec_lit(json_t *st, const char *name, json_t *flags, int pretty)
{
    json_t *s = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(st, k, v) {
        if (!strcmp(k, "Branches") || !strcmp(k, "Iterator") || !strcmp(k, "ItemProcessor") ||
            !strcmp(k, "Comment"))
            continue;
        json_object_set(s, k, v);
    }
    json_object_set_new(s, "_name", json_string(name));
    if (flags) json_object_update(s, flags);
    std_buf b = {0};
    dsl_asl_lua_lit(&b, s, 0, pretty);
    json_decref(s);
    std_buf_adds(&b, "");
    return std_buf_take(&b);
}

/* ---- validation ------------------------------------------------------------------ */

static int is_str(json_t *v) { return json_is_string(v); }

static int valid_path(const char *p, int reference)
{
    if (!p || p[0] != '$') return 0;
    const char *q = p + 1;
    if (*q == '$') {
        if (reference) return 0;
        q++;
    } else if (isalpha((unsigned char)*q) || *q == '_') {
        if (reference) return 0;
        while (isalnum((unsigned char)*q) || *q == '_') q++;
    }
    while (*q) {
        if (*q == '.') {
            q++;
            if (!*q || *q == '.' || *q == '[') return 0;
            while (*q && *q != '.' && *q != '[') {
                if (reference && *q == '*') return 0;
                q++;
            }
        } else if (*q == '[') {
            const char *e = strchr(q, ']');
            if (!e || e == q + 1) return 0;
            if (reference && (q[1] == '*' || memchr(q, ':', (size_t)(e - q)))) return 0;
            q = e + 1;
        } else {
            return 0;
        }
    }
    return 1;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm). */
static int valid_timestamp(const char *t)
{
    int y, mo, d, h, mi, se, n = 0;
    if (sscanf(t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19) return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return 0;
    const char *p = t + n;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    if ((*p == 'Z' || *p == 'z') && !p[1]) return 1;
    return (*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) && p[3] == ':' &&
           isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) && !p[6];
}

static int valid_dollar_value(const char *v)
{
    if (!strncmp(v, "States.", 7)) return strchr(v, '(') && v[strlen(v) - 1] == ')';
    return valid_path(v, 0);
}

/* Payload templates: no duplicate names after stripping ".$", ".$" values
 * are paths or intrinsic calls. */
static void check_payload(dsl_asl_ctx *x, const char *state, const char *field, json_t *t)
{
    if (json_is_array(t)) {
        for (size_t i = 0; i < json_array_size(t); i++) check_payload(x, state, field, json_array_get(t, i));
        return;
    }
    if (!json_is_object(t)) return;
    const char *k;
    json_t *v;
    json_object_foreach(t, k, v) {
        size_t n = strlen(k);
        if (n > 2 && !strcmp(k + n - 2, ".$")) {
            char base[512];
            snprintf(base, sizeof base, "%.*s", (int)(n - 2), k);
            if (json_object_get(t, base))
                ERRS(x, state, "%s: duplicate field '%s' after stripping '.$' from '%s'", field, base, k);
            if (!is_str(v) || !valid_dollar_value(json_string_value(v)))
                ERRS(x, state, "%s: '%s' must be a JSONPath, a context path ($$) or an intrinsic function call",
                     field, k);
        } else {
            check_payload(x, state, field, v);
        }
    }
}

static void check_path_field(dsl_asl_ctx *x, const char *state, json_t *st, const char *f, int reference)
{
    json_t *v = json_object_get(st, f);
    if (!v || json_is_null(v)) return;
    if (!is_str(v) || !valid_path(json_string_value(v), reference))
        ERRS(x, state, "%s '%s' is not a valid %s", f, is_str(v) ? json_string_value(v) : "?",
             reference ? "reference path ($ or $.field...)" : "JSONPath");
}

int dsl_asl_count_of(json_t *st, const char *const *fields, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++) c += json_object_get(st, fields[i]) != NULL;
    return c;
}

static void check_target(dsl_asl_ctx *x, json_t *states, const char *state, const char *what, json_t *t, int in_branch)
{
    if (!is_str(t)) {
        ERRS(x, state, "'%s' must be a state name", what);
        return;
    }
    if (!json_object_get(states, json_string_value(t))) {
        if (json_object_get(x->names, json_string_value(t)) && in_branch)
            ERRS(x, state, "'%s' target '%s' is outside this %s: a state in a branch or processor cannot "
                           "transition out of it", what, json_string_value(t), in_branch == 1 ? "Parallel branch" : "Map processor");
        else
            ERRS(x, state, "'%s' target '%s' does not exist", what, json_string_value(t));
    }
}

static void check_machine(dsl_asl_ctx *x, json_t *m, const char *owner, int in_branch);

int dsl_asl_is_token_task(json_t *st)
{
    const char *res = json_string_value(json_object_get(st, "Resource"));
    size_t n = res ? strlen(res) : 0, k = strlen(".waitForTaskToken");
    return n > k && !strcmp(res + n - k, ".waitForTaskToken");
}

/* Does machine m (or a branch or processor inside it) have a
 * `.waitForTaskToken` Task? */
int dsl_asl_waits_for_tokens(json_t *m)
{
    const char *k;
    json_t *st;
    json_object_foreach(json_object_get(m, "States"), k, st) {
        if (dsl_asl_is_token_task(st)) return 1;
        json_t *br = json_object_get(st, "Branches");
        for (size_t i = 0; i < json_array_size(br); i++)
            if (dsl_asl_waits_for_tokens(json_array_get(br, i))) return 1;
        json_t *p = json_object_get(st, "ItemProcessor");
        if (!p) p = json_object_get(st, "Iterator");
        if (json_is_object(p) && dsl_asl_waits_for_tokens(p)) return 1;
    }
    return 0;
}

const char *const dsl_asl_tolerated[4] = {"ToleratedFailureCount", "ToleratedFailureCountPath",
                                         "ToleratedFailurePercentage", "ToleratedFailurePercentagePath"};

static const char *const TYPES[] = {"Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"};

static void collect_names(dsl_asl_ctx *x, json_t *m, const char *owner)
{
    json_t *states = json_object_get(m, "States");
    const char *name;
    json_t *st;
    json_object_foreach(states, name, st) {
        if (json_object_get(x->names, name))
            ERRS(x, name, "duplicate state name: a state named '%s' already exists (names are unique in the whole machine)", name);
        json_object_set_new(x->names, name, json_true());
        json_t *sub = json_object_get(st, "ItemProcessor");
        if (!sub) sub = json_object_get(st, "Iterator");
        if (json_is_object(sub)) collect_names(x, sub, name);
        json_t *br = json_object_get(st, "Branches");
        for (size_t i = 0; i < json_array_size(br); i++) collect_names(x, json_array_get(br, i), name);
    }
}

static void visit(json_t *states, const char *name, json_t *seen)
{
    if (!name || json_object_get(seen, name)) return;
    json_t *st = json_object_get(states, name);
    if (!st) return;
    json_object_set_new(seen, name, json_true());
    visit(states, json_string_value(json_object_get(st, "Next")), seen);
    visit(states, json_string_value(json_object_get(st, "Default")), seen);
    json_t *ch = json_object_get(st, "Choices");
    for (size_t i = 0; i < json_array_size(ch); i++)
        visit(states, json_string_value(json_object_get(json_array_get(ch, i), "Next")), seen);
    json_t *ca = json_object_get(st, "Catch");
    for (size_t i = 0; i < json_array_size(ca); i++)
        visit(states, json_string_value(json_object_get(json_array_get(ca, i), "Next")), seen);
}

static void check_state(dsl_asl_ctx *x, json_t *states, const char *name, json_t *st, int in_branch)
{
    if (!json_is_object(st)) {
        ERRS(x, name, "a state must be an object");
        return;
    }
    const char *type = json_string_value(json_object_get(st, "Type"));
    int known = 0;
    for (size_t i = 0; type && i < sizeof TYPES / sizeof *TYPES; i++) known |= !strcmp(type, TYPES[i]);
    if (!known) {
        ERRS(x, name, "'Type' must be one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map");
        return;
    }
    const char *ql = json_string_value(json_object_get(st, "QueryLanguage"));
    if (ql && !strcmp(ql, "JSONata"))
        ERRS(x, name, "QueryLanguage JSONata is not supported by wfdsl yet (only JSONPath)");
    static const char *const jsonata_fields[] = {"Arguments", "Output", "Items"};
    for (int i = 0; i < 3; i++)
        if (json_object_get(st, jsonata_fields[i]))
            ERRS(x, name, "'%s' is a JSONata field: QueryLanguage JSONata is not supported by wfdsl yet", jsonata_fields[i]);
    int flow = !strcmp(type, "Pass") || !strcmp(type, "Task") || !strcmp(type, "Wait") ||
               !strcmp(type, "Parallel") || !strcmp(type, "Map");
    json_t *next = json_object_get(st, "Next");
    int end = json_is_true(json_object_get(st, "End"));
    if (flow) {
        if ((next != NULL) == end)
            ERRS(x, name, "must contain exactly one of 'Next' and 'End': true");
        if (next) check_target(x, states, name, "Next", next, in_branch);
    } else if (next || json_object_get(st, "End")) {
        ERRS(x, name, "a %s state cannot have 'Next' or 'End'", type);
    }
    check_path_field(x, name, st, "InputPath", 0);
    check_path_field(x, name, st, "OutputPath", 0);
    check_path_field(x, name, st, "ResultPath", 1);
    check_path_field(x, name, st, "ItemsPath", 0);
    static const char *const tmpl[] = {"Parameters", "ResultSelector", "ItemSelector", "Assign"};
    for (int i = 0; i < 4; i++) {
        json_t *t = json_object_get(st, tmpl[i]);
        if (t) check_payload(x, name, tmpl[i], t);
    }
    if (!strcmp(type, "Choice")) {
        json_t *ch = json_object_get(st, "Choices");
        if (!json_is_array(ch) || !json_array_size(ch)) ERRS(x, name, "'Choices' must be a non-empty array");
        for (size_t i = 0; i < json_array_size(ch); i++) {
            json_t *r = json_array_get(ch, i);
            if (json_object_get(r, "Condition")) ERRS(x, name, "Choice 'Condition' is JSONata: not supported by wfdsl yet");
            if (json_object_get(r, "Assign")) check_payload(x, name, "Choices Assign", json_object_get(r, "Assign"));
            check_target(x, states, name, "Next", json_object_get(r, "Next"), in_branch);
        }
        json_t *def = json_object_get(st, "Default");
        if (def) check_target(x, states, name, "Default", def, in_branch);
    }
    if (!strcmp(type, "Fail")) {
        static const char *const e2[] = {"Error", "ErrorPath"}, *const c2[] = {"Cause", "CausePath"};
        if (dsl_asl_count_of(st, e2, 2) > 1) ERRS(x, name, "a Fail state may have at most one of 'Error' and 'ErrorPath'");
        if (dsl_asl_count_of(st, c2, 2) > 1) ERRS(x, name, "a Fail state may have at most one of 'Cause' and 'CausePath'");
    }
    if (!strcmp(type, "Wait")) {
        static const char *const w4[] = {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"};
        if (dsl_asl_count_of(st, w4, 4) != 1)
            ERRS(x, name, "a Wait state must have exactly one of 'Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath'");
        check_path_field(x, name, st, "SecondsPath", 0);
        check_path_field(x, name, st, "TimestampPath", 0);
        json_t *sec = json_object_get(st, "Seconds"), *tsv = json_object_get(st, "Timestamp");
        if (sec && (!json_is_integer(sec) || json_integer_value(sec) < 0))
            ERRS(x, name, "'Seconds' must be a non-negative integer");
        if (tsv && (!is_str(tsv) || !valid_timestamp(json_string_value(tsv))))
            ERRS(x, name, "'Timestamp' must be an RFC 3339 time like 2026-03-14T01:59:00Z");
    }
    if (!strcmp(type, "Task")) {
        json_t *res = json_object_get(st, "Resource");
        if (!is_str(res)) ERRS(x, name, "a Task state needs a 'Resource' (an ARN)");
        static const char *const tmo[] = {"TimeoutSeconds", "TimeoutSecondsPath"};
        static const char *const hb[] = {"HeartbeatSeconds", "HeartbeatSecondsPath"};
        if (dsl_asl_count_of(st, tmo, 2) > 1)
            ERRS(x, name, "a Task may have at most one of 'TimeoutSeconds' and 'TimeoutSecondsPath'");
        if (dsl_asl_count_of(st, hb, 2) > 1)
            ERRS(x, name, "a Task may have at most one of 'HeartbeatSeconds' and 'HeartbeatSecondsPath'");
        check_path_field(x, name, st, "TimeoutSecondsPath", 0);
        json_t *ts = json_object_get(st, "TimeoutSeconds"), *hs = json_object_get(st, "HeartbeatSeconds");
        if (ts && (!json_is_integer(ts) || json_integer_value(ts) < 1))
            ERRS(x, name, "'TimeoutSeconds' must be a positive integer");
        if (hs && (!json_is_integer(hs) || json_integer_value(hs) < 1))
            ERRS(x, name, "'HeartbeatSeconds' must be a positive integer");
        else if (hs && json_is_integer(ts) && json_integer_value(hs) >= json_integer_value(ts))
            ERRS(x, name, "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'");
        check_path_field(x, name, st, "HeartbeatSecondsPath", 0);
        if (hs && is_str(res) && !dsl_asl_is_token_task(st))
            ERRS(x, name, "'HeartbeatSeconds' is supported by wfdsl only on '.waitForTaskToken' Tasks");
        if (json_object_get(st, "HeartbeatSecondsPath") && is_str(res) && !dsl_asl_is_token_task(st))
            ERRS(x, name, "'HeartbeatSecondsPath' is supported by wfdsl only on '.waitForTaskToken' Tasks");
    }
    json_t *rt = json_object_get(st, "Retry"), *ca = json_object_get(st, "Catch");
    if ((rt || ca) && strcmp(type, "Task") && strcmp(type, "Parallel") && strcmp(type, "Map"))
        ERRS(x, name, "'Retry' and 'Catch' are only allowed on Task, Parallel and Map states");
    for (size_t i = 0; i < json_array_size(rt); i++) {
        json_t *ee = json_object_get(json_array_get(rt, i), "ErrorEquals");
        if (!json_is_array(ee) || !json_array_size(ee)) ERRS(x, name, "Retry[%zu]: 'ErrorEquals' must be a non-empty array", i);
    }
    for (size_t i = 0; i < json_array_size(ca); i++) {
        json_t *c = json_array_get(ca, i);
        json_t *ee = json_object_get(c, "ErrorEquals");
        if (!json_is_array(ee) || !json_array_size(ee)) ERRS(x, name, "Catch[%zu]: 'ErrorEquals' must be a non-empty array", i);
        check_target(x, states, name, "Catch Next", json_object_get(c, "Next"), in_branch);
        check_path_field(x, name, c, "ResultPath", 1);
    }
    if (!strcmp(type, "Parallel")) {
        json_t *br = json_object_get(st, "Branches");
        if (!json_is_array(br) || !json_array_size(br)) ERRS(x, name, "'Branches' must be a non-empty array");
        for (size_t i = 0; i < json_array_size(br); i++) check_machine(x, json_array_get(br, i), name, 1);
    }
    if (!strcmp(type, "Map")) {
        json_t *ip = json_object_get(st, "ItemProcessor"), *it = json_object_get(st, "Iterator");
        if ((ip != NULL) == (it != NULL)) ERRS(x, name, "a Map state must have exactly one of 'ItemProcessor' and 'Iterator'");
        else check_machine(x, ip ? ip : it, name, 2);
        const char *mode = json_string_value(json_object_get(json_object_get(ip, "ProcessorConfig"), "Mode"));
        if (mode && strcmp(mode, "INLINE")) ERRS(x, name, "Map mode '%s' is not supported by wfdsl yet (only INLINE)", mode);
        static const char *const dist[] = {"ItemReader", "ResultWriter", "ItemBatcher"};
        for (int i = 0; i < 3; i++)
            if (json_object_get(st, dist[i]))
                ERRS(x, name, "'%s' belongs to a DISTRIBUTED Map: not supported by wfdsl yet (only INLINE)", dist[i]);
        json_t *tc = json_object_get(st, "ToleratedFailureCount"), *tp = json_object_get(st, "ToleratedFailurePercentage");
        if (tc && (!json_is_integer(tc) || json_integer_value(tc) < 0))
            ERRS(x, name, "'ToleratedFailureCount' must be a non-negative integer");
        if (tp && (!json_is_number(tp) || json_number_value(tp) < 0 || json_number_value(tp) > 100))
            ERRS(x, name, "'ToleratedFailurePercentage' must be a number from 0 to 100");
        static const char *const pairs[][2] = {{"MaxConcurrency", "MaxConcurrencyPath"},
                                               {"ToleratedFailureCount", "ToleratedFailureCountPath"},
                                               {"ToleratedFailurePercentage", "ToleratedFailurePercentagePath"}};
        for (int i = 0; i < 3; i++) {
            if (dsl_asl_count_of(st, pairs[i], 2) > 1)
                ERRS(x, name, "a Map state may have at most one of '%s' and '%s'", pairs[i][0], pairs[i][1]);
            check_path_field(x, name, st, pairs[i][1], 0);
        }
        json_t *mc = json_object_get(st, "MaxConcurrency");
        if (mc && (!json_is_integer(mc) || json_integer_value(mc) < 0))
            ERRS(x, name, "'MaxConcurrency' must be a non-negative integer");
    }
}

static void check_machine(dsl_asl_ctx *x, json_t *m, const char *owner, int in_branch)
{
    if (!json_is_object(m)) {
        ERRS(x, owner, "a state machine (branch or processor) must be an object");
        return;
    }
    json_t *states = json_object_get(m, "States");
    json_t *start = json_object_get(m, "StartAt");
    if (!json_is_object(states) || !json_object_size(states)) {
        ERRS(x, owner, "'States' must be a non-empty object");
        return;
    }
    if (!is_str(start)) {
        ERRS(x, owner, "'StartAt' must name a state");
        return;
    }
    if (!json_object_get(states, json_string_value(start)))
        ERRS(x, owner, "'StartAt' target '%s' does not exist", json_string_value(start));
    const char *name;
    json_t *st;
    int terminal = 0;
    json_object_foreach(states, name, st) {
        check_state(x, states, name, st, in_branch);
        const char *type = json_string_value(json_object_get(st, "Type"));
        if (json_is_true(json_object_get(st, "End")) || (type && (!strcmp(type, "Succeed") || !strcmp(type, "Fail"))))
            terminal = 1;
    }
    if (!terminal)
        ERRS(x, owner ? owner : json_string_value(start),
             "the state machine%s has no terminal state (End: true, Succeed or Fail)", owner ? " of this state" : "");
    json_t *seen = json_object();
    visit(states, json_string_value(start), seen);
    json_object_foreach(states, name, st)
        if (!json_object_get(seen, name)) ERRS(x, name, "the state is not reachable from StartAt");
    json_decref(seen);
}

/* ---- resource map --------------------------------------------------------------- */

static const dsl_node *find_rule(dsl_asl_ctx *x, const char *state, const char *resource)
{
    if (!x->rules || x->rules->kind != DSL_SEQ) return NULL;
    for (size_t i = 0; i < x->rules->n; i++) {
        const dsl_node *r = x->rules->vals[i];
        const dsl_node *s = dsl_map_get(r, "state"), *m = dsl_map_get(r, "match");
        if (s && s->kind == DSL_SCALAR && fnmatch(s->str, state, 0) == 0) return r;
        if (m && m->kind == DSL_SCALAR && resource && fnmatch(m->str, resource, 0) == 0) return r;
    }
    return NULL;
}

static dsl_node *copy_node(dsl_asl_ctx *x, const dsl_node *n, const char *in_id);

/* Compile a rule's step alone, after a step `task` like the Task's input, so
 * that its errors point into the map file. */
static void check_rule_step(dsl_asl_ctx *x, const char *file, const dsl_node *step)
{
    dsl_doc *saved = x->doc, *doc = dsl_doc_new(file);
    x->doc = doc;
    dsl_node *w = M(x), *steps = L(x), *task = M(x);
    put(x, w, "wfdsl", P(x, "1"));
    put(x, w, "name", P(x, "resource-map"));
    put(x, task, "id", P(x, "task"));
    put(x, task, "lua", P(x, "return {input = {}, call = 1}"));
    app(x, steps, task);
    dsl_node *c = copy_node(x, step, "task");
    /* an id of its own is replaced by the Task's */
    dsl_node *s = M(x);
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i]->str, "id")) dsl_map_add(x->doc, s, c->keys[i], c->vals[i]);
    app(x, steps, s);
    put(x, w, "steps", steps);
    doc->root = w;
    vm_program *p = NULL;
    if (dsl_compile(doc, &p, x->d) != 0) x->errors++;
    vm_program_free(p);
    dsl_doc_free(doc);
    x->doc = saved;
}

/* The resource map's shape: {resources: [{state|match: GLOB, step: {...},
 * lambda_payload: BOOL}], waits: {GLOB: DURATION}, retry_waits: BOOL}. The
 * steps themselves are checked when the workflow compiles. */
static void check_map(dsl_asl_ctx *x, const char *file)
{
#define MERR(n, ...) (std_diag(x->d, file, (n)->line, (n)->col, __VA_ARGS__), x->errors++)
    const dsl_node *root = x->map->root;
    if (root->kind != DSL_MAP) {
        MERR(root, "a resource map must be a mapping with 'resources'");
        return;
    }
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->str;
        if (strcmp(k, "resources") && strcmp(k, "waits") && strcmp(k, "retry_waits"))
            MERR(root->keys[i], "unknown field '%s' in the resource map (resources, waits, retry_waits)", k);
    }
    const dsl_node *rw = dsl_map_get(root, "retry_waits");
    if (rw && (rw->kind != DSL_SCALAR || (strcmp(rw->str, "true") && strcmp(rw->str, "false"))))
        MERR(rw, "'retry_waits' must be true or false");
    if (x->rules && x->rules->kind != DSL_SEQ) MERR(x->rules, "'resources' must be a list of rules");
    for (size_t i = 0; x->rules && x->rules->kind == DSL_SEQ && i < x->rules->n; i++) {
        const dsl_node *r = x->rules->vals[i];
        if (r->kind != DSL_MAP) {
            MERR(r, "a rule must be a mapping: {state|match: GLOB, step: STEP}");
            continue;
        }
        for (size_t j = 0; j < r->n; j++) {
            const char *k = r->keys[j]->str;
            if (strcmp(k, "state") && strcmp(k, "match") && strcmp(k, "step") && strcmp(k, "lambda_payload"))
                MERR(r->keys[j], "unknown field '%s' in a rule (state, match, step, lambda_payload)", k);
        }
        const dsl_node *st = dsl_map_get(r, "state"), *m = dsl_map_get(r, "match"), *sp = dsl_map_get(r, "step");
        const dsl_node *lp = dsl_map_get(r, "lambda_payload");
        if ((st != NULL) == (m != NULL)) MERR(r, "a rule needs exactly one of 'state' and 'match' (a glob)");
        if ((st && st->kind != DSL_SCALAR) || (m && m->kind != DSL_SCALAR)) MERR(st ? st : m, "a glob must be a string");
        if (!sp || sp->kind != DSL_MAP) MERR(sp ? sp : r, "a rule needs a 'step': a mapping like {lua: ...} or {http: ...}");
        else check_rule_step(x, file, sp);
        if (lp && (lp->kind != DSL_SCALAR || (strcmp(lp->str, "true") && strcmp(lp->str, "false"))))
            MERR(lp, "'lambda_payload' must be true or false");
    }
    if (x->waits && x->waits->kind != DSL_MAP) MERR(x->waits, "'waits' must map state-name globs to durations");
    for (size_t i = 0; x->waits && x->waits->kind == DSL_MAP && i < x->waits->n; i++) {
        int64_t ms = 0;
        std_err e = {0};
        const dsl_node *v = x->waits->vals[i];
        if (v->kind != DSL_SCALAR || std_duration_parse(v->str, &ms, &e) != 0)
            MERR(v, "'waits': '%s' must be a duration like 0, 20ms or 2s", x->waits->keys[i]->str);
    }
#undef MERR
}

/* Copy a mapped step, with "steps.task." rewritten to "steps.<in_id>.". */
static dsl_node *copy_node(dsl_asl_ctx *x, const dsl_node *n, const char *in_id)
{
    if (n->kind == DSL_SCALAR) {
        std_buf b = {0};
        const char *p = n->str;
        for (const char *q; (q = strstr(p, "steps.task")) != NULL; p = q + 10) {
            std_buf_add(&b, p, (size_t)(q - p));
            if (!isalnum((unsigned char)q[10]) && q[10] != '_') std_buf_addf(&b, "steps.%s", in_id);
            else std_buf_add(&b, q, 10);
        }
        std_buf_adds(&b, p);
        dsl_node *c = dsl_new_scalar(x->doc, b.p, n->line, n->col);
        std_buf_free(&b);
        c->style = n->style;
        c->cut_by_comment = n->cut_by_comment;
        return c;
    }
    dsl_node *c = n->kind == DSL_MAP ? M(x) : L(x);
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == DSL_MAP) dsl_map_add(x->doc, c, copy_node(x, n->keys[i], in_id), copy_node(x, n->vals[i], in_id));
        else app(x, c, copy_node(x, n->vals[i], in_id));
    }
    return c;
}

/* Wait override from the map (ms), or -1. */
int64_t dsl_asl_wait_override(dsl_asl_ctx *x, const char *state)
{
    if (!x->waits || x->waits->kind != DSL_MAP) return -1;
    for (size_t i = 0; i < x->waits->n; i++) {
        if (fnmatch(x->waits->keys[i]->str, state, 0) != 0) continue;
        int64_t ms = 0;
        std_err e = {0};
        if (x->waits->vals[i]->kind == DSL_SCALAR && std_duration_parse(x->waits->vals[i]->str, &ms, &e) == 0) return ms;
        return -1;
    }
    return -1;
}

/* ---- translation: the steps both forms make, and the dispatcher ------------------ */

typedef struct D { /* one dispatcher (a machine, branch or Map processor) */
    const char *start_id, *state_id;
    char cur[200]; /* Lua expression of the current record */
    int nested;    /* a Parallel branch or Map processor */
} D;

dsl_node *dsl_asl_lua_step(dsl_asl_ctx *x, const char *id, const char *src, int line)
{
    dsl_node *s = M(x);
    if (id) put(x, s, "id", P(x, id));
    put(x, s, "lua", BLK(x, src, line));
    return s;
}



/* A Parallel branch's name: its first state's, snake_case, unique among
 * the branches (used); else it keeps the name it has (branchN). */
void dsl_asl_branch_name(const char *start, char *bn, size_t cap, json_t *used)
{
    char t[64];
    size_t k = 0;
    for (const char *p = start; p && *p && k < 40; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c)) t[k++] = (char)tolower(c);
        else if (k && t[k - 1] != '_') t[k++] = '_';
        if (p[1] && isupper((unsigned char)p[1]) && islower(c) && k < 40) t[k++] = '_';
    }
    while (k && t[k - 1] == '_') k--;
    t[k] = 0;
    if (k && islower((unsigned char)t[0]) && !json_object_get(used, t)) snprintf(bn, cap, "%s", t);
    json_object_set_new(used, bn, json_true());
}

/* A try step around steps whose one catch clause (every error but a
 * cancel) runs catch_steps. */
dsl_node *dsl_asl_try(dsl_asl_ctx *x, dsl_node *steps, dsl_node *catch_steps)
{
    dsl_node *tr = M(x), *t = M(x), *cl = L(x), *c = M(x);
    put(x, t, "steps", steps);
    put(x, c, "steps", catch_steps);
    app(x, cl, c);
    put(x, t, "catch", cl);
    put(x, tr, "try", t);
    return tr;
}

/* A durable sleep, if cond (Lua), until the retry delay that steps.<err_id>
 * gives has passed. */
dsl_node *dsl_asl_retry_pause(dsl_asl_ctx *x, const char *cond, const char *err_id)
{
    dsl_node *sl = M(x), *u = M(x);
    put(x, sl, "if", P(x, cond));
    char *ex = std_strf("${ asl.after(now(), steps.%s.delay) }", err_id);
    put(x, u, "until", Q(x, ex));
    free(ex);
    put(x, sl, "sleep", u);
    return sl;
}

/* The body in a try whose catch clause (every error but a cancel) decides
 * in asl.on_error to retry, catch or raise again (as an ASL error), then a
 * step that picks the state's record. always: even without Retry and Catch
 * (a Task, whose step's own errors become ASL errors). */
static void with_handlers(dsl_asl_ctx *x, D *dd, json_t *st, const char *name, const char *spec, const char *out_id,
                          dsl_node *body, dsl_node *into, int line, int always)
{
    json_t *rt = json_object_get(st, "Retry"), *ca = json_object_get(st, "Catch");
    if (!always && !json_array_size(rt) && !json_array_size(ca)) {
        for (size_t i = 0; i < body->n; i++) app(x, into, body->vals[i]);
        return;
    }
    const char *err_id = dsl_asl_new_id(x, name, "error");
    dsl_node *cs = L(x);
    char *src = std_strf("local cur = %s\n-- Retry, Catch or raise again\nreturn asl.on_error(cur, %s, err)\n", dd->cur, spec);
    app(x, cs, dsl_asl_lua_step(x, err_id, src, line));
    free(src);
    if (x->retry_waits && json_array_size(rt)) {
        char *cond = std_strf("steps.%s.delay and steps.%s.delay > 0", err_id, err_id);
        app(x, cs, dsl_asl_retry_pause(x, cond, err_id));
        free(cond);
    }
    app(x, into, dsl_asl_try(x, body, cs));
    char *pk = std_strf("return asl.pick(%s, steps.%s, steps.%s)\n", dd->cur, out_id, err_id);
    app(x, into, dsl_asl_lua_step(x, dsl_asl_new_id(x, name, "next"), pk, line));
    free(pk);
}

dsl_node *dsl_asl_resource_step(dsl_asl_ctx *x, json_t *st, const char *name, const char *in_id, const char *id,
                                json_t *flags)
{
    const char *res = json_string_value(json_object_get(st, "Resource"));
    const dsl_node *rule = find_rule(x, name, res);
    dsl_node *step;
    if (rule && dsl_map_get(rule, "step") && dsl_map_get(rule, "step")->kind == DSL_MAP) {
        step = copy_node(x, dsl_map_get(rule, "step"), in_id);
        const dsl_node *lp = dsl_map_get(rule, "lambda_payload");
        if (lp && lp->kind == DSL_SCALAR && !strcmp(lp->str, "true")) json_object_set_new(flags, "_payload", json_true());
    } else if (res && !strcmp(res, "arn:aws:states:::http:invoke")) {
        json_t *par = json_object_get(st, "Parameters");
        const char *method = json_string_value(json_object_get(par, "Method"));
        if (!method) {
            ERRS(x, name, "http:invoke needs a literal 'Method' in Parameters");
            method = "GET";
        }
        step = M(x);
        dsl_node *h = M(x);
        put(x, h, "method", P(x, method));
        char *u = std_strf("${ steps.%s.input.ApiEndpoint }", in_id);
        put(x, h, "url", Q(x, u));
        free(u);
        if (json_object_get(par, "RequestBody") || json_object_get(par, "RequestBody.$")) {
            char *b = std_strf("${ steps.%s.input.RequestBody }", in_id);
            put(x, h, "body", Q(x, b));
            free(b);
        }
        if (json_object_get(par, "Headers") || json_object_get(par, "Headers.$")) {
            char *b = std_strf("${ steps.%s.input.Headers }", in_id);
            put(x, h, "headers", Q(x, b));
            free(b);
        }
        put(x, step, "http", h);
        json_object_set_new(flags, "_http", json_true());
    } else {
        json_object_set_new(x->missing, res ? res : "(no Resource)", json_string(name));
        step = M(x);
        put(x, step, "lua", BLK(x, "return json.null\n", 1));
    }
    /* the step's id is ours */
    dsl_node *out = M(x);
    put(x, out, "id", P(x, id));
    for (size_t i = 0; i < step->n; i++)
        if (strcmp(step->keys[i]->str, "id")) dsl_map_add(x->doc, out, step->keys[i], step->vals[i]);
    json_t *ts = json_object_get(st, "TimeoutSeconds");
    if (json_is_integer(ts) && !json_object_get(flags, "_race") && (dsl_map_get(out, "shell") || dsl_map_get(out, "http")) &&
        !dsl_map_get(out, "timeout")) {
        char t[32];
        snprintf(t, sizeof t, "%llds", (long long)json_integer_value(ts));
        put(x, out, "timeout", P(x, t));
    }
    return out;
}

/* A parallel (id) in mode any: branch `what` (steps) against a durable timer
 * of steps.<in_id>.<secs> seconds, whose branch ends with true. */
static dsl_node *race_timer(dsl_asl_ctx *x, const char *id, const char *what, dsl_node *steps, const char *in_id,
                            const char *secs, int line)
{
    dsl_node *ps = M(x), *par = M(x), *brs = M(x), *timer = L(x), *sl = M(x), *u = M(x);
    char *ex = std_strf("${ asl.after(now(), steps.%s.%s) }", in_id, secs);
    put(x, u, "until", Q(x, ex));
    free(ex);
    put(x, sl, "sleep", u);
    app(x, timer, sl);
    app(x, timer, dsl_asl_lua_step(x, NULL, "return true\n", line));
    put(x, brs, what, steps);
    put(x, brs, "timer", timer);
    put(x, par, "mode", P(x, "any"));
    put(x, par, "branches", brs);
    put(x, ps, "id", P(x, id));
    put(x, ps, "parallel", par);
    return ps;
}

/* The foreach step (id) of Map st (its processor proc): an iteration runs
 * isteps, whose result is the Lua expression out (NULL: json.null), over
 * steps.<in_id>.items. With tolerated failures a failed iteration gives its
 * error output (asl.item_failed, steps named after pre) instead of failing
 * the Map. With MaxConcurrencyPath N lanes (steps.<in_id>.lanes) run at once,
 * each its items one after the other; else MaxConcurrency (40 when unset, 1
 * when the processor waits for task tokens: a token's signal is named after
 * its Task). */
dsl_node *dsl_asl_map_foreach(dsl_asl_ctx *x, json_t *st, json_t *proc, const char *id, const char *in_id,
                              const char *pre, dsl_node *isteps, const char *out, int line)
{
    char *re;
    if (dsl_asl_count_of(st, dsl_asl_tolerated, 4)) {
        const char *fid = dsl_asl_new_id(x, pre, "failed");
        dsl_node *cs = L(x), *tr;
        app(x, cs, dsl_asl_lua_step(x, fid, "return asl.item_failed(err)\n", line));
        tr = dsl_asl_try(x, isteps, cs);
        isteps = L(x);
        app(x, isteps, tr);
        re = std_strf("${ steps.%s or %s }", fid, out ? out : "json.null");
    } else {
        re = std_strf("${ %s }", out ? out : "json.null");
    }
    dsl_node *fs = M(x), *fe = M(x);
    put(x, fs, "id", P(x, id));
    put(x, fs, "foreach", fe);
    if (json_object_get(st, "MaxConcurrencyPath")) {
        /* at most N at once, N known at run time: N lanes run at once, each
         * runs its items (every N-th) one after the other */
        char *lanes = std_strf("steps.%s.lanes", in_id);
        put(x, fe, "items", P(x, lanes));
        free(lanes);
        put(x, fe, "as", P(x, "lane"));
        put(x, fe, "concurrency", P(x, "10000"));
        dsl_node *ls = M(x), *le = M(x), *lsteps = L(x);
        put(x, ls, "id", P(x, dsl_asl_new_id(x, id, "lane")));
        put(x, le, "items", P(x, "lane"));
        put(x, le, "steps", isteps);
        put(x, le, "result", Q(x, re));
        put(x, ls, "foreach", le);
        app(x, lsteps, ls);
        put(x, fe, "steps", lsteps);
    } else {
        char *items = std_strf("steps.%s.items", in_id);
        put(x, fe, "items", P(x, items));
        free(items);
        json_t *mc = json_object_get(st, "MaxConcurrency");
        long long conc = 40;
        if (json_is_integer(mc) && json_integer_value(mc) > 0) conc = json_integer_value(mc);
        if (conc > 10000) conc = 10000;
        if (dsl_asl_waits_for_tokens(proc)) conc = 1;
        char cs[32];
        snprintf(cs, sizeof cs, "%lld", conc);
        put(x, fe, "concurrency", P(x, cs));
        put(x, fe, "steps", isteps);
        put(x, fe, "result", Q(x, re));
    }
    free(re);
    return fs;
}

/* The parallel step (id) of Parallel st: a branch for each of its branches,
 * named after its first state (dsl_asl_branch_name), whose steps fn makes;
 * args gets ", <result>" for each (nil for a branch that always fails). */
dsl_node *dsl_asl_parallel(dsl_asl_ctx *x, json_t *st, const char *id, dsl_asl_branch_fn *fn, void *arg, std_buf *args)
{
    dsl_node *ps = M(x), *par = M(x), *brs = M(x);
    json_t *br = json_object_get(st, "Branches");
    json_t *bnames = json_object();
    for (size_t i = 0; i < json_array_size(br); i++) {
        char bn[64], pre[200];
        snprintf(bn, sizeof bn, "branch%zu", i + 1);
        snprintf(pre, sizeof pre, "%s_%s", id, bn);
        dsl_asl_branch_name(json_string_value(json_object_get(json_array_get(br, i), "StartAt")), bn, sizeof bn, bnames);
        dsl_node *bsteps = L(x);
        char *out = fn(x, json_array_get(br, i), pre, bsteps, arg);
        put(x, brs, bn, bsteps);
        std_buf_addf(args, ", %s", out ? out : "nil");
        free(out);
    }
    json_decref(bnames);
    put(x, par, "branches", brs);
    put(x, ps, "id", P(x, id));
    put(x, ps, "parallel", par);
    return ps;
}

/* A Parallel branch of the dispatcher, reading the branch's input and
 * variables from these expressions. */
typedef struct branch_exprs {
    char *input, *vars;
} branch_exprs;

static char *dispatched_branch(dsl_asl_ctx *x, json_t *m, const char *prefix, dsl_node *steps, void *arg)
{
    const branch_exprs *be = arg;
    const char *rid = NULL;
    dsl_asl_dispatcher(x, m, prefix, be->input, be->vars, steps, &rid);
    return std_strf("steps.%s", rid);
}

/* The steps of one state, appended to `into`. */
static void state_steps(dsl_asl_ctx *x, D *dd, const char *name, json_t *st, dsl_node *into)
{
    int line, col;
    pos_of(x, name, &line, &col);
    const char *type = json_string_value(json_object_get(st, "Type"));
    json_t *flags = json_object();
    if (!x->retry_waits) json_object_set_new(flags, "_no_retry_wait", json_true());
    char *spec = NULL, *src = NULL;
    if (!strcmp(type, "Pass") || !strcmp(type, "Succeed") || !strcmp(type, "Choice")) {
        spec = spec_lit(st, name, flags, 1);
        const char *fn = !strcmp(type, "Pass") ? "pass" : !strcmp(type, "Succeed") ? "succeed" : "choice";
        src = std_strf("local cur = %s\nreturn asl.%s(cur, %s)\n", dd->cur, fn, spec);
        app(x, into, dsl_asl_lua_step(x, dsl_asl_new_id(x, name, NULL), src, line));
    } else if (!strcmp(type, "Fail")) {
        if (dd->nested) json_object_set_new(flags, "_nested", json_true());
        spec = spec_lit(st, name, flags, 1);
        src = std_strf("local cur = %s\nreturn asl.fail(cur, %s)\n", dd->cur, spec);
        app(x, into, dsl_asl_lua_step(x, dsl_asl_new_id(x, name, NULL), src, line));
    } else if (!strcmp(type, "Wait")) {
        spec = spec_lit(st, name, flags, 1);
        int64_t ms = dsl_asl_wait_override(x, name);
        if (ms > 0) {
            char d[32];
            snprintf(d, sizeof d, "%lldms", (long long)ms);
            dsl_node *s = M(x);
            put(x, s, "sleep", P(x, d));
            app(x, into, s);
        } else if (ms < 0) {
            dsl_node *s = M(x), *u = M(x);
            char *one = spec_lit(st, name, flags, 0); /* one line in an expression */
            char *ex = std_strf("${ asl.wake(%s, %s, now()) }", dd->cur, one);
            free(one);
            put(x, u, "until", Q(x, ex));
            free(ex);
            put(x, s, "sleep", u);
            app(x, into, s);
        }
        src = std_strf("local cur = %s\nreturn asl.wait(cur, %s)\n", dd->cur, spec);
        app(x, into, dsl_asl_lua_step(x, dsl_asl_new_id(x, name, NULL), src, line));
    } else if (!strcmp(type, "Task")) {
        json_object_set_new(flags, "_task", json_true());
        const char *in_id = dsl_asl_new_id(x, name, "input"), *id = dsl_asl_new_id(x, name, NULL),
                   *out_id = dsl_asl_new_id(x, name, "result");
        int token = dsl_asl_is_token_task(st);
        int race = json_object_get(st, "TimeoutSecondsPath") || (token && json_object_get(st, "TimeoutSeconds"));
        if (token) json_object_set_new(flags, "_token_signal", json_string(id));
        if (token && x->tokens) json_object_set_new(x->tokens, name, json_string(id));
        if (race) json_object_set_new(flags, "_race", json_true());
        dsl_node *res = dsl_asl_resource_step(x, st, name, in_id, id, flags);
        if (!race && json_object_get(st, "TimeoutSeconds") && !dsl_map_get(res, "shell") && !dsl_map_get(res, "http") &&
            !dsl_map_get(res, "lua")) {
            race = 1; /* a step without a timeout of its own (call, sleep, wait...) */
            json_object_set_new(flags, "_race", json_true());
        }
        spec = spec_lit(st, name, flags, 1);
        dsl_node *body = L(x), *work = L(x);
        src = std_strf("local cur = %s\nreturn asl.task_in(cur, %s)\n", dd->cur, spec);
        app(x, body, dsl_asl_lua_step(x, in_id, src, line));
        free(src);
        app(x, work, res);
        const char *sig_id = NULL;
        if (token) {
            /* wait for the answer: signal <id> carrying this call's token */
            sig_id = dsl_asl_new_id(x, name, "answer");
            dsl_node *lp = M(x), *lo = M(x), *ls = L(x), *w = M(x), *wa = M(x);
            char *until = std_strf("asl.token_done(steps.%s, steps.%s)", in_id, sig_id);
            put(x, lo, "until", P(x, until));
            free(until);
            put(x, wa, "signal", P(x, id));
            json_t *hs = json_object_get(st, "HeartbeatSeconds");
            if (json_is_integer(hs)) {
                char t[32];
                snprintf(t, sizeof t, "%llds", (long long)json_integer_value(hs));
                put(x, wa, "timeout", P(x, t));
            }
            put(x, w, "wait", wa);
            if (json_object_get(st, "HeartbeatSecondsPath")) {
                /* a wait's timeout is fixed when compiled: the wait races a
                 * durable timer of the path's seconds (asl.task_in checked
                 * them), and asl.beat turns the timer's win into States.Timeout */
                const char *beat_id = dsl_asl_new_id(x, name, "beat");
                dsl_node *ans = L(x);
                app(x, ans, w);
                app(x, ls, race_timer(x, beat_id, "answer", ans, in_id, "heartbeat", line));
                char *src2 = std_strf("return asl.beat(steps.%s, steps.%s)\n", in_id, beat_id);
                app(x, ls, dsl_asl_lua_step(x, sig_id, src2, line));
                free(src2);
            } else {
                put(x, w, "id", P(x, sig_id));
                app(x, ls, w);
            }
            put(x, lo, "steps", ls);
            put(x, lp, "loop", lo);
            app(x, work, lp);
        }
        char *out;
        if (token) out = std_strf("asl.task_token_out(cur, %s, steps.%s, steps.%s)", spec, in_id, sig_id);
        else out = std_strf("asl.task_out(cur, %s, steps.%s)", spec, id);
        if (race) {
            /* the call against a timer: a parallel that ends with the first
             * branch to finish; the call branch keeps its failure as a value */
            const char *race_id = dsl_asl_new_id(x, name, "race"), *failed_id = dsl_asl_new_id(x, name, "failed");
            dsl_node *call = L(x), *cs = L(x);
            app(x, cs, dsl_asl_lua_step(x, failed_id, "return {asl_failed = err}\n", line));
            app(x, call, dsl_asl_try(x, work, cs));
            app(x, body, race_timer(x, race_id, "call", call, in_id, "timeout", line));
            src = std_strf("local cur = %s\nasl.raced(steps.%s)\nreturn %s\n", dd->cur, race_id, out);
        } else {
            for (size_t i = 0; i < work->n; i++) app(x, body, work->vals[i]);
            src = std_strf("local cur = %s\nreturn %s\n", dd->cur, out);
        }
        free(out);
        app(x, body, dsl_asl_lua_step(x, out_id, src, line));
        with_handlers(x, dd, st, name, spec, out_id, body, into, line, 1);
    } else if (!strcmp(type, "Parallel")) {
        spec = spec_lit(st, name, flags, 1);
        const char *in_id = dsl_asl_new_id(x, name, "input"), *id = dsl_asl_new_id(x, name, NULL),
                   *out_id = dsl_asl_new_id(x, name, "result");
        dsl_node *body = L(x);
        src = std_strf("local cur = %s\nreturn asl.par_in(cur, %s)\n", dd->cur, spec);
        app(x, body, dsl_asl_lua_step(x, in_id, src, line));
        free(src);
        json_t *br = json_object_get(st, "Branches");
        std_buf args = {0};
        branch_exprs be = {std_strf("steps.%s.input", in_id), std_strf("steps.%s.vars", in_id)};
        app(x, body, dsl_asl_parallel(x, st, id, dispatched_branch, &be, &args));
        free(be.input);
        free(be.vars);
        std_buf_adds(&args, "");
        src = std_strf("local cur = %s\nreturn asl.par_out(cur, %s, %zu%s)\n", dd->cur, spec, json_array_size(br), args.p);
        std_buf_free(&args);
        app(x, body, dsl_asl_lua_step(x, out_id, src, line));
        with_handlers(x, dd, st, name, spec, out_id, body, into, line, 0);
    } else if (!strcmp(type, "Map")) {
        json_t *proc = json_object_get(st, "ItemProcessor");
        if (!proc) proc = json_object_get(st, "Iterator");
        /* a task token's signal is named after its Task: one waiter at a time */
        if (dsl_asl_waits_for_tokens(proc)) json_object_set_new(flags, "_one_at_a_time", json_true());
        spec = spec_lit(st, name, flags, 1);
        const char *in_id = dsl_asl_new_id(x, name, "input"), *id = dsl_asl_new_id(x, name, NULL),
                   *out_id = dsl_asl_new_id(x, name, "result");
        dsl_node *body = L(x);
        src = std_strf("local cur = %s\nreturn asl.map_in(cur, %s)\n", dd->cur, spec);
        app(x, body, dsl_asl_lua_step(x, in_id, src, line));
        free(src);
        char pre[200];
        snprintf(pre, sizeof pre, "%s_item", id);
        const char *rid = NULL;
        dsl_node *isteps = L(x);
        char *varexpr = std_strf("steps.%s.vars", in_id);
        dsl_asl_dispatcher(x, proc, pre, "item", varexpr, isteps, &rid);
        free(varexpr);
        char *out = std_strf("steps.%s", rid);
        app(x, body, dsl_asl_map_foreach(x, st, proc, id, in_id, pre, isteps, out, line));
        free(out);
        src = std_strf("local cur = %s\nreturn asl.map_out(cur, %s, steps.%s, steps.%s)\n", dd->cur, spec, id, in_id);
        app(x, body, dsl_asl_lua_step(x, out_id, src, line));
        with_handlers(x, dd, st, name, spec, out_id, body, into, line, 0);
    }
    free(spec);
    free(src);
    json_decref(flags);
}

/* A dispatcher for machine m, appended to steps: its start record, the loop
 * over a switch of states, and (for branches) a step giving its result. */
dsl_node *dsl_asl_dispatcher(dsl_asl_ctx *x, json_t *m, const char *prefix, const char *input_expr,
                             const char *vars_expr, dsl_node *steps, const char **result_id)
{
    D dd;
    dd.nested = result_id != NULL;
    dd.start_id = dsl_asl_new_id(x, prefix, "start");
    dd.state_id = dsl_asl_new_id(x, prefix, "state");
    snprintf(dd.cur, sizeof dd.cur, "asl.cur(steps.%s, steps.%s)", dd.start_id, dd.state_id);
    const char *start = json_string_value(json_object_get(m, "StartAt"));
    std_buf sb = {0};
    dsl_asl_lua_str(&sb, start ? start : "", start ? strlen(start) : 0);
    std_buf_adds(&sb, "");
    char *src = std_strf("return asl.start(%s, %s, %s, steps.%s)\n", input_expr, sb.p, vars_expr, dd.state_id);
    app(x, steps, dsl_asl_lua_step(x, dd.start_id, src, 1));
    free(src);
    dsl_node *lp = M(x), *lo = M(x), *body = L(x), *sw = M(x), *cases = L(x);
    char *until = std_strf("asl.done(steps.%s, steps.%s)", dd.start_id, dd.state_id);
    put(x, lo, "until", P(x, until));
    free(until);
    const char *name;
    json_t *st;
    json_object_foreach(json_object_get(m, "States"), name, st) {
        dsl_node *c = M(x), *cst = L(x);
        std_buf nb = {0};
        dsl_asl_lua_str(&nb, name, strlen(name));
        std_buf_adds(&nb, "");
        char *w = std_strf("asl.at(steps.%s, steps.%s, %s)", dd.start_id, dd.state_id, nb.p);
        std_buf_free(&nb);
        put(x, c, "when", Q(x, w));
        free(w);
        state_steps(x, &dd, name, st, cst);
        put(x, c, "steps", cst);
        app(x, cases, c);
    }
    put(x, sw, "id", P(x, dd.state_id));
    put(x, sw, "switch", cases);
    app(x, body, sw);
    put(x, lo, "steps", body);
    put(x, lp, "loop", lo);
    app(x, steps, lp);
    std_buf_free(&sb);
    if (result_id) {
        *result_id = dsl_asl_new_id(x, prefix, "output");
        char *r = std_strf("return asl.result(steps.%s, steps.%s)\n", dd.start_id, dd.state_id);
        app(x, steps, dsl_asl_lua_step(x, *result_id, r, 1));
        free(r);
    }
    return steps;
}

/* ---- entry points ------------------------------------------------------------------ */

int dsl_is_asl_file(const char *path)
{
    size_t n = strlen(path);
    return n >= 9 && !strcmp(path + n - 9, ".asl.json");
}

static void workflow_name(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b) - 9, k = 0;
    if (!isalpha((unsigned char)b[0]) && cap > 4) k = (size_t)snprintf(out, cap, "asl-");
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        unsigned char c = (unsigned char)b[i];
        out[k++] = isalnum(c) ? (char)tolower(c) : c == '_' ? '_' : '-';
    }
    out[k] = 0;
}

/* dsl_asl_load; tokens (when not NULL) gets state -> signal name for each
 * `.waitForTaskToken` Task. */
static int asl_load(const char *path, const char *resources, dsl_doc **out, std_diags *diags, json_t *tokens,
                    json_t *notes, int *fallbacks)
{
    *out = NULL;
    size_t len = 0;
    std_err e = {0};
    char *text = std_read_file(path, &len, &e);
    if (!text) {
        std_diag(diags, path, 1, 1, "cannot read file: %s", e.msg);
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        if (!root) std_diag(diags, path, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1, "invalid JSON: %s", je.text);
        else std_diag(diags, path, 1, 1, "an ASL state machine must be a JSON object");
        json_decref(root);
        free(text);
        return -1;
    }
    dsl_asl_ctx x = {.file = path, .text = text, .d = diags, .ids = json_object(), .names = json_object(),
           .missing = json_object(), .tokens = tokens, .retry_waits = 1, .notes = notes};
    if (resources) {
        size_t ml = 0;
        char *mt = std_read_file(resources, &ml, &e);
        if (!mt) std_diag(diags, resources, 1, 1, "cannot read resource map: %s", e.msg), x.errors++;
        else if (dsl_yaml_load(resources, mt, ml, &x.map, diags) != 0) x.errors++;
        free(mt);
        if (x.map && x.map->root) {
            x.rules = dsl_map_get(x.map->root, "resources");
            x.waits = dsl_map_get(x.map->root, "waits");
            const dsl_node *rw = dsl_map_get(x.map->root, "retry_waits");
            if (rw && rw->kind == DSL_SCALAR && !strcmp(rw->str, "false")) x.retry_waits = 0;
            check_map(&x, resources);
        } else if (x.map) {
            std_diag(diags, resources, 1, 1, "a resource map must be a mapping with 'resources'");
            x.errors++;
        }
    }
    const char *ql = json_string_value(json_object_get(root, "QueryLanguage"));
    if (ql && !strcmp(ql, "JSONata")) {
        const char *name;
        json_t *st;
        int any = 0;
        json_object_foreach(json_object_get(root, "States"), name, st) {
            const char *sq = json_string_value(json_object_get(st, "QueryLanguage"));
            if (sq && !strcmp(sq, "JSONPath")) {
                ERRS(&x, name, "QueryLanguage cannot be JSONPath when the whole state machine is JSONata");
                any = 1;
            }
        }
        if (!any)
            ERRS(&x, json_string_value(json_object_get(root, "StartAt")),
                 "QueryLanguage JSONata is not supported by wfdsl yet (the machine sets it at the top level; "
                 "only JSONPath runs)");
    } else {
        collect_names(&x, root, NULL);
        check_machine(&x, root, NULL, 0);
    }
    dsl_doc *doc = NULL;
    if (!x.errors) {
        doc = dsl_doc_new(path);
        x.doc = doc;
        dsl_node *w = M(&x);
        put(&x, w, "wfdsl", P(&x, "1"));
        char nm[128];
        workflow_name(path, nm, sizeof nm);
        put(&x, w, "name", P(&x, nm));
        json_t *cm = json_object_get(root, "Comment");
        if (is_str(cm)) put(&x, w, "description", Q(&x, json_string_value(cm)));
        json_t *ts = json_object_get(root, "TimeoutSeconds");
        dsl_node *steps = L(&x), *outn = NULL;
        x.asl_vars = dsl_asl_uses_vars(root);
        if (json_is_integer(ts) && json_integer_value(ts) > 0) {
            /* the machine against a timer (States.Timeout): a parallel that ends
             * with the first branch to finish; the machine's failure is kept as
             * a value and raised again after it */
            dsl_node *ms = L(&x), *cs = L(&x);
            int structured = 0;
            char *o = dsl_asl_structured(&x, root, "machine", "input", 0, 0, ms, &structured);
            app(&x, ms, dsl_asl_lua_step(&x, dsl_asl_new_id(&x, "machine", "ended"), "return true -- in time\n", 1));
            app(&x, cs, dsl_asl_lua_step(&x, dsl_asl_new_id(&x, "machine", "failed"), "return {asl_failed = err}\n", 1));
            dsl_node *tr = dsl_asl_try(&x, ms, cs);
            dsl_node *ps = M(&x), *par = M(&x), *brs = M(&x), *call = L(&x), *timer = L(&x), *sl = M(&x);
            app(&x, call, tr);
            char d[32];
            snprintf(d, sizeof d, "%llds", (long long)json_integer_value(ts));
            put(&x, sl, "sleep", P(&x, d));
            app(&x, timer, sl);
            app(&x, timer, dsl_asl_lua_step(&x, NULL, "return true\n", 1));
            put(&x, brs, "call", call);
            put(&x, brs, "timer", timer);
            put(&x, par, "mode", P(&x, "any"));
            put(&x, par, "branches", brs);
            const char *race_id = dsl_asl_new_id(&x, "machine", "race");
            put(&x, ps, "id", P(&x, race_id));
            put(&x, ps, "parallel", par);
            app(&x, steps, ps);
            char *src = std_strf("-- the machine's TimeoutSeconds\nreturn asl.raced(steps.%s)\n", race_id);
            app(&x, steps, dsl_asl_lua_step(&x, dsl_asl_new_id(&x, "machine", "timeout"), src, 1));
            free(src);
            char *ex = std_strf("${ %s }", o ? o : "json.null");
            outn = Q(&x, ex);
            free(ex);
            free(o);
        } else {
            int structured = 0;
            char *o = dsl_asl_structured(&x, root, "machine", "input", 0, 0, steps, &structured);
            char *ex = std_strf("${ %s }", o ? o : "json.null");
            outn = Q(&x, ex);
            free(ex);
            free(o);
        }
        if (x.asl_vars && !x.top_dispatcher) {
            dsl_node *vs = M(&x);
            put(&x, vs, "asl_vars", M(&x));
            put(&x, w, "vars", vs);
        }
        put(&x, w, "steps", steps);
        put(&x, w, "output", outn);
        doc->root = w;
        if (json_object_size(x.missing)) {
            std_buf b = {0};
            const char *k;
            json_t *v;
            json_object_foreach(x.missing, k, v) std_buf_addf(&b, "%s%s (state '%s')", b.len ? ", " : "", k, json_string_value(v));
            std_buf_adds(&b, "");
            std_diag(diags, path, 1, 1, "unmapped Task resources: %s; map them with --resources MAP "
                                        "(rules: {state|match: GLOB, step: STEP})", b.p);
            std_buf_free(&b);
            x.errors++;
        }
    }
    if (x.map) dsl_doc_free(x.map);
    if (fallbacks) *fallbacks = x.fallbacks;
    json_decref(x.ids);
    json_decref(x.names);
    json_decref(x.missing);
    json_decref(root);
    free(text);
    if (x.errors) {
        dsl_doc_free(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

int dsl_asl_load(const char *path, const char *resources, dsl_doc **out, std_diags *diags)
{
    return asl_load(path, resources, out, diags, NULL, NULL, NULL);
}

int dsl_asl_compile_file(const char *path, const char *resources, vm_program **out, char **source,
                         std_diags *diags)
{
    *out = NULL;
    if (source) *source = NULL;
    dsl_doc *doc = NULL;
    if (dsl_asl_load(path, resources, &doc, diags) != 0) return -1;
    int rc = dsl_compile(doc, out, diags);
    if (rc == 0 && source) {
        std_buf b = {0};
        dsl_emit_yaml(doc->root, &b);
        std_buf_adds(&b, "");
        *source = std_buf_take(&b);
    }
    dsl_doc_free(doc);
    return rc;
}

/* ---- YAML emitter ------------------------------------------------------------------- */

static void indent(std_buf *b, int n)
{
    for (int i = 0; i < n; i++) std_buf_add(b, " ", 1);
}

static void emit_quoted(std_buf *b, const char *s, size_t n)
{
    std_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') std_buf_addf(b, "\\%c", c);
        else if (c == '\n') std_buf_adds(b, "\\n");
        else if (c == '\t') std_buf_adds(b, "\\t");
        else if (c < 32 || c == 127) std_buf_addf(b, "\\x%02x", c);
        else std_buf_add(b, (const char *)&c, 1);
    }
    std_buf_add(b, "\"", 1);
}

static int plain_safe(const char *s)
{
    if (!*s) return 1;
    if (!(isalnum((unsigned char)s[0]) || s[0] == '_' || s[0] == '/' || s[0] == '.' ||
          (s[0] == '-' && isdigit((unsigned char)s[1]))))
        return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("_./-+", *p))) return 0;
    return 1;
}

static int block_ok(const char *s)
{
    if (!*s || s[0] == ' ' || s[0] == '\n' || strchr(s, '\t') || strchr(s, '\r')) return 0;
    for (const char *l = s; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n && l[n - 1] == ' ') return 0;
        int blank = 1;
        for (size_t i = 0; i < n; i++) blank &= l[i] == ' ';
        if (n && blank) return 0;
        if (!e) break;
        l = e + 1;
    }
    return 1;
}

static void emit_scalar(std_buf *b, const dsl_node *n, int ind)
{
    if (n->style == DSL_BLOCK && block_ok(n->str)) {
        size_t len = strlen(n->str);
        std_buf_adds(b, len && n->str[len - 1] == '\n' && (len < 2 || n->str[len - 2] != '\n') ? "|\n" : "|-\n");
        const char *l = n->str;
        while (*l) {
            const char *e = strchr(l, '\n');
            size_t k = e ? (size_t)(e - l) : strlen(l);
            if (k) indent(b, ind);
            std_buf_add(b, l, k);
            std_buf_add(b, "\n", 1);
            if (!e) break;
            l = e + 1;
        }
        return;
    }
    if (n->style == DSL_PLAIN && plain_safe(n->str)) std_buf_adds(b, n->str);
    else emit_quoted(b, n->str, strlen(n->str));
    std_buf_add(b, "\n", 1);
}

static void emit(const dsl_node *n, int ind, std_buf *b, json_t *notes);

static void emit_value(const dsl_node *v, int ind, std_buf *b, json_t *notes)
{
    if (v->kind == DSL_SCALAR) {
        std_buf_add(b, " ", 1);
        emit_scalar(b, v, ind + 2);
    } else if (v->n == 0) {
        std_buf_adds(b, v->kind == DSL_MAP ? " {}\n" : " []\n");
    } else {
        std_buf_add(b, "\n", 1);
        emit(v, v->kind == DSL_SEQ ? ind : ind + 2, b, notes);
    }
}

static void emit(const dsl_node *n, int ind, std_buf *b, json_t *notes)
{
    if (n->kind == DSL_MAP) {
        for (size_t i = 0; i < n->n; i++) {
            indent(b, ind);
            const char *k = n->keys[i]->str;
            int ok = (isalpha((unsigned char)k[0]) || k[0] == '_') && plain_safe(k) && strcmp(k, "true") &&
                     strcmp(k, "false") && strcmp(k, "null");
            if (ok) std_buf_adds(b, k);
            else emit_quoted(b, k, strlen(k));
            std_buf_add(b, ":", 1);
            emit_value(n->vals[i], ind, b, notes);
        }
    } else if (n->kind == DSL_SEQ) {
        for (size_t i = 0; i < n->n; i++) {
            const dsl_node *v = n->vals[i];
            char key[32];
            snprintf(key, sizeof key, "%p", (const void *)v);
            const char *note = json_string_value(json_object_get(notes, key));
            if (note) {
                /* a comment line before the step: why its part is a dispatcher */
                indent(b, ind);
                std_buf_adds(b, "# ASL states kept as a dispatcher here: ");
                for (const char *c = note; *c; c++) std_buf_add(b, *c == '\n' || *c == '\r' ? " " : c, 1);
                std_buf_adds(b, "\n");
            }
            if (v->kind == DSL_SCALAR || v->n == 0) {
                indent(b, ind);
                std_buf_add(b, "-", 1);
                emit_value(v, ind, b, notes);
                continue;
            }
            size_t at = b->len;
            emit(v, ind + 2, b, notes);
            b->p[at + ind] = '-'; /* "  key" -> "- key" on the first line */
        }
    } else {
        emit_scalar(b, n, ind);
    }
}

void dsl_emit_yaml(const dsl_node *n, std_buf *out) { emit(n, 0, out, NULL); }

int dsl_asl_import(const char *path, const char *resources, std_buf *out, std_diags *diags)
{
    dsl_doc *doc = NULL;
    json_t *tokens = json_object(), *notes = json_object();
    int fallbacks = 0;
    if (asl_load(path, resources, &doc, diags, tokens, notes, &fallbacks) != 0) {
        json_decref(tokens);
        json_decref(notes);
        return -1;
    }
    vm_program *p = NULL;
    int rc = dsl_compile(doc, &p, diags);
    vm_program_free(p);
    if (rc == 0) {
        const char *b = strrchr(path, '/');
        std_buf_addf(out, "# Imported from %s by `wfdsl import stepfunctions`.\n", b ? b + 1 : path);
        if (!fallbacks)
            std_buf_adds(out, "# Structured: each ASL state is a step named after it, in the order they run;\n"
                              "# a Choice is a step that names the next state, then a switch. The `asl`\n"
                              "# runtime evaluates paths (asl.get), Choice rules (asl.test), intrinsic\n"
                              "# functions (asl.eval) and Retry/Catch (asl.handle).\n");
        else
            std_buf_addf(out, "# Partly structured: %d part%s (the machine, a Parallel branch or a Map\n"
                              "# processor) kept as a dispatcher: a loop around a switch with one branch\n"
                              "# per state, which the `asl` runtime drives (see the comments below).\n",
                         fallbacks, fallbacks == 1 ? "" : "s");
        if (json_object_size(tokens)) {
            std_buf_adds(out, "# Task tokens: each state below hands out $$.Task.Token (SIGNAL:UUID:WORKFLOW-ID)\n"
                              "# and waits for its answer:\n");
            const char *k;
            json_t *v;
            json_object_foreach(tokens, k, v) {
                std_buf_adds(out, "#   ");
                for (const char *c = k; *c; c++) std_buf_add(out, *c == '\n' || *c == '\r' ? " " : c, 1);
                std_buf_addf(out, ": wfdsl signal WORKFLOW-ID %s '{\"token\": TOKEN, \"output\": RESULT}'\n",
                             json_string_value(v));
            }
            std_buf_adds(out, "#   (or \"error\" and \"cause\" to fail the Task, \"heartbeat\": true to extend it)\n");
        }
        emit(doc->root, 0, out, notes);
    }
    json_decref(tokens);
    json_decref(notes);
    dsl_doc_free(doc);
    return rc;
}
