/* lua.h — the Lua 5.4 sandbox in which expressions and `lua` steps run.
 *
 * A host is one lua_State with the sandbox library, shared by the runs of an
 * engine; each run is a context (std_lua) in it with its own globals (a copy
 * of the library's, library tables copied too), its own closures of the
 * chunks (compiled once per host) and its own scopes, so that nothing one
 * run's scripts do is seen by another. std_lua_new makes a context with a
 * host of its own. The sandbox has no io, os, require, package, debug, load of
 * binary chunks, dofile/loadfile, collectgarbage or print; `pairs` visits
 * keys in a deterministic order (integers ascending, then strings in byte
 * order, then others) and `next` is removed, because Lua randomises its
 * string hash seed. Calls are bounded by an instruction count and the state
 * by a memory limit on what the heap grows during one call, and on the whole
 * heap of the host; either limit fails the call with error type "lua.limit"
 * and the state stays usable.
 *
 * Values cross the boundary as jansson json_t: JSON null is the light
 * userdata `json.null`; arrays become tables marked with an array metatable
 * so that an empty array stays an array on the way back. Values the engine
 * sets (set_global, set_field, scope_set...) are read-only at any depth, and
 * so are the library tables and `_G`: a chunk that changes one fails with a
 * "lua" error; `copy(v)` gives a copy it may change. The globals a chunk
 * assigns land in a table of that call alone. So nothing a chunk does
 * outlives its call except its result, which the VM records.
 *
 * It does not know about steps, history or replay: the VM decides what to
 * evaluate and records what must be recorded.
 */
#ifndef WF_LUA_H
#define WF_LUA_H

#include <jansson.h>
#include "std.h"

typedef struct std_lua std_lua;
typedef struct std_lua_host std_lua_host;
typedef struct lua_State lua_State;

typedef struct std_lua_limits {
    size_t mem_bytes;        /* growth of the heap during one call; 0 = default 64 MiB */
    long long instructions;  /* per call; 0 = default 20 million */
    size_t heap_bytes;       /* the host's whole heap; 0 = default 4 GiB */
} std_lua_limits;

std_lua_host *std_lua_host_new(const std_lua_limits *lim);
/* Frees the host; its contexts must be freed before. */
void std_lua_host_free(std_lua_host *H);
/* A new context in H (NULL when out of memory). */
std_lua *std_lua_open(std_lua_host *H);
/* A context with a host of its own. */
std_lua *std_lua_new(const std_lua_limits *lim);
/* Frees a context: what it held is collected by the host's collector. */
void std_lua_free(std_lua *L);
lua_State *std_lua_state(std_lua *L);

/* Compile src (text only); is_expr wraps it as `return (src)`. name is used
 * in messages (e.g. "hello.yaml:12") and src is numbered from line (1 for
 * std_lua_compile). The host compiles each (name, line, src, is_expr) once;
 * a context makes its closure of it at its first call. Returns a handle >= 0
 * for std_lua_call, or -1 with type "lua" and Lua's message in e. */
int std_lua_compile(std_lua *L, const char *name, const char *src, int is_expr, std_err *e);
int std_lua_compile_at(std_lua *L, const char *name, int line, const char *src, int is_expr, std_err *e);

/* Run a compiled handle in the global environment (std_lua_call_in with
 * scope 0); *out gets its first result as JSON (nil becomes JSON null).
 * Errors: "lua" (runtime error, or a result that is not JSON-representable),
 * "lua.limit". */
int std_lua_call(std_lua *L, int handle, json_t **out, std_err *e);

/* Set a global of the environment (input, vars, run, steps, err...) to v;
 * v == NULL removes it. Set a field of a global table, creating the table:
 * std_lua_set_field(L, "steps", "greet", v). */
void std_lua_set_global(std_lua *L, const char *name, json_t *v);
void std_lua_set_field(std_lua *L, const char *table, const char *key, json_t *v);

/* ---- scopes ----
 * A scope is a table of names layered over a parent scope (0 = the sandbox's
 * global environment), so that fibers of one run (parallel branches, foreach
 * iterations, catch blocks) evaluate the same compiled chunks against
 * different local names without copying the environment. Reading a name
 * looks in the scope, then its parent, ... then the globals. A chunk's _ENV
 * is a new table of the call over the scope: a name the chunk assigns (new,
 * or one the scope holds) is set there and is gone when the call ends.
 * Scripts cannot reach or change the scope (getmetatable(_ENV) is false);
 * `_G` is always a read-only view of the globals and pairs(_ENV) lists only
 * the names this call assigned. */

