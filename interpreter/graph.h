/* graph.h — `wfdsl graph`: a workflow's steps and dag tasks drawn as DOT,
 * Mermaid or text (see graph.c). */
#ifndef WF_GRAPH_H
#define WF_GRAPH_H

#include "../dsl/node.h"
#include "../stdlib/std.h"

/* Draw doc (already checked) in format "dot", "mermaid" or "text" into out;
 * 0, or -1 with e set for an unknown format. */
int vm_graph(const dsl_doc *doc, const char *format, std_buf *out, std_err *e);

#endif
