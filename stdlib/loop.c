/* loop.c — the engine's single event loop: fd watchers over poll(2) and
 * timers in a binary min-heap keyed by due time (std_now_ms clock).
 *
 * What it does: one std_loop_run_once() computes the poll timeout from the
 * next timer, polls, dispatches ready fds, then due timers. Callbacks may add
 * or remove watchers and timers (their own included) while being dispatched.
 * What it does not do: own or close fds, handle signals, or run callbacks on
 * other threads. It is not reentrant (no run_once from inside a callback).
 *
 * Dispatch rules (why they are safe against mutation during dispatch):
 *  - fds: poll works on a snapshot; every watcher carries a generation
 *    number that changes whenever it is added, replaced or removed, so an
 *    event is delivered only to the exact registration that was polled.
 *    A watcher changed during dispatch gets its events on the next round
 *    (poll is level-triggered, nothing is lost).
 *  - timers: cancellation is lazy — a timer is pending while its id is in a
 *    hash set; cancel just removes the id, and the heap entry is skipped when
 *    it surfaces (the heap is compacted when mostly stale). Timers added
 *    during the timer phase wait for the next round even if already due, so
 *    a callback re-arming a timer "now" cannot starve the fds.
 *  - timers with equal due times fire in creation order (ids increase).
 * Timers follow the wall clock: a clock step moves them with it.
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "std.h"

typedef struct watcher {
    int fd;
    short events;
    uint64_t gen;
    std_io_cb cb;
    void *ud;
} watcher;

typedef struct timer {
    int64_t due;
    uint64_t id;
    std_timer_cb cb;
    void *ud;
} timer;

struct std_loop {
    /* watchers: dense array plus an fd -> index map (-1: not watched) */
    watcher *w;
    size_t nw, capw;
    int *idx;
    size_t nidx;
    uint64_t next_gen;

    /* poll snapshot, reused between rounds */
    struct pollfd *pfd;
    uint64_t *pgen;
    size_t cappfd;

    /* timers: min-heap of entries (some possibly cancelled) */
    timer *heap;
    size_t nh, caph;
    uint64_t next_id;
    /* pending ids: open addressing, linear probing, 0 = empty slot */
    uint64_t *set;
    size_t setcap, nset;
    /* due timers taken off the heap for the current timer phase */
    timer *due;
    size_t capdue;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    return q;
}

/* ---- pending-id hash set ---------------------------------------------- */

static size_t id_slot(uint64_t id, size_t cap)
{
    /* splitmix64 finaliser: ids are sequential, spread them out */
    id ^= id >> 30;
    id *= 0xbf58476d1ce4e5b9ULL;
    id ^= id >> 27;
    id *= 0x94d049bb133111ebULL;
    id ^= id >> 31;
    return (size_t)id & (cap - 1);
}

static void set_insert(std_loop *l, uint64_t id);

static void set_grow(std_loop *l)
{
    uint64_t *old = l->set;
    size_t oldcap = l->setcap;
    l->setcap = oldcap ? oldcap * 2 : 64;
    l->set = calloc(l->setcap, sizeof *l->set);
    if (!l->set) {
        fputs("wfdsl: out of memory\n", stderr);
        abort();
    }
    l->nset = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i]) set_insert(l, old[i]);
    free(old);
}

static void set_insert(std_loop *l, uint64_t id)
{
    if ((l->nset + 1) * 2 > l->setcap) set_grow(l); /* load factor <= 1/2 */
    size_t m = l->setcap - 1, i = id_slot(id, l->setcap);
    while (l->set[i]) i = (i + 1) & m;
    l->set[i] = id;
    l->nset++;
}

static int set_has(const std_loop *l, uint64_t id)
{
    if (!l->setcap) return 0;
    size_t m = l->setcap - 1, i = id_slot(id, l->setcap);
    while (l->set[i]) {
        if (l->set[i] == id) return 1;
        i = (i + 1) & m;
    }
    return 0;
}

