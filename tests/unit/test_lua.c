/* test_lua.c — unit tests of the Lua sandbox (stdlib/lua.c): JSON round trips,
 * globals, limits and recovery, removed libraries, protected metatables,
 * deterministic pairs, json.*, free names, syntax errors and scopes. */
#include "check.h"
#include <lua.h>
#include "../../stdlib/lua.h"

#include <stdlib.h>
#include <string.h>

#define NO_SCOPE (-1000) /* run_in: use std_lua_call */

/* Evaluate src in scope (NO_SCOPE: with std_lua_call); returns a malloc'd
 * compact JSON dump of the result, or "!type: message" on error. */
static char *run_in(std_lua *L, int scope, const char *src, int is_expr)
{
    std_err e = {0};
    json_t *out = NULL;
    int h = std_lua_compile(L, "t", src, is_expr, &e);
    if (h < 0 || (scope == NO_SCOPE ? std_lua_call(L, h, &out, &e) : std_lua_call_in(L, h, scope, &out, &e)) != 0) {
        size_t n = strlen(e.type) + strlen(e.msg) + 4;
        char *s = malloc(n);
        snprintf(s, n, "!%s: %s", e.type, e.msg);
        return s;
    }
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(out);
    return s;
}

static char *run(std_lua *L, const char *src, int is_expr) { return run_in(L, NO_SCOPE, src, is_expr); }

#define EXPECT(L, src, want)                                                         \
    do {                                                                             \
        char *got_ = run(L, src, 1);                                                 \
        CHECK_STR(got_, want);                                                       \
        free(got_);                                                                  \
    } while (0)
#define EXPECT_STMT(L, src, want)                                                    \
    do {                                                                             \
        char *got_ = run(L, src, 0);                                                 \
        CHECK_STR(got_, want);                                                       \
        free(got_);                                                                  \
    } while (0)
/* The result is an error of type ty whose message contains part. */
#define EXPECT_ERR(L, src, is_expr, ty, part)                                        \
    do {                                                                             \
        char *got_ = run(L, src, is_expr);                                           \
        CHECK(got_[0] == '!' && strncmp(got_ + 1, ty ": ", strlen(ty ": ")) == 0);   \
        CHECK(strstr(got_, part) != NULL);                                           \
        if (got_[0] != '!' || !strstr(got_, part)) printf("  got: %s\n", got_);     \
        free(got_);                                                                  \
    } while (0)
/* The same in a scope. */
#define EXPECT_IN(L, sc, src, want)                                                  \
    do {                                                                             \
        char *got_ = run_in(L, sc, src, 1);                                          \
        CHECK_STR(got_, want);                                                       \
        free(got_);                                                                  \
    } while (0)
#define EXPECT_IN_STMT(L, sc, src, want)                                             \
    do {                                                                             \
        char *got_ = run_in(L, sc, src, 0);                                          \
        CHECK_STR(got_, want);                                                       \
        free(got_);                                                                  \
    } while (0)
#define EXPECT_IN_ERR(L, sc, src, is_expr, ty, part)                                 \
    do {                                                                             \
        char *got_ = run_in(L, sc, src, is_expr);                                    \
        CHECK(got_[0] == '!' && strncmp(got_ + 1, ty ": ", strlen(ty ": ")) == 0);   \
        CHECK(strstr(got_, part) != NULL);                                           \
        if (got_[0] != '!' || !strstr(got_, part)) printf("  got: %s\n", got_);     \
        free(got_);                                                                  \
    } while (0)

/* Setters taking a JSON text (NULL unsets). */
static void sset(std_lua *L, int scope, const char *name, const char *json)
{
    json_t *v = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    std_lua_scope_set(L, scope, name, v);
    json_decref(v);
}

static void sfield(std_lua *L, int scope, const char *table, const char *key, const char *json)
{
    json_t *v = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
    std_lua_scope_set_field(L, scope, table, key, v);
    json_decref(v);
}

TEST(types_to_json)
{
    std_lua *L = std_lua_new(NULL);
    EXPECT(L, "nil", "null");
    EXPECT(L, "true", "true");
    EXPECT(L, "false", "false");
    EXPECT(L, "42", "42");
    EXPECT(L, "-7", "-7");
    EXPECT(L, "1.5", "1.5");
    EXPECT(L, "3 / 2", "1.5");
    EXPECT(L, "'hi'", "\"hi\"");
    EXPECT(L, "{}", "{}");
    EXPECT(L, "json.array()", "[]");
    EXPECT(L, "{1, 2, 3}", "[1,2,3]");
    EXPECT(L, "{a = 1, b = {c = true}}", "{\"a\":1,\"b\":{\"c\":true}}");
    EXPECT(L, "math.maxinteger", "9223372036854775807");
    EXPECT(L, "math.mininteger", "-9223372036854775808");
    EXPECT(L, "json.null", "null");
    EXPECT(L, "{1, json.null, 3}", "[1,null,3]");
    EXPECT(L, "{[1] = 'a', [3] = 'c'}", "{\"1\":\"a\",\"3\":\"c\"}");
    EXPECT(L, "{1, 2, x = 'y'}", "{\"1\":1,\"2\":2,\"x\":\"y\"}");
    EXPECT(L, "{[-1] = 0}", "{\"-1\":0}");
    EXPECT(L, "-- a comment after the expression\n 5 -- here too", "5");
    std_lua_free(L);
}

TEST(json_round_trip)
{
    static const char *const docs[] = {
        "[]", "{}", "9223372036854775807", "-9223372036854775808", "1.5", "0.1", "\"s\\u0000t\"",
        "null", "true", "[[],{}]", "{\"a\":[1,2,{\"b\":null}],\"e\":[],\"o\":{}}", "[1,null,3]",
        "{\"1\":\"x\"}", "\"h\\u00e9\\u2603\""};
    std_lua *L = std_lua_new(NULL);
    int h = std_lua_compile(L, "t", "v", 1, NULL);
    CHECK(h >= 0);
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_t *in = json_loads(docs[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL), *out = NULL;
        std_err e = {0};
        std_lua_set_global(L, "v", in);
        CHECK(std_lua_call(L, h, &out, &e) == 0);
        CHECK(out && json_equal(in, out));
        if (!out || !json_equal(in, out)) printf("  round trip of %s failed: %s\n", docs[i], e.msg);
        json_decref(in);
        json_decref(out);
    }
    /* integers stay integers, exactly; reals stay floats */
    json_t *big = json_integer(9223372036854775807LL);
    std_lua_set_global(L, "v", big);
    json_decref(big);
    EXPECT(L, "math.type(v) == 'integer' and v == math.maxinteger and v - 1 == 9223372036854775806", "true");
    json_t *r = json_real(2.0);
    std_lua_set_global(L, "v", r);
    json_decref(r);
    EXPECT(L, "math.type(v)", "\"float\"");
    EXPECT(L, "v", "2.0");
    std_lua_free(L);
}

TEST(globals_and_fields)
{
    std_lua *L = std_lua_new(NULL);
    json_t *input = json_pack("{s:s}", "name", "x");
    json_t *greet = json_pack("{s:s}", "output", "hi");
    json_t *one = json_integer(1);
    std_lua_set_global(L, "input", input);
    std_lua_set_field(L, "steps", "greet", greet);
    std_lua_set_field(L, "steps", "other", one);
    EXPECT(L, "steps.greet.output .. input.name .. steps.other", "\"hix1\"");
    /* a global a chunk assigns lasts for that call only */
    EXPECT_STMT(L, "helper = 41 function twice(x) return 2 * x end return twice(helper) - 40", "42");
    EXPECT(L, "helper == nil and twice == nil", "true");
    std_lua_set_field(L, "steps", "greet", NULL);
    EXPECT(L, "steps.greet == nil and steps.other == 1", "true");
    std_lua_set_global(L, "input", NULL);
    EXPECT(L, "input == nil", "true");
    /* a field of a global that is not a table replaces it by a table */
    std_lua_set_field(L, "input", "k", one);
    EXPECT(L, "input", "{\"k\":1}");
    json_decref(input);
    json_decref(greet);
    json_decref(one);
    std_lua_free(L);
}

