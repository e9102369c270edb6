/* lua.c — the Lua 5.4 sandbox in which expressions and `lua` steps run (see lua.h).
 *
 * What it does: one lua_State per host (std_lua_host), created with a counting
 * allocator (memory limits per call and over the whole heap) and a count hook
 * (instruction limit per std_lua_call); contexts (std_lua, one per run) with
 * their own globals, closures and scopes in it; a reduced standard library; a deterministic `pairs`; the
 * `json` table, `len` and `copy`; JSON <-> Lua conversion, with read-only
 * proxies for what the engine hands over; globals per call; a text-only
 * syntax check; and a small tokenizer that lists the free names of a chunk
 * for `wfdsl check`.
 *
 * What it does not do: know about steps, history or replay (the VM adds now,
 * uuid, random... and decides what to record), or enforce wall-clock time.
 *
 * Library: base without dofile, loadfile, load, collectgarbage, print, next,
 * rawset and warn; string without dump; table; math without random and
 * randomseed; utf8. No io, os, package/require, debug or coroutine.
 *
 * Determinism: Lua randomises its string hash seed and the heap layout varies,
 * so nothing here exposes table traversal order (pairs sorts its keys, next is
 * gone, JSON objects are built with sorted keys) or addresses (tostring of a
 * table is "table", string.format refuses %p); setmetatable refuses __gc and
 * __mode because collection timing is not replayed. The string metatable is
 * protected (getmetatable("") is false), as is the array metatable.
 *
 * No state outlives a call (a replay delivers recorded results instead of
 * running chunks again, so anything else a chunk changed would be lost):
 *   - Read-only proxies. Every table pushed for the engine (set_fn,
 *     push_json_frozen), the library tables and a library chunk's result
 *     (freeze_lib_top) and _G are proxies: an empty table P whose metatable
 *       {__index = B, __newindex = ro_newindex, __len = ro_len,
 *        __metatable = false (an array: "json.array"),
 *        [1] = frozen_mark, [2] = B, [3] = FROZEN_VALUE|LIB|GLOBALS}
 *     reads through to the backing table B (a plain lookup, no C call) and
 *     refuses writes with a message naming the kind. An array's B has the
 *     array metatable; a layered table (below) is the B of its proxy. The
 *     engine writes into B; chunks never reach B. push_backing gives B for P,
 *     and is_array, pairs, len, rawget/rawlen, push_layers (so Lua -> JSON,
 *     copy) and typed errors use it; table.insert/remove/sort/move and
 *     json.array refuse a proxy up front (check_writable). copy() makes
 *     mutable deep copies. Tables a chunk makes are its own.
 *   - Globals per call. std_lua_call_in runs the closure through call_fn,
 *     which sets its _ENV to a new empty table W with metatable
 *     {__index = scope or globals, __metatable = false} (cached: push_call_mt).
 *     Assignments land in W, dropped after the call; _ENV is reset to the
 *     globals. A chunk that assigns _ENV changes it for that call only.
 *
 * Cost model: the hook charges 1 per VM instruction. C library calls that can
 * do unbounded work in one instruction (string.rep, table.move/sort/concat/
 * insert/remove/unpack, string scans, pairs, len, json, copy) charge their work to
 * the same budget up front, and every 16 bytes allocated cost 1, so a loop of
 * big C calls also runs out. Known hole: backtracking in Lua patterns (many
 * '.-') is charged only by subject length and can still run long.
 *
 * Contexts: a context's globals are a shallow copy of the host's (the library
 * tables are shared read-only proxies, _G a read-only proxy of the copy). A chunk is compiled once per host into a
 * factory, `local _ENV = ...; return function(...) <chunk> end`, kept in the
 * host's cache table by (is_expr, line, name, text); a context calls it with
 * its globals at the chunk's first call and keeps the closure. Everything a
 * context owns hangs from registry refs (globals, closures, factories, its
 * scopes listed in a table), dropped by std_lua_free.
 *
 * Scopes: a scope is a table whose metatable reads (__index) and writes
 * (__newindex) through to its parent scope's table, up to the globals; a call
 * in a scope sets the chunk's _ENV upvalue to a per-call table over it (W,
 * above) and back to the globals after. Chunks never hold a scope itself.
 * A layered table (std_lua_scope_set_field) is a scope's own table whose
 * __index looks the same name up in the parent scope at read time, so it
 * follows replacements of the parent's table. Layouts:
 *   scope metatable, one per parent scope P, shared by P's children:
 *     {__index = P, __newindex = P, __metatable = false,
 *      [1] = scope_mark, [2] = P, [3] = {name = layered metatable} (lazy)}
 *   layered metatable, one per parent scope P and name N:
 *     {__index = layer_index with upvalues P and N, __metatable = false,
 *      [1] = layer_mark, [2] = P, [3] = N}
 * The scope metatable of P's children is cached in the context (for P the
 * globals) or in the registry table child_mts by P's id until P is freed.
 * pairs, len and Lua -> JSON see a layered table merged with its parent
 * layers (push_layers, view_next) using raw accesses only.
 *
 * Free names (std_lua_free_names) are approximate by design: any local
 * declaration, parameter or loop variable anywhere hides that name in the whole
 * chunk, and so does a statement-level assignment `x = ...` or `function x()`
 * (a global the chunk defines itself is not reported as free).
 */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MEM ((size_t)64 << 20)
#define DEFAULT_INSTRUCTIONS 20000000LL
#define DEFAULT_HEAP ((size_t)4 << 30)
#define HOOK_EVERY 1000          /* instructions between two calls of the count hook */
#define ALLOC_BYTES_PER_INSTR 16 /* allocation charged to the instruction budget */
#define SCAN_BYTES_PER_INSTR 8   /* string scanning in C charged likewise */
#define JSON_MAX_DEPTH 200
#define LAYER_MAX 100            /* parent layers a layered table reads through, at most */

enum { LIMIT_NONE, LIMIT_INSTR, LIMIT_MEM };

/* The Lua state and what every run in it shares: limits, the library, the
 * chunk cache. Calls never nest across contexts, so the one in progress is
 * `cur` and the budgets are the host's. */
struct std_lua_host {
    lua_State *S;
    size_t mem_limit;   /* growth of the heap allowed during one call */
    size_t heap_limit;  /* the whole heap */
    size_t mem_used, call_base; /* call_base: mem_used when the call began */
    long long instr_limit, instr_used;
    int limit_hit;      /* LIMIT_* raised during the current call */
    int limit_heap;     /* ... and it was the whole heap's */
    std_lua *cur;       /* the context of the call in progress */
    int cache_ref;      /* registry table: chunk key -> factory function */
    size_t contexts;    /* live contexts */
};

typedef struct ctx_chunk {
    int factory;      /* registry ref, shared by the host's contexts */
    int fn;           /* this context's closure (LUA_NOREF until first called) */
    unsigned char has_env; /* the closure has an _ENV upvalue (reads or writes a global) */
} ctx_chunk;

/* One run's view of a host: its own globals table (env), closures and scopes. */
struct std_lua {
    std_lua_host *h;
    int own_host;     /* std_lua_new made the host for this context alone */
    lua_State *S;     /* h->S */
    int env_ref;      /* this context's globals */
    int child_mt_ref; /* metatable of the scopes whose parent is the globals */
    int call_mt_ref;  /* metatable of the per-call environments over the globals */
    int scopes_ref;   /* table: live scope id -> true */
    ctx_chunk *chunks; /* indexed by handle */
    size_t nchunks, capchunks;
    char pending[256]; /* a set_global/set_field that failed; reported by the next call */
    char pending_type[16];
    std_lua_effect_fn effect; /* now(), uuid(), random(): recorded by the caller */
    void *effect_ud;
};

/* Light userdata keys and the json.null sentinel: addresses of constants. */
static const char json_null_obj = 'n';
static const char array_mt_key = 'a';
static const char box_mt_key = 'b';
static const char scope_mark = 's';         /* [1] of scope metatables */
static const char layer_mark = 'l';         /* [1] of layered-table metatables */
static const char child_mts_key = 'c';      /* scope id -> metatable of its children */
static const char frozen_mark = 'f';        /* [1] of the metatables of read-only proxies */
static const char call_mt_key = 'e';        /* a scope's metatable of its per-call environments */
#define LUD(p) ((void *)(uintptr_t)(p))

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* ---- limits ------------------------------------------------------------ */

/* The allocator of every host: refuses growth past mem_limit within one call,
 * or past heap_limit in all (Lua then collects and retries once, then raises
 * LUA_ERRMEM), and charges allocation to the instruction budget. */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    std_lua_host *H = ud;
    size_t old = ptr ? osize : 0; /* for new blocks osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        H->mem_used -= old;
        return NULL;
    }
    if (nsize > old) {
        size_t grow = nsize - old, base = H->mem_used > H->call_base ? H->mem_used - H->call_base : 0;
        if (grow > H->heap_limit - H->mem_used) {
            H->limit_heap = 1;
            return NULL;
        }
        if (grow > H->mem_limit - (base < H->mem_limit ? base : H->mem_limit)) return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) return nsize <= old ? ptr : NULL; /* Lua assumes shrinking never fails */
    if (nsize > old) H->instr_used += (long long)((nsize - old) / ALLOC_BYTES_PER_INSTR);
    H->mem_used = H->mem_used - old + nsize;
    return p;
}

static std_lua_host *host_of(lua_State *S)
{
    void *ud = NULL;
    lua_getallocf(S, &ud);
    return ud;
}

static int raise_instr_limit(lua_State *S, std_lua_host *H)
{
    H->limit_hit = LIMIT_INSTR;
    return luaL_error(S, "instruction limit of %I exceeded", (lua_Integer)H->instr_limit);
}

static void sb_hook(lua_State *S, lua_Debug *ar)
{
    (void)ar;
    std_lua_host *H = host_of(S);
    H->instr_used += HOOK_EVERY;
    if (H->instr_used > H->instr_limit) raise_instr_limit(S, H);
}

/* Charge work done by a C function to the budget; raises when over. */
static void charge(lua_State *S, double work)
{
    std_lua_host *H = host_of(S);
    if (work > 0) {
        double room = (double)(H->instr_limit - H->instr_used) + 1;
        if (work >= room) H->instr_used = H->instr_limit + 1;
        else H->instr_used += (long long)work;
    }
    if (H->instr_used > H->instr_limit) raise_instr_limit(S, H);
}

/* A call (or set, or scope change) of context L begins: fresh budgets. */
static void begin_call(std_lua *L)
{
    std_lua_host *H = L->h;
    H->cur = L;
    H->instr_used = 0;
    H->limit_hit = LIMIT_NONE;
    H->limit_heap = 0;
    H->call_base = H->mem_used;
}

/* n * log2(n), roughly: the cost of sorting n keys (no libm needed). */
static double sort_cost(double n)
{
    double lg = 1;
    for (double m = n; m > 1; m /= 2) lg++;
    return n * lg;
}

/* ---- read-only proxies (see the header) ---------------------------------- */

enum { FROZEN_VALUE, FROZEN_LIB, FROZEN_GLOBALS }; /* [3] of a proxy's metatable */
#define RO_VALUE_MSG "cannot change a value the step was given (input, vars, steps, items are read-only): " \
                     "copy it first with copy()"

/* If the value at idx is a read-only proxy, pushes its backing table and
 * returns 1; else pushes the value itself and returns 0. Raw: never runs
 * code, allocates or raises. */
static int push_backing(lua_State *S, int idx)
{
    idx = lua_absindex(S, idx);
    if (lua_type(S, idx) == LUA_TTABLE && lua_getmetatable(S, idx)) {
        lua_rawgeti(S, -1, 1);
        if (lua_touserdata(S, -1) == LUD(&frozen_mark)) {
            lua_rawgeti(S, -2, 2);
            lua_replace(S, -3);
            lua_pop(S, 1);
            return 1;
        }
        lua_pop(S, 2);
    }
    lua_pushvalue(S, idx);
    return 0;
}

/* The kind (FROZEN_*) of the proxy at idx, or -1 when it is not one. */
static int frozen_kind(lua_State *S, int idx)
{
    if (lua_type(S, idx) != LUA_TTABLE || !lua_getmetatable(S, idx)) return -1;
    lua_rawgeti(S, -1, 1);
    int k = -1;
    if (lua_touserdata(S, -1) == LUD(&frozen_mark)) {
        lua_rawgeti(S, -2, 3);
        k = (int)lua_tointeger(S, -1);
        lua_pop(S, 1);
    }
    lua_pop(S, 2);
    return k;
}

/* Raises the error of a write (what: "table.insert", "setting field \"x\"")
 * into the proxy at idx. */
static int raise_frozen(lua_State *S, int idx, const char *what)
{
    switch (frozen_kind(S, idx)) {
    case FROZEN_LIB:
        return luaL_error(S, "%s: the library tables (string, table, math, utf8, json, time...) are read-only: "
                             "keep your own helpers in local variables", what);
    case FROZEN_GLOBALS:
        return luaL_error(S, "%s: _G is a read-only view of the globals: assign the name itself "
                             "(a global a chunk assigns lasts until the end of that call)", what);
    default: return luaL_error(S, "%s: " RO_VALUE_MSG, what);
    }
}

/* Raises when the table at idx is read-only (a proxy); what names the call. */
static void check_writable(lua_State *S, int idx, const char *what)
{
    if (frozen_kind(S, idx) >= 0) raise_frozen(S, idx, what);
}

