/* test_map.c — the hash map: put/get/del, growth, removal while iterating. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/map.h"

static void test_put_get_del(void **state)
{
    map_t m;
    map_init(&m);
    int a = 1, b = 2;
    assert_null(map_get(&m, "a", 1));
    assert_null(map_put(&m, "a", 1, &a));
    assert_ptr_equal(map_get(&m, "a", 1), &a);
    assert_ptr_equal(map_put(&m, "a", 1, &b), &a); /* replace returns the old value */
    assert_ptr_equal(map_get(&m, "a", 1), &b);
    assert_int_equal(map_count(&m), 1);
    /* Keys are byte strings: a prefix is a different key. */
    assert_null(map_get(&m, "ab", 2));
    assert_null(map_get(&m, "", 0));
    assert_ptr_equal(map_del(&m, "a", 1), &b);
    assert_null(map_del(&m, "a", 1));
    assert_int_equal(map_count(&m), 0);
    map_free(&m);
}

static int remove_even(const char *key, size_t klen, void *value, void *arg)
{
    map_t *m = arg;
    if ((*(int *)value) % 2 == 0)
        map_del(m, key, klen);
    return 0;
}

static void test_many_and_iterate_remove(void **state)
{
    static int vals[5000];
    map_t m;
    map_init(&m);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        vals[i] = i;
        int n = snprintf(key, sizeof key, "key-%d", i);
        map_put(&m, key, (size_t)n, &vals[i]);
    }
    assert_int_equal(map_count(&m), 5000);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        assert_ptr_equal(map_get(&m, key, (size_t)n), &vals[i]);
    }
    map_each(&m, remove_even, &m);
    assert_int_equal(map_count(&m), 2500);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        if (i % 2)
            assert_ptr_equal(map_get(&m, key, (size_t)n), &vals[i]);
        else
            assert_null(map_get(&m, key, (size_t)n));
    }
    map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_many_and_iterate_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
