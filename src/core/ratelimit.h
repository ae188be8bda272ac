/* ratelimit.h — token buckets.
 *
 * A bucket holds up to `burst` tokens and refills at `rate` tokens per
 * second; each request takes one. State is two numbers, so a bucket can sit
 * inside every socket and user without allocation. Time is passed in (ms),
 * which keeps the arithmetic testable and the clock the caller's choice.
 */
#ifndef PARLEY_CORE_RATELIMIT_H
#define PARLEY_CORE_RATELIMIT_H

#include <stdint.h>

typedef struct {
    double tokens;
    uint64_t last_ms;
} ratelimit_t;

typedef struct {
    double rate;  /* tokens per second; <= 0 disables the limit */
    double burst; /* bucket size */
} ratelimit_cfg_t;

/* A full bucket at time now_ms. */
void ratelimit_init(ratelimit_t *b, const ratelimit_cfg_t *cfg, uint64_t now_ms);

/* Takes one token. Returns 0 when allowed; otherwise the milliseconds until
 * a token is available (>= 1), and takes nothing. */
uint64_t ratelimit_take(ratelimit_t *b, const ratelimit_cfg_t *cfg, uint64_t now_ms);

#endif
