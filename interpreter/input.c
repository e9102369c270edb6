/* input.c — checks a run's input against the workflow's `input:` schema and
 * fills in defaults, before anything runs: the input of `wfdsl run`/`start`,
 * of a child run (`call`), of a continued run (`continue_as_new`) and of a
 * trigger (checked by the compiler, completed for every scheduled run).
 * Unknown fields are errors (a typo in a field name would otherwise silently
 * fall back to a default). It does not coerce: "5" is not an integer. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"

static const char *json_type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int type_ok(const char *type, json_t *v)
{
    if (!strcmp(type, "any")) return 1;
    if (!strcmp(type, "number")) return json_is_number(v);
    if (!strcmp(type, "boolean")) return json_is_boolean(v);
    if (!strcmp(type, "integer")) {
        if (json_is_integer(v)) return 1;
        /* 3.0 is an integer written as a real */
        return json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9e15;
    }
    return !strcmp(type, json_type_name(v));
}

/* Fail with a message about field fname; out is dropped. */
#define BAD(fname, ...)                                         \
    do {                                                        \
        if (field && nfield) snprintf(field, nfield, "%s", fname); \
        std_errf(e, "input", __VA_ARGS__);                      \
        json_decref(out);                                       \
        return NULL;                                            \
    } while (0)

json_t *vm_input_check_as(const vm_program *p, json_t *input, const char *what, char *field,
                          size_t nfield, std_err *e)
{
    if (field && nfield) field[0] = 0;
    if (!json_is_object(p->input)) return json_incref(input ? input : json_object());
    if (!input || json_is_null(input)) input = json_object();
    else json_incref(input);
    if (!json_is_object(input)) {
        std_errf(e, "input", "%s must be a JSON object, not %s", what, json_type_name(input));
        json_decref(input);
        return NULL;
    }
    json_t *out = json_deep_copy(input);
    json_decref(input);
    const char *k;
    json_t *v;
    json_object_foreach(out, k, v) {
        if (!json_object_get(p->input, k)) BAD(k, "%s: unknown field '%s'", what, k);
    }
    json_t *spec;
    json_object_foreach(p->input, k, spec) {
        const char *type = json_string_value(json_object_get(spec, "type"));
        v = json_object_get(out, k);
        if (!v) {
            json_t *def = json_object_get(spec, "default");
            if (def) {
                json_object_set(out, k, def);
                continue;
            }
            if (json_is_false(json_object_get(spec, "required"))) continue;
            BAD(k, "%s: missing required field '%s' (%s)", what, k, type);
        }
        if (!type_ok(type, v))
            BAD(k, "%s: field '%s' must be %s %s, not %s", what, k,
                (type[0] == 'a' || type[0] == 'i' || type[0] == 'o') ? "an" : "a", type, json_type_name(v));
        json_t *min = json_object_get(spec, "min"), *max = json_object_get(spec, "max");
        if (min && json_number_value(v) < json_number_value(min))
            BAD(k, "%s: field '%s' is %g, below its minimum %g", what, k, json_number_value(v),
                json_number_value(min));
        if (max && json_number_value(v) > json_number_value(max))
            BAD(k, "%s: field '%s' is %g, above its maximum %g", what, k, json_number_value(v),
                json_number_value(max));
        json_t *en = json_object_get(spec, "enum");
        if (en) {
            int found = 0;
            size_t i;
            json_t *x;
            json_array_foreach(en, i, x) found |= json_equal(x, v);
            if (!found) {
                char allowed[512];
                char *text = json_dumps(en, JSON_COMPACT | JSON_ENCODE_ANY);
                snprintf(allowed, sizeof allowed, "%s", text ? text : "");
                free(text);
                BAD(k, "%s: field '%s' must be one of %s", what, k, allowed);
            }
        }
    }
    return out;
}

#undef BAD

json_t *vm_input_check(const vm_program *p, json_t *input, std_err *e)
{
    return vm_input_check_as(p, input, "input", NULL, 0, e);
}
