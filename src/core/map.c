/* map.c — the owning map: entries allocated here, on a core/hmap table;
 * see map.h. */
#include "core/map.h"
#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    hmap_node_t node; /* node.key points at key below */
    void *value;
    char key[];
} map_entry_t;

static map_entry_t *entry(hmap_node_t *n)
{
    return n ? (map_entry_t *)((char *)n - offsetof(map_entry_t, node)) : NULL;
}

void map_init(map_t *m)
{
    hmap_init(&m->t);
}

void map_free(map_t *m)
{
    size_t cursor;
    hmap_node_t *next;
    for (hmap_node_t *n = hmap_first(&m->t, &cursor); n; n = next) {
        next = hmap_next(&m->t, n, &cursor);
        free(entry(n));
    }
    hmap_free(&m->t);
}

void *map_get(const map_t *m, const char *key, size_t klen)
{
    map_entry_t *e = entry(hmap_get(&m->t, key, klen));
    return e ? e->value : NULL;
}

void *map_put(map_t *m, const char *key, size_t klen, void *value)
{
    map_entry_t *e = entry(hmap_get(&m->t, key, klen));
    if (e) {
        void *old = e->value;
        e->value = value;
        return old;
    }
    e = xmalloc(sizeof *e + klen + 1);
    e->value = value;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    hmap_put(&m->t, &e->node, e->key, klen);
    return NULL;
}

void *map_del(map_t *m, const char *key, size_t klen)
{
    map_entry_t *e = entry(hmap_get(&m->t, key, klen));
    if (!e)
        return NULL;
    void *v = e->value;
    hmap_del(&m->t, &e->node);
    free(e);
    return v;
}

void map_each(map_t *m, int (*fn)(const char *, size_t, void *, void *), void *arg)
{
    size_t cursor;
    hmap_node_t *next;
    for (hmap_node_t *n = hmap_first(&m->t, &cursor); n; n = next) {
        next = hmap_next(&m->t, n, &cursor); /* fn may remove and free n */
        map_entry_t *e = entry(n);
        if (fn(e->key, n->klen, e->value, arg))
            return;
    }
}