/* New scope over parent (0 = globals, else a live scope id). Returns a scope
 * id > 0 (a registry reference), or -1 if parent is not a live scope or the
 * state is out of memory; the next call then fails with that error ("lua" or
 * "lua.limit"), and calls in scope -1 fail. Ids of freed scopes are reused. */
int std_lua_scope_new(std_lua *L, int parent);
/* Release a scope id; the table lives on while child scopes (or values a
 * script kept) use it. Freeing 0, -1 or an id that is not a live scope does
 * nothing; freeing a live id twice may free the scope that reuses it. */
void std_lua_scope_free(std_lua *L, int scope);
/* Set name in the scope itself (shadowing the parent's); v NULL unsets it, so
 * that the parent's shows again. Scope 0 is std_lua_set_global. Errors (an
 * invalid scope, memory) are reported by the next call, as for
 * std_lua_set_global. */
void std_lua_scope_set(std_lua *L, int scope, const char *name, json_t *v);
/* Set table[key] = v in the scope's own `table`, layered over the parent's
 * table of that name: the first call in a scope creates the scope's own
 * `table`, whose missing keys are read from whatever table the parent scope
 * holds under that name at read time (later additions to it are seen). So
 * steps.x set in an iteration's scope is seen only there, while steps.y from
 * outside stays readable as steps.y and steps["y"]. pairs, len and
 * json.encode (and results converted to JSON) see the merged view: own
 * entries, then the parent's that are not shadowed; a layered table always
 * converts as a JSON object. `#`, rawget and rawlen see only own entries.
 * v NULL removes the scope's own entry (the parent's shows again). If the
 * scope already holds a plain table under that name (std_lua_scope_set), the
 * field is set in it. Scope 0 is std_lua_set_field. */
void std_lua_scope_set_field(std_lua *L, int scope, const char *table, const char *key, json_t *v);
/* Like std_lua_call, with the chunk's _ENV set to the scope (0 = globals);
 * an invalid scope fails with type "lua". */
int std_lua_call_in(std_lua *L, int handle, int scope, json_t **out, std_err *e);

/* Conversion helpers. std_lua_push_json pushes tables a chunk may change (as
 * json.decode does); the values the engine sets are pushed read-only. Lua ->
 * JSON sees through the read-only proxies. */
void std_lua_push_json(lua_State *S, json_t *v);
/* NULL with e filled when the value cannot be JSON (functions, cycles, NaN). */
json_t *std_lua_to_json(lua_State *S, int idx, std_err *e);

/* Check syntax only (text mode), without a sandbox; 0 or -1 with Lua's
 * message in e (line within src in e->line when known). */
int std_lua_syntax(const char *src, int is_expr, std_err *e);

/* Global names that src reads or calls (free names), for check-time scope
 * validation. Names declared local, as parameters or loop variables, field
 * names after '.' or ':' and table-constructor keys are excluded. Returns a
 * malloc'd array of malloc'd strings (free with std_lua_names_free), each
 * once, in order of first use; *lines[i] gives the 1-based line of first use
 * when lines is not NULL. */
int std_lua_free_names(const char *src, char ***names, int **lines, size_t *n);
void std_lua_names_free(char **names, int *lines, size_t n);

/* Side effects: now() (RFC 3339 UTC text), uuid() (text) and random() (a
 * number in [0, 1)) call fn, which returns a new reference to the value —
 * recorded the first time, replayed after. Without fn they raise errors. */
typedef json_t *(*std_lua_effect_fn)(void *ud, const char *kind);
void std_lua_set_effects(std_lua *L, std_lua_effect_fn fn, void *ud);

/* Lua's own standard names that the sandbox provides (for the scope check). */
int std_lua_is_builtin(const char *name);

/* Run a trusted library chunk (text only) in the context's globals and store
 * its first result as the global `name` (e.g. the ASL runtime `asl`); src
 * must be a constant of the program: the host compiles it once per address.
 * Returns 0, or -1 with type "lua" and Lua's message in e. */
int std_lua_load_lib(std_lua *L, const char *name, const char *src, std_err *e);

#endif
