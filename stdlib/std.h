/* std.h — the small shared vocabulary of wfdsl: the error struct, a growable
 * buffer, diagnostics lists, clock and hashing helpers.
 *
 * Every directory uses these; nothing here knows about workflows.
 * Ownership: a std_buf owns its bytes (free with std_buf_free); a std_diags
 * owns its formatted messages (free with std_diags_free).
 */
#ifndef WF_STD_H
#define WF_STD_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* One error: a dotted type (e.g. "lua.limit", "shell.exit", "storage"),
 * an optional source position and a message. Functions return 0 on success
 * and -1 on failure after filling the std_err they were given (which may be
 * NULL when the caller does not care). */
typedef struct std_err {
    char type[64];   /* dotted error type; "" means plain internal error */
    char file[256];  /* source file, "" if none */
    int line, col;   /* 1-based; 0 if unknown */
    char msg[1024];
} std_err;

/* Fill e (type may be NULL) and return -1. */
int std_errf(std_err *e, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with a position. */
int std_errpos(std_err *e, const char *type, const char *file, int line, int col,
               const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void std_err_clear(std_err *e);

/* Growable byte buffer, always NUL-terminated when len > 0 or after add. */
typedef struct std_buf {
    char *p;
    size_t len, cap;
} std_buf;
void std_buf_add(std_buf *b, const void *data, size_t n);
void std_buf_adds(std_buf *b, const char *s);
void std_buf_addf(std_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void std_buf_vaddf(std_buf *b, const char *fmt, va_list ap);
void std_buf_reset(std_buf *b);
void std_buf_free(std_buf *b);
/* Hand the bytes over to the caller (NUL-terminated, never NULL). */
char *std_buf_take(std_buf *b);
/* A formatted string in new memory (free it); never NULL. */
char *std_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A list of formatted diagnostics "file:line:col: error: message". */
typedef struct std_diags {
    char **msgs;
    size_t n, cap;
} std_diags;
void std_diag(std_diags *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void std_diags_free(std_diags *d);

/* Wall clock in milliseconds since the epoch; monotonic clock in ns. */
int64_t std_now_ms(void);
int64_t std_mono_ns(void);
/* RFC 3339 UTC with milliseconds: "2026-11-25T14:00:00.000Z" (out >= 32). */
void std_fmt_time(int64_t ms, char *out, size_t n);

/* Parse RFC 3339 ("2026-11-25T14:00:00Z", "...T14:00:00.250+01:00") into
 * ms since the epoch; 0 or -1. */
int std_parse_time(const char *s, int64_t *ms);

/* SHA-256 as 64 lowercase hex chars + NUL. */
void std_sha256_hex(const void *data, size_t n, char out[65]);
/* 128 random bits as 32 hex chars + NUL (from getrandom). */
void std_random_hex(char out[33]);

/* Read a whole file; returns malloc'd NUL-terminated bytes or NULL with e filled.
 * Files (pipes included) past STD_MAX_FILE bytes are refused: definitions and
 * inputs are small, and /dev/zero must not eat the memory. */
#define STD_MAX_FILE (256 * 1024 * 1024)
char *std_read_file(const char *path, size_t *len, std_err *e);

/* Levenshtein distance, for did-you-mean hints. */
int std_edit_distance(const char *a, const char *b);
/* The closest of cands[0..n) to s when close enough, else NULL. */
const char *std_suggest(const char *s, const char *const *cands, size_t n);

#endif
