/* test_handshake.c — the opening handshake as pure functions: the RFC 6455
 * accept key, every refusal and its status, origins, extension negotiation,
 * and the exact response bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/parser.h"
#include "ws/ws.h"

#define GOOD_HEAD                                                                                  \
    "Host: example.com\r\n"                                                                        \
    "Upgrade: websocket\r\n"                                                                       \
    "Connection: keep-alive, Upgrade\r\n"                                                          \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                                              \
    "Sec-WebSocket-Version: 13\r\n"

static http_request_t req;
static char raw[4096];

static const http_request_t *parse(const char *text)
{
    size_t n = strlen(text);
    assert_true(n < sizeof raw);
    memcpy(raw, text, n);
    int r = http_parse_request(raw, n, 0, HTTP_MAX_HEAD_BYTES, &req);
    if (r <= 0)
        fprintf(stderr, "parse failed (%d): %s\n", r, text);
    assert_true(r > 0);
    return &req;
}

static int check(const char *text, const ws_config_t *cfg, ws_handshake_t *hs)
{
    return ws_handshake_check(parse(text), cfg, hs);
}

static void test_accept_key(void **state)
{
    (void)state;
    char out[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out); /* RFC 6455 §1.3 */
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_good_request(void **state)
{
    (void)state;
    ws_handshake_t hs;
    assert_int_equal(check("GET /chat HTTP/1.1\r\n" GOOD_HEAD "\r\n", NULL, &hs), 101);
    assert_string_equal(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_string_equal(hs.extensions, "");
    char out[1024];
    size_t n = ws_handshake_response(&hs, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                             "\r\n");
    /* tokens are case-insensitive */
    assert_int_equal(check("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\n"
                           "Connection: upgrade\r\n"
                           "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n",
                           NULL, &hs),
                     101);
}

static void test_refusals(void **state)
{
    (void)state;
    ws_handshake_t hs;
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"POST / HTTP/1.1\r\n" GOOD_HEAD "\r\n", 400},
        {"GET / HTTP/1.0\r\n" GOOD_HEAD "\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
         426},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
         426},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13, 8\r\n\r\n",
         426},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=a\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!=\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZSBsb25nZXI=\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
        {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
         400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = check(cases[i].text, NULL, &hs);
        if (st != cases[i].status) {
            fprintf(stderr, "case %zu: %d, want %d\n", i, st, cases[i].status);
            fail();
        }
        assert_non_null(hs.error);
    }
}

static void test_error_responses(void **state)
{
    (void)state;
    ws_handshake_t hs;
    char out[1024];
    check("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n",
          NULL, &hs);
    size_t n = ws_handshake_response(&hs, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_non_null(strstr(out, "HTTP/1.1 426 Upgrade Required\r\n"));
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
    const char *body = strstr(out, "\r\n\r\n") + 4;
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    assert_non_null(strstr(out, cl));

    check("PUT / HTTP/1.1\r\n" GOOD_HEAD "\r\n", NULL, &hs);
    ws_handshake_response(&hs, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));
    assert_null(strstr(out, "Sec-WebSocket-Version"));
    assert_int_equal(ws_handshake_response(&hs, out, 10), 0);
}

static void test_origins(void **state)
{
    (void)state;
    static const char *const allowed[] = {"https://chat.example", "http://localhost:3000"};
    ws_config_t cfg = {.allowed_origins = allowed, .num_allowed_origins = 2};
    ws_handshake_t hs;
    assert_int_equal(
        check("GET / HTTP/1.1\r\n" GOOD_HEAD "Origin: https://chat.example\r\n\r\n", &cfg, &hs),
        101);
    assert_int_equal(
        check("GET / HTTP/1.1\r\n" GOOD_HEAD "Origin: HTTP://LOCALHOST:3000\r\n\r\n", &cfg, &hs),
        101);
    assert_int_equal(
        check("GET / HTTP/1.1\r\n" GOOD_HEAD "Origin: https://evil.example\r\n\r\n", &cfg, &hs),
        403);
    assert_int_equal(check("GET / HTTP/1.1\r\n" GOOD_HEAD
                           "Origin: https://chat.example.evil\r\n\r\n",
                           &cfg, &hs),
                     403);
    assert_int_equal(
        check("GET / HTTP/1.1\r\n" GOOD_HEAD "Origin: https://chat.exampl\r\n\r\n", &cfg, &hs),
        403);
    assert_int_equal(check("GET / HTTP/1.1\r\n" GOOD_HEAD "Origin: null\r\n\r\n", &cfg, &hs), 403);
    /* no Origin: not a browser, let in */
    assert_int_equal(check("GET / HTTP/1.1\r\n" GOOD_HEAD "\r\n", &cfg, &hs), 101);
    /* no allowlist: anything */
    ws_config_t open = {0};
    assert_int_equal(
        check("GET / HTTP/1.1\r\n" GOOD_HEAD "Origin: https://evil.example\r\n\r\n", &open, &hs),
        101);
}

static void test_extensions(void **state)
{
    (void)state;
    ws_config_t cfg = {.allow_deflate = 1};
    ws_handshake_t hs;
    char out[1024];

    assert_int_equal(
        check("GET / HTTP/1.1\r\n" GOOD_HEAD
              "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
              "\r\n",
              &cfg, &hs),
        101);
    assert_int_equal(hs.deflate.enabled, 1);
    ws_handshake_response(&hs, out, sizeof out);
    assert_non_null(strstr(out, "\r\nSec-WebSocket-Extensions: permessage-deflate; "
                                "server_no_context_takeover; client_no_context_takeover\r\n\r\n"));

    /* not allowed: not negotiated */
    ws_config_t off = {0};
    check("GET / HTTP/1.1\r\n" GOOD_HEAD "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
          &off, &hs);
    assert_int_equal(hs.deflate.enabled, 0);
    ws_handshake_response(&hs, out, sizeof out);
    assert_null(strstr(out, "Extensions"));

    /* several header lines: the first acceptable offer across them */
    check("GET / HTTP/1.1\r\n" GOOD_HEAD
          "Sec-WebSocket-Extensions: foo, permessage-deflate; bogus\r\n"
          "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11\r\n\r\n",
          &cfg, &hs);
    assert_int_equal(hs.deflate.enabled, 1);
    assert_int_equal(hs.deflate.server_window_bits, 11);
    assert_non_null(strstr(hs.extensions, "server_max_window_bits=11"));

    /* a malformed line declines everything */
    check("GET / HTTP/1.1\r\n" GOOD_HEAD "Sec-WebSocket-Extensions: permessage-deflate\r\n"
          "Sec-WebSocket-Extensions: permessage-deflate; =\r\n\r\n",
          &cfg, &hs);
    assert_int_equal(hs.status, 101);
    assert_int_equal(hs.deflate.enabled, 0);
    assert_string_equal(hs.extensions, "");

    /* context takeover allowed by configuration */
    ws_config_t take = {.allow_deflate = 1, .deflate_client_takeover = 1};
    check("GET / HTTP/1.1\r\n" GOOD_HEAD "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
          &take, &hs);
    assert_int_equal(hs.deflate.client_takeover, 1);
    assert_string_equal(hs.extensions, "permessage-deflate; server_no_context_takeover");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key), cmocka_unit_test(test_good_request),
        cmocka_unit_test(test_refusals),   cmocka_unit_test(test_error_responses),
        cmocka_unit_test(test_origins),    cmocka_unit_test(test_extensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
