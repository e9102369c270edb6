/* test_http.c — stdlib/http.c against tests/http_server.py: statuses, bodies,
 * headers, methods, timeouts, resets, refused connections, body caps, many
 * requests at once, cancellation (also from callbacks), freeing with
 * requests in flight, protocol restriction, URL encoding, and no fd leak.
 *
 * The server is started from the repo root (tests run with cwd = repo root)
 * and killed at the end; PR_SET_PDEATHSIG kills it if this program dies.
 * Needs no jansson: JSON answers are checked as text (Python's json.dumps
 * spacing: "key": value). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../stdlib/http.h"
#include "../../stdlib/loop.h"
#include "../../stdlib/std.h"
#include "check.h"

#include "server.h"

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;
}

/* ---- helpers ----------------------------------------------------------- */

typedef struct got {
    int done;
    std_http_outcome outcome;
    long status;
    char *headers, *body;
    size_t body_len;
    char error[256];
    double total_s;
    /* optional actions from inside the callback */
    std_http *h;
    unsigned long cancel_id;  /* cancel this request */
    int free_h;               /* std_http_free(h) */
    struct got *chain;        /* start another request for /text into chain */
    int64_t at_ms;            /* when the callback ran */
} got;

static void got_free(got *g)
{
    free(g->headers);
    free(g->body);
    g->headers = g->body = NULL;
}

static void on_done(std_http_resp *r, void *ud)
{
    got *g = ud;
    g->done++;
    g->at_ms = mono_ms();
    g->outcome = r->outcome;
    g->status = r->status;
    g->body_len = r->body.len;
    g->headers = std_buf_take(&r->headers); /* move the buffers out */
    g->body = std_buf_take(&r->body);
    memcpy(g->error, r->error, sizeof g->error);
    g->total_s = r->total_s;
    if (g->cancel_id) std_http_cancel(g->h, g->cancel_id);
    if (g->chain) {
        char url[128];
        snprintf(url, sizeof url, "%s/text", base);
        std_http_req q = {.method = "GET", .url = url, .timeout_ms = 5000};
        std_http_start(g->h, &q, on_done, g->chain, NULL);
    }
    if (g->free_h) std_http_free(g->h);
}

static unsigned long start(std_http *h, const char *method, const char *path, char *const *hdrs,
                           const char *body, long timeout_ms, size_t max_body, got *g)
{
    char url[256];
    if (strstr(path, "://")) snprintf(url, sizeof url, "%s", path);
    else snprintf(url, sizeof url, "%s%s", base, path);
    std_http_req q = {.method = method, .url = url, .headers = hdrs, .body = body,
                      .body_len = body ? strlen(body) : 0, .timeout_ms = timeout_ms,
                      .max_body = max_body};
    std_err e;
    std_err_clear(&e);
    g->h = h;
    unsigned long id = std_http_start(h, &q, on_done, g, &e);
    if (!id) fprintf(stderr, "start %s: %s\n", path, e.msg);
    return id;
}

/* Run the loop until *n >= want or limit_ms passes; returns 1 if reached. */
static int wait_n(std_loop *l, const int *n, int want, int64_t limit_ms)
{
    int64_t until = mono_ms() + limit_ms;
    while (*n < want && mono_ms() < until) std_loop_run_once(l, 20);
    return *n >= want;
}

static int wait_done(std_loop *l, got *g, int64_t limit_ms)
{
    return wait_n(l, &g->done, 1, limit_ms);
}

/* One request to completion. */
static void fetch(std_loop *l, std_http *h, const char *method, const char *path,
                  char *const *hdrs, const char *body, long timeout_ms, size_t max_body, got *g)
{
    memset(g, 0, sizeof *g);
    if (start(h, method, path, hdrs, body, timeout_ms, max_body, g)) wait_done(l, g, 10000);
}

static int fds_at_start;

/* ---- tests ------------------------------------------------------------- */

