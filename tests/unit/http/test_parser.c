/* test_parser.c — the HTTP request-head parser: every accepted shape, every
 * refusal, and each of them fed whole and one byte at a time.
 *
 * Every parse runs on a heap copy of exactly the bytes offered, so a read past
 * len is an ASan error rather than luck.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/parser.h"

typedef struct {
    char *buf; /* exact-size copy the result points into */
    size_t len;
    int rc;
    http_request_t req;
} parsed_t;

static char *dup_bytes(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    memcpy(p, s, len);
    return p;
}

static void parsed_free(parsed_t *p)
{
    free(p->buf);
    p->buf = NULL;
}

static int parse_whole(const char *s, size_t len, parsed_t *out)
{
    out->buf = dup_bytes(s, len);
    out->len = len;
    out->rc = http_parse_request(out->buf, len, 0, HTTP_MAX_HEAD_BYTES, &out->req);
    return out->rc;
}

/* Offsets make results from different buffers comparable. */
static size_t off(const parsed_t *p, const char *ptr)
{
    return ptr ? (size_t)(ptr - p->buf) : (size_t)-1;
}

static void assert_same_request(const parsed_t *a, const parsed_t *b)
{
    assert_int_equal(a->req.method, b->req.method);
    assert_int_equal(off(a, a->req.method_str), off(b, b->req.method_str));
    assert_int_equal(a->req.method_len, b->req.method_len);
    assert_int_equal(off(a, a->req.target), off(b, b->req.target));
    assert_int_equal(a->req.target_len, b->req.target_len);
    assert_int_equal(off(a, a->req.path), off(b, b->req.path));
    assert_int_equal(a->req.path_len, b->req.path_len);
    assert_int_equal(off(a, a->req.query), off(b, b->req.query));
    assert_int_equal(a->req.query_len, b->req.query_len);
    assert_int_equal(a->req.version_minor, b->req.version_minor);
    assert_int_equal(a->req.num_headers, b->req.num_headers);
    for (size_t i = 0; i < a->req.num_headers; i++) {
        const http_header_t *x = &a->req.headers[i], *y = &b->req.headers[i];
        assert_int_equal(off(a, x->name), off(b, y->name));
        assert_int_equal(x->name_len, y->name_len);
        assert_int_equal(off(a, x->value), off(b, y->value));
        assert_int_equal(x->value_len, y->value_len);
    }
}

/* Feeds s one byte at a time (each prefix in its own exact-size buffer, with
 * prev_len carried over) and returns the first result that is not INCOMPLETE;
 * *at is the prefix length that produced it. */
static int parse_bytewise(const char *s, size_t len, size_t max_head, parsed_t *out, size_t *at)
{
    size_t prev = 0;
    for (size_t n = 1; n <= len; n++) {
        char *b = dup_bytes(s, n);
        int rc = http_parse_request(b, n, prev, max_head, &out->req);
        if (rc != HTTP_PARSE_INCOMPLETE) {
            out->buf = b;
            out->len = n;
            out->rc = rc;
            *at = n;
            return rc;
        }
        free(b);
        prev = n;
    }
    out->buf = NULL;
    out->rc = HTTP_PARSE_INCOMPLETE;
    *at = len;
    return HTTP_PARSE_INCOMPLETE;
}

/* Parses whole and byte by byte; both must agree with `expect`. A complete
 * head must stay INCOMPLETE until its last byte. Returns the whole parse. */
static void check_len(const char *s, size_t len, int expect, parsed_t *whole)
{
    parse_whole(s, len, whole);
    assert_int_equal(whole->rc, expect);

    parsed_t bw;
    size_t at;
    parse_bytewise(s, len, HTTP_MAX_HEAD_BYTES, &bw, &at);
    assert_int_equal(bw.rc, expect);
    if (expect > 0) {
        assert_int_equal(at, (size_t)expect);
        assert_same_request(whole, &bw);
    }
    parsed_free(&bw);
}

