/* http.h — HTTP requests on one curl multi handle driven by the engine's
 * event loop (stdlib/loop.h): many requests of many runs in flight at once,
 * none blocking the loop.
 *
 * It performs one request per call and reports what happened; it does not
 * retry, decide which statuses are errors, or parse bodies: the engine does.
 */
#ifndef WF_HTTP_H
#define WF_HTTP_H

#include <stddef.h>
#include "std.h"
#include "loop.h"

typedef struct std_http std_http;

typedef struct std_http_req {
    const char *method;          /* GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS */
    const char *url;             /* full URL, query already encoded in it */
    char *const *headers;        /* "Name: value" strings, NULL-terminated; may be NULL */
    const char *body;            /* NULL: no body */
    size_t body_len;
    long timeout_ms;             /* whole request; 0: none */
    size_t max_body;             /* response body cap in bytes; past it the request fails;
                                    0: none */
} std_http_req;

typedef enum std_http_outcome {
    STD_HTTP_OK = 0,      /* a response arrived (any status) */
    STD_HTTP_NET,         /* DNS, connect, reset, TLS, protocol ... */
    STD_HTTP_TIMEOUT,     /* timeout_ms elapsed */
    STD_HTTP_TOO_LARGE    /* the body went past max_body */
} std_http_outcome;

typedef struct std_http_resp {
    std_http_outcome outcome;
    long status;              /* HTTP status when outcome == OK */
    std_buf headers;          /* raw header block of the final response ("Name: value\r\n"...) */
    std_buf body;
    char error[256];          /* curl's message when outcome != OK */
    double total_s;           /* time taken */
} std_http_resp;

typedef void (*std_http_done_cb)(std_http_resp *r, void *ud);

std_http *std_http_new(std_loop *l);
/* Abort requests still in flight (their callbacks are not called). Call it
 * before std_loop_free; a done callback may call it. */
void std_http_free(std_http *h);

/* Start a request; cb runs from the loop once, with a response that is freed
 * after cb returns (move buffers out to keep them). Returns a request id > 0,
 * or 0 with e filled when the request could not even be set up. */
unsigned long std_http_start(std_http *h, const std_http_req *req, std_http_done_cb cb, void *ud,
                             std_err *e);
/* Abort one request (its callback is not called). Unknown ids are ignored. */
void std_http_cancel(std_http *h, unsigned long id);

/* Requests in flight. */
int std_http_active(const std_http *h);

/* Percent-encode s for a URL query component into b. */
void std_http_urlencode(std_buf *b, const char *s, size_t len);

#endif