TEST(get_text_body_and_headers)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    fetch(l, h, "GET", "/text", NULL, NULL, 5000, 0, &g);
    CHECK(g.done == 1);
    CHECK(g.outcome == STD_HTTP_OK);
    CHECK(g.status == 200);
    CHECK_STR(g.body, "hello");
    CHECK(g.body_len == 5);
    CHECK(g.headers && strstr(g.headers, "Content-Type: text/plain\r\n"));
    CHECK(g.headers && strstr(g.headers, "Content-Length: 5\r\n"));
    CHECK(g.headers && !strstr(g.headers, "HTTP/"));           /* no status line */
    CHECK(g.headers && strcmp(g.headers + strlen(g.headers) - 2, "\r\n") == 0);
    CHECK(g.headers && !strstr(g.headers, "\r\n\r\n"));        /* no blank line */
    CHECK(g.error[0] == 0);
    CHECK(g.total_s > 0 && g.total_s < 5);
    CHECK(std_http_active(h) == 0);
    got_free(&g);
    std_http_free(h);
    CHECK(std_loop_active(l) == 0);
    std_loop_free(l);
}

TEST(post_json_echoed_with_our_headers)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    char *hdrs[] = {"Content-Type: application/json", "X-Wfdsl-Test: abc",
                    "Idempotency-Key: run1/step2", NULL};
    char body[64];
    snprintf(body, sizeof body, "{\"a\": 1, \"b\": \"two\"}");
    got g;
    memset(&g, 0, sizeof g);
    CHECK(start(h, "POST", "/echo?x=1&y=a%20b", hdrs, body, 5000, 0, &g) > 0);
    memset(body, '#', sizeof body - 1); /* the caller's buffer may change: it was copied */
    CHECK(wait_done(l, &g, 5000));
    CHECK(g.outcome == STD_HTTP_OK && g.status == 200);
    CHECK(g.body && strstr(g.body, "\"method\": \"POST\""));
    CHECK(g.body && strstr(g.body, "\"json\": {\"a\": 1, \"b\": \"two\"}"));
    CHECK(g.body && strstr(g.body, "\"X-Wfdsl-Test\": \"abc\""));
    CHECK(g.body && strstr(g.body, "\"Idempotency-Key\": \"run1/step2\""));
    CHECK(g.body && strstr(g.body, "\"Content-Type\": \"application/json\""));
    CHECK(g.body && strstr(g.body, "\"Content-Length\": \"20\""));
    CHECK(g.body && strstr(g.body, "\"query\": {\"x\": \"1\", \"y\": \"a b\"}"));
    CHECK(g.body && !strstr(g.body, "Expect"));
    CHECK(g.headers && strstr(g.headers, "Content-Type: application/json\r\n"));
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(methods)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    fetch(l, h, "PUT", "/echo", NULL, "{\"v\": 2}", 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.body && strstr(g.body, "\"method\": \"PUT\""));
    CHECK(g.body && strstr(g.body, "\"json\": {\"v\": 2}"));
    got_free(&g);
    fetch(l, h, "patch", "/echo", NULL, "x", 5000, 0, &g); /* sent upper-cased */
    CHECK(g.outcome == STD_HTTP_OK && g.body && strstr(g.body, "\"method\": \"PATCH\""));
    CHECK(g.body && strstr(g.body, "\"body\": \"x\""));
    got_free(&g);
    fetch(l, h, "DELETE", "/echo", NULL, NULL, 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.body && strstr(g.body, "\"method\": \"DELETE\""));
    CHECK(g.body && !strstr(g.body, "Content-Length"));
    got_free(&g);
    fetch(l, h, "POST", "/echo", NULL, NULL, 5000, 0, &g); /* no body: Content-Length 0 */
    CHECK(g.outcome == STD_HTTP_OK && g.body && strstr(g.body, "\"method\": \"POST\""));
    CHECK(g.body && strstr(g.body, "\"Content-Length\": \"0\""));
    got_free(&g);
    fetch(l, h, "OPTIONS", "/echo", NULL, NULL, 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.body && strstr(g.body, "\"method\": \"OPTIONS\""));
    got_free(&g);
    fetch(l, h, NULL, "/echo", NULL, NULL, 5000, 0, &g); /* NULL method: GET */
    CHECK(g.outcome == STD_HTTP_OK && g.body && strstr(g.body, "\"method\": \"GET\""));
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(head_works)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    /* max_body does not apply to HEAD: no body is transferred */
    fetch(l, h, "HEAD", "/big/5000", NULL, NULL, 5000, 1000, &g);
    CHECK(g.done == 1);
    CHECK(g.outcome == STD_HTTP_OK && g.status == 200);
    CHECK(g.body && g.body[0] == 0 && g.body_len == 0);
    CHECK(g.headers && strstr(g.headers, "Content-Length: 5000\r\n"));
    got_free(&g);
    /* and the connection is still good for a GET after it */
    fetch(l, h, "GET", "/text", NULL, NULL, 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.body && strcmp(g.body, "hello") == 0);
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(status_503_is_a_response)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    fetch(l, h, "GET", "/status/503", NULL, NULL, 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK);
    CHECK(g.status == 503);
    CHECK_STR(g.body, "{\"status\": 503}");
    got_free(&g);
    fetch(l, h, "GET", "/status/204", NULL, NULL, 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.status == 204 && g.body_len == 0);
    got_free(&g);
    fetch(l, h, "GET", "/no/such/thing", NULL, NULL, 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.status == 404);
    got_free(&g);
    /* redirects are not followed */
    fetch(l, h, "GET", "/status/302", NULL, NULL, 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.status == 302);
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(seq_and_retry_after)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    fetch(l, h, "GET", "/seq/t-http/500,502,200", NULL, NULL, 5000, 0, &g);
    CHECK(g.status == 500 && g.body && strstr(g.body, "\"attempt\": 1"));
    got_free(&g);
    fetch(l, h, "GET", "/seq/t-http/500,502,200", NULL, NULL, 5000, 0, &g);
    CHECK(g.status == 502);
    got_free(&g);
    fetch(l, h, "GET", "/seq/t-http/500,502,200", NULL, NULL, 5000, 0, &g);
    CHECK(g.status == 200);
    got_free(&g);
    fetch(l, h, "GET", "/seq/t-http/500,502,200", NULL, NULL, 5000, 0, &g);
    CHECK(g.status == 200 && g.body && strstr(g.body, "\"attempt\": 4"));
    got_free(&g);
    fetch(l, h, "GET", "/retry-after/t-http/7/1", NULL, NULL, 5000, 0, &g);
    CHECK(g.status == 429 && g.headers && strstr(g.headers, "Retry-After: 7\r\n"));
    got_free(&g);
    fetch(l, h, "GET", "/retry-after/t-http/7/1", NULL, NULL, 5000, 0, &g);
    CHECK(g.status == 200 && g.headers && !strstr(g.headers, "Retry-After"));
    got_free(&g);
    fetch(l, h, "GET", "/retry-after/t-http-date/date/1", NULL, NULL, 5000, 0, &g);
    CHECK(g.status == 429 && g.headers && strstr(g.headers, "Retry-After: "));
    CHECK(g.headers && strstr(g.headers, " GMT\r\n"));
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(timeout)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    int64_t t0 = mono_ms();
    fetch(l, h, "GET", "/delay/2000", NULL, NULL, 300, 0, &g);
    int64_t took = mono_ms() - t0;
    CHECK(g.done == 1);
    CHECK(g.outcome == STD_HTTP_TIMEOUT);
    CHECK(g.status == 0);
    CHECK(took >= 250 && took < 1500);
    CHECK(g.error[0] != 0);
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(reset_is_net)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    fetch(l, h, "GET", "/reset", NULL, NULL, 5000, 0, &g);
    CHECK(g.done == 1);
    CHECK(g.outcome == STD_HTTP_NET);
    CHECK(g.error[0] != 0);
    fprintf(stderr, "reset: %s\n", g.error);
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(closed_port_is_net)
{
    /* a port nobody listens on: bind an ephemeral one, then close it */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(s, (struct sockaddr *)&a, &al) == 0);
    close(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));

    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    fetch(l, h, "GET", url, NULL, NULL, 5000, 0, &g);
    CHECK(g.done == 1);
    CHECK(g.outcome == STD_HTTP_NET);
    CHECK(g.status == 0);
    CHECK(strstr(g.error, "onnect") != NULL); /* "Failed to connect ... Couldn't connect" */
    fprintf(stderr, "closed port: %s\n", g.error);
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(body_cap)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    /* Content-Length announces too much: refused before reading */
    fetch(l, h, "GET", "/big/100000", NULL, NULL, 5000, 1000, &g);
    CHECK(g.done == 1);
    CHECK(g.outcome == STD_HTTP_TOO_LARGE);
    CHECK(strstr(g.error, "1000") != NULL);
    got_free(&g);
    /* chunked, no length: the write callback stops it */
    fetch(l, h, "GET", "/big/100000?chunked=1", NULL, NULL, 5000, 1000, &g);
    CHECK(g.done == 1);
    CHECK(g.outcome == STD_HTTP_TOO_LARGE);
    got_free(&g);
    /* exactly the cap is fine, both ways */
    fetch(l, h, "GET", "/big/1000", NULL, NULL, 5000, 1000, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.body_len == 1000);
    got_free(&g);
    fetch(l, h, "GET", "/big/1000?chunked=1", NULL, NULL, 5000, 1000, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.body_len == 1000);
    got_free(&g);
    /* 0: no cap */
    fetch(l, h, "GET", "/big/300000?chunked=1", NULL, NULL, 5000, 0, &g);
    CHECK(g.outcome == STD_HTTP_OK && g.body_len == 300000);
    CHECK(g.body && g.body[0] == 'x' && g.body[299999] == 'x' && g.body[300000] == 0);
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(file_url_not_allowed)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    memset(&g, 0, sizeof g);
    unsigned long id = start(h, "GET", "file:///etc/passwd", NULL, NULL, 5000, 0, &g);
    if (id) wait_done(l, &g, 5000);
    CHECK(id > 0);
    CHECK(g.done == 1);
    CHECK(g.outcome == STD_HTTP_NET);
    CHECK(g.body_len == 0);
    CHECK(strstr(g.error, "rotocol") != NULL);
    fprintf(stderr, "file url: %s\n", g.error);
    got_free(&g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(bad_requests_refused_at_start)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got g;
    memset(&g, 0, sizeof g);
    std_err e;
    char url[128];
    snprintf(url, sizeof url, "%s/text", base);
    std_http_req q = {.method = "GE T", .url = url};
    std_err_clear(&e);
    CHECK(std_http_start(h, &q, on_done, &g, &e) == 0);
    CHECK(strstr(e.msg, "method") != NULL);
    char *inj[] = {"X-A: 1\r\nX-B: 2", NULL};
    q.method = "GET";
    q.headers = inj;
    std_err_clear(&e);
    CHECK(std_http_start(h, &q, on_done, &g, &e) == 0);
    CHECK(strstr(e.msg, "header") != NULL);
    q.headers = NULL;
    q.url = NULL;
    CHECK(std_http_start(h, &q, on_done, &g, &e) == 0);
    CHECK(std_http_active(h) == 0);
    std_loop_run_once(l, 50);
    CHECK(g.done == 0);
    std_http_free(h);
    std_loop_free(l);
}