TEST(instruction_limit)
{
    std_lua *L = std_lua_new(NULL);
    int64_t t0 = std_mono_ns();
    EXPECT_ERR(L, "while true do end", 0, "lua.limit", "instruction limit of 20000000 exceeded");
    int64_t ms = (std_mono_ns() - t0) / 1000000;
    CHECK(ms < 1000 * time_scale());
    if (ms >= 1000) printf("  infinite loop took %lld ms\n", (long long)ms);
    EXPECT(L, "1 + 1", "2");
    /* pcall cannot swallow the limit */
    EXPECT_ERR(L, "while true do pcall(function() while true do end end) end", 0, "lua.limit",
               "instruction limit");
    EXPECT_ERR(L, "xpcall(function() while true do end end, function(m) return m end) return 1", 0,
               "lua.limit", "instruction limit");
    /* C functions that would spin without executing instructions are charged */
    t0 = std_mono_ns();
    EXPECT_ERR(L, "string.rep('', 1e18)", 1, "lua.limit", "instruction limit");
    EXPECT_ERR(L, "table.move({}, 1, 1e15, 2)", 1, "lua.limit", "instruction limit");
    EXPECT_ERR(L, "local s = string.rep('x', 4e6) while true do local u = s:upper() end", 0, "lua.limit",
               "limit");
    ms = (std_mono_ns() - t0) / 1000000;
    CHECK(ms < 3000);
    EXPECT(L, "'ok'", "\"ok\"");
    std_lua_free(L);

    std_lua_limits lim = {0, 10000, 0};
    L = std_lua_new(&lim);
    EXPECT_ERR(L, "for i = 1, 1e6 do end", 0, "lua.limit", "instruction limit of 10000 exceeded");
    EXPECT_STMT(L, "local s = 0 for i = 1, 100 do s = s + i end return s", "5050");
    std_lua_free(L);
}

TEST(memory_limit)
{
    std_lua *L = std_lua_new(NULL);
    EXPECT_ERR(L, "string.rep('x', 1e9)", 1, "lua.limit", "memory limit of 67108864 bytes exceeded");
    EXPECT(L, "#string.rep('x', 1e6)", "1000000");
    EXPECT_ERR(L, "pcall(string.rep, 'x', 1e9)", 1, "lua.limit", "memory limit");
    EXPECT_ERR(L, "('x'):rep(1e7):rep(100)", 1, "lua.limit", "memory limit");
    EXPECT_ERR(L, "('x'):rep(1e7):rep(1e3)", 1, "lua", "resulting string too large");
    EXPECT(L, "'still fine'", "\"still fine\"");
    std_lua_free(L);

    std_lua_limits lim = {4 << 20, 0, 0};
    L = std_lua_new(&lim);
    EXPECT_ERR(L, "local t = {} for i = 1, 1e7 do t[i] = i end", 0, "lua.limit",
               "memory limit of 4194304 bytes exceeded");
    EXPECT(L, "#string.rep('y', 1e6)", "1000000");
    /* a global that does not fit fails the next call, then the state recovers */
    json_t *arr = json_array();
    for (int i = 0; i < 300000; i++) json_array_append_new(arr, json_integer(i));
    std_lua_set_global(L, "big", arr);
    json_decref(arr);
    EXPECT_ERR(L, "1", 1, "lua.limit", "while setting big");
    EXPECT(L, "2", "2");
    std_lua_free(L);
}

TEST(deep_recursion)
{
    std_lua *L = std_lua_new(NULL);
    char *got = run(L, "local function f(n) return 1 + f(n + 1) end return f(1)", 0);
    CHECK(got[0] == '!' && strncmp(got, "!lua", 4) == 0);
    free(got);
    EXPECT_ERR(L, "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
               0, "lua", "overflow");
    /* nested pcalls hit the C stack limit; the innermost error is caught */
    EXPECT_STMT(L, "local function f() return pcall(f) end return f()", "true");
    EXPECT_ERR(L, "local t = {} local c = t for i = 1, 300 do c.x = {} c = c.x end return t", 0, "lua",
               "nested deeper than 200 levels");
    EXPECT_ERR(L, "local t = {} t.self = t return t", 0, "lua", "contains itself");
    EXPECT(L, "'alive'", "\"alive\"");
    std_lua_free(L);
}

TEST(removed_names)
{
    static const char *const gone[] = {
        "io", "os", "require", "package", "debug", "load", "loadfile", "dofile", "coroutine",
        "collectgarbage", "string.dump", "next", "print", "rawset", "warn", "math.random",
        "math.randomseed", "loadstring", "setfenv", "module"};
    static const char *const kept[] = {
        "string", "table", "math", "utf8", "tostring", "tonumber", "type", "pairs", "ipairs",
        "select", "error", "assert", "pcall", "xpcall", "setmetatable", "getmetatable", "rawget",
        "rawequal", "rawlen", "json", "len", "_VERSION", "_G", "json.encode", "json.decode",
        "json.null", "math.floor", "table.concat", "utf8.char", "string.format"};
    std_lua *L = std_lua_new(NULL);
    char src[128];
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        snprintf(src, sizeof src, "%s == nil", gone[i]);
        EXPECT(L, src, "true");
        CHECK(!std_lua_is_builtin(gone[i]));
    }
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        snprintf(src, sizeof src, "%s ~= nil", kept[i]);
        EXPECT(L, src, "true");
        if (!strchr(kept[i], '.')) CHECK(std_lua_is_builtin(kept[i]));
    }
    std_lua_free(L);
}

TEST(binary_chunks_rejected)
{
    std_lua *L = std_lua_new(NULL);
    std_err e = {0};
    CHECK(std_lua_compile(L, "bin", "\x1bLua\x54\x00\x19\x93\r\n", 0, &e) == -1);
    CHECK_STR(e.type, "lua");
    CHECK(strstr(e.msg, "binary") != NULL);
    CHECK(std_lua_syntax("\x1bLuaT", 0, &e) == -1);
    std_lua_free(L);
}

TEST(protected_metatables)
{
    std_lua *L = std_lua_new(NULL);
    EXPECT(L, "getmetatable('')", "false");
    EXPECT(L, "getmetatable('abc')", "false");
    EXPECT(L, "(pcall(setmetatable, '', {}))", "false");
    EXPECT_ERR(L, "getmetatable('').__index", 1, "lua", "attempt to index a boolean value");
    EXPECT_ERR(L, "getmetatable('').__index = {}", 0, "lua", "attempt to index");
    EXPECT(L, "('x'):upper() .. ('%d'):format(3)", "\"X3\"");
    EXPECT(L, "getmetatable(json.decode('[]'))", "\"json.array\"");
    EXPECT(L, "(pcall(setmetatable, json.decode('[]'), {}))", "false");
    EXPECT_ERR(L, "setmetatable({}, {__gc = function() end})", 1, "lua", "__gc is not available");
    EXPECT_ERR(L, "setmetatable({}, {__mode = 'k'})", 1, "lua", "__mode is not available");
    EXPECT(L, "setmetatable({}, {__index = function() return 7 end}).x", "7");
    /* no addresses leak out */
    EXPECT(L, "tostring({}) .. ' ' .. tostring(print) .. ' ' .. tostring(json.null)", "\"table nil null\"");
    EXPECT(L, "string.format('%s|%5s', {}, 'ab')", "\"table|   ab\"");
    EXPECT_ERR(L, "string.format('%p', {})", 1, "lua", "'%p' is not available");
    std_lua_free(L);
}

TEST(pairs_sorted)
{
    const char *src =
        "local t = {b = 1, a = 2, [3] = 3, [1] = 1, [2.5] = 0, [-1] = 0, [true] = 0, [false] = 0,"
        " ['10'] = 0, aa = 0, [2^70] = 0, [-2^70] = 0}\n"
        "local ks = {}\n"
        "for k in pairs(t) do ks[#ks + 1] = tostring(k) end\n"
        "return table.concat(ks, ',')";
    std_lua *L = std_lua_new(NULL);
    EXPECT_STMT(L, src, "\"-1.1805916207174e+21,-1,1,2.5,3,1.1805916207174e+21,10,a,aa,b,false,true\"");
    /* the same order in a fresh state (another hash seed) for many keys */
    const char *many = "local t = {} for i = 1, 200 do t['k' .. (i * 7919 % 1000)] = i end\n"
                       "local out = {} for k, v in pairs(t) do out[#out + 1] = k end\n"
                       "return table.concat(out, ' ')";
    char *a = run(L, many, 0);
    std_lua *L2 = std_lua_new(NULL);
    char *b = run(L2, many, 0);
    CHECK_STR(a, b);
    free(a);
    free(b);
    EXPECT_STMT(L2, "local t = {z = 1} for i = 1, 9 do t['k' .. i] = i end\n"
                    "local out = {} for k, v in pairs(t) do out[#out + 1] = k end\n"
                    "return table.concat(out, ' ')",
                "\"k1 k2 k3 k4 k5 k6 k7 k8 k9 z\"");
    /* clearing fields during traversal is allowed and they are skipped */
    EXPECT_STMT(L2, "local t = {a = 1, b = 2, c = 3} local seen = ''\n"
                    "for k, v in pairs(t) do seen = seen .. k; t.b = nil end return seen",
                "\"ac\"");
    EXPECT_STMT(L2, "local n = 0 for i, v in ipairs({5, 6, 7}) do n = n + v end return n", "18");
    std_lua_free(L2);
    std_lua_free(L);
}

