/* http.c — HTTP requests on one libcurl multi handle driven by std_loop.
 *
 * What it does: each std_http_start() builds one easy handle (method, URL,
 * headers, a private copy of the body, a whole-request timeout, a response
 * body cap) and adds it to the multi handle. curl tells us which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION -> std_loop_io) and when to wake it
 * (CURLMOPT_TIMERFUNCTION -> one std_loop timer); the loop calls back into
 * curl_multi_socket_action, after which finished transfers are drained from
 * curl_multi_info_read and their callbacks run. Idle connections stay in the
 * multi handle's pool and are reused by later requests to the same host.
 *
 * What it does not do: retry, follow redirects (FOLLOWLOCATION is off: a 3xx
 * is reported as it is, with its Location header), judge statuses, decode
 * bodies (no Accept-Encoding is sent), or speak anything but http and https
 * (other URL schemes fail as STD_HTTP_NET). Proxies come from the usual
 * environment variables (http_proxy, https_proxy, no_proxy), as in libcurl.
 *
 * Details callers may rely on:
 *  - the method is sent upper-cased; HEAD asks for no body; POST, PUT and
 *    PATCH without a body send "Content-Length: 0". With a body and no
 *    Content-Type header of the caller's, curl sends
 *    application/x-www-form-urlencoded: pass the type you mean.
 *    "Expect: 100-continue" is never sent unless the caller asks for it.
 *  - a header "Name:" (nothing after the colon) removes a header curl would
 *    send by itself; "Name;" sends it empty. Headers with CR/LF are refused.
 *  - resp.headers holds only the final response's header lines, each
 *    "Name: value\r\n", without the status line and the blank line (interim
 *    1xx responses and proxy CONNECT replies are dropped); resp.body and
 *    resp.headers are NUL-terminated and never NULL in the callback.
 *  - max_body == 0 and timeout_ms == 0 mean no limit. A body past max_body
 *    (or a Content-Length announcing it) fails as STD_HTTP_TOO_LARGE; header
 *    blocks past HTTP_MAX_HEADERS bytes also fail as TOO_LARGE.
 *  - total_s is measured from std_http_start to completion (our clock).
 *
 * Lifetime and reentrancy: a done callback may start, cancel, and even free
 * the std_http (the free is finished once the dispatch that ran the callback
 * unwinds). std_http_free must be called before std_loop_free. curl's
 * callbacks never call back into curl; a "timeout 0" from curl becomes a
 * loop timer due now, run on the next loop round.
 *
 * curl_global_init is called by every std_http_new and paired with
 * curl_global_cleanup in std_http_free: libcurl keeps its own reference count,
 * so several std_http objects may coexist (create them from one thread).
 * The host should ignore SIGPIPE (CURLOPT_NOSIGNAL is set: curl installs no
 * signal handlers of its own).
 */
#include "http.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl >= 7.85 is required (CURLOPT_PROTOCOLS_STR)"
#endif

#define HTTP_MAX_HEADERS (1024 * 1024) /* bytes of response headers kept */
#define HTTP_MAX_METHOD 32

typedef struct http_req {
    std_http *h;
    unsigned long id;
    struct http_req *hnext; /* id hash chain */
    CURL *easy;
    struct curl_slist *hdrs;
    char *body; /* our copy of the request body */
    size_t max_body;
    int too_large; /* 1: body cap, 2: header cap */
    int64_t start_ns;
    std_http_done_cb cb;
    void *ud;
    std_http_resp resp;
    char errbuf[CURL_ERROR_SIZE];
} http_req;

/* one socket curl asked us to watch (curl_multi_assign'ed to it) */
typedef struct http_sock {
    int fd;
    short events;
    struct http_sock *prev, *next;
} http_sock;

struct std_http {
    std_loop *loop;
    CURLM *multi;
    uint64_t timer; /* pending loop timer for curl, 0 if none */
    unsigned long next_id;
    /* requests in flight by id: chained hash, power-of-two buckets */
    http_req **tab;
    size_t tabcap, nreq;
    http_sock *socks;
    int depth;   /* > 0 while dispatching from the loop */
    int dead;    /* std_http_free was called during a dispatch */
    int closing; /* tearing down: curl callbacks only release */
};

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (!p) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* ---- requests by id ---------------------------------------------------- */