TEST(two_hundred_at_once)
{
    enum { N = 200 };
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got *g = calloc(N, sizeof *g);
    int64_t t0 = mono_ms();
    int started = 0;
    for (int i = 0; i < N; i++) started += start(h, "GET", "/delay/500", NULL, NULL, 10000, 0, &g[i]) > 0;
    CHECK(started == N);
    CHECK(std_http_active(h) == N);
    int64_t until = t0 + 15000;
    int done = 0;
    while (mono_ms() < until) {
        done = 0;
        for (int i = 0; i < N; i++) done += g[i].done;
        if (done == N) break;
        std_loop_run_once(l, 50);
    }
    int64_t took = mono_ms() - t0;
    fprintf(stderr, "200 concurrent /delay/500: %lld ms\n", (long long)took);
    CHECK(done == N);
    CHECK(took < 5000);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        ok += g[i].done == 1 && g[i].outcome == STD_HTTP_OK && g[i].status == 200 &&
              g[i].body && strcmp(g[i].body, "{\"delayed\": 500}") == 0;
        got_free(&g[i]);
    }
    CHECK(ok == N);
    CHECK(std_http_active(h) == 0);
    free(g);
    std_http_free(h);
    std_loop_free(l);
}

TEST(cancel_in_flight)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    unsigned long ia = start(h, "GET", "/delay/300", NULL, NULL, 5000, 0, &a);
    unsigned long ib = start(h, "GET", "/delay/300", NULL, NULL, 5000, 0, &b);
    unsigned long ic = start(h, "GET", "/text", NULL, NULL, 5000, 0, &c);
    CHECK(ia && ib && ic && ia != ib && ib != ic);
    for (int i = 0; i < 5; i++) std_loop_run_once(l, 20); /* get them on the wire */
    CHECK(a.done == 0);
    int before = std_http_active(h); /* c may be done already */
    std_http_cancel(h, ia);
    std_http_cancel(h, ia);      /* twice: ignored */
    std_http_cancel(h, 999999);  /* unknown: ignored */
    CHECK(std_http_active(h) == before - 1);
    CHECK(wait_done(l, &b, 5000));
    CHECK(wait_done(l, &c, 5000));
    int64_t until = mono_ms() + 500;
    while (mono_ms() < until) std_loop_run_once(l, 50);
    CHECK(a.done == 0);
    CHECK(b.done == 1 && b.outcome == STD_HTTP_OK && b.status == 200);
    CHECK(c.done == 1 && c.outcome == STD_HTTP_OK && c.status == 200);
    CHECK(std_http_active(h) == 0);
    std_http_cancel(h, ib); /* already completed: ignored */
    got_free(&a);
    got_free(&b);
    got_free(&c);
    /* cancelled before the loop ever ran */
    memset(&a, 0, sizeof a);
    ia = start(h, "GET", "/text", NULL, NULL, 5000, 0, &a);
    std_http_cancel(h, ia);
    until = mono_ms() + 200;
    while (mono_ms() < until) std_loop_run_once(l, 50);
    CHECK(a.done == 0);
    std_http_free(h);
    CHECK(std_loop_active(l) == 0);
    std_loop_free(l);
}

