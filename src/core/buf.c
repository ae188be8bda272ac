/* buf.c — capped growable buffer. */
#include "core/buf.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_reset(buf_t *b)
{
    b->len = 0;
}

static buf_err_t reserve(buf_t *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return BUF_TOO_BIG;
    size_t need = b->len + extra + 1; /* room for a NUL */
    if (need <= b->cap)
        return BUF_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return BUF_OK;
}

buf_err_t buf_append(buf_t *b, const void *data, size_t len)
{
    if (reserve(b, len) != BUF_OK)
        return BUF_TOO_BIG;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return BUF_OK;
}

buf_err_t buf_append_str(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

buf_err_t buf_append_byte(buf_t *b, unsigned char c)
{
    return buf_append(b, &c, 1);
}

buf_err_t buf_vprintf(buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || reserve(b, (size_t)n) != BUF_OK)
        return BUF_TOO_BIG;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BUF_OK;
}

buf_err_t buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_err_t r = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return r;
}

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

char *buf_detach(buf_t *b, size_t *len)
{
    if (reserve(b, 0) != BUF_OK) /* ensures data != NULL */
        return NULL;
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
