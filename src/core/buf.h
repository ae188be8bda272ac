/* buf.h — a growable byte buffer with a hard cap fixed at birth.
 *
 * Every buffer a client can fill has a cap (STYLE.md: curl's dynbuf with its
 * toobig). Appending past the cap fails with BUF_TOO_BIG and leaves the buffer
 * unchanged; the caller decides what that means for the protocol (431, 413,
 * 1009, close). Memory is allocated lazily: an empty buffer owns nothing.
 */
#ifndef PARLEY_CORE_BUF_H
#define PARLEY_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef enum { BUF_OK = 0, BUF_TOO_BIG = -1 } buf_err_t;

typedef struct {
    char *data;
    size_t len;
    size_t cap; /* allocated */
    size_t max; /* hard cap on len */
} buf_t;

void buf_init(buf_t *b, size_t max);
void buf_free(buf_t *b);  /* releases memory; buffer stays usable (empty) */
void buf_reset(buf_t *b); /* len = 0, keeps memory */
buf_err_t buf_append(buf_t *b, const void *data, size_t len);
buf_err_t buf_append_str(buf_t *b, const char *s);
buf_err_t buf_append_byte(buf_t *b, unsigned char c);
buf_err_t buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
buf_err_t buf_vprintf(buf_t *b, const char *fmt, va_list ap);
/* Drops the first n bytes (n <= len). */
void buf_consume(buf_t *b, size_t n);
/* Hands the bytes to the caller (NUL-terminated, caller frees); buffer empty. */
char *buf_detach(buf_t *b, size_t *len);

#endif
