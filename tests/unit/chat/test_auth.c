/* test_auth.c — JWT verification (HS256, RS256, ES256) against tokens minted
 * here with OpenSSL and against the RFC 7515 appendix examples; every refusal
 * the handshake can give, open-mode sign-in, configuration errors and the
 * loopback rule. Each refusal is checked by its reason and message, so a
 * token refused for the wrong reason (say "missing sub" where the signature
 * should have failed) fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "chat/auth.h"

#define NOW INT64_C(1700000000)
#define SECRET "correct horse battery staple, 32+"

static EVP_PKEY *rsa_key, *ec_key, *ec_key2;
static char *rsa_pub_pem, *ec_pub_pem;

/* ---- minting tokens --------------------------------------------------- */

typedef enum { SIG_EMPTY, SIG_HS, SIG_RS, SIG_ES, SIG_ES_DER, SIG_RAW } sig_kind_t;

typedef struct {
    sig_kind_t kind;
    const void *secret; /* SIG_HS */
    size_t secret_len;
    EVP_PKEY *pkey;           /* SIG_RS, SIG_ES, SIG_ES_DER */
    const unsigned char *raw; /* SIG_RAW: these bytes as the signature */
    size_t raw_len;
} signer_t;

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
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

static size_t pkey_sign(EVP_PKEY *pkey, const char *input, unsigned char *sig, size_t sigsz)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
    size_t n = sigsz;
    assert_int_equal(EVP_DigestSign(md, sig, &n, (const unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(md);
    return n;
}

/* DER ECDSA-Sig-Value -> r||s, 32 bytes each. */
static void der_to_raw(const unsigned char *der, size_t len, unsigned char out[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    assert_non_null(es);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    assert_int_equal(BN_bn2binpad(r, out, 32), 32);
    assert_int_equal(BN_bn2binpad(s, out + 32, 32), 32);
    ECDSA_SIG_free(es);
}

/* header.claims.signature from JSON texts; malloc'd. */
static char *mint(const char *header, const char *claims, const signer_t *sg)
{
    size_t hl = strlen(header), cl = strlen(claims);
    char *tok = malloc(hl * 2 + cl * 2 + 1024);
    assert_non_null(tok);
    size_t n = b64url((const unsigned char *)header, hl, tok);
    tok[n++] = '.';
    n += b64url((const unsigned char *)claims, cl, tok + n);

    unsigned char sig[1024];
    size_t slen = 0;
    switch (sg->kind) {
    case SIG_EMPTY:
        break;
    case SIG_HS: {
        unsigned int ml = 0;
        assert_non_null(HMAC(EVP_sha256(), sg->secret, (int)sg->secret_len,
                             (const unsigned char *)tok, n, sig, &ml));
        slen = ml;
        break;
    }
    case SIG_RS:
    case SIG_ES_DER:
        tok[n] = '\0';
        slen = pkey_sign(sg->pkey, tok, sig, sizeof sig);
        break;
    case SIG_ES: {
        unsigned char der[128];
        tok[n] = '\0';
        size_t dl = pkey_sign(sg->pkey, tok, der, sizeof der);
        der_to_raw(der, dl, sig);
        slen = 64;
        break;
    }
    case SIG_RAW:
        memcpy(sig, sg->raw, sg->raw_len);
        slen = sg->raw_len;
        break;
    }
    tok[n++] = '.';
    b64url(sig, slen, tok + n);
    return tok;
}

static const signer_t HS = {SIG_HS, SECRET, sizeof(SECRET) - 1, NULL, NULL, 0};

static signer_t rs_signer(void)
{
    return (signer_t){SIG_RS, NULL, 0, rsa_key, NULL, 0};
}

static signer_t es_signer(void)
{
    return (signer_t){SIG_ES, NULL, 0, ec_key, NULL, 0};
}

static char *pub_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

/* ---- verifiers -------------------------------------------------------- */

static chat_auth_t *make_auth(chat_auth_alg_t alg, int leeway, bool require_exp)
{
    chat_auth_config_t cfg;
    chat_auth_config_init(&cfg);
    cfg.mode = CHAT_AUTH_MODE_JWT;
    cfg.alg = alg;
    cfg.leeway = leeway;
    cfg.require_exp = require_exp;
    if (alg == CHAT_AUTH_HS256) {
        cfg.secret = SECRET;
        cfg.secret_len = sizeof(SECRET) - 1;
    } else {
        cfg.public_key_pem = alg == CHAT_AUTH_RS256 ? rsa_pub_pem : ec_pub_pem;
    }
    chat_auth_t *a = NULL;
    char err[256];
    chat_auth_err_t rc = chat_auth_new(&cfg, &a, err, sizeof err);
    if (rc != CHAT_AUTH_OK)
        fail_msg("chat_auth_new: %s", err);
    return a;
}

static chat_auth_t *hs(void)
{
    return make_auth(CHAT_AUTH_HS256, 30, true);
}

static chat_auth_t *open_auth(void)
{
    chat_auth_config_t cfg;
    chat_auth_config_init(&cfg);
    chat_auth_t *a = NULL;
    char err[256];
    assert_int_equal(chat_auth_new(&cfg, &a, err, sizeof err), CHAT_AUTH_OK);
    return a;
}

/* Verifies tok and expects reason want; on refusal the message must contain
 * msg (when not NULL). The OpenSSL error queue must be left empty. */
static void expect_tok(const chat_auth_t *a, const char *tok, int64_t now, chat_auth_err_t want,
                       const char *msg)
{
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;
    memset(&ref, 0, sizeof ref);
    /* Exact-size copy: a read past the token is an ASan error. */
    size_t len = strlen(tok);
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, tok, len);
    chat_auth_err_t rc = chat_auth_verify_token(a, copy, len, now, &id, &ref);
    free(copy);
    if (rc != want)
        fail_msg("token %.80s...: got %d (%s), want %d", tok, rc,
                 rc == CHAT_AUTH_OK ? "ok" : ref.message, want);
    if (rc != CHAT_AUTH_OK) {
        assert_string_equal(ref.code, "unauthorized");
        if (msg && !strstr(ref.message, msg))
            fail_msg("message \"%s\" lacks \"%s\"", ref.message, msg);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

static void expect_claims(const chat_auth_t *a, const signer_t *sg, const char *header,
                          const char *claims, chat_auth_err_t want, const char *msg)
{
    char *tok = mint(header, claims, sg);
    expect_tok(a, tok, NOW, want, msg);
    free(tok);
}

#define HDR_HS "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define HDR_RS "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define HDR_ES "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"

/* Claims for sub alice with exp NOW+60 plus an extra fragment. */
static char *claims_with(const char *extra)
{
    char *c = malloc(strlen(extra) + 128);
    assert_non_null(c);
    snprintf(c, strlen(extra) + 128, "{\"sub\":\"alice\",\"exp\":%lld%s}", (long long)(NOW + 60),
             extra);
    return c;
}

/* ---- setup ------------------------------------------------------------ */

static int group_setup(void **state)
{
    rsa_key = EVP_RSA_gen(2048);
    ec_key = EVP_EC_gen("P-256");
    ec_key2 = EVP_EC_gen("P-256");
    if (!rsa_key || !ec_key || !ec_key2)
        return -1;
    rsa_pub_pem = pub_pem(rsa_key);
    ec_pub_pem = pub_pem(ec_key);
    return 0;
}

static int group_teardown(void **state)
{
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(ec_key2);
    free(rsa_pub_pem);
    free(ec_pub_pem);
    return 0;
}

/* ---- valid tokens ----------------------------------------------------- */

static void check_valid(chat_auth_t *a, const signer_t *sg, const char *hdr)
{
    char *claims = claims_with(",\"name\":\"Alice Liddell\",\"iat\":1,\"iss\":\"x\"");
    char *tok = mint(hdr, claims, sg);
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;
    chat_auth_err_t rc = chat_auth_verify_token(a, tok, strlen(tok), NOW, &id, &ref);
    if (rc != CHAT_AUTH_OK)
        fail_msg("refused: %s", ref.message);
    assert_string_equal(id.user, "alice");
    assert_string_equal(id.name, "Alice Liddell");
    assert_int_equal(id.device, CHAT_DEVICE_WEB);
    free(tok);
    free(claims);
}

static void test_valid_hs256(void **state)
{
    chat_auth_t *a = hs();
    check_valid(a, &HS, HDR_HS);
    check_valid(a, &HS, "{\"alg\":\"HS256\"}"); /* typ is optional */
    check_valid(a, &HS, "{\"alg\":\"HS256\",\"typ\":\"jwt\",\"kid\":\"k1\"}");
    chat_auth_free(a);
}

static void test_valid_rs256(void **state)
{
    chat_auth_t *a = make_auth(CHAT_AUTH_RS256, 30, true);
    signer_t rs = rs_signer();
    check_valid(a, &rs, HDR_RS);
    chat_auth_free(a);
}

static void test_valid_es256(void **state)
{
    chat_auth_t *a = make_auth(CHAT_AUTH_ES256, 30, true);
    signer_t es = es_signer();
    /* ECDSA is randomised: several signatures, so r or s with leading zero
     * bytes get a chance to appear. */
    for (int i = 0; i < 20; i++)
        check_valid(a, &es, HDR_ES);
    chat_auth_free(a);
}

/* RFC 7515 A.1: HS256 with the appendix's key. Its claims have no sub, so
 * "missing sub" proves the signature and the clock checks passed. */
static void test_rfc7515_hs256(void **state)
{
    static const char tok[] =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ij"
        "p0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    static const unsigned char key[] = {
        0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77,
        0x7b, 0xa6, 0x8f, 0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f,
        0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf, 0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47,
        0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22, 0x3d, 0x2e, 0x21, 0x72,
        0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3};
    chat_auth_config_t cfg;
    chat_auth_config_init(&cfg);
    cfg.mode = CHAT_AUTH_MODE_JWT;
    cfg.secret = key;
    cfg.secret_len = sizeof key;
    chat_auth_t *a = NULL;
    char err[128];
    assert_int_equal(chat_auth_new(&cfg, &a, err, sizeof err), CHAT_AUTH_OK);
    expect_tok(a, tok, 1300819000, CHAT_AUTH_ERR_CLAIMS, "missing sub");
    char bad[sizeof tok];
    memcpy(bad, tok, sizeof tok);
    bad[sizeof tok - 2] = 'g'; /* 'k' -> 'g': last MAC byte differs, unused bits still 0 */
    expect_tok(a, bad, 1300819000, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    chat_auth_free(a);
}

/* RFC 7515 A.3: ES256; the key is the appendix's x, y as SPKI PEM. */
static void test_rfc7515_es256(void **state)
{
    static const char pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV7\n"
                              "6e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==\n"
                              "-----END PUBLIC KEY-----\n";
    static const char tok[] =
        "eyJhbGciOiJFUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ij"
        "p0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-"
        "Kg6NU1Q";
    chat_auth_config_t cfg;
    chat_auth_config_init(&cfg);
    cfg.mode = CHAT_AUTH_MODE_JWT;
    cfg.alg = CHAT_AUTH_ES256;
    cfg.public_key_pem = pem;
    chat_auth_t *a = NULL;
    char err[256];
    if (chat_auth_new(&cfg, &a, err, sizeof err) != CHAT_AUTH_OK)
        fail_msg("%s", err);
    expect_tok(a, tok, 1300819000, CHAT_AUTH_ERR_CLAIMS, "missing sub");
    char bad[sizeof tok];
    memcpy(bad, tok, sizeof tok);
    bad[sizeof tok - 2] = 'A'; /* 'Q' -> 'A': s's last byte differs, still canonical */
    expect_tok(a, bad, 1300819000, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    chat_auth_free(a);
}

/* ---- time ------------------------------------------------------------- */

static void exp_case(chat_auth_t *a, const char *exp_json, chat_auth_err_t want, const char *msg)
{
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%s}", exp_json);
    expect_claims(a, &HS, HDR_HS, claims, want, msg);
}

static void nbf_case(chat_auth_t *a, long long nbf, chat_auth_err_t want, const char *msg)
{
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld,\"nbf\":%lld}",
             (long long)NOW + 3600, nbf);
    expect_claims(a, &HS, HDR_HS, claims, want, msg);
}

static void test_expiry_and_leeway(void **state)
{
    chat_auth_t *a = hs(); /* leeway 30 */
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)NOW - 31);
    exp_case(a, v, CHAT_AUTH_ERR_EXPIRED, "token expired");
    snprintf(v, sizeof v, "%lld", (long long)NOW - 30); /* now == exp + leeway: gone */
    exp_case(a, v, CHAT_AUTH_ERR_EXPIRED, "token expired");
    snprintf(v, sizeof v, "%lld", (long long)NOW - 29); /* within leeway */
    exp_case(a, v, CHAT_AUTH_OK, NULL);
    exp_case(a, "1", CHAT_AUTH_ERR_EXPIRED, "token expired");
    exp_case(a, "-5", CHAT_AUTH_ERR_EXPIRED, "token expired");
    exp_case(a, "1e300", CHAT_AUTH_OK, NULL);
    exp_case(a, "9223372036854775807", CHAT_AUTH_OK, NULL);
    exp_case(a, "\"4102444800\"", CHAT_AUTH_ERR_CLAIMS, "claim exp must be a number");
    exp_case(a, "true", CHAT_AUTH_ERR_CLAIMS, "claim exp must be a number");
    exp_case(a, "null", CHAT_AUTH_ERR_CLAIMS, "claim exp must be a number");
    chat_auth_free(a);

    a = make_auth(CHAT_AUTH_HS256, 0, true);
    snprintf(v, sizeof v, "%lld", (long long)NOW);
    exp_case(a, v, CHAT_AUTH_ERR_EXPIRED, "token expired");
    snprintf(v, sizeof v, "%lld", (long long)NOW + 1);
    exp_case(a, v, CHAT_AUTH_OK, NULL);
    snprintf(v, sizeof v, "%lld.5", (long long)NOW); /* fractional NumericDate */
    exp_case(a, v, CHAT_AUTH_OK, NULL);
    snprintf(v, sizeof v, "%lld.5", (long long)NOW - 1);
    exp_case(a, v, CHAT_AUTH_ERR_EXPIRED, "token expired");
    chat_auth_free(a);
}

static void test_not_before(void **state)
{
    chat_auth_t *a = hs();
    nbf_case(a, NOW + 31, CHAT_AUTH_ERR_NOT_YET, "token not yet valid");
    nbf_case(a, NOW + 30, CHAT_AUTH_OK, NULL); /* within leeway */
    nbf_case(a, NOW, CHAT_AUTH_OK, NULL);
    nbf_case(a, 0, CHAT_AUTH_OK, NULL);
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld,\"nbf\":\"0\"}",
             (long long)NOW + 60);
    expect_claims(a, &HS, HDR_HS, claims, CHAT_AUTH_ERR_CLAIMS, "claim nbf must be a number");
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld,\"nbf\":null}",
             (long long)NOW + 60);
    expect_claims(a, &HS, HDR_HS, claims, CHAT_AUTH_OK, NULL);
    chat_auth_free(a);

    a = make_auth(CHAT_AUTH_HS256, 0, true);
    nbf_case(a, NOW + 1, CHAT_AUTH_ERR_NOT_YET, "token not yet valid");
    nbf_case(a, NOW, CHAT_AUTH_OK, NULL);
    chat_auth_free(a);
}