/* __newindex of proxies: (proxy, key, value). */
static int ro_newindex(lua_State *S)
{
    char what[96];
    if (lua_type(S, 2) == LUA_TSTRING)
        snprintf(what, sizeof what, "setting %sfield \"%.40s\"", frozen_kind(S, 1) == FROZEN_GLOBALS ? "_G " : "",
                 lua_tostring(S, 2));
    else if (lua_type(S, 2) == LUA_TNUMBER && lua_isinteger(S, 2))
        snprintf(what, sizeof what, "setting [%lld]", (long long)lua_tointeger(S, 2));
    else
        snprintf(what, sizeof what, "setting a %s key", luaL_typename(S, 2));
    return raise_frozen(S, 1, what);
}

/* __len of proxies: the border of the backing table, as # gave before. */
static int ro_len(lua_State *S)
{
    push_backing(S, 1);
    lua_pushinteger(S, (lua_Integer)lua_rawlen(S, -1));
    return 1;
}

static int is_array(lua_State *S, int idx);

/* Replaces the table on top of the stack by a read-only proxy of it: an empty
 * table whose metatable reads through to it (__index is the table itself, so
 * reads run no C code), refuses writes and is protected. An array's proxy
 * answers getmetatable with "json.array", as the array metatable does. */
static void freeze_top(lua_State *S, int kind)
{
    int arr = is_array(S, -1);
    lua_createtable(S, 0, 0);
    lua_createtable(S, 3, 4);
    lua_pushvalue(S, -3);
    lua_setfield(S, -2, "__index");
    lua_pushcfunction(S, ro_newindex);
    lua_setfield(S, -2, "__newindex");
    lua_pushcfunction(S, ro_len);
    lua_setfield(S, -2, "__len");
    if (arr) lua_pushliteral(S, "json.array");
    else lua_pushboolean(S, 0);
    lua_setfield(S, -2, "__metatable");
    lua_pushlightuserdata(S, LUD(&frozen_mark));
    lua_rawseti(S, -2, 1);
    lua_pushvalue(S, -3);
    lua_rawseti(S, -2, 2);
    lua_pushinteger(S, kind);
    lua_rawseti(S, -2, 3);
    lua_setmetatable(S, -2);
    lua_replace(S, -2);
}

/* Freezes a library table on top of the stack and the tables in it, once
 * each (seen: index of a table original -> proxy); keys are kept as they
 * are. The library's own code keeps its references to the originals. */
static void freeze_lib_top(lua_State *S, int seen, int depth)
{
    if (depth > JSON_MAX_DEPTH) luaL_error(S, "library nested deeper than %d levels", JSON_MAX_DEPTH);
    luaL_checkstack(S, 8, "library nested too deeply");
    int t = lua_gettop(S);
    lua_pushvalue(S, t);
    if (lua_rawget(S, seen) == LUA_TTABLE) {
        lua_replace(S, t);
        return;
    }
    lua_pop(S, 1);
    if (frozen_kind(S, t) >= 0) return;
    lua_pushvalue(S, t);
    freeze_top(S, FROZEN_LIB); /* t+1: the proxy */
    lua_pushvalue(S, t);
    lua_pushvalue(S, t + 1);
    lua_rawset(S, seen);
    lua_pushnil(S);
    while (lua_next(S, t)) {
        if (lua_type(S, -1) == LUA_TTABLE && frozen_kind(S, -1) < 0) {
            freeze_lib_top(S, seen, depth + 1);
            lua_pushvalue(S, -2);
            lua_insert(S, -2);
            lua_rawset(S, t); /* replacing an existing key's value keeps lua_next valid */
        } else {
            lua_pop(S, 1);
        }
    }
    lua_replace(S, t);
}

/* ---- base library replacements ------------------------------------------ */

/* Limit errors must not be swallowed by pcall: they are re-raised. */
static int pcall_limited(lua_State *S, int status)
{
    std_lua_host *H = host_of(S);
    if (status == LUA_OK) return 0;
    if (status == LUA_ERRMEM && H->limit_hit == LIMIT_NONE) H->limit_hit = LIMIT_MEM;
    return H->limit_hit != LIMIT_NONE;
}

static int sb_pcall(lua_State *S)
{
    luaL_checkany(S, 1);
    int status = lua_pcall(S, lua_gettop(S) - 1, LUA_MULTRET, 0);
    if (pcall_limited(S, status)) return lua_error(S);
    lua_pushboolean(S, status == LUA_OK);
    lua_insert(S, 1);
    return lua_gettop(S);
}

/* The message handler of xpcall, wrapped: once a limit was hit it is not
 * called any more (a handler that loops would otherwise be re-entered for
 * its own limit error, forever). */
static int xpcall_handler(lua_State *S)
{
    if (host_of(S)->limit_hit) return 1; /* the limit error, as it is */
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, 1);
    return 1;
}

static int sb_xpcall(lua_State *S)
{
    int n = lua_gettop(S);
    luaL_checktype(S, 2, LUA_TFUNCTION);
    lua_pushvalue(S, 2);
    lua_pushcclosure(S, xpcall_handler, 1);
    lua_replace(S, 2);
    lua_pushvalue(S, 1); /* swap: message handler first, then the function */
    lua_pushvalue(S, 2);
    lua_replace(S, 1);
    lua_replace(S, 2);
    int status = lua_pcall(S, n - 2, LUA_MULTRET, 1);
    if (pcall_limited(S, status)) return lua_error(S);
    lua_pushboolean(S, status == LUA_OK);
    lua_replace(S, 1);
    return lua_gettop(S);
}

/* setmetatable without finalizers or weak tables (GC timing is not replayed). */
static int sb_setmetatable(lua_State *S)
{
    static const char *const banned[] = {"__gc", "__mode"};
    if (lua_type(S, 2) == LUA_TTABLE) {
        for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++) {
            lua_pushstring(S, banned[i]);
            if (lua_rawget(S, 2) != LUA_TNIL)
                return luaL_error(S, "setmetatable: %s is not available in the sandbox", banned[i]);
            lua_pop(S, 1);
        }
    }
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, 1);
    return 1;
}

/* tostring without addresses: a table without __tostring is just "table". */
static void push_tostring(lua_State *S, int idx)
{
    idx = lua_absindex(S, idx);
    int t = lua_type(S, idx);
    if (t == LUA_TLIGHTUSERDATA && lua_touserdata(S, idx) == LUD(&json_null_obj)) {
        lua_pushliteral(S, "null");
    } else if (t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TUSERDATA ||
               t == LUA_TTHREAD || t == LUA_TLIGHTUSERDATA) {
        if (luaL_getmetafield(S, idx, "__tostring") != LUA_TNIL) {
            lua_pop(S, 1);
            luaL_tolstring(S, idx, NULL);
        } else {
            lua_pushstring(S, lua_typename(S, t));
        }
    } else {
        luaL_tolstring(S, idx, NULL);
    }
}

static int sb_tostring(lua_State *S)
{
    luaL_checkany(S, 1);
    push_tostring(S, 1);
    return 1;
}

/* string.format: %p refused, %s of a table goes through push_tostring. */
static int sb_format(lua_State *S)
{
    size_t n;
    const char *f = luaL_checklstring(S, 1, &n);
    int top = lua_gettop(S), arg = 1;
    for (size_t i = 0; i < n; i++) {
        if (f[i] != '%') continue;
        if (++i < n && f[i] == '%') continue;
        while (i < n && f[i] && strchr("-+ #0123456789.", f[i])) i++;
        arg++;
        if (i >= n) break;
        if (f[i] == 'p')
            return luaL_error(S, "string.format: '%%p' is not available in the sandbox");
        if (f[i] == 's' && arg <= top) {
            push_tostring(S, arg);
            lua_replace(S, arg);
        }
    }
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, top, 1);
    return 1;
}

/* Library functions wrapped to charge their C work first (see the header). */
enum { COST_REP, COST_MOVE, COST_CONCAT, COST_UNPACK, COST_INSERT, COST_REMOVE, COST_SORT, COST_SCAN, COST_PATTERN, COST_FIND };

static double arg_int(lua_State *S, int idx, double def)
{
    int ok;
    lua_Integer v = lua_tointegerx(S, idx, &ok);
    return ok ? (double)v : def;
}

static double table_len(lua_State *S, int idx)
{
    if (lua_type(S, idx) != LUA_TTABLE) return 0;
    push_backing(S, idx);
    double n = (double)lua_rawlen(S, -1);
    lua_pop(S, 1);
    return n;
}

/* rawget, rawlen: a read-only proxy is read as its backing table. */
static int sb_raw(lua_State *S)
{
    if (lua_type(S, 1) == LUA_TTABLE) {
        push_backing(S, 1);
        lua_replace(S, 1);
    }
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, 1);
    return 1;
}

static int sb_charged(lua_State *S)
{
    double work = 0, n;
    int kind = (int)lua_tointeger(S, lua_upvalueindex(2));
    switch (kind) {
    case COST_REP: /* bytes are charged by the allocator; only "" can spin */
        if (lua_type(S, 1) == LUA_TSTRING && lua_rawlen(S, 1) == 0 &&
            (lua_type(S, 3) != LUA_TSTRING || lua_rawlen(S, 3) == 0))
            work = arg_int(S, 2, 0) / SCAN_BYTES_PER_INSTR;
        break;
    case COST_MOVE:
        check_writable(S, lua_isnoneornil(S, 5) ? 1 : 5, "table.move");
        work = arg_int(S, 3, 0) - arg_int(S, 2, 1) + 1;
        break;
    case COST_CONCAT: work = arg_int(S, 4, table_len(S, 1)) - arg_int(S, 3, 1) + 1; break;
    case COST_UNPACK: work = arg_int(S, 3, table_len(S, 1)) - arg_int(S, 2, 1) + 1; break;
    case COST_INSERT: check_writable(S, 1, "table.insert"); work = table_len(S, 1); break;
    case COST_REMOVE: check_writable(S, 1, "table.remove"); work = table_len(S, 1); break;
    case COST_SORT:
        check_writable(S, 1, "table.sort");
        n = table_len(S, 1);
        work = sort_cost(n);
        break;
    case COST_SCAN:
        if (lua_type(S, 1) == LUA_TSTRING) work = (double)lua_rawlen(S, 1) / SCAN_BYTES_PER_INSTR;
        break;
    case COST_FIND:
    case COST_PATTERN: {
        /* Lua's matcher backtracks in C, where no hook runs: charge its
         * worst case up front, len^(q+1) for q quantifiers, scaled so that
         * ordinary patterns on ordinary text stay cheap and catastrophic
         * ones (".-.-.-b" on 100 KB) fail at once with lua.limit */
        if (lua_type(S, 1) != LUA_TSTRING) break;
        double len = (double)lua_rawlen(S, 1);
        work = len / SCAN_BYTES_PER_INSTR;
        size_t pl = 0;
        const char *pat = lua_type(S, 2) == LUA_TSTRING ? lua_tolstring(S, 2, &pl) : NULL;
        int plain = kind == COST_FIND && lua_toboolean(S, 4); /* string.find(s, p, init, true) */
        int q = 0;
        for (size_t i = 0; pat && !plain && i < pl; i++) {
            if (pat[i] == '%') i++;
            else if (pat[i] == '*' || pat[i] == '+' || pat[i] == '-' || pat[i] == '?') q++;
        }
        if (q > 0) work += pow(len, q + 1) / (SCAN_BYTES_PER_INSTR * 16.0);
        break;
    }
    }
    charge(S, work);
    lua_pushvalue(S, lua_upvalueindex(1));
    lua_insert(S, 1);
    lua_call(S, lua_gettop(S) - 1, LUA_MULTRET);
    return lua_gettop(S);
}

/* ---- scopes: metatables and layered views (see the header) -------------- */

enum { MT_MARK = 1, MT_PARENT = 2, MT_EXTRA = 3 };

/* The mark of the metatable of the value at idx (&scope_mark, &layer_mark)
 * or NULL. Raw: never runs code, allocates or raises. */
static const void *mark_of(lua_State *S, int idx)
{
    if (!lua_getmetatable(S, idx)) return NULL;
    lua_rawgeti(S, -1, MT_MARK);
    const void *p = lua_type(S, -1) == LUA_TLIGHTUSERDATA ? lua_touserdata(S, -1) : NULL;
    lua_pop(S, 2);
    return p;
}

/* Pushes field i of the metatable of the value at idx (which has one). */
static void push_mt_field(lua_State *S, int idx, int i)
{
    lua_getmetatable(S, idx);
    lua_rawgeti(S, -1, i);
    lua_remove(S, -2);
}

/* Pushes env[name] (env and name at those indices) found without
 * metamethods: in env, else up its chain of parent scopes to the globals.
 * Returns its type. */
static int env_rawget(lua_State *S, int env, int name)
{
    name = lua_absindex(S, name);
    lua_pushvalue(S, env);
    for (;;) {
        lua_pushvalue(S, name);
        if (lua_rawget(S, -2) != LUA_TNIL || mark_of(S, -2) != &scope_mark) break;
        lua_pop(S, 1);
        push_mt_field(S, -1, MT_PARENT);
        lua_remove(S, -2);
    }
    lua_remove(S, -2);
    return lua_type(S, -1);
}

/* If the value at idx is a layered table, pushes the table it reads through
 * (what its parent scope holds under its name now) and returns 1; else 0. */
static int push_parent_layer(lua_State *S, int idx)
{
    idx = lua_absindex(S, idx);
    if (mark_of(S, idx) != &layer_mark) return 0;
    push_mt_field(S, idx, MT_PARENT);
    push_mt_field(S, idx, MT_EXTRA);
    int t = env_rawget(S, -2, -1);
    lua_replace(S, -3);
    lua_pop(S, 1);
    if (t == LUA_TTABLE) { /* the parent's proxy: its backing table */
        push_backing(S, -1);
        lua_remove(S, -2);
        return 1;
    }
    lua_pop(S, 1);
    return 0;
}

