/* hmap.h — an intrusive hash table keyed by byte strings, and the keyed
 * hash every table of the server uses.
 *
 * The nodes are embedded in the caller's structs and the key bytes stay
 * the caller's: the table owns only its bucket array. Keys are hashed with
 * SipHash-1-3 under a per-process random key, because many keys come from
 * clients (room and channel names, user ids) and a fixed hash would let one
 * client pile them all into one bucket.
 */
#ifndef PARLEY_CORE_HMAP_H
#define PARLEY_CORE_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in whatever the table holds; the key bytes belong to the
 * holder and must stay put while the node is in a table. */
typedef struct hmap_node {
    struct hmap_node *next;
    uint64_t hash;
    const char *key;
    size_t klen;
} hmap_node_t;

typedef struct {
    hmap_node_t **buckets;
    size_t nbuckets; /* 0 or a power of two */
    size_t count;
} hmap_t;

/* The keyed hash of len bytes (the same key for the whole process). */
uint64_t hmap_hash(const void *key, size_t len);

void hmap_init(hmap_t *m);
/* Frees the bucket array only; the nodes are the caller's. */
void hmap_free(hmap_t *m);
hmap_node_t *hmap_get(const hmap_t *m, const char *key, size_t len);
/* Inserts node under key (not checked for duplicates). */
void hmap_put(hmap_t *m, hmap_node_t *node, const char *key, size_t len);
/* Unlinks node; a node that is not in the table is left alone. */
void hmap_del(hmap_t *m, hmap_node_t *node);
/* Iteration; take the next node before deleting the current one. */
hmap_node_t *hmap_first(const hmap_t *m, size_t *cursor);
hmap_node_t *hmap_next(const hmap_t *m, hmap_node_t *node, size_t *cursor);

#endif
