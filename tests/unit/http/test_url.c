/* test_url.c — percent-decoding, the static-file path guard (traversal in
 * every spelling we know) and query lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/url.h"

static ssize_t decode(const char *in, char *out, size_t outsz)
{
    /* Exact-size copy: a read past the span is an ASan error. */
    size_t len = strlen(in);
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, in, len);
    ssize_t n = http_url_decode(copy, len, out, outsz);
    free(copy);
    return n;
}

static int relpath(const char *in, char *out, size_t outsz)
{
    size_t len = strlen(in);
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, in, len);
    int rc = http_safe_relpath(copy, len, out, outsz);
    free(copy);
    return rc;
}

static void test_decode_ok(void **state)
{
    char out[64];
    assert_int_equal(decode("/a%20b%2Fc%2fd", out, sizeof(out)), 8);
    assert_string_equal(out, "/a b/c/d");
    assert_int_equal(decode("", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(decode("a+b", out, sizeof(out)), 3);
    assert_string_equal(out, "a+b"); /* '+' is not a space in paths */
    assert_int_equal(decode("%e2%82%AC", out, sizeof(out)), 3);
    assert_string_equal(out, "\xe2\x82\xac");
    assert_int_equal(decode("%25", out, sizeof(out)), 1);
    assert_string_equal(out, "%");
}

static void test_decode_errors(void **state)
{
    char out[64];
    static const char *bad[] = {"%",   "%2",  "a%",   "a%2", "%zz",  "%2g",
                                "%g2", "% 2", "%%20", "%00", "a%00b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(decode(bad[i], out, sizeof(out)), -1);
    assert_int_equal(http_url_decode("a\0b", 3, out, sizeof(out)), -1);
}

static void test_decode_fit(void **state)
{
    char out[4];
    assert_int_equal(decode("abc", out, 4), 3); /* 3 bytes + NUL */
    assert_int_equal(decode("abcd", out, 4), -1);
    assert_int_equal(decode("%41%42%43", out, 4), 3);
    assert_string_equal(out, "ABC");
    assert_int_equal(decode("%41%42%43%44", out, 4), -1);
    assert_int_equal(decode("", out, 0), -1);
    assert_int_equal(decode("", out, 1), 0);
}

static void test_decode_in_place(void **state)
{
    char b[] = "x%41y%2fz";
    assert_int_equal(http_url_decode(b, strlen(b), b, sizeof(b)), 5);
    assert_string_equal(b, "xAy/z");
}

static void expect_path(const char *in, const char *want)
{
    char out[256];
    memset(out, 'Z', sizeof(out));
    assert_int_equal(relpath(in, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void expect_refused(const char *in)
{
    char out[256];
    assert_int_equal(relpath(in, out, sizeof(out)), -1);
}

static void test_relpath_ok(void **state)
{
    expect_path("/", "index.html");
    expect_path("", "index.html");
    expect_path("/index.html", "index.html");
    expect_path("/js/app.js", "js/app.js");
    expect_path("/js/", "js/index.html");
    expect_path("/js/.", "js/index.html");
    expect_path("/./js/./app.js", "js/app.js");
    expect_path("/a//b///c", "a/b/c");
    expect_path("//etc/passwd", "etc/passwd"); /* absolute stays under the root */
    expect_path("///", "index.html");
    expect_path("/my%20file.txt", "my file.txt");
    expect_path("/caf%C3%A9.png", "caf\xc3\xa9.png");
    expect_path("/a%2fb", "a/b");
    expect_path("/a..b/c...", "a..b/c...");   /* dots inside names are names */
    expect_path("/%252e%252e/x", "%2e%2e/x"); /* decoded once only */
    expect_path("/x?y", "x?y");
}

static void test_relpath_traversal(void **state)
{
    static const char *bad[] = {
        "..",
        "/..",
        "/../etc/passwd",
        "/a/../../etc/passwd",
        "/a/..",
        "/a/../b", /* harmless, but ".." is never accepted */
        "/%2e%2e/etc/passwd",
        "%2e%2e/",
        "/%2E%2E%2f",
        "/%2E%2E%2Fetc%2Fpasswd",
        "/..%2f",
        "/..%2fetc%2fpasswd",
        "/.%2e/x",
        "/%2e./x",
        "/a/%2e%2e/%2e%2e/x",
        "/a%2f..%2f..%2fx",
        "/..\\x",
        "/a\\b",
        "/%5c..%5cx",
        "/a%5cb",
        "/%00",
        "/a%00.html",
        "/.git/config",
        "/.env",
        "/a/.hidden",
        "/%2egit/config",
        "/a%0ab",
        "/a%7fb",
        "/a%zz",
        "/a%2",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_refused(bad[i]);
    char out[32];
    assert_int_equal(http_safe_relpath("/a\0b", 4, out, sizeof(out)), -1);
}

static void test_relpath_too_long(void **state)
{
    char in[5000];
    char out[4096];
    in[0] = '/';
    memset(in + 1, 'a', sizeof(in) - 2);
    in[sizeof(in) - 1] = '\0';
    assert_int_equal(relpath(in, out, sizeof(out)), -1);

    /* Fits only without the appended index.html. */
    char small[8];
    assert_int_equal(relpath("/abcdef", small, sizeof(small)), 0);
    assert_string_equal(small, "abcdef");
    assert_int_equal(relpath("/abcdefg", small, sizeof(small)), -1);
    assert_int_equal(relpath("/ab/", small, sizeof(small)), -1);
    char exact[10];
    assert_int_equal(relpath("/", exact, sizeof(exact)), -1);
    char exact2[11];
    assert_int_equal(relpath("/", exact2, sizeof(exact2)), 0);
    assert_string_equal(exact2, "index.html");
    char e3[16];
    assert_int_equal(relpath("/abcd/", e3, sizeof(e3)), 0);
    assert_string_equal(e3, "abcd/index.html");
    assert_int_equal(relpath("/abcde/", e3, sizeof(e3)), -1);
}

static void expect_query(const char *q, const char *key, const char *want)
{
    const char *v = NULL;
    size_t vlen = 99;
    int found = http_query_get(q, strlen(q), key, &v, &vlen);
    if (!want) {
        assert_int_equal(found, 0);
        assert_null(v);
        assert_int_equal(vlen, 99);
        return;
    }
    assert_int_equal(found, 1);
    assert_int_equal(vlen, strlen(want));
    assert_memory_equal(v, want, vlen);
}

static void test_query_get(void **state)
{
    const char *q = "EIO=4&transport=polling&t=OzX&sid=a%2Fb&flag&empty=&dup=1&dup=2";
    expect_query(q, "EIO", "4");
    expect_query(q, "transport", "polling");
    expect_query(q, "t", "OzX");
    expect_query(q, "sid", "a%2Fb");
    expect_query(q, "flag", "");
    expect_query(q, "empty", "");
    expect_query(q, "dup", "1");
    expect_query(q, "eio", NULL); /* keys are case-sensitive */
    expect_query(q, "trans", NULL);
    expect_query(q, "transports", NULL);
    expect_query(q, "OzX", NULL);
    expect_query("", "a", NULL);
    expect_query("a=1&&b=2", "b", "2");
    expect_query("a=b=c", "a", "b=c");

    const char *v = NULL;
    size_t vlen = 0;
    assert_int_equal(http_query_get(NULL, 0, "a", &v, &vlen), 0);
    /* Only qlen bytes count. */
    assert_int_equal(http_query_get("a=1&b=2", 3, "b", &v, &vlen), 0);
    assert_int_equal(http_query_get("a=12", 3, "a", &v, &vlen), 1);
    assert_int_equal(vlen, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_ok),        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_fit),       cmocka_unit_test(test_decode_in_place),
        cmocka_unit_test(test_relpath_ok),       cmocka_unit_test(test_relpath_traversal),
        cmocka_unit_test(test_relpath_too_long), cmocka_unit_test(test_query_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