static void test_require_exp(void **state)
{
    chat_auth_t *a = hs();
    expect_claims(a, &HS, HDR_HS, "{\"sub\":\"alice\"}", CHAT_AUTH_ERR_CLAIMS, "missing exp");
    chat_auth_free(a);
    a = make_auth(CHAT_AUTH_HS256, 30, false);
    expect_claims(a, &HS, HDR_HS, "{\"sub\":\"alice\"}", CHAT_AUTH_OK, NULL);
    /* Optional does not mean unchecked. */
    exp_case(a, "1", CHAT_AUTH_ERR_EXPIRED, "token expired");
    chat_auth_free(a);
}

/* ---- signatures ------------------------------------------------------- */

static void test_wrong_signature(void **state)
{
    char *claims = claims_with("");
    chat_auth_t *a = hs();
    signer_t other = {SIG_HS, "another secret", 14, NULL, NULL, 0};
    expect_claims(a, &other, HDR_HS, claims, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    /* A prefix of the right secret is not the secret. */
    signer_t shorter = {SIG_HS, SECRET, sizeof(SECRET) - 2, NULL, NULL, 0};
    expect_claims(a, &shorter, HDR_HS, claims, CHAT_AUTH_ERR_SIGNATURE, NULL);
    /* Truncated MAC. */
    unsigned char mac[16] = {0};
    signer_t trunc = {SIG_RAW, NULL, 0, NULL, mac, sizeof mac};
    expect_claims(a, &trunc, HDR_HS, claims, CHAT_AUTH_ERR_SIGNATURE, "32 bytes");
    chat_auth_free(a);

    a = make_auth(CHAT_AUTH_ES256, 30, true);
    signer_t es2 = {SIG_ES, NULL, 0, ec_key2, NULL, 0};
    expect_claims(a, &es2, HDR_ES, claims, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    /* DER, as OpenSSL produces, is not the JWS form. */
    signer_t der = {SIG_ES_DER, NULL, 0, ec_key, NULL, 0};
    expect_claims(a, &der, HDR_ES, claims, CHAT_AUTH_ERR_SIGNATURE, "r||s");
    /* r = 0, s = 0; r = s = all ones (above the group order). */
    unsigned char zeros[64] = {0}, ones[64];
    memset(ones, 0xff, sizeof ones);
    signer_t z = {SIG_RAW, NULL, 0, NULL, zeros, 64}, o = {SIG_RAW, NULL, 0, NULL, ones, 64};
    expect_claims(a, &z, HDR_ES, claims, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    expect_claims(a, &o, HDR_ES, claims, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    chat_auth_free(a);

    a = make_auth(CHAT_AUTH_RS256, 30, true);
    signer_t rs = rs_signer();
    char *tok = mint(HDR_RS, claims, &rs);
    /* Flip one bit in the middle of the signature ('A' <-> 'B' is bit 0 of
     * a full 6-bit group, so the encoding stays canonical). */
    char *sig = strrchr(tok, '.') + 1;
    size_t mid = strlen(sig) / 2;
    sig[mid] = sig[mid] == 'A' ? 'B' : 'A';
    expect_tok(a, tok, NOW, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    free(tok);
    unsigned char small[255] = {1};
    signer_t sm = {SIG_RAW, NULL, 0, NULL, small, sizeof small};
    expect_claims(a, &sm, HDR_RS, claims, CHAT_AUTH_ERR_SIGNATURE, "256 bytes");
    chat_auth_free(a);
    free(claims);
}

/* Keeps the signature, swaps the payload for one naming another user. */
static void check_tampered(chat_auth_t *a, const signer_t *sg, const char *hdr)
{
    char *claims = claims_with("");
    char *tok = mint(hdr, claims, sg);
    char evil[128];
    snprintf(evil, sizeof evil, "{\"sub\":\"admin\",\"exp\":%lld}", (long long)NOW + 60);
    char *forged = mint(hdr, evil, &(signer_t){.kind = SIG_EMPTY});
    char *fsig_dot = strrchr(forged, '.');
    char *osig = strrchr(tok, '.');
    size_t outsz = strlen(forged) + strlen(osig) + 1;
    char *out = malloc(outsz);
    snprintf(out, outsz, "%.*s%s", (int)(fsig_dot - forged), forged, osig);
    expect_tok(a, out, NOW, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    free(out);
    free(forged);
    free(tok);
    free(claims);
}

static void test_tampered_payload(void **state)
{
    chat_auth_t *a = hs();
    check_tampered(a, &HS, HDR_HS);
    chat_auth_free(a);
    a = make_auth(CHAT_AUTH_RS256, 30, true);
    signer_t rs = rs_signer();
    check_tampered(a, &rs, HDR_RS);
    chat_auth_free(a);
    a = make_auth(CHAT_AUTH_ES256, 30, true);
    signer_t es = es_signer();
    check_tampered(a, &es, HDR_ES);
    chat_auth_free(a);
}

/* ---- alg pinning ------------------------------------------------------ */

static void test_alg_none(void **state)
{
    char *claims = claims_with("");
    chat_auth_t *auths[3] = {hs(), make_auth(CHAT_AUTH_RS256, 30, true),
                             make_auth(CHAT_AUTH_ES256, 30, true)};
    const char *want[3] = {"alg none not allowed (expected HS256)",
                           "alg none not allowed (expected RS256)",
                           "alg none not allowed (expected ES256)"};
    for (int i = 0; i < 3; i++) {
        signer_t empty = {.kind = SIG_EMPTY};
        expect_claims(auths[i], &empty, "{\"alg\":\"none\",\"typ\":\"JWT\"}", claims,
                      CHAT_AUTH_ERR_ALG, want[i]);
        expect_claims(auths[i], &empty, "{\"alg\":\"None\"}", claims, CHAT_AUTH_ERR_ALG,
                      "alg None not allowed");
        /* With a signature, even a valid HS256 MAC over the input. */
        expect_claims(auths[i], &HS, "{\"alg\":\"none\"}", claims, CHAT_AUTH_ERR_ALG, want[i]);
        chat_auth_free(auths[i]);
    }
    free(claims);
}

/* The classic: an RS256 server, a token claiming HS256 and MAC'd with the
 * server's public key PEM (which the attacker knows) as the secret. */
static void test_hs_rs_confusion(void **state)
{
    char *claims = claims_with("");
    chat_auth_t *a = make_auth(CHAT_AUTH_RS256, 30, true);
    signer_t conf = {SIG_HS, rsa_pub_pem, strlen(rsa_pub_pem), NULL, NULL, 0};
    expect_claims(a, &conf, HDR_HS, claims, CHAT_AUTH_ERR_ALG,
                  "alg HS256 not allowed (expected RS256)");
    chat_auth_free(a);

    a = make_auth(CHAT_AUTH_ES256, 30, true);
    signer_t conf2 = {SIG_HS, ec_pub_pem, strlen(ec_pub_pem), NULL, NULL, 0};
    expect_claims(a, &conf2, HDR_HS, claims, CHAT_AUTH_ERR_ALG,
                  "alg HS256 not allowed (expected ES256)");
    chat_auth_free(a);
    free(claims);
}

static void test_alg_mismatch(void **state)
{
    char *claims = claims_with("");
    chat_auth_t *a = hs();
    signer_t rs = rs_signer(), es = es_signer();
    expect_claims(a, &rs, HDR_RS, claims, CHAT_AUTH_ERR_ALG,
                  "alg RS256 not allowed (expected HS256)");
    expect_claims(a, &es, HDR_ES, claims, CHAT_AUTH_ERR_ALG,
                  "alg ES256 not allowed (expected HS256)");
    expect_claims(a, &HS, "{\"alg\":\"hs256\"}", claims, CHAT_AUTH_ERR_ALG, "alg hs256");
    expect_claims(a, &HS, "{\"alg\":\"HS256 \"}", claims, CHAT_AUTH_ERR_ALG, NULL);
    expect_claims(a, &HS, "{\"alg\":\"HS512\"}", claims, CHAT_AUTH_ERR_ALG, NULL);
    expect_claims(a, &HS, "{\"alg\":256}", claims, CHAT_AUTH_ERR_ALG, "alg must be a string");
    expect_claims(a, &HS, "{\"alg\":[\"HS256\"]}", claims, CHAT_AUTH_ERR_ALG, NULL);
    expect_claims(a, &HS, "{\"typ\":\"JWT\"}", claims, CHAT_AUTH_ERR_MALFORMED, "has no alg");
    /* An embedded NUL must not make "HS256\u0000x" look like HS256. */
    expect_claims(a, &HS, "{\"alg\":\"HS256\\u0000x\"}", claims, CHAT_AUTH_ERR_MALFORMED,
                  "not valid JSON");
    /* What the client sent is echoed short and printable. */
    expect_claims(a, &HS, "{\"alg\":\"\\u00e9\\n<script>alert(1)</script>\"}", claims,
                  CHAT_AUTH_ERR_ALG, "alg ??\?<script>alert... not allowed (expected HS256)");
    chat_auth_free(a);

    a = make_auth(CHAT_AUTH_ES256, 30, true);
    expect_claims(a, &rs, HDR_RS, claims, CHAT_AUTH_ERR_ALG,
                  "alg RS256 not allowed (expected ES256)");
    chat_auth_free(a);
    a = make_auth(CHAT_AUTH_RS256, 30, true);
    expect_claims(a, &es, HDR_ES, claims, CHAT_AUTH_ERR_ALG,
                  "alg ES256 not allowed (expected RS256)");
    chat_auth_free(a);
    free(claims);
}

static void test_header_typ_crit(void **state)
{
    char *claims = claims_with("");
    chat_auth_t *a = hs();
    expect_claims(a, &HS, "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", claims, CHAT_AUTH_ERR_MALFORMED,
                  "typ must be \"JWT\"");
    expect_claims(a, &HS, "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", claims, CHAT_AUTH_ERR_MALFORMED,
                  "typ");
    expect_claims(a, &HS, "{\"alg\":\"HS256\",\"typ\":1}", claims, CHAT_AUTH_ERR_MALFORMED, "typ");
    expect_claims(a, &HS, "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", claims,
                  CHAT_AUTH_ERR_MALFORMED, "crit");
    expect_claims(a, &HS, "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", claims, CHAT_AUTH_ERR_MALFORMED,
                  "duplicate");
    /* Keys in the header are never used: a jwk header changes nothing. */
    expect_claims(a, &HS, "{\"alg\":\"HS256\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AA\"}}", claims,
                  CHAT_AUTH_OK, NULL);
    chat_auth_free(a);
    free(claims);
}

/* ---- claims ----------------------------------------------------------- */

static void sub_case(chat_auth_t *a, const char *sub_json, chat_auth_err_t want, const char *msg)
{
    char claims[512];
    snprintf(claims, sizeof claims, "{\"sub\":%s,\"exp\":%lld}", sub_json, (long long)NOW + 60);
    expect_claims(a, &HS, HDR_HS, claims, want, msg);
}

static void test_sub(void **state)
{
    chat_auth_t *a = hs();
    char claims[128];
    snprintf(claims, sizeof claims, "{\"exp\":%lld,\"name\":\"x\"}", (long long)NOW + 60);
    expect_claims(a, &HS, HDR_HS, claims, CHAT_AUTH_ERR_CLAIMS, "missing sub");
    sub_case(a, "null", CHAT_AUTH_ERR_CLAIMS, "claim sub must be a string");
    sub_case(a, "42", CHAT_AUTH_ERR_CLAIMS, "claim sub must be a string");
    sub_case(a, "[\"alice\"]", CHAT_AUTH_ERR_CLAIMS, "claim sub must be a string");
    const char *bad[] = {"\"\"",         "\"Alice\"",   "\"ali ce\"",    "\"a/b\"",
                         "\"a+b\"",      "\"\\u00e9\"", "\"a\\u0000b\"", "\"al:ice\"",
                         "\"alice\\n\"", "\"a\\\\b\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        chat_auth_err_t want =
            strstr(bad[i], "u0000") ? CHAT_AUTH_ERR_MALFORMED : CHAT_AUTH_ERR_CLAIMS;
        sub_case(a, bad[i], want, NULL);
    }
    sub_case(a, "\"Alice\"", CHAT_AUTH_ERR_CLAIMS, "claim sub must match ^[a-z0-9_.@-]{1,64}$");
    char s[80];
    snprintf(s, sizeof s, "\"%.64s\"",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    sub_case(a, s, CHAT_AUTH_OK, NULL); /* 64 characters */
    snprintf(s, sizeof s, "\"%.65s\"",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    sub_case(a, s, CHAT_AUTH_ERR_CLAIMS, "claim sub must match");
    sub_case(a, "\"bob.smith@example.com\"", CHAT_AUTH_OK, NULL);
    sub_case(a, "\"_-.@0\"", CHAT_AUTH_OK, NULL);
    chat_auth_free(a);
}

static void name_case(chat_auth_t *a, const char *name_json, chat_auth_err_t want,
                      const char *expect_name)
{
    char claims[2048];
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld,\"name\":%s}",
             (long long)NOW + 60, name_json);
    char *tok = mint(HDR_HS, claims, &HS);
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;
    chat_auth_err_t rc = chat_auth_verify_token(a, tok, strlen(tok), NOW, &id, &ref);
    if (rc != want)
        fail_msg("name %s: got %d (%s), want %d", name_json, rc, rc ? ref.message : "ok", want);
    if (rc == CHAT_AUTH_OK && expect_name)
        assert_string_equal(id.name, expect_name);
    free(tok);
}

static void test_name(void **state)
{
    chat_auth_t *a = hs();
    name_case(a, "\"Alice\"", CHAT_AUTH_OK, "Alice");
    name_case(a, "null", CHAT_AUTH_OK, "alice"); /* null = absent: name = sub */
    name_case(a, "\"\\u00c9lodie \\u6771\\u4eac \\ud83d\\ude00\"", CHAT_AUTH_OK,
              "\xc3\x89lodie \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80");
    name_case(a, "42", CHAT_AUTH_ERR_CLAIMS, NULL);
    name_case(a, "true", CHAT_AUTH_ERR_CLAIMS, NULL);
    name_case(a, "{}", CHAT_AUTH_ERR_CLAIMS, NULL);
    name_case(a, "[\"A\"]", CHAT_AUTH_ERR_CLAIMS, NULL);
    name_case(a, "\"\"", CHAT_AUTH_ERR_CLAIMS, NULL);
    name_case(a, "\"a\\nb\"", CHAT_AUTH_ERR_CLAIMS, NULL);
    name_case(a, "\"a\\u007fb\"", CHAT_AUTH_ERR_CLAIMS, NULL);
    name_case(a, "\"a\\u0085b\"", CHAT_AUTH_ERR_CLAIMS, NULL); /* C1 control */
    name_case(a, "\"a\\u00a0b\"", CHAT_AUTH_OK, NULL);         /* NBSP is not one */

    /* 64 characters of 4 bytes each fit; 65 do not. */
    char big[1024];
    size_t n = 0;
    big[n++] = '"';
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "\\ud83d\\ude00");
    snprintf(big + n, sizeof big - n, "\"");
    name_case(a, big, CHAT_AUTH_OK, NULL);
    snprintf(big + n, sizeof big - n, "x\"");
    name_case(a, big, CHAT_AUTH_ERR_CLAIMS, NULL);

    chat_auth_refusal_t ref;
    chat_auth_identity_t id;
    char claims[128];
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld,\"name\":7}",
             (long long)NOW + 60);
    char *tok = mint(HDR_HS, claims, &HS);
    chat_auth_verify_token(a, tok, strlen(tok), NOW, &id, &ref);
    assert_string_equal(ref.message, "claim name must be a string");
    free(tok);
    chat_auth_free(a);
}

static void test_claims_json(void **state)
{
    chat_auth_t *a = hs();
    expect_claims(a, &HS, HDR_HS, "not json", CHAT_AUTH_ERR_MALFORMED,
                  "token claims are not valid JSON");
    expect_claims(a, &HS, HDR_HS, "[\"sub\",\"alice\"]", CHAT_AUTH_ERR_MALFORMED,
                  "token claims are not a JSON object");
    expect_claims(a, &HS, HDR_HS, "\"alice\"", CHAT_AUTH_ERR_MALFORMED, "claims");
    expect_claims(a, &HS, HDR_HS, "", CHAT_AUTH_ERR_MALFORMED, "claims");
    expect_claims(a, &HS, HDR_HS, "{\"sub\":\"alice\",\"exp\":9999999999} trailing",
                  CHAT_AUTH_ERR_MALFORMED, "claims");
    /* Two subs: which one wins would be a parser-differential hole. */
    expect_claims(a, &HS, HDR_HS, "{\"sub\":\"alice\",\"exp\":9999999999,\"sub\":\"admin\"}",
                  CHAT_AUTH_ERR_MALFORMED, "duplicate");
    expect_claims(a, &HS, HDR_HS, "{\"sub\":\"al\xffice\",\"exp\":9999999999}",
                  CHAT_AUTH_ERR_MALFORMED, "claims");
    expect_claims(a, &HS, "not json", "{}", CHAT_AUTH_ERR_MALFORMED,
                  "token header is not valid JSON");
    expect_claims(a, &HS, "[\"HS256\"]", "{}", CHAT_AUTH_ERR_MALFORMED,
                  "token header is not a JSON object");
    chat_auth_free(a);
}

/* ---- shape and encoding ----------------------------------------------- */

static void test_base64url(void **state)
{
    chat_auth_t *a = hs();
    char *claims = claims_with("");
    char *tok = mint(HDR_HS, claims, &HS);
    expect_tok(a, tok, NOW, CHAT_AUTH_OK, NULL);
    size_t len = strlen(tok);
    char *sig = strrchr(tok, '.') + 1;
    assert_int_equal(strlen(sig), 43); /* 32 bytes: 43 characters, 2 unused bits */
    char *buf = malloc(len + 8);

    /* Padding anywhere. */
    snprintf(buf, len + 8, "%s=", tok);
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "signature is not valid base64url");
    char *dot = strchr(tok, '.');
    snprintf(buf, len + 8, "%.*s=%s", (int)(dot - tok), tok, dot);
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "header is not valid base64url");

    /* Standard-alphabet characters, spaces, a stray NUL. */
    const char bad_chars[] = {'+', '/', ' ', '=', '\n', '\0', '*'};
    for (size_t i = 0; i < sizeof bad_chars; i++) {
        memcpy(buf, tok, len + 1);
        buf[3] = bad_chars[i];
        chat_auth_identity_t id;
        chat_auth_refusal_t ref;
        assert_int_equal(chat_auth_verify_token(a, buf, len, NOW, &id, &ref),
                         CHAT_AUTH_ERR_MALFORMED);
        assert_non_null(strstr(ref.message, "header is not valid base64url"));
        memcpy(buf, tok, len + 1);
        buf[len - 5] = bad_chars[i];
        assert_int_equal(chat_auth_verify_token(a, buf, len, NOW, &id, &ref),
                         CHAT_AUTH_ERR_MALFORMED);
        assert_non_null(strstr(ref.message, "signature is not valid base64url"));
    }

    /* Non-canonical: the last character carries non-zero unused bits. The
     * same bytes spelt another way must not verify. */
    memcpy(buf, tok, len + 1);
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(abc, buf[len - 1]) - abc);
    buf[len - 1] = abc[v | 1];
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "signature is not valid base64url");

    /* A length no encoding has (4k+1) in the signature. */
    snprintf(buf, len + 8, "%sAA", tok);
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "signature is not valid base64url");

    /* Payload: bad character, with a signature computed over it, so only
     * the decoding can refuse it. */
    char raw[256];
    snprintf(raw, sizeof raw, "%.*s.eyJzdWIi+", (int)(dot - tok), tok);
    unsigned char mac[32];
    unsigned int ml;
    HMAC(EVP_sha256(), SECRET, sizeof(SECRET) - 1, (unsigned char *)raw, strlen(raw), mac, &ml);
    char msig[64];
    b64url(mac, 32, msig);
    char signed_raw[512];
    snprintf(signed_raw, sizeof signed_raw, "%s.%s", raw, msig);
    expect_tok(a, signed_raw, NOW, CHAT_AUTH_ERR_MALFORMED, "payload is not valid base64url");

    free(buf);
    free(tok);
    free(claims);
    chat_auth_free(a);
}

