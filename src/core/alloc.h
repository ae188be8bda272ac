/* alloc.h — allocation with Parley's out-of-memory policy.
 *
 * Policy (decided once, here): running out of memory is not recoverable in a
 * server that owns thousands of sockets; every x*alloc aborts the process with
 * a clear message on stderr, as Redis and h2o do. Callers therefore never check
 * for NULL from these functions. Limits on what clients may make us allocate
 * are enforced before allocation (capped buffers, size limits), not here.
 *
 * For tests, core_alloc_fail_after(n) makes the n-th following allocation
 * through core_try_malloc() fail, so paths that handle a refusal can be tested.
 */
#ifndef PARLEY_CORE_ALLOC_H
#define PARLEY_CORE_ALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

/* Allocation that may fail: returns NULL on failure (real or injected). Used
 * where a failure has a graceful answer (e.g. refusing one connection). */
void *core_try_malloc(size_t n);

/* Test hook: the n-th call to core_try_malloc from now on fails (n >= 1);
 * 0 disables injection. */
void core_alloc_fail_after(unsigned n);

#endif
