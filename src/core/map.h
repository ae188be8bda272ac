/* map.h — a hash map from byte-string keys to pointers.
 *
 * Chained, power-of-two buckets, grows at load factor 1, keys hashed with
 * hmap_hash (keyed: channel and user ids come from clients). The map copies
 * keys; values are the caller's. For a table whose nodes live inside the
 * values, with no allocation per entry, see core/hmap.h. Iteration order is unspecified; removing
 * the current entry during map_each is allowed (see map_each).
 */
#ifndef PARLEY_CORE_MAP_H
#define PARLEY_CORE_MAP_H

#include <stddef.h>

typedef struct map_entry map_entry_t;

typedef struct {
    map_entry_t **buckets;
    size_t nbuckets;
    size_t count;
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
    return m->count;
}
/* Calls fn(key, klen, value, arg) for every entry; fn may remove the entry
 * it is given (and only that one). Stops early when fn returns non-zero. */
void map_each(map_t *m, int (*fn)(const char *key, size_t klen, void *value, void *arg), void *arg);

#endif