static void check(const char *s, int expect, parsed_t *whole)
{
    check_len(s, strlen(s), expect, whole);
}

static void check_ok(const char *s, parsed_t *whole)
{
    check(s, (int)strlen(s), whole);
}

static void expect_rc(const char *s, int expect)
{
    parsed_t p;
    check(s, expect, &p);
    parsed_free(&p);
}

static void expect_ok(const char *s)
{
    expect_rc(s, (int)strlen(s));
}

static void assert_span(const char *p, size_t len, const char *want)
{
    assert_non_null(p);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(p, want, len);
}

static void assert_header(const http_request_t *r, size_t i, const char *name, const char *value)
{
    assert_true(i < r->num_headers);
    assert_span(r->headers[i].name, r->headers[i].name_len, name);
    assert_span(r->headers[i].value, r->headers[i].value_len, value);
}

/* ---- accepted shapes ---- */

static void test_simple_get(void **state)
{
    const char *s = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    parsed_t p;
    check(s, (int)strlen(s), &p);
    assert_int_equal(p.req.method, HTTP_GET);
    assert_span(p.req.method_str, p.req.method_len, "GET");
    assert_span(p.req.target, p.req.target_len, "/index.html");
    assert_span(p.req.path, p.req.path_len, "/index.html");
    assert_null(p.req.query);
    assert_int_equal(p.req.query_len, 0);
    assert_int_equal(p.req.version_minor, 1);
    assert_int_equal(p.req.num_headers, 2);
    assert_header(&p.req, 0, "Host", "example.com");
    assert_header(&p.req, 1, "Accept", "*/*");
    assert_true(http_keep_alive(&p.req));
    assert_false(http_is_chunked(&p.req));
    int64_t cl = 99;
    assert_int_equal(http_content_length(&p.req, &cl), 0);
    assert_int_equal(cl, 0);
    parsed_free(&p);
}

static void test_polling_get_with_query(void **state)
{
    const char *s = "GET /socket.io/?EIO=4&transport=polling&t=OzX1a2b HTTP/1.1\r\n"
                    "Host: localhost:3000\r\nConnection: keep-alive\r\n\r\n";
    parsed_t p;
    check(s, (int)strlen(s), &p);
    assert_span(p.req.target, p.req.target_len, "/socket.io/?EIO=4&transport=polling&t=OzX1a2b");
    assert_span(p.req.path, p.req.path_len, "/socket.io/");
    assert_span(p.req.query, p.req.query_len, "EIO=4&transport=polling&t=OzX1a2b");
    parsed_free(&p);
}

static void test_empty_query(void **state)
{
    parsed_t p;
    check_ok("GET /? HTTP/1.1\r\nHost: h\r\n\r\n", &p);
    assert_span(p.req.path, p.req.path_len, "/");
    assert_non_null(p.req.query);
    assert_int_equal(p.req.query_len, 0);
    parsed_free(&p);
}

static void test_post_with_body(void **state)
{
    const char *head = "POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\n"
                       "Host: localhost\r\nContent-Type: text/plain;charset=UTF-8\r\n"
                       "Content-Length: 11\r\n\r\n";
    char s[512];
    size_t hl = strlen(head);
    memcpy(s, head, hl);
    memcpy(s + hl, "40{\"a\":123}", 11);
    parsed_t p;
    check_len(s, hl + 11, (int)hl, &p);
    assert_int_equal(p.req.method, HTTP_POST);
    int64_t cl = 0;
    assert_int_equal(http_content_length(&p.req, &cl), 0);
    assert_int_equal(cl, 11);
    assert_memory_equal(p.buf + p.rc, "40{\"a\":123}", 11);
    parsed_free(&p);
}

