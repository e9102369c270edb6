/* compile.h — from a YAML node tree to a VM program.
 *
 * The compiler validates while it emits: unknown and misplaced fields (with
 * a did-you-mean hint), field types, ids, durations, every expression (Lua
 * syntax and free names against the scope) — and it reports every error it
 * finds, not the first. It produces no program when there was any error.
 */
#ifndef WF_DSL_COMPILE_H
#define WF_DSL_COMPILE_H

#include "node.h"
#include "../interpreter/program.h"

/* Compile doc; returns 0 and *out, or -1 with every error in diags. */
int dsl_compile(const dsl_doc *doc, vm_program **out, std_diags *diags);

/* Read, load and compile a file. *source gets the file text (caller frees)
 * when source is not NULL. Read errors are reported in diags too. */
int dsl_compile_file(const char *path, vm_program **out, char **source, std_diags *diags);

/* Convert a free-form YAML value (vars, input defaults, bodies) to JSON by
 * the rule of the language: quoted scalars are strings; plain true/false
 * are booleans, null/~/empty are null, JSON numbers are numbers, anything
 * else a string. */
json_t *dsl_plain_value(const dsl_node *n);

/* The kind key of a step mapping (lua, shell, dag, ...): the first key that
 * names a kind, or NULL. */
const char *dsl_step_kind(const dsl_node *step);

#endif