TEST(unconvertible_results)
{
    std_lua *L = std_lua_new(NULL);
    EXPECT_ERR(L, "function() end", 1, "lua", "cannot convert a function to JSON");
    EXPECT_ERR(L, "{a = {b = function() end}}", 1, "lua", "cannot convert a function to JSON (at .a.b)");
    EXPECT_ERR(L, "{1, 2, {x = string.upper}}", 1, "lua", "(at [3].x)");
    EXPECT_ERR(L, "0/0", 1, "lua", "NaN");
    EXPECT_ERR(L, "math.huge", 1, "lua", "inf");
    EXPECT_ERR(L, "{[{}] = 1}", 1, "lua", "a table key");
    EXPECT_ERR(L, "{[1.5] = 1}", 1, "lua", "non-integer number key");
    EXPECT_ERR(L, "{[1] = 1, ['1'] = 2, x = 0}", 1, "lua", "appears both");
    EXPECT_ERR(L, "'\\xff'", 1, "lua", "UTF-8");
    EXPECT_ERR(L, "(function() local a = json.array({1, 2, 3}) a[2] = nil return a end)()", 1, "lua",
               "holes");
    EXPECT_ERR(L, "(function() local a = json.decode('[1]') a.x = 1 return a end)()", 1, "lua",
               "not a positive integer");
    EXPECT_ERR(L, "error('boom')", 0, "lua", "t:1: boom");
    EXPECT_ERR(L, "error({code = 7})", 0, "lua", "{\"code\":7}");
    EXPECT_ERR(L, "nosuch.field", 1, "lua", "attempt to index a nil value (global 'nosuch')");
    EXPECT(L, "'fine'", "\"fine\"");
    std_lua_free(L);
}

TEST(json_functions)
{
    std_lua *L = std_lua_new(NULL);
    EXPECT(L, "json.encode({b = 1, a = {1, 2, 3}, c = json.array(), d = {}, e = json.null, f = 0.1,"
              " g = 'x\"y\\n', h = 2^53, i = math.mininteger})",
           "\"{\\\"a\\\":[1,2,3],\\\"b\\\":1,\\\"c\\\":[],\\\"d\\\":{},\\\"e\\\":null,\\\"f\\\":0.1,"
           "\\\"g\\\":\\\"x\\\\\\\"y\\\\n\\\",\\\"h\\\":9007199254740992.0,"
           "\\\"i\\\":-9223372036854775808}\"");
    EXPECT(L, "json.encode('\\1') .. json.encode(nil) .. json.encode(3)", "\"\\\"\\\\u0001\\\"null3\"");
    EXPECT(L, "(function() local v = json.decode('{\"a\":[1,2,{\"b\":null}],\"n\":9223372036854775807,"
              "\"f\":1.5,\"e\":[]}') return v.a[3].b == json.null and math.type(v.n) == 'integer'"
              " and v.n == math.maxinteger and math.type(v.f) == 'float' and #v.e == 0 end)()",
           "true");
    EXPECT(L, "json.decode(json.encode({x = {}, y = json.array(), z = {json.null}}))",
           "{\"x\":{},\"y\":[],\"z\":[null]}");
    EXPECT(L, "json.decode('\"just a string\"')", "\"just a string\"");
    EXPECT_ERR(L, "json.decode('[1, 2')", 1, "lua", "json.decode:");
    EXPECT_ERR(L, "json.encode({f = function() end})", 1, "lua", "json.encode: cannot convert a function");
    EXPECT(L, "len('abc') + len({1, 2}) + len({a = 1, b = 2, c = 3}) + len(json.array()) + len({})", "8");
    EXPECT_ERR(L, "len(nil)", 1, "lua", "string or table expected");
    EXPECT(L, "json.array({1, 2})", "[1,2]");
    std_lua_free(L);
}

/* free names of src joined by spaces, with the line of each after ':' */
static char *free_names(const char *src, int with_lines)
{
    char **names;
    int *lines;
    size_t n;
    std_lua_free_names(src, &names, &lines, &n);
    std_buf b = {0};
    std_buf_adds(&b, "");
    for (size_t i = 0; i < n; i++) {
        if (i) std_buf_adds(&b, " ");
        std_buf_adds(&b, names[i]);
        if (with_lines) std_buf_addf(&b, ":%d", lines[i]);
    }
    std_lua_names_free(names, lines, n);
    return std_buf_take(&b);
}

#define EXPECT_NAMES(src, want)                                                      \
    do {                                                                             \
        char *got_ = free_names(src, 0);                                             \
        CHECK_STR(got_, want);                                                       \
        free(got_);                                                                  \
    } while (0)

TEST(free_names_of_snippets)
{
    EXPECT_NAMES("local a, b = x, y\nreturn a + b + z", "x y z");
    EXPECT_NAMES("local f = function(p, q, ...) return p + q + r end", "r");
    EXPECT_NAMES("local function f(x) return f(x) + g end", "g");
    EXPECT_NAMES("for i, v in ipairs(list) do print(i, v) end", "ipairs list print");
    EXPECT_NAMES("for i = 1, n do s = s .. i end return s", "n");
    EXPECT_NAMES("return input.name .. steps.greet.output", "input steps");
    EXPECT_NAMES("return obj:method(arg).field", "obj arg");
    EXPECT_NAMES("return { key = value, [k2] = v2, nested = { inner = x }; 'pos', y }", "value k2 v2 x y");
    EXPECT_NAMES("return a .. b", "a b");
    EXPECT_NAMES("return a..b", "a b");
    EXPECT_NAMES("local s = [[ long string with foo ]] -- comment bar\n"
                 "--[==[ long\ncomment ]] baz ]==]\nreturn s .. [=[ ]] x ]=] .. qux",
                 "qux");
    EXPECT_NAMES("return \"str with name\" .. 'esc \\' q' .. \"a\\\"b\" .. w", "w");
    EXPECT_NAMES("return 0x1F + 1e10 + 3.5e-2 + 0x1p+4 + .5 + nm", "nm");
    EXPECT_NAMES("goto done\n::done::", "");
    EXPECT_NAMES("local x <const> = 5 return x + y", "y");
    EXPECT_NAMES("function M.helper(a) return a + other end", "M other");
    EXPECT_NAMES("function M:method() return self.x end", "M");
    EXPECT_NAMES("return x == y", "x y");
    EXPECT_NAMES("return not nil and true or false", "");
    EXPECT_NAMES("a, b = 1, 2 return a + b + c", "c");
    EXPECT_NAMES("local t = { f = function() g = 1 end }", "");
    EXPECT_NAMES("local t = {a, b = 1}", "a");
    EXPECT_NAMES("if x then y = 1 elseif z then w() else v() end", "x z w v");
    EXPECT_NAMES("t.a = 1", "t");
    EXPECT_NAMES("t[k] = v", "t k v");
    EXPECT_NAMES("return f{a = b}", "f b");
    EXPECT_NAMES("return len(steps.fetch.output.items) > 0 and string.upper(input.x)",
                 "len steps string input");
    EXPECT_NAMES("", "");
    char *l = free_names("local a = 1\n\nreturn b + a +\n  c + b", 1);
    CHECK_STR(l, "b:3 c:4");
    free(l);
    l = free_names("--[[\n\n]] x = [[\n]] .. y", 1);
    CHECK_STR(l, "y:4");
    free(l);
    CHECK(std_lua_is_builtin("string"));
    CHECK(std_lua_is_builtin("len"));
    CHECK(!std_lua_is_builtin("input"));
    CHECK(!std_lua_is_builtin("foo"));
}

