/* fuzz_input.c — libFuzzer target: a run's input JSON.
 *
 * The input bytes are decoded by jansson as `wfdsl run --input @FILE` does
 * (JSON_DECODE_ANY) and checked by vm_input_check against the program of
 * tests/fuzz/input.yaml, whose input schema has every type, min/max, enum,
 * defaults and optional fields. The completed input is encoded again, as
 * the run records it. Seeds: tests/fuzz/corpus/fuzz_input/ (JSON texts).
 *
 * The workflow file is found next to this source (__FILE__), or at
 * $FUZZ_INPUT_WORKFLOW.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dsl/compile.h"
#include "../../interpreter/engine.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vm_program *prog;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[4096];
    const char *env = getenv("FUZZ_INPUT_WORKFLOW");
    if (env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        const char *src = __FILE__, *slash = strrchr(src, '/');
        snprintf(path, sizeof path, "%.*sinput.yaml", slash ? (int)(slash - src + 1) : 0, src);
    }
    std_diags d = {0};
    if (dsl_compile_file(path, &prog, NULL, &d) != 0) {
        fprintf(stderr, "fuzz_input: cannot compile %s (set FUZZ_INPUT_WORKFLOW):\n", path);
        for (size_t i = 0; i < d.n; i++) fprintf(stderr, "  %s\n", d.msgs[i]);
        exit(1);
    }
    std_diags_free(&d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t je;
    json_t *raw = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    if (!raw) return 0;
    std_err e = {0};
    json_t *in = vm_input_check(prog, raw, &e);
    json_decref(raw);
    if (in) {
        free(json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY));
        json_decref(in);
    } else if (!e.msg[0]) {
        fprintf(stderr, "vm_input_check failed without a message\n");
        abort();
    }
    return 0;
}