/* __index of layered tables: the key in the parent layers, nearest first; a
 * parent that is a plain table is indexed normally. Upvalues: the parent
 * scope and the name of the table (as [2] and [3] of its metatable). */
static int layer_index(lua_State *S)
{
    lua_settop(S, 2);
    lua_pushvalue(S, lua_upvalueindex(1)); /* 3: the scope to look in */
    lua_pushvalue(S, lua_upvalueindex(2)); /* 4: the name */
    for (int depth = 0; depth < LAYER_MAX; depth++) {
        if (env_rawget(S, 3, 4) != LUA_TTABLE) { /* 5: the parent layer */
            lua_pushnil(S);
            return 1;
        }
        push_backing(S, 5);
        lua_replace(S, 5);
        lua_pushvalue(S, 2);
        if (lua_rawget(S, 5) != LUA_TNIL) return 1;
        lua_pop(S, 1);
        if (mark_of(S, 5) != &layer_mark) {
            lua_pushvalue(S, 2);
            lua_gettable(S, 5);
            return 1;
        }
        push_mt_field(S, 5, MT_PARENT);
        push_mt_field(S, 5, MT_EXTRA);
        lua_replace(S, 4);
        lua_replace(S, 3);
        lua_settop(S, 4);
    }
    return luaL_error(S, "layered table nested deeper than %d levels", LAYER_MAX);
}

/* Pushes the layers of the view of the table at idx: the table itself, and
 * for a layered table the parent layers it reads through, nearest first (a
 * layer met twice ends the list). Returns how many, 0 when the Lua stack
 * cannot grow. Raw accesses only: runs no code and never raises, so that
 * std_lua_to_json may use it. */
static int push_layers(lua_State *S, int idx)
{
    idx = lua_absindex(S, idx);
    int base = lua_gettop(S) + 1, n = 1;
    if (!lua_checkstack(S, LAYER_MAX + 8)) return 0;
    push_backing(S, idx); /* a proxy is seen as its backing table */
    int layered = mark_of(S, -1) == &layer_mark;
    while (layered && n < LAYER_MAX && push_parent_layer(S, -1)) {
        int seen = 0;
        for (int j = 0; j < n && !seen; j++) seen = lua_rawequal(S, -1, base + j);
        if (seen) {
            lua_pop(S, 1);
            break;
        }
        n++;
    }
    return n;
}

/* lua_next over the view of the n layers at base..base+n-1 (push_layers):
 * each layer's entries whose key no nearer layer holds. *li is the layer
 * being traversed, 0 at the start (with a nil key pushed, as for lua_next). */
static int view_next(lua_State *S, int base, int n, int *li)
{
    for (;;) {
        if (lua_next(S, base + *li)) {
            int shadowed = 0;
            for (int j = 0; j < *li && !shadowed; j++) {
                lua_pushvalue(S, -2);
                shadowed = lua_rawget(S, base + j) != LUA_TNIL;
                lua_pop(S, 1);
            }
            if (!shadowed) return 1;
            lua_pop(S, 1);
            continue;
        }
        if (++*li >= n) return 0;
        lua_pushnil(S);
    }
}

/* ---- deterministic pairs ------------------------------------------------ */

typedef struct key_ent {
    int cls;          /* 0 number, 1 string, 2 boolean, 3 other */
    int isint, type;
    lua_Integer i;
    lua_Number f;
    const char *s;    /* anchored by the key list table while sorting */
    size_t len;
    lua_Integer pos;  /* position in the traversal-order key list */
} key_ent;

/* Sign of i - f for an integer and a float (exact, no rounding of i). */
static int cmp_int_float(lua_Integer i, lua_Number f)
{
    if (f >= 0x1p63) return -1;
    if (f < -0x1p63) return 1;
    lua_Integer fi = (lua_Integer)f; /* floor(f), exact in this range */
    if ((lua_Number)fi > f) fi--;
    if (i != fi) return i < fi ? -1 : 1;
    return f > (lua_Number)fi ? -1 : 0;
}


static int key_cmp(const void *pa, const void *pb)
{
    const key_ent *a = pa, *b = pb;
    if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
    switch (a->cls) {
    case 0:
        if (a->isint && b->isint) return a->i < b->i ? -1 : a->i > b->i;
        if (!a->isint && !b->isint) return a->f < b->f ? -1 : a->f > b->f;
        return a->isint ? cmp_int_float(a->i, b->f) : -cmp_int_float(b->i, a->f);
    case 1: {
        int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
        if (c) return c;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    case 2: return a->i < b->i ? -1 : a->i > b->i;
    default:
        /* tables, functions...: by type, then traversal order (not replay-stable) */
        if (a->type != b->type) return a->type < b->type ? -1 : 1;
        return a->pos < b->pos ? -1 : a->pos > b->pos;
    }
}

static int pairs_iter(lua_State *S)
{
    lua_Integer i = lua_tointeger(S, lua_upvalueindex(2));
    for (;;) {
        if (lua_rawgeti(S, lua_upvalueindex(1), ++i) == LUA_TNIL) return 1;
        lua_pushvalue(S, -1);
        int t = lua_toboolean(S, lua_upvalueindex(4)) ? lua_gettable(S, lua_upvalueindex(3))
                                                      : lua_rawget(S, lua_upvalueindex(3));
        if (t != LUA_TNIL) { /* skip keys cleared since */
            lua_pushinteger(S, i);
            lua_replace(S, lua_upvalueindex(2));
            return 2;
        }
        lua_pop(S, 2);
    }
}

/* pairs(t): snapshot the keys, sort them (numbers, strings, booleans, others).
 * A layered table is seen merged with its parent layers. */
static int sb_pairs(lua_State *S)
{
    luaL_checktype(S, 1, LUA_TTABLE);
    lua_settop(S, 1);
    push_backing(S, 1); /* 2: what the iterator reads (a proxy's backing table) */
    int layered = mark_of(S, 2) == &layer_mark;
    lua_newtable(S);
    lua_replace(S, 2); /* 2: keys in traversal order */
    int nl = push_layers(S, 1), li = 0;
    if (!nl) return luaL_error(S, "pairs: out of Lua stack");
    lua_Integer n = 0;
    lua_pushnil(S);
    while (view_next(S, 3, nl, &li)) {
        lua_pop(S, 1);
        lua_pushvalue(S, -1);
        lua_rawseti(S, 2, ++n);
    }
    lua_settop(S, 3); /* 3: the backing table (the first layer) */
    charge(S, sort_cost((double)n));
    key_ent *ke = lua_newuserdatauv(S, (size_t)(n ? n : 1) * sizeof *ke, 0); /* 4 */
    for (lua_Integer i = 0; i < n; i++) {
        key_ent *k = &ke[i];
        memset(k, 0, sizeof *k);
        k->pos = i + 1;
        k->type = lua_rawgeti(S, 2, i + 1);
        switch (k->type) {
        case LUA_TNUMBER:
            k->cls = 0;
            k->isint = lua_isinteger(S, -1);
            if (k->isint) k->i = lua_tointeger(S, -1);
            else k->f = lua_tonumber(S, -1);
            break;
        case LUA_TSTRING: k->cls = 1; k->s = lua_tolstring(S, -1, &k->len); break;
        case LUA_TBOOLEAN: k->cls = 2; k->i = lua_toboolean(S, -1); break;
        default: k->cls = 3; break;
        }
        lua_pop(S, 1);
    }
    qsort(ke, (size_t)n, sizeof *ke, key_cmp);
    lua_createtable(S, (int)(n < 1000000 ? n : 0), 0); /* 5: keys in sorted order */
    for (lua_Integer i = 0; i < n; i++) {
        lua_rawgeti(S, 2, ke[i].pos);
        lua_rawseti(S, 5, i + 1);
    }
    lua_pushinteger(S, 0);
    lua_pushvalue(S, 3);
    lua_pushboolean(S, layered);
    lua_pushcclosure(S, pairs_iter, 4);
    lua_pushvalue(S, 1);
    lua_pushnil(S);
    return 3;
}

/* ---- JSON <-> Lua --------------------------------------------------------- */

/* A table marked as a JSON array: with the array metatable, or a proxy of
 * such a table. Raw: never runs code, allocates or raises. */
static int is_array(lua_State *S, int idx)
{
    if (!lua_getmetatable(S, idx)) return 0;
    lua_rawgetp(S, LUA_REGISTRYINDEX, &array_mt_key);
    int r = lua_rawequal(S, -1, -2);
    if (!r) {
        lua_rawgeti(S, -2, 1);
        if (lua_touserdata(S, -1) == LUD(&frozen_mark)) {
            lua_rawgeti(S, -3, 2);
            int has = lua_getmetatable(S, -1);
            r = has && lua_rawequal(S, -1, -4);
            lua_pop(S, has ? 2 : 1);
        }
        lua_pop(S, 1);
    }
    lua_pop(S, 2);
    return r;
}

static void push_json(lua_State *S, json_t *v, int frozen);

void std_lua_push_json(lua_State *S, json_t *v) { push_json(S, v, 0); }

/* A value the engine hands to a chunk: tables are read-only proxies. */
static void push_json_frozen(lua_State *S, json_t *v) { push_json(S, v, 1); }

static void push_json(lua_State *S, json_t *v, int frozen)
{
    luaL_checkstack(S, 8, "JSON nested too deeply");
    if (!v) {
        lua_pushnil(S);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        size_t kl;
        json_t *x;
        lua_createtable(S, 0, (int)json_object_size(v));
        json_object_keylen_foreach(v, k, kl, x) {
            lua_pushlstring(S, k, kl);
            push_json(S, x, frozen);
            lua_rawset(S, -3);
        }
        if (frozen) freeze_top(S, FROZEN_VALUE);
        break;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        lua_createtable(S, (int)n, 0);
        if (lua_rawgetp(S, LUA_REGISTRYINDEX, &array_mt_key) == LUA_TTABLE) lua_setmetatable(S, -2);
        else lua_pop(S, 1);
        for (size_t i = 0; i < n; i++) {
            push_json(S, json_array_get(v, i), frozen);
            lua_rawseti(S, -2, (lua_Integer)i + 1);
        }
        if (frozen) freeze_top(S, FROZEN_VALUE);
        break;
    }
    case JSON_STRING: lua_pushlstring(S, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lua_pushinteger(S, (lua_Integer)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(S, (lua_Number)json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(S, 1); break;
    case JSON_FALSE: lua_pushboolean(S, 0); break;
    case JSON_NULL: lua_pushlightuserdata(S, LUD(&json_null_obj)); break;
    }
}

/* Lua -> JSON never raises a Lua error (no Lua allocation: cycles are found
 * with a C array of open tables, number keys are formatted in C), so the VM
 * may call it outside lua_pcall. */
typedef struct tj {
    const void *open[JSON_MAX_DEPTH];
    int depth;
    char where[256]; /* path of the failing value, built while unwinding */
} tj;

static void where_prepend(tj *c, const char *seg)
{
    size_t sl = strlen(seg), wl = strlen(c->where);
    if (sl >= sizeof c->where) return;
    if (sl + wl >= sizeof c->where) wl = sizeof c->where - 1 - sl;
    memmove(c->where + sl, c->where, wl);
    memcpy(c->where, seg, sl);
    c->where[sl + wl] = 0;
}

static void where_key(tj *c, const char *k, size_t kl)
{
    char seg[64];
    int ident = kl > 0 && kl <= 40 && !(k[0] >= '0' && k[0] <= '9');
    for (size_t i = 0; ident && i < kl; i++) {
        char ch = k[i];
        ident = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
    }
    if (ident) snprintf(seg, sizeof seg, ".%.*s", (int)kl, k);
    else snprintf(seg, sizeof seg, "[\"%.*s\"]", (int)(kl > 40 ? 40 : kl), k);
    where_prepend(c, seg);
}

static json_t *tj_value(lua_State *S, int idx, tj *c, std_err *e);

typedef struct kv {
    char *k;
    size_t len;
    json_t *v;
} kv;

static int kv_cmp(const void *pa, const void *pb)
{
    const kv *a = pa, *b = pb;
    int r = memcmp(a->k, b->k, a->len < b->len ? a->len : b->len);
    if (r) return r;
    return a->len < b->len ? -1 : a->len > b->len;
}

static json_t *tj_array(lua_State *S, int idx, lua_Integer n, tj *c, std_err *e)
{
    json_t *a = json_array();
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(S, idx, i);
        json_t *v = tj_value(S, -1, c, e);
        lua_pop(S, 1);
        if (!v) {
            char seg[32];
            snprintf(seg, sizeof seg, "[%lld]", (long long)i);
            where_prepend(c, seg);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, v);
    }
    return a;
}

/* An object with keys inserted in byte order, so that dumping it is
 * deterministic even without JSON_SORT_KEYS. */
static json_t *tj_object(lua_State *S, int idx, tj *c, std_err *e)
{
    kv *items = NULL;
    size_t m = 0, cap = 0;
    json_t *o = NULL;
    int top = lua_gettop(S), base = top + 1, li = 0;
    int nl = push_layers(S, idx); /* a layered table is seen merged */
    if (!nl) {
        std_errf(e, "lua", "cannot convert to JSON: out of Lua stack");
        return NULL;
    }
    lua_pushnil(S);
    while (view_next(S, base, nl, &li)) {
        char num[32];
        const char *k;
        size_t kl;
        int kt = lua_type(S, -2);
        if (kt == LUA_TSTRING) {
            k = lua_tolstring(S, -2, &kl);
        } else if (kt == LUA_TNUMBER && lua_isinteger(S, -2)) {
            kl = (size_t)snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(S, -2));
            k = num;
        } else {
            std_errf(e, "lua", "cannot convert a table with a %s key to JSON (keys must be strings or integers)",
                     kt == LUA_TNUMBER ? "non-integer number" : lua_typename(S, kt));
            goto fail;
        }
        json_t *v = tj_value(S, -1, c, e);
        if (!v) {
            if (kt == LUA_TSTRING) where_key(c, k, kl);
            else {
                char seg[40];
                snprintf(seg, sizeof seg, "[%s]", num);
                where_prepend(c, seg);
            }
            goto fail;
        }
        if (m == cap) {
            cap = cap ? cap * 2 : 8;
            items = xrealloc(items, cap * sizeof *items);
        }
        items[m].k = xrealloc(NULL, kl + 1);
        memcpy(items[m].k, k, kl);
        items[m].k[kl] = 0;
        items[m].len = kl;
        items[m].v = v;
        m++;
        lua_pop(S, 1);
    }
    lua_settop(S, top);
    if (m) qsort(items, m, sizeof *items, kv_cmp);
    for (size_t i = 1; i < m; i++) {
        if (kv_cmp(&items[i - 1], &items[i]) == 0) {
            std_errf(e, "lua", "cannot convert to JSON: key \"%.100s\" appears both as a string and as an integer",
                     items[i].k);
            goto fail;
        }
    }
    o = json_object();
    for (size_t i = 0; i < m; i++) {
        json_t *v = items[i].v;
        items[i].v = NULL;
        if (json_object_setn_new(o, items[i].k, items[i].len, v) != 0) {
            std_errf(e, "lua", "cannot convert to JSON: a key is not valid UTF-8");
            json_decref(o);
            o = NULL;
            goto fail;
        }
    }
fail:
    lua_settop(S, top);
    for (size_t i = 0; i < m; i++) {
        free(items[i].k);
        json_decref(items[i].v);
    }
    free(items);
    return o;
}

static json_t *tj_table(lua_State *S, int idx, tj *c, std_err *e)
{
    const void *p = lua_topointer(S, idx);
    for (int i = 0; i < c->depth; i++)
        if (c->open[i] == p) {
            std_errf(e, "lua", "cannot convert a table that contains itself to JSON");
            return NULL;
        }
    if (c->depth >= JSON_MAX_DEPTH) {
        std_errf(e, "lua", "cannot convert to JSON: nested deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    if (!lua_checkstack(S, 6)) {
        std_errf(e, "lua", "cannot convert to JSON: out of Lua stack");
        return NULL;
    }
    if (mark_of(S, idx) == &layer_mark) { /* merged with its parent layers: an object */
        c->open[c->depth++] = p;
        json_t *r = tj_object(S, idx, c, e);
        c->depth--;
        return r;
    }
    /* Classify: keys exactly 1..n make an array, as does the array metatable. */
    lua_Integer count = 0, maxk = 0;
    int seq = 1;
    lua_pushnil(S);
    while (lua_next(S, idx)) {
        lua_pop(S, 1);
        count++;
        if (lua_type(S, -1) == LUA_TNUMBER && lua_isinteger(S, -1)) {
            lua_Integer k = lua_tointeger(S, -1);
            if (k < 1) seq = 0;
            else if (k > maxk) maxk = k;
        } else {
            seq = 0;
        }
    }
    int marked = is_array(S, idx);
    if (marked && !(seq && maxk == count)) {
        if (!seq)
            std_errf(e, "lua", "cannot convert to JSON: an array has a key that is not a positive integer");
        else
            std_errf(e, "lua", "cannot convert to JSON: an array has holes (use json.null for missing values)");
        return NULL;
    }
    c->open[c->depth++] = p;
    json_t *r = (marked || (count > 0 && seq && maxk == count)) ? tj_array(S, idx, count, c, e)
                                                               : tj_object(S, idx, c, e);
    c->depth--;
    return r;
}

static json_t *tj_value(lua_State *S, int idx, tj *c, std_err *e)
{
    idx = lua_absindex(S, idx);
    int t = lua_type(S, idx);
    switch (t) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(S, idx));
    case LUA_TNUMBER: {
        if (lua_isinteger(S, idx)) return json_integer((json_int_t)lua_tointeger(S, idx));
        double d = (double)lua_tonumber(S, idx);
        if (isnan(d)) {
            std_errf(e, "lua", "cannot convert NaN to JSON");
            return NULL;
        }
        if (isinf(d)) {
            std_errf(e, "lua", "cannot convert %s to JSON", d > 0 ? "inf" : "-inf");
            return NULL;
        }
        return json_real(d);
    }
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(S, idx, &n);
        json_t *j = json_stringn(s, n);
        if (!j) std_errf(e, "lua", "cannot convert a string that is not valid UTF-8 to JSON");
        return j;
    }
    case LUA_TTABLE: {
        if (!lua_checkstack(S, 8)) {
            std_errf(e, "lua", "cannot convert to JSON: out of Lua stack");
            return NULL;
        }
        push_backing(S, idx); /* a proxy converts as its backing table */
        json_t *r = tj_table(S, lua_gettop(S), c, e);
        lua_pop(S, 1);
        return r;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(S, idx) == LUD(&json_null_obj)) return json_null();
        /* fall through */
    default:
        std_errf(e, "lua", "cannot convert a %s to JSON", lua_typename(S, t));
        return NULL;
    }
}