TEST(syntax_errors)
{
    std_err e = {0};
    CHECK(std_lua_syntax("x + 1", 1, &e) == 0);
    CHECK(std_lua_syntax("local x = 1\nreturn x", 0, &e) == 0);
    CHECK(std_lua_syntax("x -- trailing comment", 1, &e) == 0);
    CHECK(std_lua_syntax("a +", 1, &e) == -1);
    CHECK_STR(e.type, "lua");
    CHECK_STR(e.msg, "unexpected end of expression");
    CHECK(e.line == 1);
    CHECK(std_lua_syntax("local x = 1\nlocal = 2", 0, &e) == -1);
    CHECK(e.line == 2);
    CHECK_STR(e.msg, "<name> expected near '='");
    CHECK(std_lua_syntax("f(\n1,\n", 0, &e) == -1);
    CHECK(e.line >= 2 && strncmp(e.msg, "lua:", 4) != 0);
    CHECK(std_lua_syntax("a, b", 1, &e) == -1);
    CHECK(std_lua_syntax("x = 'unfinished", 0, &e) == -1);
    CHECK(strstr(e.msg, "unfinished string") != NULL);
    std_lua *L = std_lua_new(NULL);
    CHECK(std_lua_compile(L, "f.yaml:3", "return +", 0, &e) == -1);
    CHECK_STR(e.type, "lua");
    CHECK(strncmp(e.msg, "f.yaml:3:1:", 11) == 0);
    CHECK(std_lua_compile(L, "=g.yaml", "\n\nreturn +", 0, &e) == -1);
    CHECK(strncmp(e.msg, "g.yaml:3:", 9) == 0);
    std_lua_free(L);
}

TEST(scope_names)
{
    std_lua *L = std_lua_new(NULL);
    sset(L, 0, "item", "1");
    sset(L, 0, "name", "\"g\"");
    /* a name set in a scope shadows the global; unset falls back */
    int s = std_lua_scope_new(L, 0);
    CHECK(s > 0);
    sset(L, s, "item", "2");
    EXPECT_IN(L, s, "item", "2");
    EXPECT_IN(L, s, "name", "\"g\"");
    EXPECT(L, "item", "1");
    EXPECT_IN(L, 0, "item", "1");
    sset(L, s, "item", NULL);
    EXPECT_IN(L, s, "item", "1");
    /* siblings do not see each other's names */
    int a = std_lua_scope_new(L, 0), b = std_lua_scope_new(L, 0);
    CHECK(a > 0 && b > 0 && a != b && a != s && b != s);
    sset(L, a, "x", "\"a\"");
    sset(L, b, "y", "\"b\"");
    EXPECT_IN(L, a, "x == 'a' and y == nil", "true");
    EXPECT_IN(L, b, "y == 'b' and x == nil", "true");
    EXPECT(L, "x == nil and y == nil", "true");
    /* a nested scope sees its parent, grandparent and the globals */
    int c = std_lua_scope_new(L, a), d = std_lua_scope_new(L, c);
    sset(L, c, "z", "3");
    EXPECT_IN(L, d, "x .. z .. name .. item", "\"a3g1\"");
    sset(L, d, "x", "\"d\"");
    EXPECT_IN(L, d, "x", "\"d\"");
    EXPECT_IN(L, a, "x", "\"a\"");
    EXPECT_IN(L, c, "x", "\"a\"");
    /* parents freed: the child still reads through them */
    std_lua_scope_free(L, a);
    std_lua_scope_free(L, c);
    EXPECT_IN_ERR(L, a, "1", 1, "lua", "invalid Lua scope");
    sset(L, d, "x", NULL);
    EXPECT_IN(L, d, "x .. z", "\"a3\"");
    /* bad ids */
    EXPECT_IN_ERR(L, -1, "1", 1, "lua", "invalid Lua scope -1");
    EXPECT_IN_ERR(L, 123456, "1", 1, "lua", "invalid Lua scope 123456");
    CHECK(std_lua_scope_new(L, 123456) == -1);
    EXPECT_ERR(L, "1", 1, "lua", "invalid Lua scope 123456 while creating a scope");
    sset(L, 123456, "q", "1");
    EXPECT_ERR(L, "1", 1, "lua", "invalid Lua scope 123456 while setting q");
    std_lua_scope_free(L, 1); /* registry slots that are not scopes are left alone */
    std_lua_scope_free(L, 2);
    std_lua_scope_free(L, 0);
    std_lua_scope_free(L, -1);
    EXPECT(L, "item .. name", "\"1g\"");
    EXPECT_IN(L, s, "item .. name", "\"1g\"");
    /* scripts cannot reach or unlink the scope */
    EXPECT_IN(L, s, "getmetatable(_ENV)", "false");
    EXPECT_IN_ERR(L, s, "setmetatable(_ENV, nil)", 1, "lua", "protected metatable");
    EXPECT_IN(L, s, "rawequal(_G, _ENV) == false and _G.item == 1", "true");
    EXPECT_IN(L, 0, "rawequal(_G, _ENV) == false and _G.item == 1 and _ENV.item == 1", "true");
    /* pairs(_ENV) lists the names this call assigned */
    sset(L, s, "k1", "1");
    sset(L, s, "k2", "2");
    EXPECT_IN_STMT(L, s, "k3 = k1 + k2 local o = {} for k in pairs(_ENV) do o[#o + 1] = k end return table.concat(o, ',')",
                   "\"k3\"");
    std_lua_scope_free(L, s);
    std_lua_scope_free(L, b);
    std_lua_scope_free(L, d);
    std_lua_free(L);
}

TEST(scope_writes)
{
    std_lua *L = std_lua_new(NULL);
    sset(L, 0, "item", "1");
    int s = std_lua_scope_new(L, 0), t = std_lua_scope_new(L, 0);
    int c = std_lua_scope_new(L, s);
    sset(L, s, "item", "2");
    /* names a chunk assigns, new or the scope's, last for that call only */
    EXPECT_IN_STMT(L, s, "helper = 41 item = item + 1 return item + helper", "44");
    EXPECT(L, "helper == nil", "true");
    EXPECT_IN(L, t, "helper == nil", "true");
    EXPECT(L, "item", "1");
    EXPECT_IN(L, s, "item", "2");
    /* a name held by an ancestor scope does not change there either */
    EXPECT_IN_STMT(L, c, "item = 10 return item", "10");
    EXPECT_IN(L, s, "item", "2");
    EXPECT_IN(L, c, "item", "2");
    EXPECT(L, "item", "1");
    sset(L, s, "item", "10");
    /* the same chunk in a scope, then on the globals, then in another scope */
    std_err e = {0};
    json_t *out = NULL;
    int h = std_lua_compile(L, "t", "item", 1, &e);
    CHECK(h >= 0);
    CHECK(std_lua_call_in(L, h, s, &out, &e) == 0 && json_integer_value(out) == 10);
    json_decref(out);
    CHECK(std_lua_call(L, h, &out, &e) == 0 && json_integer_value(out) == 1);
    json_decref(out);
    CHECK(std_lua_call_in(L, h, t, &out, &e) == 0 && json_integer_value(out) == 1);
    json_decref(out);
    std_lua_scope_free(L, s);
    std_lua_scope_free(L, c);
    CHECK(std_lua_call(L, h, &out, &e) == 0 && json_integer_value(out) == 1);
    json_decref(out);
    /* a chunk that assigns _ENV gets its environment back on the next call */
    int h2 = std_lua_compile(L, "t", "local r = item _ENV = {} return r", 0, &e);
    CHECK(h2 >= 0);
    for (int i = 0; i < 2; i++) {
        CHECK(std_lua_call_in(L, h2, t, &out, &e) == 0 && json_integer_value(out) == 1);
        json_decref(out);
        CHECK(std_lua_call(L, h2, &out, &e) == 0 && json_integer_value(out) == 1);
        json_decref(out);
    }
    std_lua_scope_free(L, t);
    std_lua_free(L);
}