static void test_shape(void **state)
{
    chat_auth_t *a = hs();
    char *claims = claims_with("");
    char *tok = mint(HDR_HS, claims, &HS);
    size_t len = strlen(tok);
    char *buf = malloc(2 * len + 16);

    snprintf(buf, 2 * len + 16, "%s.", tok);
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "3 parts");
    snprintf(buf, 2 * len + 16, "%s.%s", tok, "AAAA");
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "3 parts");
    snprintf(buf, 2 * len + 16, "%s.e30.e30", tok); /* JWE-like: 5 parts */
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "3 parts");
    snprintf(buf, 2 * len + 16, " %s", tok);
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "header is not valid base64url");
    *strrchr(tok, '.') = '\0'; /* header.payload only */
    expect_tok(a, tok, NOW, CHAT_AUTH_ERR_MALFORMED, "3 parts");
    expect_tok(a, "abc", NOW, CHAT_AUTH_ERR_MALFORMED, "3 parts");
    expect_tok(a, "..", NOW, CHAT_AUTH_ERR_MALFORMED, "header is not valid JSON");
    expect_tok(a, "...", NOW, CHAT_AUTH_ERR_MALFORMED, "3 parts");
    expect_tok(a, "", NOW, CHAT_AUTH_ERR_MALFORMED, "token is empty");
    snprintf(buf, 2 * len + 16, "Bearer %s", tok);
    expect_tok(a, buf, NOW, CHAT_AUTH_ERR_MALFORMED, "Bearer");

    free(buf);
    free(tok);
    free(claims);
    chat_auth_free(a);
}

