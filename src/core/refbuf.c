/* refbuf.c — reference-counted immutable bytes. */
#include "core/refbuf.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

refbuf_t *refbuf_new(size_t len)
{
    refbuf_t *r = xmalloc(sizeof *r + len + 1);
    r->refs = 1;
    r->len = len;
    r->data[len] = '\0';
    return r;
}

refbuf_t *refbuf_copy(const void *data, size_t len)
{
    refbuf_t *r = refbuf_new(len);
    if (len)
        memcpy(r->data, data, len);
    return r;
}

void refbuf_unref(refbuf_t *r)
{
    if (r && --r->refs == 0)
        free(r);
}