TEST(scope_layered_fields)
{
    std_lua *L = std_lua_new(NULL);
    sset(L, 0, "steps", "{\"y\": \"Y\"}");
    int it = std_lua_scope_new(L, 0), sib = std_lua_scope_new(L, 0);
    sfield(L, it, "steps", "x", "\"X\"");
    sfield(L, sib, "steps", "w", "\"W\"");
    /* own key and parent key visible, sibling's not, nor in the globals */
    EXPECT_IN(L, it, "steps.x .. steps.y .. steps['y'] .. steps['x']", "\"XYYX\"");
    EXPECT_IN(L, it, "steps.w == nil and steps.nope == nil", "true");
    EXPECT_IN(L, sib, "steps.x == nil and steps.w .. steps.y", "\"WY\"");
    EXPECT(L, "steps.x == nil and steps.w == nil and steps.y", "\"Y\"");
    /* the parent's later additions and replacements are seen */
    sfield(L, 0, "steps", "z", "\"Z\"");
    EXPECT_IN(L, it, "steps.z", "\"Z\"");
    sset(L, 0, "steps", "{\"y\": \"Y2\"}");
    EXPECT_IN(L, it, "steps.y .. steps.x .. tostring(steps.z)", "\"Y2Xnil\"");
    /* an own key shadows the parent's; unset shows it again */
    sfield(L, it, "steps", "y", "\"own\"");
    EXPECT_IN(L, it, "steps.y", "\"own\"");
    sfield(L, it, "steps", "y", NULL);
    EXPECT_IN(L, it, "steps.y", "\"Y2\"");
    /* nested: layered over the parent scope's layered table */
    int child = std_lua_scope_new(L, it);
    sfield(L, child, "steps", "c", "\"C\"");
    EXPECT_IN(L, child, "steps.c .. steps.x .. steps.y", "\"CXY2\"");
    sfield(L, it, "steps", "x2", "\"X2\"");
    EXPECT_IN(L, child, "steps.x2", "\"X2\"");
    EXPECT_IN(L, it, "steps.c == nil", "true");
    /* a parent scope that gets its own table after the child's is followed */
    int mid = std_lua_scope_new(L, 0), leaf = std_lua_scope_new(L, mid);
    sfield(L, leaf, "steps", "q", "1");
    EXPECT_IN(L, leaf, "steps.q .. steps.y .. tostring(steps.p)", "\"1Y2nil\"");
    sfield(L, mid, "steps", "p", "2");
    EXPECT_IN(L, leaf, "steps.q .. steps.y .. steps.p", "\"1Y22\"");
    /* pairs, len, results and json.encode see the merged view */
    sfield(L, child, "steps", "y", "\"cy\"");
    EXPECT_IN(L, child, "len(steps)", "4");
    EXPECT_IN_STMT(L, child, "local o = {} for k, v in pairs(steps) do o[#o + 1] = k .. '=' .. v end\n"
                             "return table.concat(o, ',')",
                   "\"c=C,x=X,x2=X2,y=cy\"");
    EXPECT_IN(L, child, "steps", "{\"c\":\"C\",\"x\":\"X\",\"x2\":\"X2\",\"y\":\"cy\"}");
    EXPECT_IN(L, child, "json.encode(steps)", "\"{\\\"c\\\":\\\"C\\\",\\\"x\\\":\\\"X\\\","
                                              "\\\"x2\\\":\\\"X2\\\",\\\"y\\\":\\\"cy\\\"}\"");
    EXPECT_IN(L, child, "{s = steps}", "{\"s\":{\"c\":\"C\",\"x\":\"X\",\"x2\":\"X2\",\"y\":\"cy\"}}");
    EXPECT_IN(L, child, "#steps == 0 and rawget(steps, 'x') == nil", "true");
    int empty = std_lua_scope_new(L, 0);
    sfield(L, empty, "steps", "gone", NULL); /* unsetting creates nothing */
    EXPECT_IN(L, empty, "len(steps)", "1");
    sfield(L, empty, "steps", "e", "[]");
    sfield(L, empty, "steps", "e", NULL);
    EXPECT_IN(L, empty, "steps", "{\"y\":\"Y2\"}");
    /* protected and read-only: writes fail, own keys and the parent's alike */
    EXPECT_IN(L, it, "getmetatable(steps)", "false");
    EXPECT_IN_ERR(L, it, "setmetatable(steps, {})", 1, "lua", "protected metatable");
    EXPECT_IN_ERR(L, it, "steps.mine = 1", 0, "lua", "t:1: setting field \"mine\": cannot change a value");
    EXPECT_IN_ERR(L, it, "steps.x = 1", 0, "lua", "setting field \"x\": cannot change a value");
    EXPECT_IN_ERR(L, it, "steps.y = 1", 0, "lua", "setting field \"y\": cannot change a value");
    EXPECT_IN_ERR(L, it, "table.insert(steps, 1)", 0, "lua", "table.insert: cannot change a value");
    EXPECT_IN(L, it, "steps.mine == nil and rawget(steps, 'x') .. tostring(rawget(steps, 'y'))", "\"Xnil\"");
    EXPECT(L, "steps.mine == nil", "true");
    /* no table of that name outside: a layered table over nothing */
    sfield(L, it, "extra", "k", "1");
    EXPECT_IN(L, it, "extra", "{\"k\":1}");
    EXPECT(L, "extra == nil", "true");
    /* a plain table the scope holds is used as is */
    sset(L, sib, "plain", "{\"a\": 1}");
    sfield(L, sib, "plain", "b", "2");
    EXPECT_IN(L, sib, "plain", "{\"a\":1,\"b\":2}");
    int scopes[] = {it, sib, child, mid, leaf, empty};
    for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++) std_lua_scope_free(L, scopes[i]);
    std_lua_free(L);

    /* a script cannot make a layered table its own parent: the names it
     * assigns last for its call (this once ended in "nested deeper than") */
    L = std_lua_new(NULL);
    sset(L, 0, "steps", "{}");
    it = std_lua_scope_new(L, 0);
    sfield(L, it, "steps", "x", "1");
    EXPECT_IN_STMT(L, it, "grab = steps", "null");
    EXPECT_STMT(L, "steps = grab return steps", "{}");
    EXPECT_IN(L, it, "steps.nope", "null");
    EXPECT_IN(L, it, "len(steps)", "1");
    EXPECT_IN(L, it, "steps", "{\"x\":1}");
    EXPECT_IN_STMT(L, it, "local n = 0 for k in pairs(steps) do n = n + 1 end return n", "1");
    std_lua_scope_free(L, it);
    std_lua_free(L);
}

TEST(scope_limits)
{
    std_lua_limits lim = {4 << 20, 100000, 0};
    std_lua *L = std_lua_new(&lim);
    int s = std_lua_scope_new(L, 0);
    sset(L, s, "n", "5");
    EXPECT_IN_ERR(L, s, "for i = 1, 1e7 do end", 0, "lua.limit", "instruction limit of 100000 exceeded");
    EXPECT_IN_ERR(L, s, "while true do pcall(function() while true do end end) end", 0, "lua.limit",
                  "instruction limit");
    EXPECT_IN(L, s, "n + 1", "6");
    EXPECT_IN_ERR(L, s, "string.rep('x', 1e8)", 1, "lua.limit", "memory limit of 4194304 bytes exceeded");
    EXPECT_IN_ERR(L, s, "pcall(string.rep, 'x', 1e8)", 1, "lua.limit", "memory limit");
    EXPECT_IN(L, s, "n + 2", "7");
    EXPECT(L, "n == nil", "true");
    /* a value that does not fit fails the next call, then the scope recovers */
    json_t *arr = json_array();
    for (int i = 0; i < 300000; i++) json_array_append_new(arr, json_integer(i));
    std_lua_scope_set(L, s, "big", arr);
    json_decref(arr);
    EXPECT_IN_ERR(L, s, "1", 1, "lua.limit", "while setting big");
    EXPECT_IN(L, s, "n + 3", "8");
    std_lua_scope_free(L, s);
    std_lua_free(L);
}

/* Bytes of Lua memory in use after full collections. */
static long lua_mem(std_lua *L)
{
    lua_State *S = std_lua_state(L);
    lua_gc(S, LUA_GCCOLLECT, 0);
    lua_gc(S, LUA_GCCOLLECT, 0);
    return (long)lua_gc(S, LUA_GCCOUNT, 0) * 1024 + lua_gc(S, LUA_GCCOUNTB, 0);
}

TEST(scope_memory_flat)
{
    std_lua *L = std_lua_new(NULL);
    std_err e = {0};
    sfield(L, 0, "steps", "y", "100");
    int h = std_lua_compile(L, "t", "item + steps.x + steps.y + steps.z + len(steps)", 1, &e);
    CHECK(h >= 0);
    json_t *two = json_integer(2), *three = json_integer(3);
    int maxid = 0, bad = 0;
    long before = 0;
    for (int i = -10; i < 10000; i++) {
        if (i == 0) before = lua_mem(L);
        int it = std_lua_scope_new(L, 0), inner = std_lua_scope_new(L, it);
        json_t *item = json_integer(i);
        std_lua_scope_set(L, it, "item", item);
        json_decref(item);
        std_lua_scope_set_field(L, it, "steps", "x", two);
        std_lua_scope_set_field(L, inner, "steps", "z", three);
        json_t *out = NULL;
        if (std_lua_call_in(L, h, inner, &out, &e) != 0 || json_integer_value(out) != i + 108) bad++;
        json_decref(out);
        if (inner > maxid) maxid = inner;
        if (it > maxid) maxid = it;
        std_lua_scope_free(L, inner);
        std_lua_scope_free(L, it);
    }
    long after = lua_mem(L);
    CHECK(bad == 0);
    CHECK(maxid < 20);
    CHECK(after - before < 1024);
    if (after - before >= 1024 || maxid >= 20)
        printf("  Lua memory %ld -> %ld bytes, highest scope id %d\n", before, after, maxid);
    json_decref(two);
    json_decref(three);
    std_lua_free(L);
}

