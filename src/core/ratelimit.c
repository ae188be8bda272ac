/* ratelimit.c — token buckets; see ratelimit.h. */
#include "core/ratelimit.h"

#include <math.h>

void ratelimit_init(ratelimit_t *b, const ratelimit_cfg_t *cfg, uint64_t now_ms)
{
    b->tokens = cfg->burst;
    b->last_ms = now_ms;
}

uint64_t ratelimit_take(ratelimit_t *b, const ratelimit_cfg_t *cfg, uint64_t now_ms)
{
    if (cfg->rate <= 0)
        return 0;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * cfg->rate / 1000.0;
        if (b->tokens > cfg->burst)
            b->tokens = cfg->burst;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    double wait = (1.0 - b->tokens) * 1000.0 / cfg->rate;
    uint64_t ms = (uint64_t)ceil(wait);
    return ms ? ms : 1;
}