static size_t id_slot(unsigned long id, size_t cap)
{
    uint64_t x = id;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

static void tab_insert(std_http *h, http_req *r)
{
    if (h->nreq + 1 > h->tabcap) {
        size_t cap = h->tabcap ? h->tabcap * 2 : 64;
        http_req **t = xcalloc(cap, sizeof *t);
        for (size_t i = 0; i < h->tabcap; i++) {
            http_req *q = h->tab[i];
            while (q) {
                http_req *nx = q->hnext;
                size_t s = id_slot(q->id, cap);
                q->hnext = t[s];
                t[s] = q;
                q = nx;
            }
        }
        free(h->tab);
        h->tab = t;
        h->tabcap = cap;
    }
    size_t s = id_slot(r->id, h->tabcap);
    r->hnext = h->tab[s];
    h->tab[s] = r;
    h->nreq++;
}

/* Unlink and return the request with this id, or NULL. */
static http_req *tab_remove(std_http *h, unsigned long id)
{
    if (!h->tabcap) return NULL;
    http_req **pp = &h->tab[id_slot(id, h->tabcap)];
    for (; *pp; pp = &(*pp)->hnext) {
        if ((*pp)->id == id) {
            http_req *r = *pp;
            *pp = r->hnext;
            r->hnext = NULL;
            h->nreq--;
            return r;
        }
    }
    return NULL;
}

/* Release an unlinked request (its callback is not called). */
static void req_free(std_http *h, http_req *r)
{
    if (r->easy) {
        curl_multi_remove_handle(h->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->hdrs);
    free(r->body);
    std_buf_free(&r->resp.headers);
    std_buf_free(&r->resp.body);
    free(r);
}

static void abort_all(std_http *h)
{
    for (size_t i = 0; i < h->tabcap; i++) {
        while (h->tab[i]) {
            http_req *r = h->tab[i];
            h->tab[i] = r->hnext;
            h->nreq--;
            req_free(h, r);
        }
    }
}

/* ---- curl <-> loop ----------------------------------------------------- */

static void dispatch_done(std_http *h);
static void destroy(std_http *h);

/* Leave a dispatch; finish a free requested from inside it. */
static void leave(std_http *h)
{
    if (--h->depth == 0 && h->dead) destroy(h);
}

static void on_io(std_loop *l, int fd, int revents, void *ud)
{
    std_http *h = ud;
    if (h->dead) return;
    int flags = 0;
    if (revents & POLLIN) flags |= CURL_CSELECT_IN;
    if (revents & POLLOUT) flags |= CURL_CSELECT_OUT;
    if (revents & (POLLERR | POLLHUP)) {
        /* Let curl meet the error or EOF in its own recv/send/SO_ERROR
         * instead of CURL_CSELECT_ERR, which would discard data still
         * readable before a hang-up. */
        flags |= CURL_CSELECT_IN | CURL_CSELECT_OUT;
    }
    if (revents & POLLNVAL) {
        /* closed behind our back: stop watching it, tell curl */
        std_loop_io(l, fd, 0, NULL, NULL);
        for (http_sock *k = h->socks; k; k = k->next)
            if (k->fd == fd) k->events = 0;
        flags = CURL_CSELECT_ERR;
    }
    int running = 0;
    h->depth++;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    dispatch_done(h);
    leave(h);
}

static void on_timer(std_loop *l, void *ud)
{
    std_http *h = ud;
    (void)l;
    h->timer = 0;
    if (h->dead) return;
    int running = 0;
    h->depth++;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    dispatch_done(h);
    leave(h);
}

/* CURLMOPT_TIMERFUNCTION: one timer at a time; -1 removes it. */
static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    std_http *h = userp;
    (void)m;
    if (h->timer) {
        std_loop_timer_cancel(h->loop, h->timer);
        h->timer = 0;
    }
    if (timeout_ms >= 0 && !h->closing)
        h->timer = std_loop_timer(h->loop, std_now_ms() + timeout_ms, on_timer, h);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: mirror curl's interest in s into the loop. */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    std_http *h = userp;
    http_sock *k = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            if (k->events) std_loop_io(h->loop, k->fd, 0, NULL, NULL);
            if (k->prev) k->prev->next = k->next;
            else h->socks = k->next;
            if (k->next) k->next->prev = k->prev;
            free(k);
        }
        return 0;
    }
    if (h->closing) return 0; /* tearing down: watch nothing new */
    if (!k) {
        k = xcalloc(1, sizeof *k);
        k->fd = s;
        k->next = h->socks;
        if (h->socks) h->socks->prev = k;
        h->socks = k;
        curl_multi_assign(h->multi, s, k);
    }
    short ev = 0;
    if (what & CURL_POLL_IN) ev |= POLLIN;
    if (what & CURL_POLL_OUT) ev |= POLLOUT;
    k->events = ev;
    return std_loop_io(h->loop, s, ev, on_io, h) < 0 ? -1 : 0;
}