/* Runs of one engine are contexts of one host: nothing one does is seen by
 * another, whatever order their calls interleave in. */
TEST(host_contexts_isolated)
{
    std_lua_host *H = std_lua_host_new(NULL);
    CHECK(H != NULL);
    std_lua *A = std_lua_open(H), *B = std_lua_open(H);
    CHECK(A && B);
    json_t *one = json_integer(1), *two = json_integer(2);
    std_lua_set_global(A, "who", one);
    std_lua_set_global(B, "who", two);
    EXPECT(A, "who", "1");
    EXPECT(B, "who", "2");
    /* globals a script assigns last for its call; library tables and _G are read-only */
    EXPECT_STMT(A, "mine = 'a'; return mine", "\"a\"");
    EXPECT_ERR(A, "string.upper = function() return 'patched' end", 0, "lua", "t:1: setting field \"upper\": the library tables");
    EXPECT_ERR(A, "math.pi = 3", 0, "lua", "library tables");
    EXPECT_ERR(A, "table.extra = true", 0, "lua", "library tables");
    EXPECT_ERR(A, "_G.viaG = 1", 0, "lua", "t:1: setting _G field \"viaG\": _G is a read-only view");
    EXPECT(B, "mine == nil and viaG == nil", "true");
    EXPECT(B, "string.upper('x') .. ('y'):upper() .. tostring(math.pi > 3.14) .. tostring(table.extra)",
           "\"XYtruenil\"");
    EXPECT(A, "mine == nil and viaG == nil and string.upper('x') .. tostring(math.pi > 3.14)", "\"Xtrue\"");
    /* a function a chunk defines reads its own run's globals, even when the
     * same chunk text (one compiled factory) ran in the other context last */
    const char *keep = "f = function() return who end; return f()";
    EXPECT_STMT(A, keep, "1");
    EXPECT_STMT(B, keep, "2");
    EXPECT(A, "f == nil", "true");
    /* a chunk that assigns _ENV changes only its own context's closure */
    EXPECT_STMT(A, "local g = _ENV; _ENV = {x = 5}; return g.who", "1");
    EXPECT(B, "who", "2");
    /* effects are per context */
    EXPECT_ERR(B, "now()", 1, "lua", "now() is not available here");
    /* a freed context leaves the other intact */
    std_lua_free(A);
    EXPECT(B, "who + #string.rep('z', 3)", "5");
    std_lua_free(B);
    json_decref(one);
    json_decref(two);
    std_lua_host_free(H);
}

/* A context's memory limit is on what one call grows the heap by; the host
 * also caps its whole heap, shared by every context. */
TEST(host_memory_limits)
{
    std_lua_limits lim = {4 << 20, 0, 13 << 19};
    std_lua_host *H = std_lua_host_new(&lim);
    std_lua *A = std_lua_open(H), *B = std_lua_open(H);
    CHECK(A && B);
    EXPECT_ERR(A, "#string.rep('x', 3e6)", 1, "lua.limit", "memory limit of 4194304 bytes exceeded");
    /* 1.5 MB kept per value is fine, value after value, until the heap is full */
    char *big = malloc(1500001);
    memset(big, 'a', 1500000);
    big[1500000] = 0;
    json_t *k = json_string(big);
    free(big);
    std_lua_set_global(A, "k1", k);
    std_lua_set_global(A, "k2", k);
    std_lua_set_global(B, "k1", k);
    json_decref(k);
    EXPECT(A, "#k1 + #k2", "3000000");
    EXPECT(B, "#k1", "1500000");
    EXPECT_ERR(B, "#string.rep('d', 15e5) + #string.rep('e', 15e5)", 1, "lua.limit",
               "memory limit of 6815744 bytes of all runs together exceeded");
    EXPECT(B, "#k1", "1500000");
    EXPECT_ERR(B, "#string.rep('d', 25e5)", 1, "lua.limit", "of all runs together");
    /* once A is gone, its memory is collected and B can go on */
    std_lua_free(A);
    EXPECT(B, "#string.rep('f', 2e6)", "2000000");
    std_lua_free(B);
    std_lua_host_free(H);
}

/* Opening and freeing contexts (with chunks, closures and scopes left
 * live) leaves the host's heap where it was: everything is released. */
TEST(host_contexts_released)
{
    std_lua_host *H = std_lua_host_new(NULL);
    std_lua *probe = std_lua_open(H);
    long before = 0;
    int bad = 0;
    json_t *in = json_pack("{s:[i,i,i], s:s}", "list", 1, 2, 3, "name", "x");
    for (int i = -20; i < 5000; i++) {
        if (i == 0) before = lua_mem(probe);
        std_lua *L = std_lua_open(H);
        std_err e = {0};
        std_lua_set_global(L, "input", in);
        int h1 = std_lua_compile(L, "t", "#input.list + #input.name", 1, &e);
        int h2 = std_lua_compile_at(L, "t", 7, "keep = function() return input end; return 1", 0, &e);
        int sc = std_lua_scope_new(L, 0), sc2 = std_lua_scope_new(L, sc);
        std_lua_scope_set_field(L, sc2, "steps", "a", in);
        json_t *o1 = NULL, *o2 = NULL;
        if (h1 < 0 || h2 < 0 || std_lua_call_in(L, h1, sc2, &o1, &e) != 0 || json_integer_value(o1) != 4 ||
            std_lua_call(L, h2, &o2, &e) != 0)
            bad++;
        json_decref(o1);
        json_decref(o2);
        std_lua_free(L); /* scopes sc and sc2 still live */
    }
    long after = lua_mem(probe);
    CHECK(bad == 0);
    CHECK(after - before < 4096);
    if (after - before >= 4096) printf("  host heap %ld -> %ld bytes after 5000 contexts\n", before, after);
    json_decref(in);
    std_lua_free(probe);
    std_lua_host_free(H);
}

/* Compile errors read as before the host cached chunks, with the file's
 * line numbers (std_lua_compile_at). */
TEST(host_compile_lines)
{
    std_lua *L = std_lua_new(NULL);
    std_err e = {0};
    CHECK(std_lua_compile_at(L, "=w.yaml", 12, "return +", 0, &e) == -1);
    CHECK(strstr(e.msg, "w.yaml:12: unexpected symbol") == e.msg);
    memset(&e, 0, sizeof e);
    int h = std_lua_compile_at(L, "=w.yaml", 30, "local x = nil\nreturn x.y", 0, &e);
    json_t *out = NULL;
    CHECK(h >= 0 && std_lua_call(L, h, &out, &e) == -1);
    CHECK(strstr(e.msg, "w.yaml:31:") == e.msg);
    /* an expression's runtime error is on its own line (the wrapper's `)` is
     * on that line too), also for an expression over several lines */
    memset(&e, 0, sizeof e);
    h = std_lua_compile_at(L, "=w.yaml", 7, "({}).y.z", 1, &e);
    CHECK(h >= 0 && std_lua_call(L, h, &out, &e) == -1);
    CHECK(strstr(e.msg, "w.yaml:7:") == e.msg);
    memset(&e, 0, sizeof e);
    h = std_lua_compile_at(L, "=w.yaml", 7, "1 +\n ({}).y.z", 1, &e);
    CHECK(h >= 0 && std_lua_call(L, h, &out, &e) == -1);
    CHECK(strstr(e.msg, "w.yaml:8:") == e.msg);
    /* ... and one ending in a comment still compiles */
    memset(&e, 0, sizeof e);
    h = std_lua_compile_at(L, "=w.yaml", 7, "41 + 1 -- the answer", 1, &e);
    CHECK(h >= 0 && std_lua_call(L, h, &out, &e) == 0 && json_integer_value(out) == 42);
    json_decref(out);
    /* the wrapper cannot be closed from inside a chunk */
    memset(&e, 0, sizeof e);
    CHECK(std_lua_compile(L, "t", "1) end x = (1", 1, &e) == -1);
    memset(&e, 0, sizeof e);
    CHECK(std_lua_compile(L, "t", "return 1 end local function g() ", 0, &e) == -1);
    std_lua_free(L);
}

