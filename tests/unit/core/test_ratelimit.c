/* test_ratelimit.c — token buckets: burst, refill, retry-after, disabled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ratelimit.h"

static void test_burst_then_refill(void **state)
{
    ratelimit_cfg_t cfg = {.rate = 10, .burst = 20};
    ratelimit_t b;
    ratelimit_init(&b, &cfg, 1000);
    for (int i = 0; i < 20; i++)
        assert_int_equal(ratelimit_take(&b, &cfg, 1000), 0);
    /* Empty: the next token comes in 100 ms at 10/s. */
    assert_int_equal(ratelimit_take(&b, &cfg, 1000), 100);
    assert_int_equal(ratelimit_take(&b, &cfg, 1050), 50);
    assert_int_equal(ratelimit_take(&b, &cfg, 1100), 0);
    assert_int_equal(ratelimit_take(&b, &cfg, 1100), 100);
    /* A long pause refills only up to the burst. */
    int allowed = 0;
    while (ratelimit_take(&b, &cfg, 100000) == 0)
        allowed++;
    assert_int_equal(allowed, 20);
}

static void test_sustained_rate(void **state)
{
    ratelimit_cfg_t cfg = {.rate = 50, .burst = 100};
    ratelimit_t b;
    ratelimit_init(&b, &cfg, 0);
    int allowed = 0;
    /* One request per ms for 10 s: burst + 10 s * 50/s. */
    for (uint64_t t = 0; t < 10000; t++)
        if (ratelimit_take(&b, &cfg, t) == 0)
            allowed++;
    assert_in_range(allowed, 598, 601);
}

static void test_disabled_and_clock_backwards(void **state)
{
    ratelimit_cfg_t off = {.rate = 0, .burst = 0};
    ratelimit_t b;
    ratelimit_init(&b, &off, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ratelimit_take(&b, &off, 0), 0);
    ratelimit_cfg_t cfg = {.rate = 1, .burst = 1};
    ratelimit_init(&b, &cfg, 5000);
    assert_int_equal(ratelimit_take(&b, &cfg, 5000), 0);
    /* A clock that goes back never grants extra tokens. */
    assert_true(ratelimit_take(&b, &cfg, 4000) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refill),
        cmocka_unit_test(test_sustained_rate),
        cmocka_unit_test(test_disabled_and_clock_backwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
