/* dagfactory.c — dag-factory YAML -> the Airflow importer's IR (see airflow.h). */
#include "airflow.h"

int dsl_dagfactory_parse(const char *path, const char *text, size_t len, json_t **ir, std_diags *diags)
{
    (void)text;
    (void)len;
    *ir = NULL;
    std_diag(diags, path, 1, 1, "dag-factory import is not implemented yet");
    return -1;
}