TEST(typed_errors)
{
    std_lua *L = std_lua_new(NULL);
    EXPECT_STMT(L, "error({type = 'Order.Rejected', message = 'no stock'})", "!Order.Rejected: no stock");
    EXPECT_STMT(L, "error({type = 'States.Runtime', message = ''})", "!States.Runtime: ");
    EXPECT_STMT(L, "error({type = 'payment.declined'})", "!payment.declined: failed");
    EXPECT_STMT(L, "error({type = 'x', message = {a = 1}})", "!x: {\"a\":1}");
    /* not a typed error: the table as JSON, type lua */
    EXPECT_STMT(L, "error({type = 'cancelled', message = 'm'})", "!lua: {\"message\":\"m\",\"type\":\"cancelled\"}");
    EXPECT_STMT(L, "error({type = 'terminated'})", "!lua: {\"type\":\"terminated\"}");
    EXPECT_STMT(L, "error({type = ''})", "!lua: {\"type\":\"\"}");
    EXPECT_STMT(L, "error({type = 5})", "!lua: {\"type\":5}");
    EXPECT_STMT(L, "error({type = 'a\\nb'})", "!lua: {\"type\":\"a\\nb\"}");
    EXPECT_STMT(L, "error({type = string.rep('t', 64)})", "!lua: {\"type\":\"tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt\"}");
    EXPECT_STMT(L, "error({type = string.rep('t', 63)})", "!ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt: failed");
    /* a metatable cannot fake the fields */
    EXPECT_STMT(L, "error(setmetatable({}, {__index = {type = 'x'}}))", "!lua: {}");
    EXPECT(L, "1", "1");
    std_lua_free(L);
}

/* Values the engine hands over (set_global, set_field, scope_set...) are
 * read-only proxies; every way of reading them works as on plain tables. */
static const char *GIVEN = "{\"n\": 1, \"s\": \"str\", \"items\": [{\"x\": 1}, {\"x\": 2}, {\"x\": 3}],"
                           " \"words\": [\"b\", \"a\", \"c\"], \"e\": [], \"o\": {}, \"deep\": {\"a\": [[1, 2], {\"b\": true}]}}";

static std_lua *given_ctx(void)
{
    std_lua *L = std_lua_new(NULL);
    sset(L, 0, "input", GIVEN);
    sfield(L, 0, "steps", "a", "{\"list\": [3, 1, 2]}");
    return L;
}

TEST(frozen_reads)
{
    std_lua *L = given_ctx();
    EXPECT(L, "type(input) .. type(input.items) .. type(input.items[1]) .. type(input.e)", "\"tabletabletabletable\"");
    EXPECT(L, "input.n + input.items[2].x + input['n'] + input.deep.a[1][2]", "6");
    EXPECT(L, "input.deep.a[2].b and input.missing == nil and input.items[4] == nil", "true");
    EXPECT(L, "#input.items .. ' ' .. #input.e .. ' ' .. #input.words .. ' ' .. #input", "\"3 0 3 0\"");
    EXPECT(L, "len(input.items) .. ' ' .. len(input) .. ' ' .. len(input.o) .. ' ' .. len(input.e)", "\"3 7 0 0\"");
    EXPECT_STMT(L, "local s = 0 for i, v in ipairs(input.items) do s = s + i * v.x end return s", "14");
    EXPECT_STMT(L, "local o = {} for k, v in pairs(input) do o[#o + 1] = k end return table.concat(o, ',')",
                "\"deep,e,items,n,o,s,words\"");
    EXPECT_STMT(L, "local o = {} for i, w in pairs(input.words) do o[#o + 1] = i .. w end return table.concat(o)",
                "\"1b2a3c\"");
    EXPECT(L, "table.concat(input.words, '-') .. select('#', table.unpack(input.words))", "\"b-a-c3\"");
    EXPECT(L, "json.encode(input.e) .. json.encode(input.o) .. json.encode(input.deep)",
           "\"[]{}{\\\"a\\\":[[1,2],{\\\"b\\\":true}]}\"");
    /* returned as it is: arrays stay arrays, empty ones too */
    EXPECT(L, "input", "{\"deep\":{\"a\":[[1,2],{\"b\":true}]},\"e\":[],\"items\":[{\"x\":1},{\"x\":2},{\"x\":3}],"
                       "\"n\":1,\"o\":{},\"s\":\"str\",\"words\":[\"b\",\"a\",\"c\"]}");
    EXPECT(L, "{input.e, input.o, steps}", "[[],{},{\"a\":{\"list\":[3,1,2]}}]");
    EXPECT(L, "getmetatable(input.items) == 'json.array' and getmetatable(input) == false", "true");
    EXPECT(L, "rawget(input, 'n') + rawlen(input.items) + rawget(input.items, 2).x", "6");
    EXPECT(L, "rawequal(json.array(input.e), input.e) and rawequal(input.items, input.items)", "true");
    EXPECT(L, "tostring(input) .. tostring(input.e)", "\"tabletable\"");
    EXPECT(L, "string.format('%s %d', input.s, input.n)", "\"str 1\"");
    /* a caught error given read-only still rethrows as a typed error */
    sset(L, 0, "err", "{\"type\": \"app.bad\", \"message\": \"m\"}");
    EXPECT_ERR(L, "error(err)", 0, "app.bad", "m");
    std_lua_free(L);
}

TEST(frozen_writes)
{
    std_lua *L = given_ctx();
    const char *ro = "cannot change a value the step was given (input, vars, steps, items are read-only): "
                     "copy it first with copy()";
    EXPECT_ERR(L, "input.n = 2", 0, "lua", "t:1: setting field \"n\": cannot change a value the step was given");
    EXPECT_ERR(L, "input.n = 2", 0, "lua", ro);
    EXPECT_ERR(L, "local x = 1\ninput.items[1].x = 2", 0, "lua", "t:2: setting field \"x\"");
    EXPECT_ERR(L, "input.items[4] = 1", 0, "lua", "t:1: setting [4]: cannot change");
    EXPECT_ERR(L, "input.deep.a[1][1] = 0", 0, "lua", "setting [1]: cannot change");
    EXPECT_ERR(L, "input[true] = 1", 0, "lua", "setting a boolean key: cannot change");
    EXPECT_ERR(L, "input.new = 1", 0, "lua", "setting field \"new\"");
    EXPECT_ERR(L, "table.insert(input.items, 4)", 0, "lua", "t:1: table.insert: cannot change");
    EXPECT_ERR(L, "table.insert(input.e, 1, 4)", 0, "lua", "table.insert: cannot change");
    EXPECT_ERR(L, "table.remove(input.words)", 0, "lua", "table.remove: cannot change");
    EXPECT_ERR(L, "table.remove(input.e)", 0, "lua", "table.remove: cannot change");
    EXPECT_ERR(L, "table.sort(input.words)", 0, "lua", "table.sort: cannot change");
    EXPECT_ERR(L, "table.sort(steps.a.list)", 0, "lua", "table.sort: cannot change");
    EXPECT_ERR(L, "table.sort(input.e)", 0, "lua", "table.sort: cannot change");
    EXPECT_ERR(L, "table.move(input.words, 1, 2, 2)", 0, "lua", "table.move: cannot change");
    EXPECT_ERR(L, "table.move({1}, 1, 1, 1, input.words)", 0, "lua", "table.move: cannot change");
    EXPECT(L, "table.move(input.words, 1, 3, 1, {})", "[\"b\",\"a\",\"c\"]");
    EXPECT_ERR(L, "steps.a = 1", 0, "lua", "setting field \"a\": cannot change");
    EXPECT_ERR(L, "steps.a.list[1] = 1", 0, "lua", "setting [1]: cannot change");
    EXPECT_ERR(L, "setmetatable(input, {})", 0, "lua", "protected metatable");
    EXPECT_ERR(L, "setmetatable(input.items, nil)", 0, "lua", "protected metatable");
    EXPECT_ERR(L, "json.array(input.o)", 0, "lua", "json.array: cannot change");
    EXPECT_ERR(L, "json.array(input)", 0, "lua", "json.array: cannot change");
    /* a failed write changes nothing, and pcall sees it as an ordinary error */
    EXPECT_STMT(L, "local ok, e = pcall(function() input.n = 5 end) return {ok, input.n, e}",
                "[false,1,\"t:1: setting field \\\"n\\\": cannot change a value the step was given (input, vars, "
                "steps, items are read-only): copy it first with copy()\"]");
    EXPECT(L, "input.n + #input.items + #input.words", "7");
    /* fields the engine sets later are still seen */
    sfield(L, 0, "steps", "b", "[1]");
    EXPECT(L, "steps.b[1] + steps.a.list[1]", "4");
    std_lua_free(L);
}

