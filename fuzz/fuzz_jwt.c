/* fuzz_jwt.c — libFuzzer target for JWT verification and the handshake
 * `auth` rules (src/chat/auth.c).
 *
 * Each input is used four ways:
 *   1. as a token, against an HS256 verifier with a fixed secret and an
 *      ES256 verifier with the RFC 7515 A.3 public key;
 *   2. as a signing input: the target appends "." and the right HS256 MAC,
 *      so mutations of "header.payload" get past the signature and reach the
 *      header, claims and clock checks;
 *   3. its first 64 bytes as an ES256 r||s signature over a fixed input, for
 *      the raw-to-DER conversion;
 *   4. as JSON, handed to the handshake in JWT and in open mode.
 * Properties (abort on violation), beyond ASan/UBSan staying quiet: an
 * accepted identity has a valid user id and display name and a known
 * device; a refusal has code "unauthorized" and a message that is valid
 * UTF-8 (so it can go into connect_error); a forged signature is never
 * accepted; the OpenSSL error queue is left empty.
 *
 * The seed corpus (fuzz/corpus/jwt) was minted with tests/js/lib/jwt.js and
 * the secret below.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "chat/auth.h"
#include "core/utf8.h"

#define FUZZ_SECRET "parley-fuzz-secret"
#define FUZZ_NOW INT64_C(1700000000)

static const char es_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV7\n"
                             "6e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==\n"
                             "-----END PUBLIC KEY-----\n";

static chat_auth_t *hs_auth, *es_auth, *open_auth;

static chat_auth_t *make(chat_auth_mode_t mode, chat_auth_alg_t alg)
{
    chat_auth_config_t cfg;
    chat_auth_config_init(&cfg);
    cfg.mode = mode;
    cfg.alg = alg;
    if (mode == CHAT_AUTH_MODE_JWT && alg == CHAT_AUTH_HS256) {
        cfg.secret = FUZZ_SECRET;
        cfg.secret_len = sizeof(FUZZ_SECRET) - 1;
    } else if (mode == CHAT_AUTH_MODE_JWT) {
        cfg.public_key_pem = es_pem;
    }
    chat_auth_t *a = NULL;
    char err[256];
    if (chat_auth_new(&cfg, &a, err, sizeof err) != CHAT_AUTH_OK)
        abort();
    return a;
}

static size_t b64url(const unsigned char *in, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (len - i >= 1) {
        uint32_t v = (uint32_t)in[i] << 16 | (len - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        if (len - i == 2)
            out[o++] = abc[(v >> 6) & 63];
    }
    return o;
}

static void check(chat_auth_err_t rc, const chat_auth_identity_t *id,
                  const chat_auth_refusal_t *ref)
{
    if (rc == CHAT_AUTH_OK) {
        if (!chat_auth_user_id_valid(id->user, strlen(id->user)) ||
            !chat_auth_display_name_valid(id->name, strlen(id->name)) ||
            (unsigned)id->device > CHAT_DEVICE_BOT)
            abort();
    } else {
        if (rc != ref->reason || !ref->code || strcmp(ref->code, "unauthorized") != 0)
            abort();
        if (!utf8_valid(ref->message, strnlen(ref->message, sizeof ref->message)) ||
            !memchr(ref->message, '\0', sizeof ref->message))
            abort();
        json_t *j = chat_auth_refusal_json(ref);
        if (!json_is_string(json_object_get(j, "message")))
            abort();
        json_decref(j);
    }
    if (ERR_peek_error() != 0)
        abort();
}

static void verify(const chat_auth_t *a, const char *tok, size_t len, int forged)
{
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;
    chat_auth_err_t rc = chat_auth_verify_token(a, tok, len, FUZZ_NOW, &id, &ref);
    if (forged && rc == CHAT_AUTH_OK)
        abort();
    check(rc, &id, &ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!hs_auth) {
        hs_auth = make(CHAT_AUTH_MODE_JWT, CHAT_AUTH_HS256);
        es_auth = make(CHAT_AUTH_MODE_JWT, CHAT_AUTH_ES256);
        open_auth = make(CHAT_AUTH_MODE_OPEN, CHAT_AUTH_HS256);
    }
    const char *s = (const char *)data;

    /* 1. The bytes as a token. Only the RFC example key's owner could sign
     * for es_auth, and its example claims have no sub. */
    verify(hs_auth, s, size, 0);
    verify(es_auth, s, size, 1);

    /* 2. The bytes as header.payload, signed here. */
    if (size <= CHAT_AUTH_TOKEN_MAX) {
        char *tok = malloc(size + 64);
        memcpy(tok, data, size);
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (!HMAC(EVP_sha256(), FUZZ_SECRET, (int)sizeof(FUZZ_SECRET) - 1, data, size, mac,
                  &maclen))
            abort();
        tok[size] = '.';
        size_t n = size + 1 + b64url(mac, maclen, tok + size + 1);
        verify(hs_auth, tok, n, 0);
        free(tok);
    }

    /* 3. The first 64 bytes as an ES256 signature. */
    if (size >= 64) {
        static const char input[] =
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
        char tok[sizeof input + 96];
        memcpy(tok, input, sizeof input - 1);
        size_t n = sizeof input - 1 + b64url(data, 64, tok + sizeof input - 1);
        verify(es_auth, tok, n, 1);
    }

    /* 4. The bytes as the handshake auth object. */
    json_error_t jerr;
    json_t *auth = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (auth) {
        chat_auth_identity_t id;
        chat_auth_refusal_t ref;
        check(chat_auth_handshake(hs_auth, auth, FUZZ_NOW, &id, &ref), &id, &ref);
        check(chat_auth_handshake(open_auth, auth, FUZZ_NOW, &id, &ref), &id, &ref);
        check(chat_auth_handshake(es_auth, auth, FUZZ_NOW, &id, &ref), &id, &ref);
        json_decref(auth);
    }
    return 0;
}