static void test_size_cap(void **state)
{
    chat_auth_t *a = hs();
    /* The longest valid token we can mint at or under CHAT_AUTH_TOKEN_MAX
     * (lengths move in steps of 1 or 2) passes; anything longer is refused
     * before any parsing. */
    char *pad = malloc(CHAT_AUTH_TOKEN_MAX + 64);
    char *tok = NULL, *prev = NULL;
    for (size_t fill = CHAT_AUTH_TOKEN_MAX * 3 / 4 - 200;; fill++) {
        int n = snprintf(pad, CHAT_AUTH_TOKEN_MAX + 64, ",\"pad\":\"%*s\"", (int)fill, "");
        assert_true(n > 0);
        char *claims = claims_with(pad);
        tok = mint(HDR_HS, claims, &HS);
        free(claims);
        if (strlen(tok) > CHAT_AUTH_TOKEN_MAX)
            break;
        free(prev);
        prev = tok;
    }
    assert_non_null(prev);
    assert_true(strlen(prev) >= CHAT_AUTH_TOKEN_MAX - 2);
    expect_tok(a, prev, NOW, CHAT_AUTH_OK, NULL);
    char msg[64];
    snprintf(msg, sizeof msg, "token too large (%zu bytes, max 8192)", strlen(tok));
    expect_tok(a, tok, NOW, CHAT_AUTH_ERR_MALFORMED, msg);

    char *big = malloc(CHAT_AUTH_TOKEN_MAX + 2);
    memset(big, 'A', CHAT_AUTH_TOKEN_MAX + 1);
    big[CHAT_AUTH_TOKEN_MAX + 1] = '\0';
    expect_tok(a, big, NOW, CHAT_AUTH_ERR_MALFORMED, "token too large (8193 bytes, max 8192)");
    big[CHAT_AUTH_TOKEN_MAX] = '\0'; /* 8192 'A's: not too large, just not a token */
    expect_tok(a, big, NOW, CHAT_AUTH_ERR_MALFORMED, "3 parts");
    free(big);
    free(tok);
    free(prev);
    free(pad);
    chat_auth_free(a);
}