/* ---- per-request callbacks --------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    http_req *r = ud;
    size_t len = size * n;
    if (r->max_body && len > r->max_body - r->resp.body.len) {
        r->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    std_buf_add(&r->resp.body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    http_req *r = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response begins */
        std_buf_reset(&r->resp.headers);
        return len;
    }
    if ((len == 2 && p[0] == '\r' && p[1] == '\n') || (len == 1 && p[0] == '\n')) return len;
    if (len > HTTP_MAX_HEADERS - r->resp.headers.len) {
        r->too_large = 2;
        return 0;
    }
    std_buf_add(&r->resp.headers, p, len);
    return len;
}

/* Complete one finished transfer: unlink it, report, release. */
static void finish(std_http *h, http_req *r, CURLcode rc)
{
    tab_remove(h, r->id);
    curl_multi_remove_handle(h->multi, r->easy);

    std_http_resp *resp = &r->resp;
    resp->total_s = (double)(std_mono_ns() - r->start_ns) / 1e9;
    if (rc == CURLE_OK) {
        resp->outcome = STD_HTTP_OK;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp->status);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        resp->outcome = STD_HTTP_TIMEOUT;
    } else if (r->too_large == 1 || rc == CURLE_FILESIZE_EXCEEDED) {
        resp->outcome = STD_HTTP_TOO_LARGE;
        snprintf(resp->error, sizeof resp->error, "response body larger than %zu bytes",
                 r->max_body);
    } else if (r->too_large == 2) {
        resp->outcome = STD_HTTP_TOO_LARGE;
        snprintf(resp->error, sizeof resp->error, "response headers larger than %d bytes",
                 HTTP_MAX_HEADERS);
    } else {
        resp->outcome = STD_HTTP_NET;
    }
    if (resp->outcome != STD_HTTP_OK) {
        resp->status = 0;
        if (!resp->error[0])
            snprintf(resp->error, sizeof resp->error, "%s",
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    }
    r->cb(resp, r->ud);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    req_free(h, r);
}

static void dispatch_done(std_http *h)
{
    CURLMsg *m;
    int left;
    while (!h->dead && (m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        http_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode rc = m->data.result; /* m dies with remove_handle */
        if (r) finish(h, r, rc);
    }
}

/* ---- public API -------------------------------------------------------- */

std_http *std_http_new(std_loop *l)
{
    if (!l || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    std_http *h = xcalloc(1, sizeof *h);
    h->loop = l;
    h->next_id = 1;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        curl_global_cleanup();
        return NULL;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

static void destroy(std_http *h)
{
    abort_all(h);
    h->closing = 1;
    curl_multi_cleanup(h->multi);
    while (h->socks) { /* whatever curl did not remove itself */
        http_sock *k = h->socks;
        h->socks = k->next;
        if (k->events) std_loop_io(h->loop, k->fd, 0, NULL, NULL);
        free(k);
    }
    if (h->timer) std_loop_timer_cancel(h->loop, h->timer);
    free(h->tab);
    free(h);
    curl_global_cleanup();
}

void std_http_free(std_http *h)
{
    if (!h || h->dead) return;
    if (h->depth) { /* inside one of our dispatches: finish when it unwinds */
        abort_all(h);
        h->dead = 1;
        return;
    }
    destroy(h);
}

static int bad_method(const char *m, char out[HTTP_MAX_METHOD])
{
    size_t n = strlen(m);
    if (n == 0 || n >= HTTP_MAX_METHOD) return 1;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)m[i];
        if (c && !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   strchr("!#$%&'*+-.^_`|~", c)))
            return 1;
        out[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    return 0;
}

static int has_header(char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], name, n) == 0 && (headers[i][n] == ':' || headers[i][n] == ';'))
            return 1;
    return 0;
}