TEST(cancel_and_start_from_callback)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got fast, slow, chained;
    memset(&fast, 0, sizeof fast);
    memset(&slow, 0, sizeof slow);
    memset(&chained, 0, sizeof chained);
    unsigned long is = start(h, "GET", "/delay/400", NULL, NULL, 5000, 0, &slow);
    start(h, "GET", "/text", NULL, NULL, 5000, 0, &fast);
    fast.cancel_id = is;    /* fast's callback cancels slow */
    fast.chain = &chained;  /* and starts another request */
    CHECK(wait_done(l, &fast, 5000));
    CHECK(wait_done(l, &chained, 5000));
    int64_t until = mono_ms() + 600;
    while (mono_ms() < until) std_loop_run_once(l, 50);
    CHECK(slow.done == 0);
    CHECK(chained.outcome == STD_HTTP_OK && chained.body && strcmp(chained.body, "hello") == 0);
    CHECK(std_http_active(h) == 0);
    got_free(&fast);
    got_free(&slow);
    got_free(&chained);

    /* two finishing in the same round: the first cancels the second */
    got p, q;
    memset(&p, 0, sizeof p);
    memset(&q, 0, sizeof q);
    start(h, "GET", "/delay/200", NULL, NULL, 5000, 0, &p);
    unsigned long iq = start(h, "GET", "/delay/200", NULL, NULL, 5000, 0, &q);
    p.cancel_id = iq; /* p's callback cancels q: harmless if q already finished */
    CHECK(wait_done(l, &p, 3000));
    int q_before = q.done; /* q completed before p's callback ran */
    int64_t until2 = mono_ms() + 400;
    while (mono_ms() < until2) std_loop_run_once(l, 50);
    CHECK(q.done == q_before); /* after the cancel, q's callback never runs */
    CHECK(p.outcome == STD_HTTP_OK);
    CHECK(std_http_active(h) == 0);
    got_free(&p);
    got_free(&q);
    std_http_free(h);
    std_loop_free(l);
}

