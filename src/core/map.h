/* map.h — a hash map from byte-string keys to pointers.
 *
 * An entry per key, allocated here, on a core/hmap table (keyed hash:
 * channel and user ids come from clients). The map copies keys; values are
 * the caller's. Iteration order is unspecified; removing the current entry
 * during map_each is allowed (see map_each). For nodes that live inside the
 * values, with no allocation per entry, use core/hmap.h itself.
 */
#ifndef PARLEY_CORE_MAP_H
#define PARLEY_CORE_MAP_H

#include "core/hmap.h"

#include <stddef.h>

/* The entries are core/hmap nodes with the value and a copy of the key. */
typedef struct {
    hmap_t t;
} map_t;

void map_init(map_t *m);
/* Frees the map's own memory (keys, entries); not the values. */
void map_free(map_t *m);
void *map_get(const map_t *m, const char *key, size_t klen);
/* Sets key to value; returns the previous value or NULL. */
void *map_put(map_t *m, const char *key, size_t klen, void *value);
/* Removes key; returns its value or NULL. */
void *map_del(map_t *m, const char *key, size_t klen);
static inline size_t map_count(const map_t *m)
{
    return m->t.count;
}
/* Calls fn(key, klen, value, arg) for every entry; fn may remove the entry
 * it is given (and only that one). Stops early when fn returns non-zero. */
void map_each(map_t *m, int (*fn)(const char *key, size_t klen, void *value, void *arg), void *arg);

#endif