unsigned long std_http_start(std_http *h, const std_http_req *req, std_http_done_cb cb, void *ud,
                             std_err *e)
{
    if (!h || h->dead || !req || !req->url || !cb) {
        std_errf(e, "http", "std_http_start: missing handle, url or callback");
        return 0;
    }
    char method[HTTP_MAX_METHOD];
    if (bad_method(req->method ? req->method : "GET", method)) {
        std_errf(e, "http", "invalid HTTP method \"%s\"", req->method);
        return 0;
    }
    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        const char *hd = req->headers[i];
        if (strpbrk(hd, "\r\n") || !strpbrk(hd, ":;") || hd[0] == ':' || hd[0] == ';') {
            std_errf(e, "http", "invalid HTTP header \"%.200s\"", hd);
            return 0;
        }
    }

    http_req *r = xcalloc(1, sizeof *r);
    r->h = h;
    r->cb = cb;
    r->ud = ud;
    r->max_body = req->max_body;
    std_buf_add(&r->resp.headers, "", 0);
    std_buf_add(&r->resp.body, "", 0);
    r->easy = curl_easy_init();
    if (!r->easy) {
        std_errf(e, "http", "curl_easy_init failed");
        goto fail;
    }
    CURL *c = r->easy;
    CURLcode rc = curl_easy_setopt(c, CURLOPT_URL, req->url);
    if (rc != CURLE_OK) {
        std_errf(e, "http", "bad URL \"%.200s\": %s", req->url, curl_easy_strerror(rc));
        goto fail;
    }
    if (curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK) {
        std_errf(e, "http", "libcurl cannot restrict protocols (needs 7.85 or later)");
        goto fail;
    }
    curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "wfdsl");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    if (req->timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    if (req->max_body && strcmp(method, "HEAD") != 0) { /* checks Content-Length early */
        curl_off_t cap = req->max_body > (size_t)INT64_MAX ? INT64_MAX : (curl_off_t)req->max_body;
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, cap);
    }

    int is_head = strcmp(method, "HEAD") == 0, is_get = strcmp(method, "GET") == 0;
    int wants_body = !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
    if (is_head) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req->body || wants_body) {
        size_t n = req->body ? req->body_len : 0;
        r->body = malloc(n ? n : 1);
        if (!r->body) {
            std_errf(e, "http", "out of memory copying the request body");
            goto fail;
        }
        if (n) memcpy(r->body, req->body, n);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        if (strcmp(method, "POST") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (!is_get) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }

    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        struct curl_slist *s = curl_slist_append(r->hdrs, req->headers[i]);
        if (!s) {
            std_errf(e, "http", "out of memory building headers");
            goto fail;
        }
        r->hdrs = s;
    }
    if (!has_header(req->headers, "Expect")) {
        struct curl_slist *s = curl_slist_append(r->hdrs, "Expect:");
        if (!s) {
            std_errf(e, "http", "out of memory building headers");
            goto fail;
        }
        r->hdrs = s;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->hdrs);

    r->id = h->next_id++;
    if (h->next_id == 0) h->next_id = 1;
    r->start_ns = std_mono_ns();
    CURLMcode mc = curl_multi_add_handle(h->multi, c);
    if (mc != CURLM_OK) {
        std_errf(e, "http", "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        goto fail;
    }
    tab_insert(h, r);
    return r->id;

fail:
    if (r->easy) curl_easy_cleanup(r->easy);
    r->easy = NULL;
    req_free(h, r);
    return 0;
}

void std_http_cancel(std_http *h, unsigned long id)
{
    if (!h || h->dead) return;
    http_req *r = tab_remove(h, id);
    if (r) req_free(h, r);
}

int std_http_active(const std_http *h)
{
    if (!h) return 0;
    return h->nreq > INT32_MAX ? INT32_MAX : (int)h->nreq;
}

void std_http_urlencode(std_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    std_buf_add(b, "", 0);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            std_buf_add(b, &c, 1);
        } else {
            char t[3] = {'%', hex[c >> 4], hex[c & 15]};
            std_buf_add(b, t, 3);
        }
    }
}