TEST(free_with_requests_in_flight)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    start(h, "GET", "/delay/500", NULL, NULL, 5000, 0, &a);
    start(h, "POST", "/delay/500", NULL, "data", 5000, 0, &b);
    for (int i = 0; i < 3; i++) std_loop_run_once(l, 10);
    CHECK(std_http_active(h) == 2);
    std_http_free(h);
    CHECK(std_loop_active(l) == 0); /* no watcher or timer left behind */
    int64_t until = mono_ms() + 200;
    while (mono_ms() < until) std_loop_run_once(l, 50);
    CHECK(a.done == 0 && b.done == 0);
    got_free(&a);
    got_free(&b);
    std_loop_free(l);
}

TEST(free_from_callback)
{
    std_loop *l = std_loop_new();
    std_http *h = std_http_new(l);
    got fast, slow;
    memset(&fast, 0, sizeof fast);
    memset(&slow, 0, sizeof slow);
    start(h, "GET", "/delay/500", NULL, NULL, 5000, 0, &slow);
    start(h, "GET", "/text", NULL, NULL, 5000, 0, &fast);
    fast.free_h = 1;
    CHECK(wait_done(l, &fast, 5000));
    CHECK(std_loop_active(l) == 0);
    int64_t until = mono_ms() + 700;
    while (mono_ms() < until) std_loop_run_once(l, 50);
    CHECK(fast.done == 1 && fast.outcome == STD_HTTP_OK);
    CHECK(slow.done == 0);
    got_free(&fast);
    got_free(&slow);
    std_loop_free(l);
}

