/* fuzz_compile.c — libFuzzer target: the YAML loader and the compiler.
 *
 * The input bytes are a workflow file named "fuzz.yaml": dsl_yaml_load, then
 * (as dsl_compile_file does, even after YAML errors) dsl_compile on whatever
 * tree was built, then the program is serialized and explained as
 * `wfdsl explain` does. Everything is freed: LeakSanitizer reports a leak
 * as a failure. Seeds: tests/fuzz/corpus/fuzz_compile/ (samples/, tests/errors/).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../dsl/compile.h"
#include "../../dsl/node.h"
#include "../../interpreter/program.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    std_diags d = {0};
    dsl_doc *doc = NULL;
    int rc = dsl_yaml_load("fuzz.yaml", (const char *)data, size, &doc, &d);
    if (doc) {
        vm_program *p = NULL;
        if (dsl_compile(doc, &p, &d) == 0 && rc == 0 && p) {
            char *text = vm_program_serialize(p);
            free(text);
            std_buf out = {0};
            vm_program_explain(p, &out);
            std_buf_free(&out);
        }
        vm_program_free(p);
    }
    dsl_doc_free(doc);
    std_diags_free(&d);
    return 0;
}