/* ---- the handshake ---------------------------------------------------- */

static chat_auth_err_t shake(const chat_auth_t *a, const char *auth_json, chat_auth_identity_t *id,
                             chat_auth_refusal_t *ref)
{
    json_t *auth = NULL;
    if (auth_json) {
        json_error_t jerr;
        auth = json_loads(auth_json, JSON_DECODE_ANY, &jerr);
        if (!auth)
            fail_msg("bad test JSON %s: %s", auth_json, jerr.text);
    }
    chat_auth_err_t rc = chat_auth_handshake(a, auth, NOW, id, ref);
    json_decref(auth);
    return rc;
}

static void expect_shake(const chat_auth_t *a, const char *auth_json, chat_auth_err_t want,
                         const char *msg)
{
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;
    chat_auth_err_t rc = shake(a, auth_json, &id, &ref);
    if (rc != want)
        fail_msg("auth %s: got %d (%s), want %d", auth_json ? auth_json : "NULL", rc,
                 rc ? ref.message : "ok", want);
    if (rc != CHAT_AUTH_OK) {
        assert_string_equal(ref.code, "unauthorized");
        if (msg && strcmp(ref.message, msg) != 0)
            fail_msg("message \"%s\", want \"%s\"", ref.message, msg);
    }
}

static void test_handshake_jwt(void **state)
{
    chat_auth_t *a = hs();
    assert_int_equal(chat_auth_mode(a), CHAT_AUTH_MODE_JWT);
    char *claims = claims_with(",\"name\":\"Alice\"");
    char *tok = mint(HDR_HS, claims, &HS);
    char auth[1024];
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;

    snprintf(auth, sizeof auth, "{\"token\":\"%s\"}", tok);
    assert_int_equal(shake(a, auth, &id, &ref), CHAT_AUTH_OK);
    assert_string_equal(id.user, "alice");
    assert_string_equal(id.name, "Alice");
    assert_int_equal(id.device, CHAT_DEVICE_WEB);

    /* user and name beside a token change nothing. */
    snprintf(auth, sizeof auth, "{\"token\":\"%s\",\"user\":\"root\",\"name\":\"Root\"}", tok);
    assert_int_equal(shake(a, auth, &id, &ref), CHAT_AUTH_OK);
    assert_string_equal(id.user, "alice");
    assert_string_equal(id.name, "Alice");

    expect_shake(a, NULL, CHAT_AUTH_ERR_REQUEST, "auth.token is required");
    expect_shake(a, "{}", CHAT_AUTH_ERR_REQUEST, "auth.token is required");
    expect_shake(a, "{\"token\":null}", CHAT_AUTH_ERR_REQUEST, "auth.token is required");
    expect_shake(a, "{\"user\":\"alice\",\"name\":\"Alice\"}", CHAT_AUTH_ERR_REQUEST,
                 "auth.token is required (this server signs in with JWT, not auth.user)");
    expect_shake(a, "{\"token\":42}", CHAT_AUTH_ERR_REQUEST, "auth.token must be a string");
    expect_shake(a, "{\"token\":\"\"}", CHAT_AUTH_ERR_MALFORMED, "token is empty");
    expect_shake(a, "[]", CHAT_AUTH_ERR_REQUEST, "auth must be an object");
    expect_shake(a, "\"token\"", CHAT_AUTH_ERR_REQUEST, "auth must be an object");
    expect_shake(a, "{\"token\":\"a.b.c\"}", CHAT_AUTH_ERR_MALFORMED,
                 "token header is not valid base64url");

    /* The refusal as the client sees it. */
    shake(a, "{}", &id, &ref);
    json_t *j = chat_auth_refusal_json(&ref);
    char *dump = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(dump, "{\"code\":\"unauthorized\",\"message\":\"auth.token is required\"}");
    free(dump);
    json_decref(j);

    free(tok);
    free(claims);
    chat_auth_free(a);
}

