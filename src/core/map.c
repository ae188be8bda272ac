/* map.c — chained hash map with copied keys; see map.h. */
#include "core/map.h"
#include "core/alloc.h"
#include "core/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct map_entry {
    map_entry_t *next;
    uint64_t hash;
    void *value;
    size_t klen;
    char key[];
};

void map_init(map_t *m)
{
    m->buckets = NULL;
    m->nbuckets = 0;
    m->count = 0;
}

void map_free(map_t *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        map_entry_t *e = m->buckets[i];
        while (e) {
            map_entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    map_init(m);
}

static map_entry_t **find(const map_t *m, const char *key, size_t klen, uint64_t h)
{
    if (!m->nbuckets)
        return NULL;
    map_entry_t **pp = &m->buckets[h & (m->nbuckets - 1)];
    while (*pp) {
        map_entry_t *e = *pp;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return pp;
        pp = &e->next;
    }
    return pp;
}

void *map_get(const map_t *m, const char *key, size_t klen)
{
    map_entry_t **pp = find(m, key, klen, hmap_hash(key, klen));
    return pp && *pp ? (*pp)->value : NULL;
}

static void grow(map_t *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    map_entry_t **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < m->nbuckets; i++) {
        map_entry_t *e = m->buckets[i];
        while (e) {
            map_entry_t *next = e->next;
            map_entry_t **slot = &b[e->hash & (n - 1)];
            e->next = *slot;
            *slot = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void *map_put(map_t *m, const char *key, size_t klen, void *value)
{
    uint64_t h = hmap_hash(key, klen);
    if (m->count >= m->nbuckets)
        grow(m);
    map_entry_t **pp = find(m, key, klen, h);
    if (*pp) {
        void *old = (*pp)->value;
        (*pp)->value = value;
        return old;
    }
    map_entry_t *e = xmalloc(sizeof *e + klen + 1);
    e->next = NULL;
    e->hash = h;
    e->value = value;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = '\0';
    *pp = e;
    m->count++;
    return NULL;
}

void *map_del(map_t *m, const char *key, size_t klen)
{
    map_entry_t **pp = find(m, key, klen, hmap_hash(key, klen));
    if (!pp || !*pp)
        return NULL;
    map_entry_t *e = *pp;
    void *v = e->value;
    *pp = e->next;
    free(e);
    m->count--;
    return v;
}

void map_each(map_t *m, int (*fn)(const char *, size_t, void *, void *), void *arg)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        map_entry_t *e = m->buckets[i];
        while (e) {
            map_entry_t *next = e->next; /* fn may free e */
            if (fn(e->key, e->klen, e->value, arg))
                return;
            e = next;
        }
    }
}
