/* airflow.h — the back end of `wfdsl import airflow` and `wfdsl import dag-factory`.
 *
 * A front end (dsl/py.c for DAG files, dsl/dagfactory.c for dag-factory YAML)
 * produces the importer's intermediate form (IR, a jansson value; its shape is
 * described in docs/language.md, "Importing Airflow DAGs"). This back end turns
 * one DAG of it into a wfdsl workflow tree (dsl/node.h): one `dag` step whose
 * tasks are the Airflow tasks, triggers from the schedule, Jinja templates
 * translated into expressions over run.logical_date / input / steps, and a
 * report of everything that needs a person: stubs, placeholder inputs,
 * secrets, connections, relative dates, unconverted constructs.
 *
 * What it does not do: evaluate Python (the front end folds what it can), or
 * invent behaviour for what the IR leaves open: an operator it does not know
 * becomes a step that fails at run time with the DAG file's line, unless an
 * operator map (--map) binds it to a step template:
 *
 *   operators:                          # first matching rule wins
 *     - match: PythonOperator           # glob on the class name (or on
 *                                       #   module.Class when it holds a dot)
 *       task: "load_*"                  # optional glob on the task id
 *       step: {shell: {script: "run-job \"$ARG\"", env: {ARG: "${kwargs.op_args}"}}}
 *
 * In a template, `${kwargs.NAME}` is the task's kwarg NAME (default_args
 * merged): a scalar that is exactly the slot takes the kwarg's value (typed),
 * a slot inside a longer string its text; `${task_id}` and `${dag_id}` are the
 * ids. Every other `${ ... }` stays a wfdsl expression.
 */
#ifndef WF_DSL_AIRFLOW_H
#define WF_DSL_AIRFLOW_H

#include <jansson.h>
#include "node.h"

typedef enum dsl_af_source {
    DSL_AF_PY,         /* a DAG file (Python) */
    DSL_AF_DAGFACTORY, /* dag-factory YAML */
    DSL_AF_IR          /* the IR as JSON (a testing aid: --from-ir) */
} dsl_af_source;

typedef struct dsl_af_opts {
    const char *dag_id;  /* --dag ID, or NULL: the file must hold one DAG */
    const char *map;     /* --map FILE, or NULL */
    int version;         /* 2 or 3; 0 = the IR's inferred version, else 2 */
} dsl_af_opts;

/* Exit statuses of an import. */
enum { DSL_AF_DONE = 0, DSL_AF_FATAL = 1, DSL_AF_PARTIAL = 2 };

/* Translate one DAG of ir into a workflow tree. *report gets a JSON object
 * {source, dag_id, airflow_version, semantics, items: [{file, line, kind, task?,
 * message}], counts: {kind: n}} (also on a fatal error, when there is one).
 * Returns DSL_AF_DONE, DSL_AF_PARTIAL (items that need a person remain), or
 * DSL_AF_FATAL with the errors in diags (then *out is NULL). */
int dsl_airflow_convert(json_t *ir, const dsl_af_opts *o, dsl_doc **out, json_t **report,
                        std_diags *diags);

/* Read path, run the front end of kind, convert and write the workflow as
 * YAML into yaml (with a header comment). With ir_only, yaml gets the IR as
 * JSON instead. Same returns as dsl_airflow_convert. */
int dsl_airflow_import(const char *path, dsl_af_source kind, const dsl_af_opts *o, int ir_only,
                       std_buf *yaml, json_t **report, std_diags *diags);

/* The report as text, one line per item: "FILE:LINE: kind: message". */
void dsl_airflow_report_text(const json_t *report, std_buf *out);

/* dag-factory YAML -> IR (dsl/dagfactory.c). *ir is set unless the file
 * cannot be read as YAML at all (then -1 with diags). */
int dsl_dagfactory_parse(const char *path, const char *text, size_t len, json_t **ir,
                         std_diags *diags);

#endif
