/* hist.c — logarithmic-bucket latency histogram (see hist.h). */
#include "hist.h"

#include <string.h>

/* Bucket layout: index i < SUB holds the value i exactly. Above, the value's
 * top set bit e (e >= SUB_BITS) selects a block of SUB buckets and the next
 * SUB_BITS bits below it select the bucket inside the block. */
static unsigned bucket_of(uint64_t v)
{
    if (v < LG_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > LG_HIST_MAX_EXP)
        return LG_HIST_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - LG_HIST_SUB_BITS)) & (LG_HIST_SUB - 1);
    return (e - LG_HIST_SUB_BITS + 1) * LG_HIST_SUB + sub;
}

/* Largest value that falls into bucket i. */
static uint64_t bucket_top(unsigned i)
{
    if (i < LG_HIST_SUB)
        return i;
    unsigned block = i / LG_HIST_SUB, sub = i % LG_HIST_SUB;
    unsigned e = block + LG_HIST_SUB_BITS - 1;
    unsigned shift = e - LG_HIST_SUB_BITS;
    uint64_t lo = ((uint64_t)(LG_HIST_SUB + sub)) << shift;
    return lo + ((uint64_t)1 << shift) - 1;
}

void lg_hist_reset(lg_hist_t *h)
{
    memset(h, 0, sizeof *h);
}

void lg_hist_record(lg_hist_t *h, uint64_t ns)
{
    h->buckets[bucket_of(ns)]++;
    h->count++;
    h->sum += ns;
    if (ns > h->max)
        h->max = ns;
}

void lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src)
{
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t lg_hist_quantile(const lg_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q >= 1.0)
        return h->max;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen > rank) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