/* Remove id; returns 1 if it was present. Backward-shift deletion keeps
 * probe chains intact without tombstones. */
static int set_remove(std_loop *l, uint64_t id)
{
    if (!l->setcap) return 0;
    size_t m = l->setcap - 1, i = id_slot(id, l->setcap);
    while (l->set[i] != id) {
        if (!l->set[i]) return 0;
        i = (i + 1) & m;
    }
    size_t j = i;
    for (;;) {
        j = (j + 1) & m;
        if (!l->set[j]) break;
        size_t home = id_slot(l->set[j], l->setcap);
        /* move set[j] into the hole at i unless its home lies in (i, j] */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            l->set[i] = l->set[j];
            i = j;
        }
    }
    l->set[i] = 0;
    l->nset--;
    return 1;
}

/* ---- timer heap -------------------------------------------------------- */

static int t_less(const timer *a, const timer *b)
{
    return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void heap_up(timer *h, size_t i)
{
    timer t = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!t_less(&t, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = t;
}

static void heap_down(timer *h, size_t n, size_t i)
{
    timer t = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && t_less(&h[c + 1], &h[c])) c++;
        if (!t_less(&h[c], &t)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = t;
}

static timer heap_pop(std_loop *l)
{
    timer top = l->heap[0];
    l->heap[0] = l->heap[--l->nh];
    if (l->nh) heap_down(l->heap, l->nh, 0);
    return top;
}

/* Drop cancelled entries sitting at the top, so heap[0] (if any) is live. */
static void heap_skip_cancelled(std_loop *l)
{
    while (l->nh && !set_has(l, l->heap[0].id)) heap_pop(l);
}

/* Rebuild the heap without cancelled entries once they dominate it. */
static void heap_maybe_compact(std_loop *l)
{
    if (l->nh < 64 || l->nh <= 2 * l->nset) return;
    size_t k = 0;
    for (size_t i = 0; i < l->nh; i++)
        if (set_has(l, l->heap[i].id)) l->heap[k++] = l->heap[i];
    l->nh = k;
    for (size_t i = k / 2; i-- > 0;) heap_down(l->heap, l->nh, i);
}

/* ---- public API -------------------------------------------------------- */

std_loop *std_loop_new(void)
{
    std_loop *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->next_id = 1;
    l->next_gen = 1;
    return l;
}

void std_loop_free(std_loop *l)
{
    if (!l) return;
    free(l->w);
    free(l->idx);
    free(l->pfd);
    free(l->pgen);
    free(l->heap);
    free(l->set);
    free(l->due);
    free(l);
}

int std_loop_io(std_loop *l, int fd, short events, std_io_cb cb, void *ud)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    size_t ufd = (size_t)fd;
    int at = ufd < l->nidx ? l->idx[ufd] : -1;

    if (events == 0) { /* remove: swap the last watcher into the hole */
        if (at < 0) return 0;
        size_t last = l->nw - 1;
        if ((size_t)at != last) {
            l->w[at] = l->w[last];
            l->idx[l->w[at].fd] = at;
        }
        l->nw--;
        l->idx[ufd] = -1;
        return 0;
    }
    if (!cb) {
        errno = EINVAL;
        return -1;
    }
    if (at < 0) {
        if (ufd >= l->nidx) {
            size_t n = l->nidx ? l->nidx : 64;
            while (n <= ufd) n *= 2;
            l->idx = xrealloc(l->idx, n * sizeof *l->idx);
            for (size_t i = l->nidx; i < n; i++) l->idx[i] = -1;
            l->nidx = n;
        }
        if (l->nw == l->capw) {
            l->capw = l->capw ? l->capw * 2 : 16;
            l->w = xrealloc(l->w, l->capw * sizeof *l->w);
        }
        at = (int)l->nw++;
        l->idx[ufd] = at;
    }
    l->w[at] = (watcher){.fd = fd, .events = events, .gen = l->next_gen++, .cb = cb, .ud = ud};
    return 0;
}

uint64_t std_loop_timer(std_loop *l, int64_t due_ms, std_timer_cb cb, void *ud)
{
    if (l->nh == l->caph) {
        l->caph = l->caph ? l->caph * 2 : 16;
        l->heap = xrealloc(l->heap, l->caph * sizeof *l->heap);
    }
    uint64_t id = l->next_id++;
    l->heap[l->nh] = (timer){.due = due_ms, .id = id, .cb = cb, .ud = ud};
    heap_up(l->heap, l->nh++);
    set_insert(l, id);
    return id;
}

void std_loop_timer_cancel(std_loop *l, uint64_t id)
{
    if (id && set_remove(l, id)) heap_maybe_compact(l);
}

int std_loop_active(const std_loop *l)
{
    size_t n = l->nw + l->nset;
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* Take every live timer due at `now` and created before this phase off the
 * heap (in firing order) into l->due; returns how many. */
static size_t collect_due(std_loop *l, int64_t now)
{
    size_t n = 0;
    for (;;) {
        heap_skip_cancelled(l);
        if (!l->nh || l->heap[0].due > now) break;
        if (n == l->capdue) {
            l->capdue = l->capdue ? l->capdue * 2 : 16;
            l->due = xrealloc(l->due, l->capdue * sizeof *l->due);
        }
        l->due[n++] = heap_pop(l);
    }
    return n;
}

int std_loop_run_once(std_loop *l, int64_t max_wait_ms)
{
    /* Nothing could ever wake us: do not block forever. */
    if (max_wait_ms < 0 && std_loop_active(l) == 0) return 0;

    /* timeout = min(max_wait, time to the next live timer) */
    int64_t wait = max_wait_ms < 0 ? -1 : max_wait_ms;
    heap_skip_cancelled(l);
    if (l->nh) {
        int64_t until = l->heap[0].due - std_now_ms();
        if (until < 0) until = 0;
        if (wait < 0 || until < wait) wait = until;
    }
    if (wait > INT_MAX) wait = INT_MAX;

    /* snapshot the watchers */
    if (l->nw > l->cappfd) {
        l->cappfd = l->nw * 2;
        l->pfd = xrealloc(l->pfd, l->cappfd * sizeof *l->pfd);
        l->pgen = xrealloc(l->pgen, l->cappfd * sizeof *l->pgen);
    }
    size_t np = l->nw;
    for (size_t i = 0; i < np; i++) {
        l->pfd[i] = (struct pollfd){.fd = l->w[i].fd, .events = l->w[i].events};
        l->pgen[i] = l->w[i].gen;
    }

    int r = poll(l->pfd, (nfds_t)np, (int)wait);
    if (r < 0) return errno == EINTR ? 0 : -1;

    int ran = 0;
    for (size_t i = 0; i < np && r > 0; i++) {
        short rev = l->pfd[i].revents;
        if (!rev) continue;
        r--;
        int fd = l->pfd[i].fd;
        int at = (size_t)fd < l->nidx ? l->idx[fd] : -1;
        if (at < 0 || l->w[at].gen != l->pgen[i]) continue; /* removed or changed */
        watcher w = l->w[at];
        rev &= (short)(w.events | POLLERR | POLLHUP | POLLNVAL);
        if (!rev) continue;
        w.cb(l, fd, rev, w.ud);
        ran++;
    }

    /* Due timers. Entries are popped first, then fired one by one; one whose
     * id was cancelled by an earlier callback of this phase is skipped. */
    size_t nd = collect_due(l, std_now_ms());
    for (size_t i = 0; i < nd; i++) {
        timer t = l->due[i];
        if (!set_remove(l, t.id)) continue;
        t.cb(l, t.ud);
        ran++;
    }
    return ran;
}
