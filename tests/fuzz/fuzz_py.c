/* fuzz_py.c — libFuzzer target: the Python-subset front end of
 * `wfdsl import airflow` (dsl_airflow_py_parse: tokenizer, parser, abstract
 * interpreter, IR).
 *
 * The input is a DAG file named fuzz.py (not NUL-terminated, so reads past
 * `len` are caught). Checks: a result of 0 means no fatal diagnostic and an IR;
 * -1 with no IR must come with a fatal diagnostic; an IR is an object with the
 * contract's top-level keys, dumps to JSON, and every task of every DAG has a
 * string task_id and operator, every edge string ends. Everything is freed
 * (LeakSanitizer). Seeds: tests/fuzz/corpus/fuzz_py/ (the DAG corpus
 * tests/airflow/dags/ and the bad inputs of tests/airflow/bad/ under 64 KB).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dsl/py.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ir(json_t *ir)
{
    if (!json_is_object(ir) || !json_is_array(json_object_get(ir, "dags")) ||
        !json_is_array(json_object_get(ir, "diagnostics")) || !json_object_get(ir, "airflow_version")) {
        fprintf(stderr, "IR without its top-level keys\n");
        abort();
    }
    size_t i, k;
    json_t *d, *t;
    json_array_foreach(json_object_get(ir, "dags"), i, d) {
        if (!json_is_string(json_object_get(d, "dag_id"))) abort();
        json_array_foreach(json_object_get(d, "tasks"), k, t) {
            if (!json_is_string(json_object_get(t, "task_id")) || !json_is_string(json_object_get(t, "operator"))) {
                fprintf(stderr, "a task without task_id or operator\n");
                abort();
            }
        }
        json_array_foreach(json_object_get(d, "edges"), k, t) {
            if (!json_is_string(json_object_get(t, "from")) || !json_is_string(json_object_get(t, "to"))) {
                fprintf(stderr, "an edge without string ends\n");
                abort();
            }
        }
    }
    char *s = json_dumps(ir, JSON_PRESERVE_ORDER);
    if (!s) {
        fprintf(stderr, "the IR does not dump\n");
        abort();
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (size) memcpy(text, data, size);
    json_t *ir = NULL;
    std_diags d = {0};
    int rc = dsl_airflow_py_parse("fuzz.py", text, size, &ir, &d);
    if (rc == 0 && (d.n || !ir)) {
        fprintf(stderr, "rc 0 with %zu diagnostics / IR %p\n", d.n, (void *)ir);
        abort();
    }
    if (rc != 0 && !d.n) {
        fprintf(stderr, "rc %d without a diagnostic\n", rc);
        abort();
    }
    for (size_t i = 0; i < d.n; i++)
        if (strncmp(d.msgs[i], "fuzz.py:", 8)) {
            fprintf(stderr, "diagnostic without the path: %s\n", d.msgs[i]);
            abort();
        }
    if (ir) check_ir(ir);
    json_decref(ir);
    std_diags_free(&d);
    free(text);
    return 0;
}
