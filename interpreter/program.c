/* program.c — building, serializing, loading and explaining programs.
 * See program.h for the format. It does not compile YAML (dsl/compile.c)
 * and does not run anything (vm.c). */
#include "program.h"

#include <stdlib.h>
#include <string.h>

const vm_opinfo vm_ops[VM_OP_COUNT] = {
#define OP(name, operands, flags, doc) {#name, operands, doc, flags},
#include "opcodes.def"
#undef OP
};

#define PROGRAM_FORMAT 1

vm_program *vm_program_new(const char *name, const char *file)
{
    vm_program *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->name = strdup(name ? name : "");
    p->file = strdup(file ? file : "");
    p->steps = json_array();
    p->chunks = json_array();
    p->tmpls = json_array();
    p->blocks = json_array();
    p->input = json_null();
    p->meta = json_object();
    p->vars_tmpl = -1;
    return p;
}

void vm_program_free(vm_program *p)
{
    if (!p) return;
    free(p->name);
    free(p->file);
    free(p->code);
    free(p->line);
    free(p->col);
    json_decref(p->steps);
    json_decref(p->chunks);
    json_decref(p->tmpls);
    json_decref(p->blocks);
    json_decref(p->input);
    json_decref(p->meta);
    json_decref(p->undeployable);
    free(p);
}

int vm_emit(vm_program *p, vm_op op, int a, int b, int line, int col)
{
    if (p->ncode == p->capcode) {
        p->capcode = p->capcode ? p->capcode * 2 : 32;
        p->code = realloc(p->code, p->capcode * sizeof *p->code);
        p->line = realloc(p->line, p->capcode * sizeof *p->line);
        p->col = realloc(p->col, p->capcode * sizeof *p->col);
        if (!p->code || !p->line || !p->col) abort();
    }
    p->code[p->ncode] = (vm_ins){op, a, b};
    p->line[p->ncode] = line;
    p->col[p->ncode] = col;
    return (int)p->ncode++;
}

int vm_add_step(vm_program *p, json_t *step)
{
    json_array_append_new(p->steps, step);
    return (int)json_array_size(p->steps) - 1;
}

int vm_add_chunk(vm_program *p, const char *src, int is_expr, int line, int col)
{
    json_array_append_new(p->chunks, json_pack("{s:s, s:b, s:i, s:i}", "src", src, "expr",
                                               is_expr, "line", line, "col", col));
    return (int)json_array_size(p->chunks) - 1;
}

int vm_add_tmpl(vm_program *p, json_t *tmpl)
{
    json_array_append_new(p->tmpls, tmpl);
    return (int)json_array_size(p->tmpls) - 1;
}

int vm_add_block(vm_program *p, json_t *block)
{
    json_array_append_new(p->blocks, block);
    return (int)json_array_size(p->blocks) - 1;
}

json_t *vm_block(const vm_program *p, int block) { return json_array_get(p->blocks, (size_t)block); }

char *vm_program_serialize(vm_program *p)
{
    json_t *code = json_array();
    for (size_t i = 0; i < p->ncode; i++)
        json_array_append_new(code, json_pack("[s, i, i, i, i]", vm_ops[p->code[i].op].name,
                                              p->code[i].a, p->code[i].b, p->line[i], p->col[i]));
    json_t *doc = json_pack("{s:i, s:s, s:s, s:o, s:O, s:O, s:O, s:O, s:O, s:i, s:O}", "format",
                            PROGRAM_FORMAT, "name", p->name, "file", p->file, "code", code,
                            "steps", p->steps, "chunks", p->chunks, "tmpls", p->tmpls, "blocks",
                            p->blocks, "input", p->input, "vars", p->vars_tmpl, "meta", p->meta);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (!text) abort();
    std_sha256_hex(text, strlen(text), p->hash);
    return text;
}

static int op_by_name(const char *name)
{
    for (int i = 0; i < VM_OP_COUNT; i++)
        if (strcmp(vm_ops[i].name, name) == 0) return i;
    return -1;
}

/* Does operand kind k accept value v in program p? */
static int operand_ok(const vm_program *p, char k, int v)
{
    switch (k) {
    case 's': return v >= 0 && (size_t)v < json_array_size(p->steps);
    case 'e': return v >= 0 && (size_t)v < json_array_size(p->chunks);
    case 't': return v >= -1 && (v == -1 || (size_t)v < json_array_size(p->tmpls));
    case 'j': return v >= 0 && (size_t)v <= p->ncode;
    case 'b': return v >= 0 && (size_t)v < json_array_size(p->blocks);
    default: return 1;
    }
}

