/* test_buf.c — the capped buffer: growth, the cap, consume, detach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static void test_append_and_cap(void **state)
{
    buf_t b;
    buf_init(&b, 10);
    assert_null(b.data); /* lazy: nothing allocated yet */
    assert_int_equal(buf_append(&b, "hello", 5), BUF_OK);
    assert_int_equal(buf_append(&b, "world", 5), BUF_OK);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "helloworld", 10);
    /* One byte past the cap fails and changes nothing. */
    assert_int_equal(buf_append(&b, "!", 1), BUF_TOO_BIG);
    assert_int_equal(b.len, 10);
    assert_int_equal(buf_append_byte(&b, 'x'), BUF_TOO_BIG);
    assert_int_equal(buf_printf(&b, "%d", 1), BUF_TOO_BIG);
    buf_free(&b);
}

static void test_huge_append_does_not_overflow(void **state)
{
    buf_t b;
    buf_init(&b, 100);
    assert_int_equal(buf_append(&b, "ab", 2), BUF_OK);
    assert_int_equal(buf_append(&b, "x", SIZE_MAX), BUF_TOO_BIG);
    assert_int_equal(buf_append(&b, "x", SIZE_MAX - 1), BUF_TOO_BIG);
    assert_int_equal(b.len, 2);
    buf_free(&b);
}

static void test_printf_consume_detach(void **state)
{
    buf_t b;
    buf_init(&b, 1024);
    assert_int_equal(buf_printf(&b, "%s-%d", "abc", 42), BUF_OK);
    assert_string_equal(b.data, "abc-42");
    buf_consume(&b, 4);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "42", 2);
    buf_consume(&b, 99);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_append_str(&b, "xyz"), BUF_OK);
    size_t len = 0;
    char *p = buf_detach(&b, &len);
    assert_int_equal(len, 3);
    assert_string_equal(p, "xyz");
    assert_null(b.data);
    free(p);
    /* Detaching an empty buffer still gives a string. */
    p = buf_detach(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    free(p);
}

static void test_growth_keeps_content(void **state)
{
    buf_t b;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_append_byte(&b, (unsigned char)(i & 0xff)), BUF_OK);
    for (int i = 0; i < 10000; i++)
        assert_int_equal((unsigned char)b.data[i], i & 0xff);
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_cap),
        cmocka_unit_test(test_huge_append_does_not_overflow),
        cmocka_unit_test(test_printf_consume_detach),
        cmocka_unit_test(test_growth_keeps_content),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
