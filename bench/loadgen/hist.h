/* hist.h — latency histogram with logarithmic buckets (HdrHistogram-like).
 *
 * Values are nanoseconds. Each power of two is split into LG_HIST_SUB linear
 * sub-buckets, so a reported percentile is within 1/LG_HIST_SUB (~1.6 %) of
 * the true value whatever its magnitude; values below LG_HIST_SUB ns are
 * exact. Recording is O(1) and allocation-free; the whole histogram is a
 * plain array, so it can be copied, merged and sent through a pipe as is.
 *
 * Not a sorted array of samples: memory does not grow with the sample count.
 * The maximum and the count are kept exactly.
 */
#ifndef PARLEY_BENCH_HIST_H
#define PARLEY_BENCH_HIST_H

#include <stdint.h>

#define LG_HIST_SUB_BITS 6
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
/* Highest power of two tracked: 2^40 ns is 18 minutes; larger values are
 * clamped into the last bucket (the exact maximum is still kept). */
#define LG_HIST_MAX_EXP 40
#define LG_HIST_BUCKETS ((LG_HIST_MAX_EXP - LG_HIST_SUB_BITS + 2) * LG_HIST_SUB)

typedef struct {
    uint64_t count;
    uint64_t max;
    uint64_t sum; /* for the mean; wraps only after ~584 years of samples */
    uint64_t buckets[LG_HIST_BUCKETS];
} lg_hist_t;

void lg_hist_reset(lg_hist_t *h);
void lg_hist_record(lg_hist_t *h, uint64_t ns);
/* Adds every sample of src into dst. */
void lg_hist_merge(lg_hist_t *dst, const lg_hist_t *src);
/* The value at quantile q (0..1): the upper edge of the bucket holding the
 * q-th sample, capped at the exact maximum. 0 for an empty histogram. */
uint64_t lg_hist_quantile(const lg_hist_t *h, double q);

#endif
