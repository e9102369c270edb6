/* program.h — a compiled workflow: instructions, source map and the tables
 * they index (steps, expression chunks, value templates).
 *
 * Instructions are plain integers; everything else is jansson data, so the
 * whole program serializes to one canonical JSON text whose sha256 is the
 * program hash. The dsl/ compiler builds programs; the VM and the store only
 * read them. A program owns all its data (vm_program_free).
 *
 * Step table entries (JSON objects):
 *   {"path": "greet", "id": "greet" | null, "kind": "shell", "line": 5, "col": 5,
 *    "args": <template index or -1>, "chunk": <chunk index or -1>}
 *   optional: "timeout_ms", "retry" (policy), "expect" (http), "comp" (address
 *   of its compensation code), "ms" (the wait of a loop's `every`)
 * Chunks: {"src": "...", "expr": true|false, "line": 12, "col": 9}
 * Blocks (the structured statements), by "type":
 *   par:     {branches: [[name, addr]...], mode: all|any, fail_fast, end, step}
 *   foreach: {items: chunk, as, concurrency, body, result: template|-1, end, step}
 *   loop:    {until: chunk|-1, max: n|0, top, step}
 *   try:     {catches: [{errors: [pattern...], as, addr}], finally: addr|-1, end}
 *   saga:    {}            onerr: {addr}
 *   ("step" is the step index whose id receives the block's output, or -1.)
 * Templates (tagged arrays, so a user's data can never be mistaken for one):
 *   ["c", <json>]            a constant
 *   ["e", <chunk>]           the typed value of an expression
 *   ["i", [part...]]         interpolation: parts are strings or chunk indexes
 *   ["o", {key: template}]   an object of templates
 *   ["a", [template...]]     an array of templates
 */
#ifndef WF_PROGRAM_H
#define WF_PROGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "../stdlib/std.h"

#define OPF_EFFECT 1

typedef enum vm_op {
#define OP(name, operands, flags, doc) VM_##name,
#include "opcodes.def"
#undef OP
    VM_OP_COUNT
} vm_op;

typedef struct vm_opinfo {
    const char *name, *operands, *doc;
    int flags;
} vm_opinfo;
extern const vm_opinfo vm_ops[VM_OP_COUNT];

typedef struct vm_ins {
    int32_t op, a, b;
} vm_ins;

typedef struct vm_program {
    char *name;          /* workflow name */
    char *file;          /* source file as given to the compiler */
    vm_ins *code;
    int *line, *col;     /* source map, one entry per instruction */
    size_t ncode, capcode;
    json_t *steps;       /* array of step entries */
    json_t *chunks;      /* array of chunks */
    json_t *tmpls;       /* array of templates */
    json_t *blocks;      /* array of blocks */
    json_t *input;       /* input schema: {field: {type, default, ...}} or null */
    int vars_tmpl;       /* template of the initial vars, -1 if none */
    json_t *meta;        /* description and other informational fields */
    char hash[65];       /* filled by vm_program_serialize */
    json_t *undeployable; /* not serialized: [["file:line:col", message]...], why `deploy`
                           * refuses a program that runs (a trigger's input lacks a
                           * required field), or NULL */
} vm_program;

vm_program *vm_program_new(const char *name, const char *file);
void vm_program_free(vm_program *p);

/* Append an instruction; returns its address. */
int vm_emit(vm_program *p, vm_op op, int a, int b, int line, int col);
/* Add a table entry (steals the reference); returns its index. */
int vm_add_step(vm_program *p, json_t *step);
int vm_add_chunk(vm_program *p, const char *src, int is_expr, int line, int col);
int vm_add_tmpl(vm_program *p, json_t *tmpl);
int vm_add_block(vm_program *p, json_t *block);
/* The block's object (borrowed). */
json_t *vm_block(const vm_program *p, int block);

/* Canonical JSON text of the program; fills p->hash. Caller frees. */
char *vm_program_serialize(vm_program *p);
/* Rebuild a program from its serialized text (checks every operand). */
vm_program *vm_program_load(const char *text, size_t len, std_err *e);

/* `wfdsl explain`: one line per instruction. */
void vm_program_explain(const vm_program *p, std_buf *out);

/* input.c: check input (NULL = {}) against the program's input schema and
 * apply defaults. Returns the completed input (new reference) or NULL with e
 * filled (type "input"; the message names the field: "input: unknown field
 * 'nmae'"). vm_input_check_as says `what` instead of "input" and copies the
 * offending field's name into field ("" when the whole input is wrong). */
json_t *vm_input_check(const vm_program *p, json_t *input, std_err *e);
json_t *vm_input_check_as(const vm_program *p, json_t *input, const char *what, char *field,
                          size_t nfield, std_err *e);

/* Accessors of the step table. */
const char *vm_step_path(const vm_program *p, int step);
const char *vm_step_kind(const vm_program *p, int step);
const char *vm_step_id(const vm_program *p, int step); /* NULL when the step has no id */

#endif