static void test_device(void **state)
{
    chat_auth_t *j = hs(), *o = open_auth();
    char *claims = claims_with("");
    char *tok = mint(HDR_HS, claims, &HS);
    static const char *const ok[] = {"web", "mobile", "desktop", "bot"};
    static const chat_device_t devs[] = {CHAT_DEVICE_WEB, CHAT_DEVICE_MOBILE, CHAT_DEVICE_DESKTOP,
                                         CHAT_DEVICE_BOT};
    char auth[1024];
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;
    for (int i = 0; i < 4; i++) {
        snprintf(auth, sizeof auth, "{\"token\":\"%s\",\"device\":\"%s\"}", tok, ok[i]);
        assert_int_equal(shake(j, auth, &id, &ref), CHAT_AUTH_OK);
        assert_int_equal(id.device, devs[i]);
        assert_string_equal(chat_auth_device_name(id.device), ok[i]);
        snprintf(auth, sizeof auth, "{\"user\":\"bob\",\"device\":\"%s\"}", ok[i]);
        assert_int_equal(shake(o, auth, &id, &ref), CHAT_AUTH_OK);
        assert_int_equal(id.device, devs[i]);
    }
    snprintf(auth, sizeof auth, "{\"token\":\"%s\",\"device\":null}", tok);
    assert_int_equal(shake(j, auth, &id, &ref), CHAT_AUTH_OK);
    assert_int_equal(id.device, CHAT_DEVICE_WEB);

    static const char *const bad[] = {"\"tablet\"", "\"WEB\"", "\"web \"",  "\"\"",
                                      "5",          "true",    "[\"web\"]", "\"web\\u0000\""};
    const char *want = "auth.device must be one of \"web\", \"mobile\", \"desktop\", \"bot\"";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(auth, sizeof auth, "{\"token\":\"%s\",\"device\":%s}", tok, bad[i]);
        json_error_t jerr;
        json_t *obj = json_loads(auth, JSON_ALLOW_NUL, &jerr);
        assert_non_null(obj);
        assert_int_equal(chat_auth_handshake(j, obj, NOW, &id, &ref), CHAT_AUTH_ERR_DEVICE);
        assert_string_equal(ref.message, want);
        json_decref(obj);
        snprintf(auth, sizeof auth, "{\"user\":\"bob\",\"device\":%s}", bad[i]);
        obj = json_loads(auth, JSON_ALLOW_NUL, &jerr);
        assert_non_null(obj);
        assert_int_equal(chat_auth_handshake(o, obj, NOW, &id, &ref), CHAT_AUTH_ERR_DEVICE);
        json_decref(obj);
    }
    chat_device_t d;
    assert_int_equal(chat_auth_device_parse("bot", 3, &d), 0);
    assert_int_equal(d, CHAT_DEVICE_BOT);
    assert_int_equal(chat_auth_device_parse("bo", 2, &d), -1);
    free(tok);
    free(claims);
    chat_auth_free(j);
    chat_auth_free(o);
}

