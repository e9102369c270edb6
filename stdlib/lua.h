/* lua.h — the Lua 5.4 sandbox in which expressions and `lua` steps run.
 *
 * One sandbox per run. It has no io, os, require, package, debug, load of
 * binary chunks, dofile/loadfile, collectgarbage or print; `pairs` visits
 * keys in a deterministic order (integers ascending, then strings in byte
 * order, then others) and `next` is removed, because Lua randomises its
 * string hash seed. Calls are bounded by an instruction count and the state
 * by a memory limit; either limit fails the call with error type "lua.limit"
 * and the state stays usable.
 *
 * Values cross the boundary as jansson json_t: JSON null is the light
 * userdata `json.null`; arrays become tables marked with an array metatable
 * so that an empty array stays an array on the way back.
 *
 * It does not know about steps, history or replay: the VM decides what to
 * evaluate and records what must be recorded.
 */
#ifndef WF_LUA_H
#define WF_LUA_H

#include <jansson.h>
#include "std.h"

typedef struct std_lua std_lua;
typedef struct lua_State lua_State;

typedef struct std_lua_limits {
    size_t mem_bytes;        /* whole state; 0 = default 64 MiB */
    long long instructions;  /* per call; 0 = default 20 million */
} std_lua_limits;

std_lua *std_lua_new(const std_lua_limits *lim);
void std_lua_free(std_lua *L);
lua_State *std_lua_state(std_lua *L);

/* Compile src (text only) once; is_expr wraps it as `return (src)`.
 * name is used in messages (e.g. "hello.yaml:12"). Returns a handle >= 0
 * for std_lua_call, or -1 with type "lua" and Lua's message in e. */
int std_lua_compile(std_lua *L, const char *name, const char *src, int is_expr, std_err *e);

/* Run a compiled handle in the shared environment; *out gets its first
 * result as JSON (nil becomes JSON null). Errors: "lua" (runtime error, or a
 * result that is not JSON-representable), "lua.limit". */
int std_lua_call(std_lua *L, int handle, json_t **out, std_err *e);

/* Set a global of the environment (input, vars, run, steps, err...) to v;
 * v == NULL removes it. Set a field of a global table, creating the table:
 * std_lua_set_field(L, "steps", "greet", v). */
void std_lua_set_global(std_lua *L, const char *name, json_t *v);
void std_lua_set_field(std_lua *L, const char *table, const char *key, json_t *v);

/* Conversion helpers, also used by the VM for templates. */
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

/* Lua's own standard names that the sandbox provides (for the scope check). */
int std_lua_is_builtin(const char *name);

#endif