TEST(two_engines_share_nothing)
{
    std_loop *l1 = std_loop_new(), *l2 = std_loop_new();
    std_http *h1 = std_http_new(l1), *h2 = std_http_new(l2);
    got a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    start(h1, "GET", "/text", NULL, NULL, 5000, 0, &a);
    start(h2, "GET", "/status/201", NULL, NULL, 5000, 0, &b);
    CHECK(wait_done(l2, &b, 5000));
    CHECK(a.done == 0); /* l1 never ran */
    CHECK(wait_done(l1, &a, 5000));
    CHECK(a.status == 200 && b.status == 201);
    got_free(&a);
    got_free(&b);
    std_http_free(h1);
    std_http_free(h2);
    std_loop_free(l1);
    std_loop_free(l2);
}

TEST(urlencode)
{
    std_buf b = {0};
    std_http_urlencode(&b, "a b&c/=?\xc3\xa9~-._Z9", strlen("a b&c/=?\xc3\xa9~-._Z9"));
    CHECK_STR(b.p, "a%20b%26c%2F%3D%3F%C3%A9~-._Z9");
    std_buf_free(&b);
    std_http_urlencode(&b, "", 0);
    CHECK_STR(b.p, "");
    std_buf_free(&b);
    std_http_urlencode(&b, "a\0b", 3);
    CHECK_STR(b.p, "a%00b");
    std_buf_free(&b);
}

TEST(no_fd_leak)
{
    CHECK(count_fds() == fds_at_start);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* http.c asks the host to ignore it */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    if (server_start() != 0) {
        printf("FAIL server: could not start tests/http_server.py (cwd must be the repo root)\n");
        server_stop();
        return 1;
    }
    fds_at_start = count_fds();
    RUN(get_text_body_and_headers);
    RUN(post_json_echoed_with_our_headers);
    RUN(methods);
    RUN(head_works);
    RUN(status_503_is_a_response);
    RUN(seq_and_retry_after);
    RUN(timeout);
    RUN(reset_is_net);
    RUN(closed_port_is_net);
    RUN(body_cap);
    RUN(file_url_not_allowed);
    RUN(bad_requests_refused_at_start);
    RUN(two_hundred_at_once);
    RUN(cancel_in_flight);
    RUN(cancel_and_start_from_callback);
    RUN(free_with_requests_in_flight);
    RUN(free_from_callback);
    RUN(two_engines_share_nothing);
    RUN(urlencode);
    RUN(no_fd_leak);
    server_stop();
    CHECK_DONE();
}