json_t *std_lua_to_json(lua_State *S, int idx, std_err *e)
{
    tj c;
    std_err local;
    if (!e) e = &local;
    c.depth = 0;
    c.where[0] = 0;
    json_t *j = tj_value(S, idx, &c, e);
    if (!j && c.where[0]) {
        char msg[sizeof e->msg];
        memcpy(msg, e->msg, sizeof msg);
        std_errf(e, "lua", "%.700s (at %.250s)", msg, c.where);
    }
    return j;
}

/* ---- the json table ------------------------------------------------------ */

/* A userdata that owns C-side JSON data while Lua may raise (memory errors),
 * so a longjmp never leaks it: __gc frees whatever is still attached. */
typedef struct jbox {
    json_t *j;
    char *s;
} jbox;

static int jbox_gc(lua_State *S)
{
    jbox *b = lua_touserdata(S, 1);
    if (b) {
        json_decref(b->j);
        free(b->s);
        b->j = NULL;
        b->s = NULL;
    }
    return 0;
}

static jbox *jbox_push(lua_State *S)
{
    jbox *b = lua_newuserdatauv(S, sizeof *b, 0);
    b->j = NULL;
    b->s = NULL;
    if (lua_rawgetp(S, LUA_REGISTRYINDEX, &box_mt_key) != LUA_TTABLE) {
        lua_pop(S, 1);
        lua_createtable(S, 0, 1);
        lua_pushcfunction(S, jbox_gc);
        lua_setfield(S, -2, "__gc");
        lua_pushvalue(S, -1);
        lua_rawsetp(S, LUA_REGISTRYINDEX, &box_mt_key);
    }
    lua_setmetatable(S, -2);
    return b;
}

/* Shortest of %.15g..%.17g that reads back exactly, always with a '.' or an
 * exponent so it stays a float (jansson prints 0.1 as 0.10000000000000001). */
static void fmt_real(double d, char *out, size_t n)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d) break;
    }
    if (!strpbrk(out, ".eEn")) strncat(out, ".0", n - strlen(out) - 1);
}

static void enc_string(std_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    std_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char u[8];
        const char *esc = NULL;
        switch (ch) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (ch < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", ch);
                esc = u;
            }
        }
        if (!esc) continue;
        std_buf_add(b, s + start, i - start);
        std_buf_adds(b, esc);
        start = i + 1;
    }
    std_buf_add(b, s + start, n - start);
    std_buf_add(b, "\"", 1);
}

/* Compact JSON with object keys in byte order. */
static void enc_value(std_buf *b, json_t *v)
{
    char num[40];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        kv *items = xrealloc(NULL, (n ? n : 1) * sizeof *items);
        const char *k;
        size_t kl;
        json_t *x;
        json_object_keylen_foreach(v, k, kl, x) {
            items[i].k = (char *)k;
            items[i].len = kl;
            items[i].v = x;
            i++;
        }
        qsort(items, n, sizeof *items, kv_cmp);
        std_buf_add(b, "{", 1);
        for (i = 0; i < n; i++) {
            if (i) std_buf_add(b, ",", 1);
            enc_string(b, items[i].k, items[i].len);
            std_buf_add(b, ":", 1);
            enc_value(b, items[i].v);
        }
        std_buf_add(b, "}", 1);
        free(items);
        break;
    }
    case JSON_ARRAY:
        std_buf_add(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) std_buf_add(b, ",", 1);
            enc_value(b, json_array_get(v, i));
        }
        std_buf_add(b, "]", 1);
        break;
    case JSON_STRING: enc_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: std_buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL:
        fmt_real(json_real_value(v), num, sizeof num);
        std_buf_adds(b, num);
        break;
    case JSON_TRUE: std_buf_adds(b, "true"); break;
    case JSON_FALSE: std_buf_adds(b, "false"); break;
    case JSON_NULL: std_buf_adds(b, "null"); break;
    }
}

static int sb_json_encode(lua_State *S)
{
    luaL_checkany(S, 1);
    lua_settop(S, 1);
    jbox *b = jbox_push(S);
    std_err e;
    b->j = std_lua_to_json(S, 1, &e);
    if (!b->j) return luaL_error(S, "json.encode: %s", e.msg);
    std_buf out = {0};
    enc_value(&out, b->j);
    b->s = out.p;
    charge(S, (double)out.len / SCAN_BYTES_PER_INSTR);
    lua_pushlstring(S, out.p, out.len);
    json_decref(b->j);
    free(b->s);
    b->j = NULL;
    b->s = NULL;
    return 1;
}

static int sb_json_decode(lua_State *S)
{
    size_t n;
    const char *s = luaL_checklstring(S, 1, &n);
    charge(S, (double)n / SCAN_BYTES_PER_INSTR);
    jbox *b = jbox_push(S);
    json_error_t err;
    b->j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!b->j)
        return luaL_error(S, "json.decode: %s (line %d, column %d)", err.text, err.line, err.column);
    std_lua_push_json(S, b->j);
    json_decref(b->j);
    b->j = NULL;
    return 1;
}

/* ---- time: pure functions over RFC 3339 times and Unix seconds --------- */

/* Argument i as ms since the epoch: an RFC 3339 string or Unix seconds. */
static int64_t time_arg(lua_State *S, int i, const char *fn)
{
    if (lua_type(S, i) == LUA_TNUMBER) {
        double d = lua_tonumber(S, i);
        if (!(d > -1e14 && d < 1e14)) luaL_error(S, "%s: time %f is out of range", fn, d);
        return (int64_t)floor(d * 1000 + 0.5);
    }
    int64_t ms = 0;
    const char *t = lua_type(S, i) == LUA_TSTRING ? lua_tostring(S, i) : NULL;
    if (!t || std_parse_time(t, &ms) != 0)
        luaL_error(S, "%s: expected an RFC 3339 time or Unix seconds, got %s%s%s", fn,
                   t ? "'" : luaL_typename(S, i), t ? t : "", t ? "'" : "");
    return ms;
}

/* time.format(t, fmt): strftime in UTC ("%Y-%m-%d" gives Airflow's ds). */
static int sb_time_format(lua_State *S)
{
    int64_t ms = time_arg(S, 1, "time.format");
    const char *fmt = luaL_checkstring(S, 2);
    if (strlen(fmt) > 200) return luaL_error(S, "time.format: the format is longer than 200 bytes");
    for (const char *q = fmt; *q; q++) /* only conversions with a fixed meaning in UTC */
        if (*q == '%' && !(q[1] && strchr("YmdHMSjaAbBuwyZzeIpF%T", q[1])))
            return luaL_error(S, "time.format: unsupported conversion %%%c", q[1] ? q[1] : ' ');
        else if (*q == '%')
            q++;
    time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&sec, &tm)) return luaL_error(S, "time.format: time out of range");
    char out[512];
    size_t n = strftime(out, sizeof out, fmt, &tm);
    lua_pushlstring(S, out, n);
    return 1;
}

/* time.add(t, seconds): the RFC 3339 time seconds later. */
static int sb_time_add(lua_State *S)
{
    int64_t ms = time_arg(S, 1, "time.add");
    double d = luaL_checknumber(S, 2);
    if (!(d > -1e12 && d < 1e12)) return luaL_error(S, "time.add: %f seconds is out of range", d);
    char out[40];
    std_fmt_time(ms + (int64_t)floor(d * 1000 + 0.5), out, sizeof out);
    lua_pushstring(S, out);
    return 1;
}

/* time.parse(t): Unix seconds (with milliseconds as a fraction). */
static int sb_time_parse(lua_State *S)
{
    int64_t ms = time_arg(S, 1, "time.parse");
    if (ms % 1000 == 0) lua_pushinteger(S, ms / 1000);
    else lua_pushnumber(S, (double)ms / 1000.0);
    return 1;
}

/* json.array([t]): mark t (or a new table) as a JSON array, so that an empty
 * table converts to [] instead of {}. */
