/* refbuf.h — an immutable, reference-counted byte buffer.
 *
 * The unit of "encode once, write many": a broadcast frame is built once into
 * a refbuf and every receiving connection queues a reference to it. Only the
 * loop thread touches refcounts (no atomics). The bytes live in the same
 * allocation as the header.
 */
#ifndef PARLEY_CORE_REFBUF_H
#define PARLEY_CORE_REFBUF_H

#include <stddef.h>

typedef struct refbuf {
    unsigned refs;
    size_t len;
    char data[];
} refbuf_t;

/* New buffer of len bytes with one reference; contents uninitialised. */
refbuf_t *refbuf_new(size_t len);
/* New buffer holding a copy of data, one reference. */
refbuf_t *refbuf_copy(const void *data, size_t len);
static inline refbuf_t *refbuf_ref(refbuf_t *r)
{
    r->refs++;
    return r;
}
void refbuf_unref(refbuf_t *r); /* frees at zero; NULL is ignored */

#endif