static void test_open_mode(void **state)
{
    chat_auth_t *o = open_auth();
    assert_int_equal(chat_auth_mode(o), CHAT_AUTH_MODE_OPEN);
    chat_auth_identity_t id;
    chat_auth_refusal_t ref;

    assert_int_equal(shake(o, "{\"user\":\"alice\",\"name\":\"Alice L.\"}", &id, &ref),
                     CHAT_AUTH_OK);
    assert_string_equal(id.user, "alice");
    assert_string_equal(id.name, "Alice L.");
    assert_int_equal(id.device, CHAT_DEVICE_WEB);
    assert_int_equal(shake(o, "{\"user\":\"bob\"}", &id, &ref), CHAT_AUTH_OK);
    assert_string_equal(id.name, "bob");
    assert_int_equal(shake(o, "{\"user\":\"bob\",\"name\":null}", &id, &ref), CHAT_AUTH_OK);
    assert_string_equal(id.name, "bob");
    /* A token is ignored in open mode, whatever it holds. */
    assert_int_equal(shake(o, "{\"user\":\"carol\",\"token\":\"garbage\"}", &id, &ref),
                     CHAT_AUTH_OK);
    assert_string_equal(id.user, "carol");
    assert_int_equal(shake(o, "{\"user\":\"carol\",\"token\":7}", &id, &ref), CHAT_AUTH_OK);

    expect_shake(o, NULL, CHAT_AUTH_ERR_REQUEST, "auth.user is required");
    expect_shake(o, "{}", CHAT_AUTH_ERR_REQUEST, "auth.user is required");
    expect_shake(o, "{\"user\":null}", CHAT_AUTH_ERR_REQUEST, "auth.user is required");
    expect_shake(o, "{\"token\":\"a.b.c\"}", CHAT_AUTH_ERR_REQUEST,
                 "auth.user is required (this server is in open mode and does not check "
                 "tokens)");
    expect_shake(o, "{\"user\":42}", CHAT_AUTH_ERR_REQUEST, "auth.user must be a string");
    const char *user_msg = "auth.user must match ^[a-z0-9_.@-]{1,64}$";
    expect_shake(o, "{\"user\":\"\"}", CHAT_AUTH_ERR_REQUEST, user_msg);
    expect_shake(o, "{\"user\":\"Alice\"}", CHAT_AUTH_ERR_REQUEST, user_msg);
    expect_shake(o, "{\"user\":\"al ice\"}", CHAT_AUTH_ERR_REQUEST, user_msg);
    expect_shake(o, "{\"user\":\"../etc\"}", CHAT_AUTH_ERR_REQUEST, user_msg);
    expect_shake(o,
                 "{\"user\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                 CHAT_AUTH_ERR_REQUEST, user_msg);
    expect_shake(o,
                 "{\"user\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                 CHAT_AUTH_OK, NULL);
    const char *name_msg =
        "auth.name must be 1 to 64 characters of UTF-8 without control characters";
    expect_shake(o, "{\"user\":\"bob\",\"name\":\"\"}", CHAT_AUTH_ERR_REQUEST, name_msg);
    expect_shake(o, "{\"user\":\"bob\",\"name\":\"a\\tb\"}", CHAT_AUTH_ERR_REQUEST, name_msg);
    expect_shake(o, "{\"user\":\"bob\",\"name\":5}", CHAT_AUTH_ERR_REQUEST,
                 "auth.name must be a string");
    expect_shake(o, "{\"user\":\"bob\",\"name\":[\"B\"]}", CHAT_AUTH_ERR_REQUEST,
                 "auth.name must be a string");
    expect_shake(o, "[\"bob\"]", CHAT_AUTH_ERR_REQUEST, "auth must be an object");

    /* NUL inside the user id (a JSON parser that allows it). */
    json_t *obj = json_pack("{s:s%}", "user", "bo\0b", (size_t)4);
    assert_int_equal(chat_auth_handshake(o, obj, NOW, &id, &ref), CHAT_AUTH_ERR_REQUEST);
    json_decref(obj);

    /* verify_token is JWT-only. */
    assert_int_equal(chat_auth_verify_token(o, "a.b.c", 5, NOW, &id, &ref), CHAT_AUTH_ERR_REQUEST);
    chat_auth_free(o);
}

static void test_validators(void **state)
{
    assert_true(chat_auth_user_id_valid("a", 1));
    assert_false(chat_auth_user_id_valid("", 0));
    assert_false(chat_auth_user_id_valid(NULL, 0));
    assert_false(chat_auth_user_id_valid("a\0", 2));
    assert_true(chat_auth_display_name_valid("x", 1));
    assert_false(chat_auth_display_name_valid("\xc3", 1));         /* truncated */
    assert_false(chat_auth_display_name_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(chat_auth_display_name_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(chat_auth_display_name_valid("a\0b", 3));
    chat_auth_alg_t alg;
    assert_int_equal(chat_auth_alg_parse("ES256", &alg), 0);
    assert_int_equal(alg, CHAT_AUTH_ES256);
    assert_int_equal(chat_auth_alg_parse("es256", &alg), -1);
    assert_int_equal(chat_auth_alg_parse("none", &alg), -1);
    assert_string_equal(chat_auth_alg_name(CHAT_AUTH_RS256), "RS256");
}

/* ---- configuration ---------------------------------------------------- */

static void expect_config(const chat_auth_config_t *cfg, const char *msg)
{
    chat_auth_t *a = (chat_auth_t *)1;
    char err[256];
    chat_auth_err_t rc = chat_auth_new(cfg, &a, err, sizeof err);
    if (msg) {
        if (rc != CHAT_AUTH_ERR_CONFIG)
            fail_msg("config accepted, want \"%s\"", msg);
        assert_null(a);
        if (!strstr(err, msg))
            fail_msg("error \"%s\" lacks \"%s\"", err, msg);
    } else {
        if (rc != CHAT_AUTH_OK)
            fail_msg("config refused: %s", err);
        chat_auth_free(a);
    }
    assert_int_equal(ERR_peek_error(), 0);
}

static char *key_pem(EVP_PKEY *k, int private, const char *structure)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (private) {
        assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    } else {
        OSSL_ENCODER_CTX *e =
            OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_PUBLIC_KEY, "PEM", structure, NULL);
        assert_non_null(e);
        assert_int_equal(OSSL_ENCODER_to_bio(e, b), 1);
        OSSL_ENCODER_CTX_free(e);
    }
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

static char *cert_pem(EVP_PKEY *k)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"parley-test", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_X509(b, x), 1);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    X509_free(x);
    return out;
}

static void test_config(void **state)
{
    chat_auth_config_t c;
    chat_auth_config_init(&c);
    assert_int_equal(c.mode, CHAT_AUTH_MODE_OPEN);
    assert_int_equal(c.leeway, 30);
    assert_true(c.require_exp);
    expect_config(&c, NULL);
    c.secret = "s";
    c.secret_len = 1;
    expect_config(&c, "open mode takes no secret");

    chat_auth_config_init(&c);
    c.mode = CHAT_AUTH_MODE_JWT;
    expect_config(&c, "HS256 needs a non-empty secret");
    c.secret = "";
    expect_config(&c, "HS256 needs a non-empty secret");
    c.secret = "s";
    c.secret_len = 1;
    expect_config(&c, NULL);
    c.public_key_pem = rsa_pub_pem;
    expect_config(&c, "HS256 takes a secret, not a public key");
    c.public_key_pem = NULL;
    c.leeway = -1;
    expect_config(&c, "leeway -1 s is outside 0..3600");
    c.leeway = 3601;
    expect_config(&c, "leeway");
    c.leeway = 3600;
    expect_config(&c, NULL);

    chat_auth_config_init(&c);
    c.mode = CHAT_AUTH_MODE_JWT;
    c.alg = CHAT_AUTH_RS256;
    expect_config(&c, "RS256 needs a public key");
    c.secret = "s";
    c.secret_len = 1;
    expect_config(&c, "RS256 takes a public key, not a secret");
    c.secret = NULL;
    c.secret_len = 0;
    c.public_key_pem = "not a key";
    expect_config(&c, "does not parse as PEM");
    c.public_key_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    expect_config(&c, "does not parse as PEM");
    c.public_key_pem = ec_pub_pem;
    expect_config(&c, "EC key given for RS256");
    c.public_key_pem = rsa_pub_pem;
    c.public_key_path = "/nonexistent";
    expect_config(&c, "not both");
    c.public_key_pem = NULL;
    expect_config(&c, "cannot open public key file /nonexistent: No such file or directory");

    char path[] = "/tmp/parley-test-auth-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, rsa_pub_pem, strlen(rsa_pub_pem)), (ssize_t)strlen(rsa_pub_pem));
    close(fd);
    c.public_key_path = path;
    expect_config(&c, NULL);
    c.alg = CHAT_AUTH_ES256;
    expect_config(&c, "RSA key given for ES256 (needs an EC P-256 key)");
    unlink(path);
    c.public_key_path = NULL;

    /* Other PEM forms carrying the right public key. */
    char *pkcs1 = key_pem(rsa_key, 0, "type-specific");
    assert_non_null(strstr(pkcs1, "BEGIN RSA PUBLIC KEY"));
    c.alg = CHAT_AUTH_RS256;
    c.public_key_pem = pkcs1;
    expect_config(&c, NULL);
    char *priv = key_pem(ec_key, 1, NULL);
    c.alg = CHAT_AUTH_ES256;
    c.public_key_pem = priv;
    expect_config(&c, NULL);
    char *cert = cert_pem(ec_key);
    c.public_key_pem = cert;
    expect_config(&c, NULL);

    /* And a certificate-configured verifier really verifies. */
    {
        chat_auth_t *a = NULL;
        char err[128];
        assert_int_equal(chat_auth_new(&c, &a, err, sizeof err), CHAT_AUTH_OK);
        char *claims = claims_with("");
        signer_t es = es_signer();
        expect_claims(a, &es, HDR_ES, claims, CHAT_AUTH_OK, NULL);
        free(claims);
        chat_auth_free(a);
    }

    /* Weak or wrong keys. */
    EVP_PKEY *small = EVP_RSA_gen(1024);
    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    assert_non_null(small);
    assert_non_null(p384);
    char *small_pem = pub_pem(small), *p384_pem = pub_pem(p384);
    c.alg = CHAT_AUTH_RS256;
    c.public_key_pem = small_pem;
    expect_config(&c, "RSA key is 1024 bits; RS256 needs at least 2048");
    c.alg = CHAT_AUTH_ES256;
    c.public_key_pem = p384_pem;
    expect_config(&c, "EC key is not on curve P-256");
    c.alg = CHAT_AUTH_RS256;
    expect_config(&c, "EC key given for RS256");

    free(small_pem);
    free(p384_pem);
    EVP_PKEY_free(small);
    EVP_PKEY_free(p384);
    free(pkcs1);
    free(priv);
    free(cert);

    /* The secret is copied: the caller's buffer may go away. */
    char secret[] = SECRET;
    chat_auth_config_init(&c);
    c.mode = CHAT_AUTH_MODE_JWT;
    c.secret = secret;
    c.secret_len = strlen(secret);
    chat_auth_t *a = NULL;
    char err[128];
    assert_int_equal(chat_auth_new(&c, &a, err, sizeof err), CHAT_AUTH_OK);
    memset(secret, 0, sizeof secret);
    char *claims = claims_with("");
    expect_claims(a, &HS, HDR_HS, claims, CHAT_AUTH_OK, NULL);
    free(claims);
    chat_auth_free(a);
    chat_auth_free(NULL);
}

static void test_loopback(void **state)
{
    static const char *const yes[] = {"127.0.0.1", "127.1.2.3",       "127.255.255.255",
                                      "::1",       "[::1]",           "localhost",
                                      "LocalHost", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"};
    static const char *const no[] = {"0.0.0.0",
                                     "::",
                                     "",
                                     "128.0.0.1",
                                     "10.0.0.1",
                                     "127.1",
                                     "127.0.0.1 ",
                                     "localhost.example",
                                     "::2",
                                     "[::1",
                                     "example.com",
                                     "::ffff:10.0.0.1",
                                     "1.127.0.0",
                                     "[127.0.0.1]"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!chat_auth_host_is_loopback(yes[i]))
            fail_msg("%s should be loopback", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (chat_auth_host_is_loopback(no[i]))
            fail_msg("%s should not be loopback", no[i]);
    assert_false(chat_auth_host_is_loopback(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_hs256),
        cmocka_unit_test(test_valid_rs256),
        cmocka_unit_test(test_valid_es256),
        cmocka_unit_test(test_rfc7515_hs256),
        cmocka_unit_test(test_rfc7515_es256),
        cmocka_unit_test(test_expiry_and_leeway),
        cmocka_unit_test(test_not_before),
        cmocka_unit_test(test_require_exp),
        cmocka_unit_test(test_wrong_signature),
        cmocka_unit_test(test_tampered_payload),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs_rs_confusion),
        cmocka_unit_test(test_alg_mismatch),
        cmocka_unit_test(test_header_typ_crit),
        cmocka_unit_test(test_sub),
        cmocka_unit_test(test_name),
        cmocka_unit_test(test_claims_json),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_handshake_jwt),
        cmocka_unit_test(test_device),
        cmocka_unit_test(test_open_mode),
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
