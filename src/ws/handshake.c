/* handshake.c — the server side of the RFC 6455 §4.2 opening handshake:
 * judging the upgrade request, computing Sec-WebSocket-Accept, negotiating
 * permessage-deflate, and writing the response bytes. Pure: no I/O (ws_accept
 * in conn.c writes what this produces). */
#include "ws/ws.h"
#include "http/server.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void ws_accept_key(const char *key, size_t key_len, char out[29])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(md, key, key_len) != 1 ||
        EVP_DigestUpdate(md, WS_GUID, sizeof WS_GUID - 1) != 1 ||
        EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != 20) {
        /* SHA-1 from the default provider cannot fail short of OOM. */
        EVP_MD_CTX_free(md);
        out[0] = '\0';
        return;
    }
    EVP_MD_CTX_free(md);
    EVP_EncodeBlock((unsigned char *)out, digest, 20); /* 28 chars + NUL */
}

static int is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* 16 bytes in base64: 22 alphabet characters then "==". */
static int key_valid(const http_header_t *h)
{
    if (h->value_len != 24 || h->value[22] != '=' || h->value[23] != '=')
        return 0;
    for (size_t i = 0; i < 22; i++)
        if (!is_b64((unsigned char)h->value[i]))
            return 0;
    return 1;
}

static size_t count_headers(const http_request_t *req, const char *name)
{
    size_t n = 0, nlen = strlen(name);
    for (size_t i = 0; i < req->num_headers; i++)
        if (req->headers[i].name_len == nlen && strncasecmp(req->headers[i].name, name, nlen) == 0)
            n++;
    return n;
}

static int origin_allowed(const http_request_t *req, const ws_config_t *cfg)
{
    if (!cfg || !cfg->allowed_origins || cfg->num_allowed_origins == 0)
        return 1;
    const http_header_t *o = http_find_header(req, "Origin");
    if (!o)
        return 1; /* not a browser: Origin protects browsers, others can send anything */
    for (size_t i = 0; i < cfg->num_allowed_origins; i++) {
        const char *a = cfg->allowed_origins[i];
        if (a && strlen(a) == o->value_len && strncasecmp(a, o->value, o->value_len) == 0)
            return 1;
    }
    return 0;
}

static void negotiate_deflate(const http_request_t *req, const ws_config_t *cfg, ws_handshake_t *hs)
{
    ws_deflate_offer_t offer, chosen;
    int found = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len != 24 || strncasecmp(h->name, "Sec-WebSocket-Extensions", 24) != 0)
            continue;
        ws_ext_result_t r = ws_deflate_parse_offers(h->value, h->value_len, &offer);
        if (r == WS_EXT_MALFORMED)
            return;
        if (r == WS_EXT_FOUND && !found) {
            chosen = offer;
            found = 1;
        }
    }
    if (found)
        ws_deflate_accept(&chosen, cfg->deflate_client_takeover, &hs->deflate, hs->extensions,
                          sizeof hs->extensions);
}

static int refuse(ws_handshake_t *hs, int status, const char *why)
{
    hs->status = status;
    hs->error = why;
    return status;
}

int ws_handshake_check(const http_request_t *req, const ws_config_t *cfg, ws_handshake_t *hs)
{
    memset(hs, 0, sizeof *hs);
    if (req->method != HTTP_GET)
        return refuse(hs, 400, "WebSocket upgrade needs GET");
    if (req->version_minor < 1)
        return refuse(hs, 400, "WebSocket upgrade needs HTTP/1.1");
    if (!http_header_has_token(http_find_header(req, "Upgrade"), "websocket"))
        return refuse(hs, 400, "Upgrade header must list websocket");
    if (!http_header_has_token(http_find_header(req, "Connection"), "upgrade"))
        return refuse(hs, 400, "Connection header must list Upgrade");

    const http_header_t *ver = http_find_header(req, "Sec-WebSocket-Version");
    if (!ver || ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0)
        return refuse(hs, 426, "Sec-WebSocket-Version must be 13");
    if (count_headers(req, "Sec-WebSocket-Version") != 1)
        return refuse(hs, 400, "Sec-WebSocket-Version repeated");

    const http_header_t *key = http_find_header(req, "Sec-WebSocket-Key");
    if (!key)
        return refuse(hs, 400, "Sec-WebSocket-Key missing");
    if (count_headers(req, "Sec-WebSocket-Key") != 1)
        return refuse(hs, 400, "Sec-WebSocket-Key repeated");
    if (!key_valid(key))
        return refuse(hs, 400, "Sec-WebSocket-Key must be 16 bytes in base64");

    if (!origin_allowed(req, cfg))
        return refuse(hs, 403, "origin not allowed");

    if (cfg && cfg->allow_deflate)
        negotiate_deflate(req, cfg, hs);
    ws_accept_key(key->value, key->value_len, hs->accept);
    hs->status = 101;
    return 101;
}

size_t ws_handshake_response(const ws_handshake_t *hs, char *out, size_t outsz)
{
    int n;
    if (hs->status == 101) {
        n = snprintf(out, outsz,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "%s%s%s"
                     "\r\n",
                     hs->accept, hs->extensions[0] ? "Sec-WebSocket-Extensions: " : "",
                     hs->extensions, hs->extensions[0] ? "\r\n" : "");
    } else {
        char body[160];
        int blen = snprintf(body, sizeof body, "{\"error\":\"%s\"}", hs->error ? hs->error : "");
        if (blen < 0 || (size_t)blen >= sizeof body)
            return 0;
        n = snprintf(out, outsz,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %d\r\n"
                     "Connection: close\r\n"
                     "%s"
                     "\r\n"
                     "%s",
                     hs->status, http_status_text(hs->status), blen,
                     hs->status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", body);
    }
    if (n < 0 || (size_t)n >= outsz)
        return 0;
    return (size_t)n;
}