vm_program *vm_program_load(const char *text, size_t len, std_err *e)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, 0, &je);
    if (!doc) {
        std_errf(e, "program", "stored program is not valid JSON: %s", je.text);
        return NULL;
    }
    int format = 0, vars = -1;
    const char *name = NULL, *file = NULL;
    json_t *code = NULL, *steps = NULL, *chunks = NULL, *tmpls = NULL, *blocks = NULL,
           *input = NULL, *meta = NULL;
    if (json_unpack_ex(doc, &je, 0, "{s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o}",
                       "format", &format, "name", &name, "file", &file, "code", &code, "steps",
                       &steps, "chunks", &chunks, "tmpls", &tmpls, "blocks", &blocks, "input",
                       &input, "vars", &vars, "meta", &meta) != 0 ||
        format != PROGRAM_FORMAT || !json_is_array(code)) {
        std_errf(e, "program", "stored program has an unknown format (%s)",
                 format != PROGRAM_FORMAT ? "format version" : je.text);
        json_decref(doc);
        return NULL;
    }
    vm_program *p = vm_program_new(name, file);
    json_decref(p->steps);
    json_decref(p->chunks);
    json_decref(p->tmpls);
    json_decref(p->blocks);
    json_decref(p->input);
    json_decref(p->meta);
    p->blocks = json_incref(blocks);
    p->steps = json_incref(steps);
    p->chunks = json_incref(chunks);
    p->tmpls = json_incref(tmpls);
    p->input = json_incref(input);
    p->meta = json_incref(meta);
    p->vars_tmpl = vars;
    size_t i;
    json_t *ins;
    json_array_foreach(code, i, ins) {
        const char *opname = NULL;
        int a = 0, b = 0, line = 0, col = 0;
        int op = -1;
        if (json_unpack(ins, "[s, i, i, i, i]", &opname, &a, &b, &line, &col) == 0)
            op = op_by_name(opname);
        if (op < 0) {
            std_errf(e, "program", "stored program: bad instruction at %zu", i);
            vm_program_free(p);
            json_decref(doc);
            return NULL;
        }
        vm_emit(p, (vm_op)op, a, b, line, col);
    }
    for (i = 0; i < p->ncode; i++) {
        const char *ops = vm_ops[p->code[i].op].operands;
        if (!operand_ok(p, ops[0], p->code[i].a) || !operand_ok(p, ops[1], p->code[i].b)) {
            std_errf(e, "program", "stored program: operand out of range at %zu", i);
            vm_program_free(p);
            json_decref(doc);
            return NULL;
        }
    }
    std_sha256_hex(text, len, p->hash);
    json_decref(doc);
    return p;
}

static json_t *step_at(const vm_program *p, int step)
{
    return json_array_get(p->steps, (size_t)step);
}

const char *vm_step_path(const vm_program *p, int step)
{
    return json_string_value(json_object_get(step_at(p, step), "path"));
}

const char *vm_step_kind(const vm_program *p, int step)
{
    return json_string_value(json_object_get(step_at(p, step), "kind"));
}

const char *vm_step_id(const vm_program *p, int step)
{
    return json_string_value(json_object_get(step_at(p, step), "id"));
}

/* A short, one-line rendering of operand v of kind k. */
static void explain_operand(const vm_program *p, char k, int v, std_buf *out)
{
    switch (k) {
    case 's':
        std_buf_addf(out, "%d (%s: %s)", v, vm_step_path(p, v), vm_step_kind(p, v));
        break;
    case 'e': {
        const char *src =
            json_string_value(json_object_get(json_array_get(p->chunks, (size_t)v), "src"));
        std_buf_addf(out, "e%d {", v);
        int n = 0;
        for (const char *s = src ? src : ""; *s && n < 40; s++, n++)
            std_buf_add(out, *s == '\n' ? " " : s, 1);
        std_buf_adds(out, n >= 40 ? "...}" : "}");
        break;
    }
    case 't': std_buf_addf(out, v < 0 ? "-" : "t%d", v); break;
    case 'j': std_buf_addf(out, "@%04d", v); break;
    case 'b': {
        char *t = json_dumps(vm_block(p, v), JSON_COMPACT | JSON_SORT_KEYS);
        std_buf_addf(out, "b%d %s", v, t);
        free(t);
        break;
    }
    default: break;
    }
}

void vm_program_explain(const vm_program *p, std_buf *out)
{
    std_buf_addf(out, "; workflow %s, %zu instructions, %zu steps, %zu expressions\n", p->name,
                 p->ncode, json_array_size(p->steps), json_array_size(p->chunks));
    for (size_t i = 0; i < p->ncode; i++) {
        const vm_ins *in = &p->code[i];
        const vm_opinfo *info = &vm_ops[in->op];
        std_buf line = {0};
        std_buf_addf(&line, "%04zu  %-7s", i, info->name);
        if (info->operands[0] != '-') {
            std_buf_adds(&line, " ");
            explain_operand(p, info->operands[0], in->a, &line);
        }
        if (info->operands[1] != '-') {
            std_buf_adds(&line, ", ");
            explain_operand(p, info->operands[1], in->b, &line);
        }
        std_buf_addf(out, "%-64s ; line %d\n", line.p, p->line[i]);
        std_buf_free(&line);
    }
}
