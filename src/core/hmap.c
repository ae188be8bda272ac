/* hmap.c — the intrusive hash table and the keyed hash; see hmap.h.
 *
 * Chained buckets, grown at load factor 1. Not an owner: the table never
 * allocates or frees nodes, only its bucket array. The Socket.IO layer keeps
 * its rooms, handlers and recovery sessions in it, Engine.IO its sessions;
 * core/map.c (the owning map) uses its hash.
 */
#include "core/hmap.h"

#include "core/alloc.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_key[2];
static int hash_key_ready;

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* SipHash with one compression and three finalisation rounds: enough to
 * keep bucket placement unpredictable, cheaper than 2-4. */
static uint64_t siphash13(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t k0 = hash_key[0], k1 = hash_key[1];
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = load_le64(p + i);
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        last |= (uint64_t)p[whole + i] << (8 * i);
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t hmap_hash(const void *key, size_t len)
{
    if (!hash_key_ready) {
        if (RAND_bytes((unsigned char *)hash_key, sizeof hash_key) != 1) {
            /* Still correct, only predictable: the table works either way. */
            hash_key[0] = 0x9e3779b97f4a7c15ULL;
            hash_key[1] = (uint64_t)(uintptr_t)&hash_key;
        }
        hash_key_ready = 1;
    }
    return siphash13(key, len);
}

void hmap_init(hmap_t *m)
{
    memset(m, 0, sizeof *m);
}

void hmap_free(hmap_t *m)
{
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

static void grow(hmap_t *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    hmap_node_t **nb = xcalloc(n, sizeof *nb);
    for (size_t i = 0; i < m->nbuckets; i++) {
        hmap_node_t *e = m->buckets[i];
        while (e) {
            hmap_node_t *next = e->next;
            size_t b = (size_t)(e->hash & (n - 1));
            e->next = nb[b];
            nb[b] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->nbuckets = n;
}

hmap_node_t *hmap_get(const hmap_t *m, const char *key, size_t len)
{
    if (!m->count)
        return NULL;
    uint64_t h = hmap_hash(key, len);
    for (hmap_node_t *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

void hmap_put(hmap_t *m, hmap_node_t *node, const char *key, size_t len)
{
    if (m->count + 1 > m->nbuckets)
        grow(m);
    node->key = key;
    node->klen = len;
    node->hash = hmap_hash(key, len);
    size_t b = (size_t)(node->hash & (m->nbuckets - 1));
    node->next = m->buckets[b];
    m->buckets[b] = node;
    m->count++;
}

void hmap_del(hmap_t *m, hmap_node_t *node)
{
    if (!m->nbuckets)
        return; /* never put: nothing to unlink */
    hmap_node_t **pp = &m->buckets[node->hash & (m->nbuckets - 1)];
    while (*pp && *pp != node)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = node->next;
        node->next = NULL;
        m->count--;
    }
}

hmap_node_t *hmap_first(const hmap_t *m, size_t *cursor)
{
    for (*cursor = 0; *cursor < m->nbuckets; (*cursor)++)
        if (m->buckets[*cursor])
            return m->buckets[*cursor];
    return NULL;
}

hmap_node_t *hmap_next(const hmap_t *m, hmap_node_t *node, size_t *cursor)
{
    if (node->next)
        return node->next;
    for ((*cursor)++; *cursor < m->nbuckets; (*cursor)++)
        if (m->buckets[*cursor])
            return m->buckets[*cursor];
    return NULL;
}
