/* asl.h — the Amazon States Language front end (AWS Step Functions).
 *
 * An ASL state machine (JSON, JSONPath query language) is validated and
 * translated into the YAML node tree of a wfdsl workflow (dsl/node.h), which
 * dsl_compile turns into a program like any YAML file (for `run` and for
 * `import` alike). The structure of the state graph is recovered: a chain of
 * Next is a sequence of steps named after the states, a Choice a step naming
 * the next state then a `switch` whose branches rejoin at the immediate
 * post-dominator, a cycle a `loop`, Parallel `parallel`, Map `foreach`, Wait a
 * durable `sleep`, Retry/Catch a `try` whose catch clause decides (in
 * `asl.handle`) to retry, catch or raise again. Paths, payload templates,
 * Choice rules and intrinsic functions run in the Lua runtime `asl`
 * (stdlib/asl_runtime.lua), loaded into runs whose program uses it. A
 * machine, branch or processor with no such form (Assign in a branch or
 * processor, task tokens, races, jumps that do not nest) becomes a dispatcher: a `loop`
 * around a `switch` with one branch per state, with a comment saying why.
 *
 * Task resources come from a resource map (YAML or JSON):
 *
 *   resources:                       # first matching rule wins
 *     - state: "Get Job Status"      # glob on the state name, or
 *       match: "arn:aws:lambda:*"    # glob on the Resource ARN
 *       step: {lua: "return steps.task.input"}   # any wfdsl step
 *       lambda_payload: true         # result becomes {Payload, StatusCode: 200}
 *   waits: {"*": 0}                  # Wait durations by state-name glob (tests)
 *   retry_waits: false               # every Retry pause is 0 (tests)
 *
 * In a mapped step, `steps.task.input` is the Task's effective input (after
 * InputPath and Parameters) and `steps.task.call` its call number (1, 2, ...)
 * in the machine, its Parallel branch or its Map iteration.
 * `arn:aws:states:::http:invoke` needs no rule: it becomes an `http` step. An
 * unmapped Resource is an error that lists what is missing.
 *
 * Every Task runs in a try, so that its step's own errors become ASL errors.
 * ASL errors are typed errors (type = the ASL name, message = the Cause). A
 * `.waitForTaskToken` Task waits in a loop for the signal named after its
 * step id whose payload carries its token ($$.Task.Token); TimeoutSecondsPath
 * (and TimeoutSeconds on such Tasks, and on the machine) is a `parallel` in
 * mode any against a durable `sleep`. A Map with tolerated failures catches
 * each iteration's error as a value; MaxConcurrencyPath runs N lanes, each a
 * sequential foreach. tests/asl/COVERAGE.md lists what is supported.
 */
#ifndef WF_DSL_ASL_H
#define WF_DSL_ASL_H

#include "../interpreter/program.h"
#include "node.h"

/* Does path name an ASL file (ends in .asl.json)? */
int dsl_is_asl_file(const char *path);

/* Validate and translate the ASL file at path (resources: a resource map
 * file or NULL) into a workflow tree; 0, or -1 with every error in diags as
 * "file:line:col: error: state 'X': message". */
int dsl_asl_load(const char *path, const char *resources, dsl_doc **out, std_diags *diags);

/* dsl_asl_load, then dsl_compile; *source gets the file text when not NULL. */
int dsl_asl_compile_file(const char *path, const char *resources, vm_program **out, char **source,
                         std_diags *diags);

/* `wfdsl import stepfunctions`: the workflow as YAML text in out. */
int dsl_asl_import(const char *path, const char *resources, std_buf *out, std_diags *diags);

/* Write a node tree as block-style YAML that dsl_yaml_load reads back as the
 * same tree. */
void dsl_emit_yaml(const dsl_node *n, std_buf *out);

#endif