static int sb_json_array(lua_State *S)
{
    if (lua_isnoneornil(S, 1)) {
        lua_settop(S, 0);
        lua_newtable(S);
    }
    luaL_checktype(S, 1, LUA_TTABLE);
    lua_settop(S, 1);
    if (is_array(S, 1)) return 1; /* already one (a given array's proxy too) */
    check_writable(S, 1, "json.array");
    if (lua_getmetatable(S, 1)) {
        if (!is_array(S, 1)) return luaL_error(S, "json.array: the table already has a metatable");
        lua_pop(S, 1);
    }
    lua_rawgetp(S, LUA_REGISTRYINDEX, &array_mt_key);
    lua_setmetatable(S, 1);
    return 1;
}

/* len(x): bytes of a string, elements of an array, keys of any other table. */
/* now(), uuid(), random(): values from the world, which the caller records
 * the first time and replays after (so an expression stays deterministic). */
static int sb_effect(lua_State *S)
{
    std_lua *L = host_of(S)->cur;
    const char *kind = lua_tostring(S, lua_upvalueindex(1));
    if (!L || !L->effect) return luaL_error(S, "%s() is not available here", kind);
    json_t *v = L->effect(L->effect_ud, kind);
    if (!v) return luaL_error(S, "%s() failed", kind);
    std_lua_push_json(S, v);
    json_decref(v);
    return 1;
}

static int sb_len(lua_State *S)
{
    switch (lua_type(S, 1)) {
    case LUA_TSTRING: lua_pushinteger(S, (lua_Integer)lua_rawlen(S, 1)); return 1;
    case LUA_TTABLE: {
        lua_settop(S, 1);
        if (is_array(S, 1)) {
            push_backing(S, 1);
            lua_pushinteger(S, (lua_Integer)lua_rawlen(S, 2));
            return 1;
        }
        int nl = push_layers(S, 1), li = 0; /* a layered table is seen merged */
        if (!nl) return luaL_error(S, "len: out of Lua stack");
        lua_Integer n = 0;
        lua_pushnil(S);
        while (view_next(S, 2, nl, &li)) {
            lua_pop(S, 1);
            n++;
        }
        charge(S, (double)n);
        lua_pushinteger(S, n);
        return 1;
    }
    default: return luaL_typeerror(S, 1, "string or table");
    }
}

/* Pushes a mutable deep copy of the value at idx (see sb_copy); seen is the
 * index of a table: original -> its copy, so shared tables stay shared and
 * cycles are kept. */
static void copy_value(lua_State *S, int idx, int seen, int depth)
{
    idx = lua_absindex(S, idx);
    if (lua_type(S, idx) != LUA_TTABLE) {
        lua_pushvalue(S, idx);
        return;
    }
    if (depth > JSON_MAX_DEPTH) luaL_error(S, "copy: nested deeper than %d levels", JSON_MAX_DEPTH);
    luaL_checkstack(S, 8, "copy: nested too deeply");
    lua_pushvalue(S, idx);
    if (lua_rawget(S, seen) == LUA_TTABLE) return;
    lua_pop(S, 1);
    lua_newtable(S);
    int out = lua_gettop(S);
    if (is_array(S, idx)) {
        lua_rawgetp(S, LUA_REGISTRYINDEX, &array_mt_key);
        lua_setmetatable(S, out);
    } else if (!mark_of(S, idx) && lua_getmetatable(S, idx)) { /* a chunk's own metatable is shared */
        lua_setmetatable(S, out);
    }
    lua_pushvalue(S, idx);
    lua_pushvalue(S, out);
    lua_rawset(S, seen);
    int nl = push_layers(S, idx), li = 0; /* a proxy's backing table, a layered table merged */
    if (!nl) luaL_error(S, "copy: out of Lua stack");
    lua_Integer n = 0;
    lua_pushnil(S);
    while (view_next(S, out + 1, nl, &li)) {
        if ((++n & 63) == 0) charge(S, 64);
        copy_value(S, -1, seen, depth + 1);
        lua_pushvalue(S, -3);
        lua_insert(S, -2);
        lua_rawset(S, out);
        lua_pop(S, 1);
    }
    charge(S, (double)(n & 63));
    lua_settop(S, out);
}

/* copy(v): a deep copy of v that the chunk may change; a value the engine
 * gave (read-only) comes back as plain tables, arrays keep their mark (an
 * empty one still converts to []). Non-table values are returned as they are. */
static int sb_copy(lua_State *S)
{
    luaL_checkany(S, 1);
    lua_settop(S, 1);
    lua_newtable(S);
    copy_value(S, 1, 2, 0);
    return 1;
}

/* ---- the state ----------------------------------------------------------- */

static void wrap(lua_State *S, int G, const char *lib, const char *fn, lua_CFunction w, int cost)
{
    int t = G;
    if (lib) {
        lua_getfield(S, G, lib);
        t = lua_gettop(S);
    }
    lua_getfield(S, t, fn);
    if (cost >= 0) {
        lua_pushinteger(S, cost);
        lua_pushcclosure(S, w, 2);
    } else {
        lua_pushcclosure(S, w, 1);
    }
    lua_setfield(S, t, fn);
    if (lib) lua_pop(S, 1);
}

static void remove_field(lua_State *S, int G, const char *lib, const char *fn)
{
    if (lib) lua_getfield(S, G, lib);
    else lua_pushvalue(S, G);
    lua_pushnil(S);
    lua_setfield(S, -2, fn);
    lua_pop(S, 1);
}

/* Runs under lua_pcall: builds the sandbox globals. */
static int sb_setup(lua_State *S)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {NULL, NULL}};
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(S, l->name, l->func, 1);
        lua_pop(S, 1);
    }
    lua_pushglobaltable(S);
    int G = lua_gettop(S);

    static const char *const removed[][2] = {
        {NULL, "dofile"},     {NULL, "loadfile"}, {NULL, "load"},      {NULL, "collectgarbage"},
        {NULL, "print"},      {NULL, "next"},     {NULL, "rawset"},    {NULL, "warn"},
        {"string", "dump"},   {"math", "random"}, {"math", "randomseed"}};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++)
        remove_field(S, G, removed[i][0], removed[i][1]);

    lua_pushcfunction(S, sb_pairs);
    lua_setfield(S, G, "pairs");
    lua_pushcfunction(S, sb_pcall);
    lua_setfield(S, G, "pcall");
    lua_pushcfunction(S, sb_xpcall);
    lua_setfield(S, G, "xpcall");
    lua_pushcfunction(S, sb_tostring);
    lua_setfield(S, G, "tostring");
    lua_pushcfunction(S, sb_len);
    lua_setfield(S, G, "len");
    lua_pushcfunction(S, sb_copy);
    lua_setfield(S, G, "copy");
    static const char *const effects[] = {"now", "uuid", "random"};
    for (size_t i = 0; i < 3; i++) {
        lua_pushstring(S, effects[i]);
        lua_pushcclosure(S, sb_effect, 1);
        lua_setfield(S, G, effects[i]);
    }
    wrap(S, G, NULL, "setmetatable", sb_setmetatable, -1);
    wrap(S, G, NULL, "rawget", sb_raw, -1);
    wrap(S, G, NULL, "rawlen", sb_raw, -1);
    wrap(S, G, "string", "format", sb_format, -1);

    static const struct { const char *lib, *fn; int cost; } charged[] = {
        {"string", "rep", COST_REP},      {"string", "find", COST_FIND},
        {"string", "match", COST_PATTERN}, {"string", "gmatch", COST_PATTERN},
        {"string", "gsub", COST_PATTERN}, {"string", "lower", COST_SCAN},
        {"string", "upper", COST_SCAN},   {"string", "reverse", COST_SCAN},
        {"utf8", "len", COST_SCAN},       {"table", "move", COST_MOVE},
        {"table", "concat", COST_CONCAT}, {"table", "unpack", COST_UNPACK},
        {"table", "insert", COST_INSERT}, {"table", "remove", COST_REMOVE},
        {"table", "sort", COST_SORT}};
    for (size_t i = 0; i < sizeof charged / sizeof charged[0]; i++)
        wrap(S, G, charged[i].lib, charged[i].fn, sb_charged, charged[i].cost);

    /* Protect the string metatable: getmetatable("") is false, so neither it
     * nor its __index can be reached to be changed. */
    lua_pushliteral(S, "");
    lua_getmetatable(S, -1);
    lua_pushboolean(S, 0);
    lua_setfield(S, -2, "__metatable");
    lua_pop(S, 2);

    /* The shared array metatable, protected so that scripts cannot alter it. */
    lua_createtable(S, 0, 1);
    lua_pushliteral(S, "json.array");
    lua_setfield(S, -2, "__metatable");
    lua_rawsetp(S, LUA_REGISTRYINDEX, &array_mt_key);

    static const luaL_Reg json_fns[] = {
        {"encode", sb_json_encode}, {"decode", sb_json_decode}, {"array", sb_json_array}, {NULL, NULL}};
    luaL_newlib(S, json_fns);
    lua_pushlightuserdata(S, LUD(&json_null_obj));
    lua_setfield(S, -2, "null");
    lua_setfield(S, G, "json");
    static const luaL_Reg time_fns[] = {
        {"format", sb_time_format}, {"add", sb_time_add}, {"parse", sb_time_parse}, {NULL, NULL}};
    luaL_newlib(S, time_fns);
    lua_setfield(S, G, "time");

    /* The library tables become read-only proxies shared by every context
     * (the string metatable keeps reading the original string table). */
    static const char *const lib_names[] = {"string", "table", "math", "utf8", "json", "time"};
    lua_newtable(S);
    int seen = lua_gettop(S);
    for (size_t i = 0; i < sizeof lib_names / sizeof lib_names[0]; i++) {
        lua_getfield(S, G, lib_names[i]);
        freeze_lib_top(S, seen, 0);
        lua_setfield(S, G, lib_names[i]);
    }
    lua_pop(S, 1);
    return 0;
}

static int sb_panic(lua_State *S)
{
    const char *m = lua_tostring(S, -1);
    fprintf(stderr, "wfdsl: unprotected Lua error: %s\n", m ? m : "?");
    abort();
}