static void test_ows_trimmed(void **state)
{
    parsed_t p;
    const char *s = "GET / HTTP/1.1\r\nHost:example.com\r\nX-A:   spaced out \t \r\n"
                    "X-Empty:\r\nX-Blank: \t \r\nX-Inner: a \t b\r\nX-Obs: caf\xc3\xa9\r\n\r\n";
    check(s, (int)strlen(s), &p);
    assert_header(&p.req, 0, "Host", "example.com");
    assert_header(&p.req, 1, "X-A", "spaced out");
    assert_header(&p.req, 2, "X-Empty", "");
    assert_header(&p.req, 3, "X-Blank", "");
    assert_header(&p.req, 4, "X-Inner", "a \t b");
    assert_header(&p.req, 5, "X-Obs", "caf\xc3\xa9");
    parsed_free(&p);
}

static void test_methods(void **state)
{
    static const struct {
        const char *m;
        http_method_t want;
    } cases[] = {
        {"GET", HTTP_GET},
        {"HEAD", HTTP_HEAD},
        {"POST", HTTP_POST},
        {"PUT", HTTP_PUT},
        {"DELETE", HTTP_DELETE},
        {"OPTIONS", HTTP_OPTIONS},
        {"PATCH", HTTP_PATCH},
        {"get", HTTP_METHOD_OTHER},
        {"PROPFIND", HTTP_METHOD_OTHER},
        {"GETS", HTTP_METHOD_OTHER},
        {"X-Y.Z~1", HTTP_METHOD_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[128];
        int n = snprintf(s, sizeof(s), "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].m);
        parsed_t p;
        check(s, n, &p);
        assert_int_equal(p.req.method, cases[i].want);
        assert_span(p.req.method_str, p.req.method_len, cases[i].m);
        parsed_free(&p);
    }
}

static void test_method_length_limit(void **state)
{
    char s[128];
    char m[HTTP_MAX_METHOD_LEN + 2];
    memset(m, 'M', sizeof(m) - 1);
    m[HTTP_MAX_METHOD_LEN] = '\0';
    int n = snprintf(s, sizeof(s), "%s / HTTP/1.1\r\nHost: h\r\n\r\n", m);
    expect_rc(s, n);
    m[HTTP_MAX_METHOD_LEN] = 'M';
    m[HTTP_MAX_METHOD_LEN + 1] = '\0';
    snprintf(s, sizeof(s), "%s / HTTP/1.1\r\nHost: h\r\n\r\n", m);
    expect_rc(s, HTTP_PARSE_BAD_REQUEST);
}

static void test_http10(void **state)
{
    parsed_t p;
    check_ok("GET / HTTP/1.0\r\n\r\n", &p);
    assert_int_equal(p.req.version_minor, 0);
    assert_int_equal(p.req.num_headers, 0);
    assert_false(http_keep_alive(&p.req));
    parsed_free(&p);

    check_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &p);
    assert_true(http_keep_alive(&p.req));
    parsed_free(&p);
}

static void test_higher_minor_is_11(void **state)
{
    parsed_t p;
    check_ok("GET / HTTP/1.2\r\nHost: h\r\n\r\n", &p);
    assert_int_equal(p.req.version_minor, 1);
    parsed_free(&p);
    check_ok("GET / HTTP/1.9\r\nHost: h\r\n\r\n", &p);
    assert_int_equal(p.req.version_minor, 1);
    parsed_free(&p);
}

static void test_options_star(void **state)
{
    parsed_t p;
    check_ok("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &p);
    assert_int_equal(p.req.method, HTTP_OPTIONS);
    assert_span(p.req.target, p.req.target_len, "*");
    assert_null(p.req.query);
    parsed_free(&p);
    expect_rc("GET * HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
}

static void test_leading_empty_lines_skipped(void **state)
{
    parsed_t p;
    const char *s = "\r\n\r\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    check(s, (int)strlen(s), &p);
    assert_int_equal(off(&p, p.req.method_str), 4);
    assert_span(p.req.path, p.req.path_len, "/a");
    parsed_free(&p);
    expect_rc("\r\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
}

static void test_websocket_upgrade(void **state)
{
    const char *s = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                    "Host: localhost:3000\r\n"
                    "Connection: keep-alive, Upgrade\r\n"
                    "Upgrade: websocket\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                    "Origin: http://localhost:3000\r\n\r\n";
    parsed_t p;
    check(s, (int)strlen(s), &p);
    const http_header_t *c = http_find_header(&p.req, "connection");
    assert_non_null(c);
    assert_true(http_header_has_token(c, "upgrade"));
    assert_true(http_header_has_token(c, "Keep-Alive"));
    assert_false(http_header_has_token(c, "close"));
    assert_true(http_header_has_token(http_find_header(&p.req, "UPGRADE"), "websocket"));
    assert_span(http_find_header(&p.req, "sec-websocket-key")->value,
                http_find_header(&p.req, "sec-websocket-key")->value_len,
                "dGhlIHNhbXBsZSBub25jZQ==");
    assert_null(http_find_header(&p.req, "sec-websocket-protocol"));
    assert_null(http_find_header(&p.req, "Host2"));
    assert_true(http_keep_alive(&p.req));
    parsed_free(&p);
}

static void test_header_has_token(void **state)
{
    http_header_t h = {"Connection", 10, " a ,\tb\t, , Upgrade,close-ish", 28};
    assert_true(http_header_has_token(&h, "a"));
    assert_true(http_header_has_token(&h, "B"));
    assert_true(http_header_has_token(&h, "upgrade"));
    assert_false(http_header_has_token(&h, "close"));
    assert_true(http_header_has_token(&h, "close-ish"));
    assert_false(http_header_has_token(&h, "upgrad"));
    assert_false(http_header_has_token(NULL, "a"));
    http_header_t e = {"Connection", 10, "", 0};
    assert_false(http_header_has_token(&e, "close"));
}

static void test_keep_alive_rules(void **state)
{
    static const struct {
        const char *s;
        int want;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: CLOSE\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        parsed_t p;
        check(cases[i].s, (int)strlen(cases[i].s), &p);
        assert_int_equal(http_keep_alive(&p.req), cases[i].want);
        parsed_free(&p);
    }
}

static void test_chunked(void **state)
{
    parsed_t p;
    const char *s =
        "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    int hl = (int)(strstr(s, "\r\n\r\n") - s) + 4;
    check(s, hl, &p);
    assert_true(http_is_chunked(&p.req));
    int64_t cl = 5;
    assert_int_equal(http_content_length(&p.req, &cl), 0);
    assert_int_equal(cl, 0);
    parsed_free(&p);
}

static void test_content_length_values(void **state)
{
    parsed_t p;
    check_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", &p);
    int64_t cl = 0;
    assert_int_equal(http_content_length(&p.req, &cl), 0);
    assert_int_equal(cl, 5);
    parsed_free(&p);

    check_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", &p);
    assert_int_equal(http_content_length(&p.req, &cl), 0);
    assert_true(cl == INT64_MAX);
    parsed_free(&p);

    /* Hand-built requests reach the -1 paths the parser never lets through. */
    http_request_t r = {.version_minor = 1, .num_headers = 2};
    r.headers[0] = (http_header_t){"Content-Length", 14, "5", 1};
    static const char *bad[] = {
        "6", "", "+5", "-1", "5 ", "1,1", "0x5", "9223372036854775808", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r.headers[1] = (http_header_t){"content-length", 14, bad[i], strlen(bad[i])};
        cl = 42;
        assert_int_equal(http_content_length(&r, &cl), -1);
    }
    r.num_headers = 1;
    assert_int_equal(http_content_length(&r, &cl), 0);
    assert_int_equal(cl, 5);
}

static void test_pipelined(void **state)
{
    const char *s = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok"
                    "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t len = strlen(s);
    char *b = dup_bytes(s, len);
    http_request_t r;
    int n1 = http_parse_request(b, len, 0, HTTP_MAX_HEAD_BYTES, &r);
    assert_int_equal(n1, 28);
    assert_span(r.path, r.path_len, "/a");

    size_t pos = (size_t)n1;
    int n2 = http_parse_request(b + pos, len - pos, 0, HTTP_MAX_HEAD_BYTES, &r);
    assert_true(n2 > 0);
    assert_span(r.path, r.path_len, "/b");
    int64_t cl = 0;
    assert_int_equal(http_content_length(&r, &cl), 0);
    pos += (size_t)n2 + (size_t)cl;

    int n3 = http_parse_request(b + pos, len - pos, 0, HTTP_MAX_HEAD_BYTES, &r);
    assert_int_equal((size_t)n3, len - pos);
    assert_span(r.path, r.path_len, "/c");
    free(b);
}

/* "GET / HTTP/1.1\r\nHost: h\r\n" + (n - 1) "X-N: v" lines = n headers. */
static size_t build_headers(char *s, size_t cap, size_t n)
{
    size_t len = 0;
    int w = snprintf(s, cap, "GET / HTTP/1.1\r\nHost: h\r\n");
    len += (size_t)w;
    for (size_t i = 1; i < n; i++) {
        w = snprintf(s + len, cap - len, "X-%zu: v\r\n", i);
        len += (size_t)w;
    }
    memcpy(s + len, "\r\n", 2);
    return len + 2;
}

static void test_header_count_limit(void **state)
{
    static char s[4096];
    parsed_t p;
    size_t len = build_headers(s, sizeof(s), HTTP_MAX_HEADERS);
    check_len(s, len, (int)len, &p);
    assert_int_equal(p.req.num_headers, HTTP_MAX_HEADERS);
    assert_header(&p.req, HTTP_MAX_HEADERS - 1, "X-99", "v");
    parsed_free(&p);

    len = build_headers(s, sizeof(s), HTTP_MAX_HEADERS + 1);
    check_len(s, len, HTTP_PARSE_TOO_LARGE, &p);
    parsed_free(&p);
}

/* A head of exactly `total` bytes made of one padded header. */
static size_t build_sized(char *s, size_t total)
{
    const char *pre = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    size_t pl = strlen(pre);
    memcpy(s, pre, pl);
    memset(s + pl, 'a', total - pl - 4);
    memcpy(s + total - 4, "\r\n\r\n", 4);
    return total;
}

static void test_head_size_cap(void **state)
{
    static char s[HTTP_MAX_HEAD_BYTES + 64];
    parsed_t p;
    size_t len = build_sized(s, HTTP_MAX_HEAD_BYTES);
    check_len(s, len, HTTP_MAX_HEAD_BYTES, &p);
    parsed_free(&p);

    len = build_sized(s, HTTP_MAX_HEAD_BYTES + 1);
    check_len(s, len, HTTP_PARSE_TOO_LARGE, &p);
    parsed_free(&p);

    /* Refused as soon as the cap is reached, not when the head ends. */
    size_t at;
    parse_bytewise(s, len, HTTP_MAX_HEAD_BYTES, &p, &at);
    assert_int_equal(p.rc, HTTP_PARSE_TOO_LARGE);
    assert_int_equal(at, HTTP_MAX_HEAD_BYTES);
    parsed_free(&p);

    /* Endless header with no line end at all. */
    memset(s + 40, 'b', sizeof(s) - 40);
    char *b = dup_bytes(s, HTTP_MAX_HEAD_BYTES - 1);
    http_request_t r;
    assert_int_equal(http_parse_request(b, HTTP_MAX_HEAD_BYTES - 1, 0, HTTP_MAX_HEAD_BYTES, &r),
                     HTTP_PARSE_INCOMPLETE);
    free(b);
    b = dup_bytes(s, sizeof(s));
    assert_int_equal(http_parse_request(b, sizeof(s), 0, HTTP_MAX_HEAD_BYTES, &r),
                     HTTP_PARSE_TOO_LARGE);
    free(b);
}

static void test_custom_cap(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\n"; /* 27 bytes */
    http_request_t r;
    assert_int_equal(http_parse_request(s, 27, 0, 27, &r), 27);
    assert_int_equal(http_parse_request(s, 27, 0, 26, &r), HTTP_PARSE_TOO_LARGE);
    assert_int_equal(http_parse_request(s, 20, 0, 26, &r), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(http_parse_request(s, 26, 0, 26, &r), HTTP_PARSE_TOO_LARGE);
}

static void test_prev_len_larger_than_len(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    http_request_t r;
    assert_int_equal(http_parse_request(s, 27, 1000, HTTP_MAX_HEAD_BYTES, &r), 27);
}

static void test_irregular_splits(void **state)
{
    /* Chunks of varied sizes, including ones that split CR from LF. */
    const char *s = "POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\n"
                    "Host: h\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n";
    size_t len = strlen(s);
    for (size_t step = 1; step < 20; step++) {
        size_t n = 0, prev = 0;
        http_request_t r;
        int rc = HTTP_PARSE_INCOMPLETE;
        while (rc == HTTP_PARSE_INCOMPLETE) {
            n = n + step > len ? len : n + step;
            rc = http_parse_request(s, n, prev, HTTP_MAX_HEAD_BYTES, &r);
            prev = n;
        }
        assert_int_equal(rc, (int)len);
        assert_int_equal(r.num_headers, 3);
    }
}

/* ---- refusals ---- */

static void test_bare_lf_and_cr(void **state)
{
    expect_rc("GET / HTTP/1.1\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\n\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", HTTP_PARSE_BAD_REQUEST);

    /* An all-LF head is refused at its first LF, not left to hang. */
    const char *s = "GET / HTTP/1.1\n\n";
    parsed_t p;
    size_t at;
    parse_bytewise(s, strlen(s), HTTP_MAX_HEAD_BYTES, &p, &at);
    assert_int_equal(p.rc, HTTP_PARSE_BAD_REQUEST);
    assert_int_equal(at, 15);
    parsed_free(&p);
}

static void test_garbage_refused_early(void **state)
{
    /* Start of a TLS ClientHello. */
    static const char tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
    http_request_t r;
    assert_int_equal(http_parse_request(tls, 1, 0, HTTP_MAX_HEAD_BYTES, &r),
                     HTTP_PARSE_BAD_REQUEST);
    assert_int_equal(http_parse_request(tls, sizeof(tls), 0, HTTP_MAX_HEAD_BYTES, &r),
                     HTTP_PARSE_BAD_REQUEST);
    assert_int_equal(http_parse_request(" GET", 4, 0, HTTP_MAX_HEAD_BYTES, &r),
                     HTTP_PARSE_BAD_REQUEST);
    assert_int_equal(http_parse_request("GE(T", 4, 0, HTTP_MAX_HEAD_BYTES, &r),
                     HTTP_PARSE_BAD_REQUEST);
    assert_int_equal(http_parse_request("GET", 3, 0, HTTP_MAX_HEAD_BYTES, &r),
                     HTTP_PARSE_INCOMPLETE);
    assert_int_equal(http_parse_request("", 0, 0, HTTP_MAX_HEAD_BYTES, &r), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(http_parse_request("\r", 1, 0, HTTP_MAX_HEAD_BYTES, &r),
                     HTTP_PARSE_INCOMPLETE);
}

static void test_obs_fold(void **state)
{
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nX-Long: a\r\n b\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nX-Long: a\r\n\tb\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\n Host: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
}

static void test_bad_header_names(void **state)
{
    expect_rc("GET / HTTP/1.1\r\nHost : h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nX\x7fY: z\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: z\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
}

static void test_control_chars_in_values(void **state)
{
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: h\r\nX: \x1b[31m\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
}

static void test_nul_anywhere(void **state)
{
    /* The NUL goes where the '@' is, in each position. */
    static const char *shapes[] = {
        "G@T / HTTP/1.1\r\nHost: h\r\n\r\n",  "GET /@ HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1@1\r\nHost: h\r\n\r\n",  "GET / HTTP/1.1\r\nHo@t: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h@\r\n\r\n", "GET / HTTP/1.1\r\nHost: h\r\n@\r\n\r\n",
        "@GET / HTTP/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/1.1\r\nHost: @h\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char s[64];
        size_t len = strlen(shapes[i]);
        memcpy(s, shapes[i], len);
        *(char *)memchr(s, '@', len) = '\0';
        parsed_t p;
        check_len(s, len, HTTP_PARSE_BAD_REQUEST, &p);
        parsed_free(&p);
    }
}

static void test_bad_request_lines(void **state)
{
    static const char *cases[] = {
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /  HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\tHTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
        "GET /\r\nHost: h\r\n\r\n",
        "GET\r\nHost: h\r\n\r\n",
        "GET  HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / a HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / http/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.10\r\nHost: h\r\n\r\n",
        "GET / HTTP/1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.\r\nHost: h\r\n\r\n",
        "GET / HTTP/11.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1,1\r\nHost: h\r\n\r\n",
        "GET / HTTP/a.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.x\r\nHost: h\r\n\r\n",
        "GET / HTTPS/1.1\r\nHost: h\r\n\r\n",
        "GET / \r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_rc(cases[i], HTTP_PARSE_BAD_REQUEST);
}

static void test_bad_versions(void **state)
{
    expect_rc("GET / HTTP/2.0\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_VERSION);
    expect_rc("GET / HTTP/0.9\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_VERSION);
    expect_rc("GET / HTTP/3.0\r\nHost: h\r\n\r\n", HTTP_PARSE_BAD_VERSION);
    expect_rc("GET / HTTP/9.9\r\n\r\n", HTTP_PARSE_BAD_VERSION);
}

static void test_host_rules(void **state)
{
    expect_rc("GET / HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_rc("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", HTTP_PARSE_BAD_REQUEST);
    expect_ok("GET / HTTP/1.1\r\nHost:\r\n\r\n"); /* empty is allowed (RFC 9112 §3.2) */
}

static void test_framing_refusals(void **state)
{
    static const char *cases[] = {
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n"),
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1e3\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_rc(cases[i], HTTP_PARSE_BAD_REQUEST);
    /* Trimmed OWS makes this an ordinary chunked request. */
    expect_ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:  chunked \r\n\r\n");
}

static void test_result_str(void **state)
{
    assert_string_equal(http_parse_result_str(HTTP_PARSE_TOO_LARGE),
                        "request header fields too large");
    assert_string_equal(http_parse_result_str(HTTP_PARSE_BAD_VERSION),
                        "http version not supported");
    assert_string_equal(http_parse_result_str(7), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get),
        cmocka_unit_test(test_polling_get_with_query),
        cmocka_unit_test(test_empty_query),
        cmocka_unit_test(test_post_with_body),
        cmocka_unit_test(test_ows_trimmed),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_method_length_limit),
        cmocka_unit_test(test_http10),
        cmocka_unit_test(test_higher_minor_is_11),
        cmocka_unit_test(test_options_star),
        cmocka_unit_test(test_leading_empty_lines_skipped),
        cmocka_unit_test(test_websocket_upgrade),
        cmocka_unit_test(test_header_has_token),
        cmocka_unit_test(test_keep_alive_rules),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_content_length_values),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_head_size_cap),
        cmocka_unit_test(test_custom_cap),
        cmocka_unit_test(test_prev_len_larger_than_len),
        cmocka_unit_test(test_irregular_splits),
        cmocka_unit_test(test_bare_lf_and_cr),
        cmocka_unit_test(test_garbage_refused_early),
        cmocka_unit_test(test_obs_fold),
        cmocka_unit_test(test_bad_header_names),
        cmocka_unit_test(test_control_chars_in_values),
        cmocka_unit_test(test_nul_anywhere),
        cmocka_unit_test(test_bad_request_lines),
        cmocka_unit_test(test_bad_versions),
        cmocka_unit_test(test_host_rules),
        cmocka_unit_test(test_framing_refusals),
        cmocka_unit_test(test_result_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
