/* loop.h — the engine's one event loop: file-descriptor watchers and timers
 * over poll(2). Child processes (stdlib/proc.c) and, later, curl's multi
 * handle register here, so every effect of every run shares one thread.
 *
 * It does not own the fds it watches. Callbacks may add or remove watchers
 * and timers, including their own. Single-threaded; not reentrant.
 */
#ifndef WF_LOOP_H
#define WF_LOOP_H

#include <stdint.h>

typedef struct std_loop std_loop;
typedef void (*std_io_cb)(std_loop *l, int fd, int revents, void *ud);
typedef void (*std_timer_cb)(std_loop *l, void *ud);

std_loop *std_loop_new(void);
void std_loop_free(std_loop *l);

/* Watch fd for events (POLLIN/POLLOUT); events == 0 removes the watcher.
 * Re-adding an fd replaces its callback and events. Returns 0 or -1. */
int std_loop_io(std_loop *l, int fd, short events, std_io_cb cb, void *ud);

/* Call cb once at or after due_ms (std_now_ms clock). Returns an id > 0. */
uint64_t std_loop_timer(std_loop *l, int64_t due_ms, std_timer_cb cb, void *ud);
/* Cancel a timer that has not fired; unknown ids are ignored. */
void std_loop_timer_cancel(std_loop *l, uint64_t id);

/* Number of io watchers plus pending timers. */
int std_loop_active(const std_loop *l);

/* Wait at most max_wait_ms (-1: until something happens; 0: do not block),
 * then dispatch ready fds and due timers. Returns the number of callbacks
 * run, or -1 on a poll error other than EINTR. */
int std_loop_run_once(std_loop *l, int64_t max_wait_ms);

#endif