std_lua_host *std_lua_host_new(const std_lua_limits *lim)
{
    std_lua_host *H = xrealloc(NULL, sizeof *H);
    memset(H, 0, sizeof *H);
    H->mem_limit = lim && lim->mem_bytes ? lim->mem_bytes : DEFAULT_MEM;
    H->heap_limit = lim && lim->heap_bytes ? lim->heap_bytes : DEFAULT_HEAP;
    if (H->heap_limit < H->mem_limit) H->heap_limit = H->mem_limit;
    H->instr_limit = lim && lim->instructions > 0 ? lim->instructions : DEFAULT_INSTRUCTIONS;
    H->S = lua_newstate(sb_alloc, H);
    if (!H->S) {
        free(H);
        return NULL;
    }
    lua_atpanic(H->S, sb_panic);
    lua_pushcfunction(H->S, sb_setup);
    int st = lua_pcall(H->S, 0, 0, 0);
    if (st == LUA_OK) {
        lua_newtable(H->S);
        H->cache_ref = luaL_ref(H->S, LUA_REGISTRYINDEX);
    }
    H->instr_used = 0;
    if (st != LUA_OK) {
        lua_close(H->S);
        free(H);
        return NULL;
    }
    lua_sethook(H->S, sb_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return H;
}

void std_lua_host_free(std_lua_host *H)
{
    if (!H) return;
    lua_close(H->S);
    free(H);
}

/* Runs under lua_pcall: a context's globals, a copy of the host's (whose
 * library tables are read-only proxies, shared), with _G a read-only view
 * of them. */
static int open_fn(lua_State *S)
{
    std_lua *L = lua_touserdata(S, 1);
    lua_pushglobaltable(S);
    int G = lua_gettop(S);
    lua_createtable(S, 0, 40);
    int env = lua_gettop(S);
    lua_pushnil(S);
    while (lua_next(S, G)) {
        lua_pushvalue(S, -2);
        lua_insert(S, -2);
        lua_rawset(S, env);
    }
    lua_pushvalue(S, env);
    freeze_top(S, FROZEN_GLOBALS);
    lua_setfield(S, env, "_G");
    lua_pushvalue(S, env);
    L->env_ref = luaL_ref(S, LUA_REGISTRYINDEX);
    lua_newtable(S);
    L->scopes_ref = luaL_ref(S, LUA_REGISTRYINDEX);
    return 0;
}

std_lua *std_lua_open(std_lua_host *H)
{
    std_lua *L = xrealloc(NULL, sizeof *L);
    memset(L, 0, sizeof *L);
    L->h = H;
    L->S = H->S;
    L->env_ref = L->child_mt_ref = L->call_mt_ref = L->scopes_ref = LUA_NOREF;
    begin_call(L);
    int top = lua_gettop(H->S);
    lua_pushcfunction(H->S, open_fn);
    lua_pushlightuserdata(H->S, L);
    int st = lua_pcall(H->S, 1, 0, 0);
    lua_settop(H->S, top);
    H->cur = NULL;
    if (st != LUA_OK) {
        luaL_unref(H->S, LUA_REGISTRYINDEX, L->env_ref);
        luaL_unref(H->S, LUA_REGISTRYINDEX, L->scopes_ref);
        free(L);
        return NULL;
    }
    H->contexts++;
    return L;
}

std_lua *std_lua_new(const std_lua_limits *lim)
{
    std_lua_host *H = std_lua_host_new(lim);
    if (!H) return NULL;
    std_lua *L = std_lua_open(H);
    if (!L) {
        std_lua_host_free(H);
        return NULL;
    }
    L->own_host = 1;
    return L;
}

static void unref_scope(lua_State *S, int scope);

void std_lua_free(std_lua *L)
{
    if (!L) return;
    std_lua_host *H = L->h;
    lua_State *S = H->S;
    if (L->own_host) {
        std_lua_host_free(H);
    } else {
        /* everything the context holds is in registry refs: drop them, the
         * collector does the rest */
        int top = lua_gettop(S);
        if (lua_rawgeti(S, LUA_REGISTRYINDEX, L->scopes_ref) == LUA_TTABLE) {
            int t = lua_gettop(S);
            lua_pushnil(S);
            while (lua_next(S, t)) {
                lua_pop(S, 1);
                unref_scope(S, (int)lua_tointeger(S, -1));
            }
        }
        lua_settop(S, top);
        for (size_t i = 0; i < L->nchunks; i++) {
            luaL_unref(S, LUA_REGISTRYINDEX, L->chunks[i].fn);
            luaL_unref(S, LUA_REGISTRYINDEX, L->chunks[i].factory);
        }
        luaL_unref(S, LUA_REGISTRYINDEX, L->scopes_ref);
        luaL_unref(S, LUA_REGISTRYINDEX, L->child_mt_ref);
        luaL_unref(S, LUA_REGISTRYINDEX, L->call_mt_ref);
        luaL_unref(S, LUA_REGISTRYINDEX, L->env_ref);
        if (H->cur == L) H->cur = NULL;
        H->contexts--;
    }
    free(L->chunks);
    free(L);
}

lua_State *std_lua_state(std_lua *L) { return L->S; }

/* form: WRAP_CHUNK, or an expression as `return (src)`: WRAP_EXPR closes it on
 * the source's last line, so that a runtime error is reported on the line of
 * the expression (Lua emits a field access when the `)` is read);
 * WRAP_EXPR_NL closes it on a line of its own, for a source whose last line
 * ends in a comment. */
enum { WRAP_CHUNK, WRAP_EXPR, WRAP_EXPR_NL };

static void wrap_source(std_buf *b, const char *src, int form)
{
    if (form != WRAP_CHUNK) std_buf_adds(b, "return (");
    std_buf_adds(b, src ? src : "");
    if (form == WRAP_EXPR) std_buf_adds(b, ")");
    if (form == WRAP_EXPR_NL) std_buf_adds(b, "\n)");
    if (!b->p) std_buf_add(b, "", 0);
}

typedef struct compile_args {
    const char *code, *chunk, *key;
    size_t len, keylen, flen;
    const char *fcode; /* the factory's text */
    int ref;
} compile_args;

/* Runs under lua_pcall: the factory of a chunk, from the host's cache or
 * compiled (after the chunk alone, so that errors read as the chunk's own). */
static int compile_fn(lua_State *S)
{
    compile_args *a = lua_touserdata(S, 1);
    std_lua_host *H = host_of(S);
    lua_rawgeti(S, LUA_REGISTRYINDEX, H->cache_ref);
    int cache = lua_gettop(S);
    lua_pushlstring(S, a->key, a->keylen);
    if (lua_rawget(S, cache) != LUA_TFUNCTION) {
        lua_pop(S, 1);
        if (!a->code) return 0; /* not cached: the caller builds the text */
        if (luaL_loadbufferx(S, a->code, a->len, a->chunk, "t") != LUA_OK) return lua_error(S);
        lua_pop(S, 1);
        if (luaL_loadbufferx(S, a->fcode, a->flen, a->chunk, "t") != LUA_OK) return lua_error(S);
        lua_pushlstring(S, a->key, a->keylen);
        lua_pushvalue(S, -2);
        lua_rawset(S, cache);
    }
    a->ref = luaL_ref(S, LUA_REGISTRYINDEX);
    return 0;
}

/* A table raised with a string `type`, error({type = "payment.declined",
 * message = "..."}), is a typed error: a type of 1 to 63 printable ASCII
 * bytes other than the engine's own `cancelled` and `terminated`. Its message
 * is `message`: a string as is, another value as JSON, "failed" without one.
 * Fills e and returns 1, or 0 (stack unchanged) when the table is not one. */
static int typed_error(lua_State *S, std_err *e)
{
    int top = lua_gettop(S) + 1, ok = 0;
    if (!lua_checkstack(S, 8)) return 0;
    push_backing(S, top - 1); /* error(err) of a caught error, given read-only */
    lua_pushliteral(S, "type");
    if (lua_rawget(S, top) != LUA_TSTRING) goto out;
    size_t n = 0;
    const char *t = lua_tolstring(S, -1, &n);
    if (n == 0 || n >= sizeof e->type || !strcmp(t, "cancelled") || !strcmp(t, "terminated")) goto out;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x20 || (unsigned char)t[i] > 0x7e) goto out;
    char type[sizeof e->type];
    memcpy(type, t, n + 1);
    lua_pushliteral(S, "message");
    int mt = lua_rawget(S, top);
    json_t *j = mt == LUA_TSTRING || mt == LUA_TNIL ? NULL : std_lua_to_json(S, -1, NULL);
    if (mt == LUA_TSTRING) {
        std_errf(e, type, "%s", lua_tostring(S, -1));
    } else if (j) {
        std_buf b = {0};
        enc_value(&b, j);
        std_errf(e, type, "%s", b.p);
        std_buf_free(&b);
    } else {
        std_errf(e, type, "failed");
    }
    json_decref(j);
    ok = 1;
out:
    lua_settop(S, top - 1);
    return ok;
}

/* Message of a failed call: limits first, then the error object. */
static int call_error(std_lua *L, int status, std_err *e)
{
    lua_State *S = L->S;
    std_lua_host *H = L->h;
    if (H->limit_hit == LIMIT_INSTR)
        return std_errf(e, "lua.limit", "instruction limit of %lld exceeded", H->instr_limit);
    if (H->limit_hit == LIMIT_MEM || status == LUA_ERRMEM) {
        if (H->limit_heap)
            return std_errf(e, "lua.limit", "memory limit of %zu bytes of all runs together exceeded", H->heap_limit);
        return std_errf(e, "lua.limit", "memory limit of %zu bytes exceeded", H->mem_limit);
    }
    switch (lua_type(S, -1)) {
    case LUA_TSTRING: return std_errf(e, "lua", "%s", lua_tostring(S, -1));
    case LUA_TNUMBER:
        if (lua_isinteger(S, -1)) return std_errf(e, "lua", "%lld", (long long)lua_tointeger(S, -1));
        return std_errf(e, "lua", "%.14g", (double)lua_tonumber(S, -1));
    case LUA_TTABLE: {
        if (typed_error(S, e)) return -1;
        json_t *j = std_lua_to_json(S, -1, NULL);
        if (j) {
            std_buf b = {0};
            enc_value(&b, j);
            json_decref(j);
            std_errf(e, "lua", "%s", b.p);
            std_buf_free(&b);
            return -1;
        }
    }
    /* fall through */
    default: return std_errf(e, "lua", "(error object is a %s value)", luaL_typename(S, -1));
    }
}

/* A chunk is cached in its host as a factory, compiled from
 *   local _ENV = ...; return function(...) <chunk> end
 * on one line before the chunk's own, and each context calls the factory with
 * its globals once (at the chunk's first call) to get its own closure, whose
 * _ENV is its own upvalue: a function a script keeps in a global reads that
 * run's globals, never another's. */
int std_lua_compile_at(std_lua *L, const char *name, int line, const char *src, int is_expr, std_err *e)
{
    lua_State *S = L->S;
    if (L->nchunks == L->capchunks) {
        L->capchunks = L->capchunks ? L->capchunks * 2 : 16;
        L->chunks = xrealloc(L->chunks, L->capchunks * sizeof *L->chunks);
    }
    if (!src) src = "";
    if (line < 1 || line > 1000000) line = 1;
    std_buf code = {0}, fcode = {0}, chunk = {0}, key = {0};
    /* "=name" makes Lua print the name verbatim; a caller may pass "=..." itself */
    if (name && (name[0] == '=' || name[0] == '@')) std_buf_adds(&chunk, name);
    else std_buf_addf(&chunk, "=%s", name && *name ? name : "lua");
    std_buf_addf(&key, "%d %d %s", is_expr, line, chunk.p);
    std_buf_add(&key, "", 1);
    std_buf_adds(&key, src);
    compile_args a = {NULL, chunk.p, key.p, 0, key.len, 0, NULL, LUA_NOREF};
    int top = lua_gettop(S);
    begin_call(L);
    lua_pushcfunction(S, compile_fn);
    lua_pushlightuserdata(S, &a);
    int st = lua_pcall(S, 1, 0, 0);
    if (st == LUA_OK && a.ref == LUA_NOREF) {
        int form = is_expr ? WRAP_EXPR : WRAP_CHUNK;
        for (;;) {
            std_buf pad = {0};
            for (int k = 1; k < line; k++) std_buf_add(&pad, "\n", 1);
            std_buf_adds(&pad, src);
            std_buf_reset(&code);
            std_buf_reset(&fcode);
            wrap_source(&code, pad.p ? pad.p : "", form);
            std_buf_free(&pad);
            std_buf_adds(&fcode, "local _ENV = ...; return function(...) ");
            std_buf_add(&fcode, code.p, code.len);
            std_buf_adds(&fcode, "\nend");
            a.code = code.p;
            a.len = code.len;
            a.fcode = fcode.p;
            a.flen = fcode.len;
            lua_settop(S, top);
            lua_pushcfunction(S, compile_fn);
            lua_pushlightuserdata(S, &a);
            st = lua_pcall(S, 1, 0, 0);
            if (st == LUA_OK || st == LUA_ERRMEM || form != WRAP_EXPR) break;
            form = WRAP_EXPR_NL; /* a comment at its end swallowed the `)` */
        }
    }
    int rc;
    if (st == LUA_OK) {
        ctx_chunk *c = &L->chunks[L->nchunks];
        c->factory = a.ref;
        c->fn = LUA_NOREF;
        c->has_env = 0;
        rc = (int)L->nchunks++;
    } else {
        rc = st == LUA_ERRMEM ? call_error(L, st, e) : std_errf(e, "lua", "%s", lua_tostring(S, -1));
    }
    lua_settop(S, top);
    L->h->cur = NULL;
    std_buf_free(&code);
    std_buf_free(&fcode);
    std_buf_free(&chunk);
    std_buf_free(&key);
    return rc;
}

int std_lua_compile(std_lua *L, const char *name, const char *src, int is_expr, std_err *e)
{
    return std_lua_compile_at(L, name, 1, src, is_expr, e);
}

/* ---- scopes and calls ---------------------------------------------------- */

/* Pushes the environment of scope (the context's globals for 0) and
 * returns 1, or pushes nothing and returns 0 when scope is not a live scope
 * id. Never raises. */
static int push_env(std_lua *L, int scope)
{
    lua_State *S = L->S;
    if (scope == 0) {
        lua_rawgeti(S, LUA_REGISTRYINDEX, L->env_ref);
        return 1;
    }
    if (scope < 0) return 0;
    if (lua_rawgeti(S, LUA_REGISTRYINDEX, scope) == LUA_TTABLE && mark_of(S, -1) == &scope_mark) return 1;
    lua_pop(S, 1);
    return 0;
}

/* Pushes the metatable of the children of scope `parent`, whose environment
 * is at index env: cached in the context (parent 0) or in child_mts. */
static void push_child_mt(std_lua *L, int parent, int env)
{
    lua_State *S = L->S;
    env = lua_absindex(S, env);
    if (parent == 0) {
        if (L->child_mt_ref != LUA_NOREF && lua_rawgeti(S, LUA_REGISTRYINDEX, L->child_mt_ref) == LUA_TTABLE) return;
        if (L->child_mt_ref != LUA_NOREF) lua_pop(S, 1);
    } else {
        if (lua_rawgetp(S, LUA_REGISTRYINDEX, &child_mts_key) != LUA_TTABLE) {
            lua_pop(S, 1);
            lua_newtable(S);
            lua_pushvalue(S, -1);
            lua_rawsetp(S, LUA_REGISTRYINDEX, &child_mts_key);
        }
        if (lua_rawgeti(S, -1, parent) == LUA_TTABLE) {
            lua_remove(S, -2);
            return;
        }
        lua_pop(S, 1); /* child_mts stays below the new metatable */
    }
    lua_createtable(S, 3, 3);
    lua_pushvalue(S, env);
    lua_setfield(S, -2, "__index");
    lua_pushvalue(S, env);
    lua_setfield(S, -2, "__newindex"); /* new names become globals, as at top level */
    lua_pushboolean(S, 0);
    lua_setfield(S, -2, "__metatable");
    lua_pushlightuserdata(S, LUD(&scope_mark));
    lua_rawseti(S, -2, MT_MARK);
    lua_pushvalue(S, env);
    lua_rawseti(S, -2, MT_PARENT);
    lua_pushvalue(S, -1);
    if (parent == 0) {
        L->child_mt_ref = luaL_ref(S, LUA_REGISTRYINDEX);
    } else {
        lua_rawseti(S, -3, parent);
        lua_remove(S, -2);
    }
}

/* Pushes the metatable of the layered tables named `name` of the scope at
 * index env (shared by the children of its parent, cached in their
 * metatable). */