TEST(copy_values)
{
    std_lua *L = given_ctx();
    EXPECT_STMT(L, "local c = copy(input) c.n = 2 c.items[1].x = 9 table.insert(c.items, {x = 4}) "
                   "table.sort(c.words) c.deep.a[1][1] = 0 c.new = true "
                   "return {c.n, c.items[1].x, #c.items, table.concat(c.words), c.deep.a[1][1], c.new, "
                   "input.n, input.items[1].x, #input.items, table.concat(input.words), input.deep.a[1][1]}",
                "[2,9,4,\"abc\",0,true,1,1,3,\"bac\",1]");
    /* arrays keep their mark: empty ones stay [] */
    EXPECT(L, "{copy(input.e), copy(input.o), copy(input).e}", "[[],{},[]]");
    EXPECT(L, "getmetatable(copy(input.items)) == 'json.array' and getmetatable(copy(input)) == nil", "true");
    EXPECT(L, "json.encode(copy(input))", "\"{\\\"deep\\\":{\\\"a\\\":[[1,2],{\\\"b\\\":true}]},\\\"e\\\":[],"
                                      "\\\"items\\\":[{\\\"x\\\":1},{\\\"x\\\":2},{\\\"x\\\":3}],\\\"n\\\":1,"
                                      "\\\"o\\\":{},\\\"s\\\":\\\"str\\\",\\\"words\\\":[\\\"b\\\",\\\"a\\\",\\\"c\\\"]}\"");
    /* values that are not tables come back as they are */
    EXPECT(L, "{copy(1), copy('s'), copy(true), copy(nil) == nil, copy(json.null) == json.null}",
           "[1,\"s\",true,true,true]");
    EXPECT_ERR(L, "copy()", 1, "lua", "bad argument #1 to 'copy'");
    /* a chunk's own tables: a new table, sharing and cycles kept */
    EXPECT_STMT(L, "local t = {1, {2}} local c = copy(t) c[2][1] = 5 return {t[2][1], c[2][1], rawequal(t, c)}",
                "[2,5,false]");
    EXPECT_STMT(L, "local s = {} local c = copy({a = s, b = s}) return rawequal(c.a, c.b) and not rawequal(c.a, s)",
                "true");
    EXPECT_STMT(L, "local t = {} t.self = t local c = copy(t) return rawequal(c.self, c) and not rawequal(c, t)",
                "true");
    EXPECT_STMT(L, "local f = function() return 1 end return rawequal(copy({f = f}).f, f)", "true");
    EXPECT_STMT(L, "local t = {} for i = 1, 300 do t = {t} end local ok, e = pcall(copy, t) return {ok, e}", "[false,\"copy: nested deeper than 200 levels\"]");
    /* a layered table copies as its merged view */
    int sc = std_lua_scope_new(L, 0);
    sfield(L, sc, "steps", "own", "1");
    EXPECT_IN_STMT(L, sc, "local c = copy(steps) c.own = 2 c.x = 3 return c", "{\"a\":{\"list\":[3,1,2]},\"own\":2,\"x\":3}");
    std_lua_scope_free(L, sc);
    std_lua_free(L);
    /* copying is charged to the instruction budget */
    std_lua_limits lim = {0, 200000, 0};
    L = std_lua_new(&lim);
    json_t *arr = json_array();
    for (int i = 0; i < 20000; i++) json_array_append_new(arr, json_integer(i));
    std_lua_set_global(L, "big", arr);
    json_decref(arr);
    EXPECT(L, "#copy(big)", "20000");
    EXPECT_ERR(L, "(function() for i = 1, 100 do copy(big) end end)()", 1, "lua.limit", "instruction limit");
    std_lua_free(L);
}

/* Globals a chunk assigns land in a table of that call alone. */
TEST(globals_per_call)
{
    std_lua *L = given_ctx();
    EXPECT_STMT(L, "counter = 7 function helper(x) return x + counter end return helper(1)", "8");
    EXPECT(L, "counter == nil and helper == nil and rawget(_G, 'counter') == nil", "true");
    /* a global shadowing an engine name, for the call only */
    EXPECT_STMT(L, "input = {n = 5} return input.n", "5");
    EXPECT(L, "input.n", "1");
    EXPECT_STMT(L, "string = 5 return type(string)", "\"number\"");
    /* (assigning nil removes the call's own name: the global shows again) */
    EXPECT_STMT(L, "string = 5 string = nil return type(string)", "\"table\"");
    EXPECT(L, "string.upper('a')", "\"A\"");
    /* _ENV is the call's table: writes through it last for the call too */
    EXPECT_STMT(L, "_ENV.x = 1 _ENV['y'] = 2 return x + y + input.n", "4");
    EXPECT(L, "x == nil and y == nil", "true");
    EXPECT_STMT(L, "local g = _ENV _ENV = {z = 3} return z + g.input.n", "4");
    EXPECT(L, "z == nil and input.n == 1", "true");
    EXPECT(L, "getmetatable(_ENV)", "false");
    EXPECT_ERR(L, "setmetatable(_ENV, {})", 1, "lua", "protected metatable");
    /* _G is a read-only view of the globals */
    EXPECT(L, "_G.input.n + len(_G.steps) + (_G.string == string and 1 or 0)", "3");
    EXPECT_STMT(L, "local n = 0 for k in pairs(_G) do if k == 'input' or k == 'copy' then n = n + 1 end end return n", "2");
    EXPECT_ERR(L, "_G.counter = 1", 0, "lua", "t:1: setting _G field \"counter\": _G is a read-only view of the globals");
    EXPECT_ERR(L, "_G.input = 1", 0, "lua", "_G is a read-only view");
    EXPECT_ERR(L, "setmetatable(_G, {})", 0, "lua", "protected metatable");
    /* the library tables are read-only; a function cannot be kept anywhere */
    EXPECT_ERR(L, "string.helper = function() end", 0, "lua", "t:1: setting field \"helper\": the library tables");
    EXPECT_ERR(L, "json.null = 1", 0, "lua", "library tables");
    EXPECT_ERR(L, "time.x = 1", 0, "lua", "library tables");
    EXPECT_ERR(L, "utf8.charpattern = ''", 0, "lua", "library tables");
    EXPECT_ERR(L, "table.insert(table, 1)", 0, "lua", "table.insert: the library tables");
    EXPECT(L, "('x'):upper() .. string.upper('y') .. math.floor(1.5)", "\"XY1\"");
    /* a library loaded by the engine (the ASL runtime) is read-only too, nested tables included */
    std_err e = {0};
    CHECK(std_lua_load_lib(L, "mylib", "local t = {list = {1, 2}}\nfunction t.f() return #t.list end\nreturn t", &e) == 0);
    EXPECT(L, "mylib.f() + mylib.list[2]", "4");
    EXPECT_ERR(L, "mylib.g = 1", 0, "lua", "library tables");
    EXPECT_ERR(L, "mylib.list[1] = 5", 0, "lua", "library tables");
    EXPECT_ERR(L, "table.insert(mylib.list, 5)", 0, "lua", "library tables");
    /* in a scope: names a chunk assigns shadow the scope's for the call */
    int sc = std_lua_scope_new(L, 0);
    sset(L, sc, "item", "{\"k\": 1}");
    EXPECT_IN_ERR(L, sc, "item.k = 2", 0, "lua", "setting field \"k\": cannot change");
    EXPECT_IN_STMT(L, sc, "item = {k = 2} return item.k", "2");
    EXPECT_IN(L, sc, "item.k", "1");
    std_lua_scope_free(L, sc);
    std_lua_free(L);
}

int main(void)
{
    RUN(types_to_json);
    RUN(json_round_trip);
    RUN(globals_and_fields);
    RUN(instruction_limit);
    RUN(memory_limit);
    RUN(deep_recursion);
    RUN(removed_names);
    RUN(binary_chunks_rejected);
    RUN(protected_metatables);
    RUN(pairs_sorted);
    RUN(unconvertible_results);
    RUN(json_functions);
    RUN(free_names_of_snippets);
    RUN(syntax_errors);
    RUN(scope_names);
    RUN(scope_writes);
    RUN(scope_layered_fields);
    RUN(scope_limits);
    RUN(scope_memory_flat);
    RUN(typed_errors);
    RUN(host_contexts_isolated);
    RUN(host_memory_limits);
    RUN(host_contexts_released);
    RUN(host_compile_lines);
    RUN(frozen_reads);
    RUN(frozen_writes);
    RUN(copy_values);
    RUN(globals_per_call);
    CHECK_DONE();
}