static void push_layer_mt(lua_State *S, int env, const char *name)
{
    lua_getmetatable(S, env); /* the scope metatable */
    int smt = lua_gettop(S);
    if (lua_rawgeti(S, smt, MT_EXTRA) != LUA_TTABLE) {
        lua_pop(S, 1);
        lua_newtable(S);
        lua_pushvalue(S, -1);
        lua_rawseti(S, smt, MT_EXTRA);
    }
    lua_pushstring(S, name);
    if (lua_rawget(S, -2) != LUA_TTABLE) {
        lua_pop(S, 1);
        lua_createtable(S, 3, 2);
        lua_rawgeti(S, smt, MT_PARENT);
        lua_pushstring(S, name);
        lua_pushcclosure(S, layer_index, 2);
        lua_setfield(S, -2, "__index");
        lua_pushboolean(S, 0);
        lua_setfield(S, -2, "__metatable");
        lua_pushlightuserdata(S, LUD(&layer_mark));
        lua_rawseti(S, -2, MT_MARK);
        lua_rawgeti(S, smt, MT_PARENT);
        lua_rawseti(S, -2, MT_PARENT);
        lua_pushstring(S, name);
        lua_rawseti(S, -2, MT_EXTRA);
        lua_pushstring(S, name);
        lua_pushvalue(S, -2);
        lua_rawset(S, -4);
    }
    lua_replace(S, smt);
    lua_settop(S, smt);
}

/* Sets the _ENV of the closure at idx to the table on top (popped). A chunk
 * that reads no global has no _ENV upvalue: nothing to set. */
static void set_env(lua_State *S, int idx)
{
    if (!lua_setupvalue(S, idx, 1)) lua_pop(S, 1);
}

/* Runs under lua_pcall: the context's closure of a chunk, from its factory. */
static int instantiate_fn(lua_State *S)
{
    std_lua *L = lua_touserdata(S, 1);
    ctx_chunk *c = lua_touserdata(S, 2);
    lua_rawgeti(S, LUA_REGISTRYINDEX, c->factory);
    lua_rawgeti(S, LUA_REGISTRYINDEX, L->env_ref);
    lua_call(S, 1, 1);
    c->has_env = lua_getupvalue(S, -1, 1) != NULL; /* a chunk that names no global has no _ENV */
    lua_settop(S, 3);
    c->fn = luaL_ref(S, LUA_REGISTRYINDEX);
    return 0;
}

/* Pushes the metatable of the per-call environments over the environment at
 * idx (the context's globals for scope 0, else scope's table), cached in the
 * context or in the scope's table under a light userdata key. */
static void push_call_mt(std_lua *L, int scope, int idx)
{
    lua_State *S = L->S;
    idx = lua_absindex(S, idx);
    if (scope == 0 && L->call_mt_ref != LUA_NOREF) {
        lua_rawgeti(S, LUA_REGISTRYINDEX, L->call_mt_ref);
        return;
    }
    if (scope != 0 && lua_rawgetp(S, idx, &call_mt_key) == LUA_TTABLE) return;
    if (scope != 0) lua_pop(S, 1);
    lua_createtable(S, 0, 2);
    lua_pushvalue(S, idx);
    lua_setfield(S, -2, "__index");
    lua_pushboolean(S, 0);
    lua_setfield(S, -2, "__metatable");
    lua_pushvalue(S, -1);
    if (scope == 0) L->call_mt_ref = luaL_ref(S, LUA_REGISTRYINDEX);
    else lua_rawsetp(S, idx, &call_mt_key);
}

/* Runs under lua_pcall: 1 the chunk's closure, 2 the context, 3 the scope,
 * 4 the scope's environment (or nil for a chunk without _ENV). The closure's
 * _ENV becomes a new table of this call alone that reads through to the
 * environment: globals the chunk assigns land there and are dropped with it. */
static int call_fn(lua_State *S)
{
    if (!lua_isnil(S, 4)) {
        std_lua *L = lua_touserdata(S, 2);
        lua_createtable(S, 0, 0);
        push_call_mt(L, (int)lua_tointeger(S, 3), 4);
        lua_setmetatable(S, -2);
        set_env(S, 1);
    }
    lua_settop(S, 1);
    lua_call(S, 0, 1);
    return 1;
}


int std_lua_call_in(std_lua *L, int handle, int scope, json_t **out, std_err *e)
{
    lua_State *S = L->S;
    std_lua_host *H = L->h;
    if (out) *out = NULL;
    if (handle < 0 || (size_t)handle >= L->nchunks)
        return std_errf(e, "lua", "invalid Lua chunk handle %d", handle);
    if (L->pending[0]) {
        std_errf(e, L->pending_type, "%s", L->pending);
        L->pending[0] = 0;
        return -1;
    }
    int top = lua_gettop(S);
    ctx_chunk *c = &L->chunks[handle];
    begin_call(L);
    int st = LUA_OK;
    if (c->fn == LUA_NOREF) {
        lua_pushcfunction(S, instantiate_fn);
        lua_pushlightuserdata(S, L);
        lua_pushlightuserdata(S, c);
        st = lua_pcall(S, 2, 0, 0);
    }
    if (st == LUA_OK) {
        lua_rawgeti(S, LUA_REGISTRYINDEX, c->fn); /* top+1: kept to reset _ENV after the call */
        lua_pushcfunction(S, call_fn);
        lua_pushvalue(S, top + 1);
        lua_pushlightuserdata(S, L);
        lua_pushinteger(S, scope);
        /* Any table is a safe environment, so on this hot path a table in
         * the registry slot is enough; scope ids come from std_lua_scope_new. */
        if (scope < 0 || lua_rawgeti(S, LUA_REGISTRYINDEX, scope ? scope : L->env_ref) != LUA_TTABLE) {
            lua_settop(S, top);
            H->cur = NULL;
            return std_errf(e, "lua", "invalid Lua scope %d", scope);
        }
        if (!c->has_env) {
            lua_pop(S, 1);
            lua_pushnil(S);
        }
        lua_sethook(S, sb_hook, LUA_MASKCOUNT, HOOK_EVERY); /* restart the count */
        st = lua_pcall(S, 4, 1, 0);
    }
    int rc = 0;
    if (st != LUA_OK) {
        rc = call_error(L, st, e);
    } else if (out) {
        *out = std_lua_to_json(S, -1, e);
        if (!*out) rc = -1;
    }
    if (c->has_env && lua_type(S, top + 1) == LUA_TFUNCTION) {
        /* back to the globals: the closure must not keep a call's table or a
         * freed scope alive */
        lua_rawgeti(S, LUA_REGISTRYINDEX, L->env_ref);
        set_env(S, top + 1);
    }
    lua_settop(S, top);
    if (H->limit_hit != LIMIT_NONE || st == LUA_ERRMEM) lua_gc(S, LUA_GCCOLLECT, 0);
    H->cur = NULL;
    return rc;
}

int std_lua_call(std_lua *L, int handle, json_t **out, std_err *e)
{
    return std_lua_call_in(L, handle, 0, out, e);
}

typedef struct set_args {
    std_lua *L;
    int scope; /* 0 = globals */
    const char *table, *key;
    json_t *v;
    int ref; /* std_lua_scope_new's result */
} set_args;

/* Runs under lua_pcall; raw accesses so that a metatable a script put on _G
 * cannot run code here. The scope was checked by the caller. */
static int set_fn(lua_State *S)
{
    set_args *a = lua_touserdata(S, 1);
    if (!push_env(a->L, a->scope)) return 0;
    int env = lua_gettop(S);
    if (a->table) {
        lua_pushstring(S, a->table);
        if (lua_rawget(S, env) != LUA_TTABLE) {
            lua_pop(S, 1);
            if (a->scope && !a->v) return 0; /* nothing of the scope's own to unset */
            lua_newtable(S);
            if (a->scope) {
                push_layer_mt(S, env, a->table);
                lua_setmetatable(S, -2);
            }
            lua_pushvalue(S, -1);
            freeze_top(S, FROZEN_VALUE);
            lua_pushstring(S, a->table);
            lua_insert(S, -2);
            lua_rawset(S, env);
        } else {
            push_backing(S, -1); /* the engine writes into a proxy's backing table */
            lua_remove(S, -2);
        }
    }
    lua_pushstring(S, a->key);
    if (a->v) push_json_frozen(S, a->v);
    else lua_pushnil(S);
    lua_rawset(S, -3);
    return 0;
}

static int scope_new_fn(lua_State *S)
{
    set_args *a = lua_touserdata(S, 1);
    if (!push_env(a->L, a->scope)) return 0;
    push_child_mt(a->L, a->scope, -1);
    lua_createtable(S, 0, 4);
    lua_insert(S, -2);
    lua_setmetatable(S, -2);
    a->ref = luaL_ref(S, LUA_REGISTRYINDEX);
    lua_rawgeti(S, LUA_REGISTRYINDEX, a->L->scopes_ref); /* the context's list, for std_lua_free */
    lua_pushboolean(S, 1);
    lua_rawseti(S, -2, a->ref);
    return 0;
}

/* Drops a scope id and the cached metatable of its children; allocates
 * nothing, so it needs no protection. */
static void unref_scope(lua_State *S, int scope)
{
    int top = lua_gettop(S);
    if (lua_rawgetp(S, LUA_REGISTRYINDEX, &child_mts_key) == LUA_TTABLE && lua_rawgeti(S, -1, scope) != LUA_TNIL) {
        lua_pushnil(S);
        lua_rawseti(S, -3, scope);
    }
    lua_settop(S, top);
    luaL_unref(S, LUA_REGISTRYINDEX, scope);
}

/* Runs fn(a) under lua_pcall after checking a->scope; a failure is kept for
 * the next call to report, naming the operation. */
static void run_protected(std_lua *L, lua_CFunction fn, set_args *a)
{
    lua_State *S = L->S;
    int top = lua_gettop(S);
    int st = LUA_OK, live = push_env(L, a->scope);
    lua_settop(S, top);
    if (live) {
        begin_call(L);
        lua_pushcfunction(S, fn);
        lua_pushlightuserdata(S, a);
        st = lua_pcall(S, 1, 0, 0);
    }
    if (st != LUA_OK && fn == scope_new_fn && a->ref > 0) { /* not listed in the context: give it up */
        unref_scope(S, a->ref);
        a->ref = -1;
    }
    if ((!live || st != LUA_OK) && !L->pending[0]) {
        const char *m = live ? lua_tostring(S, -1) : NULL;
        if (!live) snprintf(L->pending, sizeof L->pending, "invalid Lua scope %d", a->scope);
        else if (st == LUA_ERRMEM) snprintf(L->pending, sizeof L->pending, "memory limit of %zu bytes exceeded", L->h->mem_limit);
        else snprintf(L->pending, sizeof L->pending, "%.150s", m ? m : "error");
        snprintf(L->pending_type, sizeof L->pending_type, "%s", st == LUA_ERRMEM ? "lua.limit" : "lua");
        size_t n = strlen(L->pending);
        if (fn == scope_new_fn)
            snprintf(L->pending + n, sizeof L->pending - n, " while creating a scope");
        else
            snprintf(L->pending + n, sizeof L->pending - n, " while setting %.40s%s%.40s", a->table ? a->table : "",
                     a->table ? "." : "", a->key);
    }
    lua_settop(S, top);
    L->h->cur = NULL;
}

static void set_value(std_lua *L, int scope, const char *table, const char *key, json_t *v)
{
    set_args a = {L, scope, table, key, v, -1};
    run_protected(L, set_fn, &a);
}

void std_lua_set_global(std_lua *L, const char *name, json_t *v) { set_value(L, 0, NULL, name, v); }

void std_lua_set_field(std_lua *L, const char *table, const char *key, json_t *v)
{
    set_value(L, 0, table, key, v);
}

void std_lua_scope_set(std_lua *L, int scope, const char *name, json_t *v)
{
    set_value(L, scope, NULL, name, v);
}

void std_lua_scope_set_field(std_lua *L, int scope, const char *table, const char *key, json_t *v)
{
    set_value(L, scope, table, key, v);
}

int std_lua_scope_new(std_lua *L, int parent)
{
    set_args a = {L, parent, NULL, NULL, NULL, -1};
    run_protected(L, scope_new_fn, &a);
    return a.ref > 0 ? a.ref : -1;
}

void std_lua_scope_free(std_lua *L, int scope)
{
    lua_State *S = L->S;
    if (scope <= 0) return;
    int top = lua_gettop(S);
    int live = push_env(L, scope);
    lua_settop(S, top);
    if (!live) return;
    if (lua_rawgeti(S, LUA_REGISTRYINDEX, L->scopes_ref) == LUA_TTABLE) {
        lua_pushnil(S);
        lua_rawseti(S, -2, scope);
    }
    lua_settop(S, top);
    unref_scope(S, scope);
}

/* ---- syntax check --------------------------------------------------------- */

int std_lua_syntax(const char *src, int is_expr, std_err *e)
{
    std_buf code = {0};
    wrap_source(&code, src, is_expr ? WRAP_EXPR_NL : WRAP_CHUNK);
    lua_State *S = luaL_newstate();
    if (!S) {
        std_buf_free(&code);
        return std_errf(e, "lua", "out of memory");
    }
    int rc = 0;
    if (luaL_loadbufferx(S, code.p, code.len, "=lua", "t") != LUA_OK) {
        const char *m = lua_tostring(S, -1);
        int line = 0;
        if (m && strncmp(m, "lua:", 4) == 0) {
            char *end;
            long l = strtol(m + 4, &end, 10);
            if (end > m + 4 && *end == ':') {
                line = (int)l;
                m = end + 1;
                while (*m == ' ') m++;
            }
        }
        int nlines = 1;
        for (const char *p = src ? src : ""; *p; p++) nlines += *p == '\n';
        if (line > nlines) { /* at the closing wrapper of an expression */
            line = nlines;
            if (m && strcmp(m, "unexpected symbol near ')'") == 0) m = "unexpected end of expression";
        }
        rc = std_errf(e, "lua", "%s", m ? m : "syntax error");
        if (e) e->line = line;
    }
    lua_close(S);
    std_buf_free(&code);
    return rc;
}

/* ---- free names ------------------------------------------------------------ */

enum { LT_EOF, LT_NAME, LT_KW, LT_NUM, LT_STR, LT_OP };

typedef struct ltok {
    const char *s;
    size_t len;
    int line, kind;
    int notref; /* declared here, a field, a key, a label... */
} ltok;

static const char *const lua_keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while"};

static int name_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int name_char(int c) { return name_start(c) || (c >= '0' && c <= '9'); }

static int is_keyword(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof lua_keywords / sizeof lua_keywords[0]; i++)
        if (strlen(lua_keywords[i]) == n && memcmp(lua_keywords[i], s, n) == 0) return 1;
    return 0;
}

/* Level of a long bracket "[==[" at p, or -1. */
static int long_open(const char *p)
{
    int lvl = 0;
    for (p++; *p == '='; p++) lvl++;
    return *p == '[' ? lvl : -1;
}

static const char *skip_long(const char *p, int lvl, int *line)
{
    for (p += lvl + 2; *p; p++) {
        if (*p == '\n') {
            (*line)++;
        } else if (*p == ']') {
            const char *q = p + 1;
            int l = 0;
            while (*q == '=') q++, l++;
            if (l == lvl && *q == ']') return q + 1;
        }
    }
    return p;
}

static ltok *lex(const char *p, size_t *n)
{
    static const char *const ops[] = {"...", "..", "==", "~=", "<=", ">=", "//", "::", "<<", ">>"};
    ltok *t = NULL;
    size_t nt = 0, cap = 0;
    int line = 1;
    for (;;) {
        /* whitespace and comments */
        for (;;) {
            if (*p == '\n') line++, p++;
            else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v') p++;
            else if (p[0] == '-' && p[1] == '-') {
                int lvl = p[2] == '[' ? long_open(p + 2) : -1;
                if (lvl >= 0) p = skip_long(p + 2, lvl, &line);
                else while (*p && *p != '\n') p++;
            } else break;
        }
        if (nt == cap) {
            cap = cap ? cap * 2 : 64;
            t = xrealloc(t, cap * sizeof *t);
        }
        ltok *k = &t[nt++];
        k->s = p;
        k->line = line;
        k->notref = 0;
        if (!*p) {
            k->kind = LT_EOF;
            k->len = 0;
            break;
        }
        unsigned char c = (unsigned char)*p;
        if (name_start(c)) {
            while (name_char((unsigned char)*p)) p++;
            k->kind = is_keyword(k->s, (size_t)(p - k->s)) ? LT_KW : LT_NAME;
        } else if ((c >= '0' && c <= '9') || (c == '.' && p[1] >= '0' && p[1] <= '9')) {
            const char *expo = "Ee";
            if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) p += 2, expo = "Pp";
            for (;;) {
                if (*p && strchr(expo, *p) && (p[1] == '+' || p[1] == '-')) p += 2;
                else if (name_char((unsigned char)*p) || *p == '.') p++;
                else break;
            }
            k->kind = LT_NUM;
        } else if (c == '"' || c == '\'') {
            for (p++; *p && *p != (char)c; p++) {
                if (*p == '\n') line++;
                if (*p == '\\' && p[1]) {
                    p++;
                    if (*p == '\n') line++;
                }
            }
            if (*p) p++;
            k->kind = LT_STR;
        } else if (c == '[' && long_open(p) >= 0) {
            p = skip_long(p, long_open(p), &line);
            k->kind = LT_STR;
        } else {
            size_t len = 1;
            for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
                if (strncmp(p, ops[i], strlen(ops[i])) == 0) {
                    len = strlen(ops[i]);
                    break;
                }
            p += len;
            k->kind = LT_OP;
        }
        k->len = (size_t)(p - k->s);
    }
    *n = nt;
    return t;
}

static int tok_is(const ltok *k, const char *s)
{
    return (k->kind == LT_OP || k->kind == LT_KW) && k->len == strlen(s) && memcmp(k->s, s, k->len) == 0;
}

typedef struct nameset {
    const ltok **v;
    size_t n, cap;
} nameset;

static int nameset_has(const nameset *d, const char *s, size_t len)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i]->len == len && memcmp(d->v[i]->s, s, len) == 0) return 1;
    return 0;
}

static void nameset_add(nameset *d, const ltok *k)
{
    if (nameset_has(d, k->s, k->len)) return;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = xrealloc(d->v, d->cap * sizeof *d->v);
    }
    d->v[d->n++] = k;
}

static void declare(nameset *d, ltok *k)
{
    k->notref = 1;
    nameset_add(d, k);
}

/* Pass 1: locals, parameters, loop variables, global functions, labels. */
static void mark_declarations(ltok *t, size_t nt, nameset *decl, const ltok *self)
{
    for (size_t i = 0; i + 1 < nt; i++) {
        if (tok_is(&t[i], "local")) {
            size_t j = i + 1;
            if (tok_is(&t[j], "function")) continue; /* the function case declares it */
            while (t[j].kind == LT_NAME) {
                declare(decl, &t[j++]);
                if (tok_is(&t[j], "<") && t[j + 1].kind == LT_NAME && tok_is(&t[j + 2], ">")) {
                    t[j + 1].notref = 1; /* attribute: <const>, <close> */
                    j += 3;
                }
                if (!tok_is(&t[j], ",")) break;
                j++;
            }
        } else if (tok_is(&t[i], "function")) {
            size_t j = i + 1;
            if (t[j].kind == LT_NAME) {
                if (tok_is(&t[j + 1], ".") || tok_is(&t[j + 1], ":")) {
                    /* function a.b:c() reads a; a method gets an implicit self */
                    j++;
                    while ((tok_is(&t[j], ".") || tok_is(&t[j], ":")) && t[j + 1].kind == LT_NAME) {
                        if (tok_is(&t[j], ":")) nameset_add(decl, self);
                        j += 2;
                    }
                } else {
                    declare(decl, &t[j++]);
                }
            }
            if (tok_is(&t[j], "("))
                for (j++; j < nt && !tok_is(&t[j], ")") && t[j].kind != LT_EOF; j++)
                    if (t[j].kind == LT_NAME) declare(decl, &t[j]);
        } else if (tok_is(&t[i], "for")) {
            for (size_t j = i + 1; t[j].kind == LT_NAME; j += 2) {
                declare(decl, &t[j]);
                if (!tok_is(&t[j + 1], ",")) break;
            }
        } else if (tok_is(&t[i], "goto")) {
            if (t[i + 1].kind == LT_NAME) t[i + 1].notref = 1;
        } else if (tok_is(&t[i], "::")) {
            if (t[i + 1].kind == LT_NAME && tok_is(&t[i + 2], "::")) {
                t[i + 1].notref = 1;
                i += 2;
            }
        }
    }
}

/* Pass 2: fields after '.'/':', table-constructor keys and assignment
 * targets, with a stack of brackets and blocks to tell `{ k = v }` from
 * `k = v` inside a function body. */
static void mark_fields_keys_targets(ltok *t, size_t nt, nameset *decl)
{
    char *stack = xrealloc(NULL, nt + 1);
    size_t sp = 0;
    for (size_t i = 0; i + 1 < nt; i++) {
        ltok *k = &t[i];
        if (k->kind == LT_OP) {
            if (tok_is(k, "{") || tok_is(k, "(") || tok_is(k, "[")) stack[sp++] = k->s[0];
            else if ((tok_is(k, "}") || tok_is(k, ")") || tok_is(k, "]")) && sp) sp--;
            continue;
        }
        if (k->kind == LT_KW) {
            if (tok_is(k, "function") || tok_is(k, "do") || tok_is(k, "then") || tok_is(k, "repeat"))
                stack[sp++] = 'B';
            else if ((tok_is(k, "end") || tok_is(k, "until") || tok_is(k, "elseif")) && sp)
                sp--;
            continue;
        }
        if (k->kind != LT_NAME || k->notref) continue;
        const ltok *prev = i ? &t[i - 1] : NULL;
        if (prev && (tok_is(prev, ".") || tok_is(prev, ":"))) {
            k->notref = 1;
            continue;
        }
        char top = sp ? stack[sp - 1] : 'B';
        if (top == '{') {
            if (tok_is(&t[i + 1], "=") && prev &&
                (tok_is(prev, "{") || tok_is(prev, ",") || tok_is(prev, ";")))
                k->notref = 1;
            continue;
        }
        if (top != 'B') continue;
        size_t j = i + 1;
        while (tok_is(&t[j], ",") && t[j + 1].kind == LT_NAME && !t[j + 1].notref) j += 2;
        if (tok_is(&t[j], "="))
            for (size_t m = i; m < j; m += 2) declare(decl, &t[m]);
    }
    free(stack);
}

int std_lua_free_names(const char *src, char ***names, int **lines, size_t *n)
{
    static const ltok self = {"self", 4, 0, LT_NAME, 1};
    size_t nt;
    ltok *t = lex(src ? src : "", &nt);
    nameset decl = {0}, out = {0};
    mark_declarations(t, nt, &decl, &self);
    mark_fields_keys_targets(t, nt, &decl);
    for (size_t i = 0; i < nt; i++)
        if (t[i].kind == LT_NAME && !t[i].notref && !nameset_has(&decl, t[i].s, t[i].len))
            nameset_add(&out, &t[i]);
    *names = out.n ? xrealloc(NULL, out.n * sizeof **names) : NULL;
    if (lines) *lines = out.n ? xrealloc(NULL, out.n * sizeof **lines) : NULL;
    for (size_t i = 0; i < out.n; i++) {
        (*names)[i] = xrealloc(NULL, out.v[i]->len + 1);
        memcpy((*names)[i], out.v[i]->s, out.v[i]->len);
        (*names)[i][out.v[i]->len] = 0;
        if (lines) (*lines)[i] = out.v[i]->line;
    }
    *n = out.n;
    free(decl.v);
    free(out.v);
    free(t);
    return 0;
}

void std_lua_names_free(char **names, int *lines, size_t n)
{
    for (size_t i = 0; names && i < n; i++) free(names[i]);
    free(names);
    free(lines);
}

void std_lua_set_effects(std_lua *L, std_lua_effect_fn fn, void *ud)
{
    L->effect = fn;
    L->effect_ud = ud;
}

int std_lua_is_builtin(const char *name)
{
    static const char *const builtins[] = {
        "now", "uuid", "random",
        "string", "table",  "math",     "utf8",         "tostring",     "tonumber",
        "type",   "pairs",  "ipairs",   "select",       "error",        "assert",
        "pcall",  "xpcall", "setmetatable", "getmetatable", "rawget", "rawequal",
        "rawlen", "json",   "len",      "time",         "_VERSION",     "_G",
        "copy"};
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(name, builtins[i]) == 0) return 1;
    return 0;
}

typedef struct lib_args {
    std_lua *L;
    const char *name, *src;
} lib_args;

/* Runs under lua_pcall: the library's factory (cached in the host by the
 * address of its text, which is a constant of the program), called with the
 * context's globals; the result becomes the global `name`. */
static int lib_fn(lua_State *S)
{
    lib_args *a = lua_touserdata(S, 1);
    std_lua_host *H = host_of(S);
    lua_rawgeti(S, LUA_REGISTRYINDEX, H->cache_ref);
    lua_pushfstring(S, "lib %s %p", a->name, (const void *)a->src);
    if (lua_rawget(S, -2) != LUA_TFUNCTION) {
        lua_pop(S, 1);
        luaL_Buffer b;
        luaL_buffinit(S, &b);
        luaL_addstring(&b, "local _ENV = ...; ");
        luaL_addstring(&b, a->src);
        luaL_pushresult(&b);
        size_t n;
        const char *code = lua_tolstring(S, -1, &n);
        lua_pushfstring(S, "=%s", a->name);
        if (luaL_loadbufferx(S, code, n, lua_tostring(S, -1), "t") != LUA_OK) return lua_error(S);
        lua_pushfstring(S, "lib %s %p", a->name, (const void *)a->src);
        lua_pushvalue(S, -2);
        lua_rawset(S, -6);
    }
    lua_rawgeti(S, LUA_REGISTRYINDEX, a->L->env_ref);
    int env = lua_gettop(S);
    lua_pushvalue(S, env - 1);
    lua_pushvalue(S, env);
    lua_call(S, 1, 1);
    if (lua_type(S, -1) == LUA_TTABLE) { /* read-only, as the library tables */
        lua_newtable(S);
        lua_insert(S, -2);
        freeze_lib_top(S, lua_gettop(S) - 1, 0);
    }
    lua_setfield(S, env, a->name);
    return 0;
}

int std_lua_load_lib(std_lua *L, const char *name, const char *src, std_err *e)
{
    lua_State *S = L->S;
    int top = lua_gettop(S);
    lib_args a = {L, name, src};
    begin_call(L);
    lua_pushcfunction(S, lib_fn);
    lua_pushlightuserdata(S, &a);
    int rc = 0;
    if (lua_pcall(S, 1, 0, 0) != LUA_OK) {
        const char *m = lua_tostring(S, -1);
        std_errf(e, "lua", "library %s: %s", name, m ? m : "error");
        rc = -1;
    }
    lua_settop(S, top);
    L->h->cur = NULL;
    return rc;
}
