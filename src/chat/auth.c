/* auth.c — JWT verification and sign-in rules; see auth.h for the decisions.
 *
 * A token is refused at the first check it fails, in this order: size and
 * shape, header (base64url, JSON, alg, typ, crit), signature, then claims.
 * Claims are never decoded from a token whose signature has not been checked.
 * Any OpenSSL failure is cleared from the thread's error queue before we
 * return, so a failed verification cannot confuse a later SSL_get_error on
 * the same thread.
 */
#include "chat/auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "core/alloc.h"
#include "core/utf8.h"

#define PEM_FILE_MAX (64 * 1024)
#define RSA_BITS_MIN 2048
#define HS256_MAC_LEN 32
#define ES256_SIG_LEN 64
/* Decoded bytes are never more than the encoded characters. */
#define DECODED_MAX CHAT_AUTH_TOKEN_MAX

struct chat_auth {
    chat_auth_mode_t mode;
    chat_auth_alg_t alg;
    unsigned char *secret;
    size_t secret_len;
    EVP_PKEY *pkey;
    int leeway;
    bool require_exp;
};

static const char *const alg_names[] = {"HS256", "RS256", "ES256"};
static const char *const device_names[] = {"web", "mobile", "desktop", "bot"};

/* ---- small helpers ---------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static chat_auth_err_t
refuse(chat_auth_refusal_t *ref, chat_auth_err_t reason, const char *fmt, ...)
{
    ref->reason = reason;
    ref->code = "unauthorized";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ref->message, sizeof ref->message, fmt, ap);
    va_end(ap);
    return reason;
}

__attribute__((format(printf, 3, 4))) static chat_auth_err_t config_error(char *err, size_t errsz,
                                                                          const char *fmt, ...)
{
    if (errsz > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return CHAT_AUTH_ERR_CONFIG;
}

/* Copies at most max bytes of what a client sent into out as printable
 * ASCII ('?' for anything else), so a message that echoes it stays short,
 * valid UTF-8 and harmless in a log line. */
static void echo_safe(const char *s, size_t len, char *out, size_t outsz, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < len && i < max && n + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > max && n + 4 < outsz) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

/* ---- base64url (RFC 4648 §5), strict ---------------------------------- */

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes in[0..len) into out (outsz bytes). Returns the byte count, or -1
 * for a character outside the alphabet (padding included), a length of
 * 4k+1, non-zero unused bits in the last character, or lack of space. */
static ssize_t b64url_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
    if (len % 4 == 1)
        return -1;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > outsz)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    size_t i = 0;
    for (; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    switch (len % 4) {
    case 2: /* 12 bits: one byte and 4 unused bits */
        if (acc & 0x0f)
            return -1;
        out[o++] = (unsigned char)(acc >> 4);
        break;
    case 3: /* 18 bits: two bytes and 2 unused bits */
        if (acc & 0x03)
            return -1;
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
        break;
    default:
        break;
    }
    return (ssize_t)o;
}

/* ---- names, ids, hosts ------------------------------------------------ */

int chat_auth_user_id_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > CHAT_AUTH_USER_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

int chat_auth_display_name_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > CHAT_AUTH_NAME_BYTES_MAX || !utf8_valid(s, len))
        return 0;
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        /* U+0080..U+009F are C2 80..C2 9F. */
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9f)
            return 0;
        if ((c & 0xc0) != 0x80)
            chars++;
    }
    return chars <= CHAT_AUTH_NAME_CHARS_MAX;
}

const char *chat_auth_device_name(chat_device_t d)
{
    if ((unsigned)d >= sizeof device_names / sizeof device_names[0])
        return "web";
    return device_names[d];
}

int chat_auth_device_parse(const char *s, size_t len, chat_device_t *out)
{
    for (size_t i = 0; i < sizeof device_names / sizeof device_names[0]; i++) {
        if (strlen(device_names[i]) == len && memcmp(device_names[i], s, len) == 0) {
            *out = (chat_device_t)i;
            return 0;
        }
    }
    return -1;
}

const char *chat_auth_alg_name(chat_auth_alg_t alg)
{
    if ((unsigned)alg >= sizeof alg_names / sizeof alg_names[0])
        return "?";
    return alg_names[alg];
}

int chat_auth_alg_parse(const char *s, chat_auth_alg_t *out)
{
    for (size_t i = 0; s && i < sizeof alg_names / sizeof alg_names[0]; i++) {
        if (strcmp(alg_names[i], s) == 0) {
            *out = (chat_auth_alg_t)i;
            return 0;
        }
    }
    return -1;
}

int chat_auth_host_is_loopback(const char *host)
{
    if (!host || !*host)
        return 0;
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    unsigned char a4[4];
    if (inet_pton(AF_INET, host, a4) == 1)
        return a4[0] == 127;

    char tmp[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof tmp)
            return 0;
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) != 1)
        return 0;
    if (IN6_IS_ADDR_LOOPBACK(&a6))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

/* ---- configuration ---------------------------------------------------- */

void chat_auth_config_init(chat_auth_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = CHAT_AUTH_MODE_OPEN;
    cfg->alg = CHAT_AUTH_HS256;
    cfg->leeway = CHAT_AUTH_DEFAULT_LEEWAY;
    cfg->require_exp = true;
}

/* Reads a whole PEM file (at most PEM_FILE_MAX bytes) as a NUL-terminated
 * string owned by the caller. */
static chat_auth_err_t read_pem_file(const char *path, char **out, char *err, size_t errsz)
{
    chat_auth_err_t rc = CHAT_AUTH_ERR_CONFIG;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return config_error(err, errsz, "cannot open public key file %s: %s", path,
                            strerror(errno));
    buf = xmalloc(PEM_FILE_MAX + 1);
    size_t n = fread(buf, 1, PEM_FILE_MAX + 1, f);
    if (ferror(f)) {
        config_error(err, errsz, "cannot read public key file %s: %s", path, strerror(errno));
        goto out;
    }
    if (n > PEM_FILE_MAX) {
        config_error(err, errsz, "public key file %s is larger than %d bytes", path, PEM_FILE_MAX);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    rc = CHAT_AUTH_OK;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Any PEM that yields a public key: SubjectPublicKeyInfo, PKCS#1 RSA public
 * key, a private key (its public half), or an X.509 certificate. */
static EVP_PKEY *parse_pem(const char *pem)
{
    EVP_PKEY *pkey = NULL;
    size_t len = strlen(pem);
    if (len > INT_MAX)
        return NULL;
    OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, 0, NULL, NULL);
    if (dctx) {
        const unsigned char *p = (const unsigned char *)pem;
        size_t left = len;
        if (!OSSL_DECODER_from_data(dctx, &p, &left))
            pkey = NULL;
        OSSL_DECODER_CTX_free(dctx);
    }
    if (!pkey) {
        BIO *bio = BIO_new_mem_buf(pem, (int)len);
        if (bio) {
            X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
            if (cert) {
                pkey = X509_get_pubkey(cert);
                X509_free(cert);
            }
            BIO_free(bio);
        }
    }
    ERR_clear_error();
    return pkey;
}

static int ec_key_is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t glen = 0;
    if (!EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen))
        return 0;
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    return nid == NID_X9_62_prime256v1;
}

static const char *key_type_name(EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return "RSA";
    if (EVP_PKEY_is_a(pkey, "EC"))
        return "EC";
    if (EVP_PKEY_is_a(pkey, "RSA-PSS"))
        return "RSA-PSS";
    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return "Ed25519";
    return "unsupported";
}

static chat_auth_err_t load_public_key(const chat_auth_config_t *cfg, EVP_PKEY **out, char *err,
                                       size_t errsz)
{
    chat_auth_err_t rc = CHAT_AUTH_ERR_CONFIG;
    char *file_pem = NULL;
    const char *alg = chat_auth_alg_name(cfg->alg);
    const char *pem = cfg->public_key_pem;
    EVP_PKEY *pkey = NULL;

    if (cfg->public_key_path) {
        rc = read_pem_file(cfg->public_key_path, &file_pem, err, errsz);
        if (rc != CHAT_AUTH_OK)
            goto out;
        rc = CHAT_AUTH_ERR_CONFIG;
        pem = file_pem;
    }
    pkey = parse_pem(pem);
    if (!pkey) {
        config_error(err, errsz,
                     "public key%s%s does not parse as PEM (expected BEGIN PUBLIC KEY, "
                     "BEGIN RSA PUBLIC KEY or BEGIN CERTIFICATE)",
                     cfg->public_key_path ? " file " : "",
                     cfg->public_key_path ? cfg->public_key_path : "");
        goto out;
    }
    if (cfg->alg == CHAT_AUTH_RS256) {
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            config_error(err, errsz, "%s key given for RS256 (needs an RSA key)",
                         key_type_name(pkey));
            goto out;
        }
        if (EVP_PKEY_get_bits(pkey) < RSA_BITS_MIN) {
            config_error(err, errsz, "RSA key is %d bits; RS256 needs at least %d",
                         EVP_PKEY_get_bits(pkey), RSA_BITS_MIN);
            goto out;
        }
    } else {
        if (!EVP_PKEY_is_a(pkey, "EC")) {
            config_error(err, errsz, "%s key given for ES256 (needs an EC P-256 key)",
                         key_type_name(pkey));
            goto out;
        }
        if (!ec_key_is_p256(pkey)) {
            config_error(err, errsz, "EC key is not on curve P-256, as %s requires", alg);
            goto out;
        }
    }
    *out = pkey;
    pkey = NULL;
    rc = CHAT_AUTH_OK;
out:
    EVP_PKEY_free(pkey);
    free(file_pem);
    ERR_clear_error();
    return rc;
}

chat_auth_err_t chat_auth_new(const chat_auth_config_t *cfg, chat_auth_t **out, char *err,
                              size_t errsz)
{
    *out = NULL;
    if (errsz > 0)
        err[0] = '\0';
    bool has_key = cfg->public_key_pem || cfg->public_key_path;
    bool has_secret = cfg->secret != NULL;

    if (cfg->leeway < 0 || cfg->leeway > CHAT_AUTH_LEEWAY_MAX)
        return config_error(err, errsz, "leeway %d s is outside 0..%d", cfg->leeway,
                            CHAT_AUTH_LEEWAY_MAX);
    if (cfg->mode == CHAT_AUTH_MODE_OPEN) {
        if (has_secret || has_key)
            return config_error(err, errsz,
                                "open mode takes no secret or public key (use JWT mode)");
    } else if (cfg->mode == CHAT_AUTH_MODE_JWT) {
        if ((unsigned)cfg->alg > CHAT_AUTH_ES256)
            return config_error(err, errsz, "unknown JWT algorithm");
        if (cfg->alg == CHAT_AUTH_HS256) {
            if (has_key)
                return config_error(err, errsz, "HS256 takes a secret, not a public key");
            if (!has_secret || cfg->secret_len == 0)
                return config_error(err, errsz, "HS256 needs a non-empty secret");
            if (cfg->secret_len > INT_MAX)
                return config_error(err, errsz, "HS256 secret is too long");
        } else {
            if (has_secret)
                return config_error(err, errsz, "%s takes a public key, not a secret",
                                    chat_auth_alg_name(cfg->alg));
            if (!has_key)
                return config_error(err, errsz, "%s needs a public key (PEM)",
                                    chat_auth_alg_name(cfg->alg));
            if (cfg->public_key_pem && cfg->public_key_path)
                return config_error(err, errsz,
                                    "give the public key as PEM text or as a file, not both");
        }
    } else {
        return config_error(err, errsz, "unknown auth mode");
    }

    EVP_PKEY *pkey = NULL;
    if (cfg->mode == CHAT_AUTH_MODE_JWT && cfg->alg != CHAT_AUTH_HS256) {
        chat_auth_err_t rc = load_public_key(cfg, &pkey, err, errsz);
        if (rc != CHAT_AUTH_OK)
            return rc;
    }
    chat_auth_t *a = xcalloc(1, sizeof *a);
    a->mode = cfg->mode;
    a->alg = cfg->alg;
    a->leeway = cfg->leeway;
    a->require_exp = cfg->require_exp;
    a->pkey = pkey;
    if (cfg->mode == CHAT_AUTH_MODE_JWT && cfg->alg == CHAT_AUTH_HS256) {
        a->secret = xmemdup(cfg->secret, cfg->secret_len);
        a->secret_len = cfg->secret_len;
    }
    *out = a;
    return CHAT_AUTH_OK;
}

void chat_auth_free(chat_auth_t *a)
{
    if (!a)
        return;
    if (a->secret) {
        OPENSSL_cleanse(a->secret, a->secret_len);
        free(a->secret);
    }
    EVP_PKEY_free(a->pkey);
    free(a);
}

chat_auth_mode_t chat_auth_mode(const chat_auth_t *a)
{
    return a->mode;
}

/* ---- signatures ------------------------------------------------------- */

static int verify_hs256(const chat_auth_t *a, const char *input, size_t len,
                        const unsigned char *sig)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)input, len, mac,
              &maclen) ||
        maclen != HS256_MAC_LEN)
        return 0;
    int ok = CRYPTO_memcmp(mac, sig, HS256_MAC_LEN) == 0;
    OPENSSL_cleanse(mac, sizeof mac);
    return ok;
}

static int verify_pkey(EVP_PKEY *pkey, int rsa, const char *input, size_t len,
                       const unsigned char *sig, size_t siglen)
{
    int ok = 0;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        goto out;
    if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey) != 1)
        goto out;
    if (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    ok = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)input, len) == 1;
out:
    EVP_MD_CTX_free(md);
    return ok;
}

/* JWS carries ES256 as r||s, 32 bytes each, big-endian; OpenSSL wants the
 * DER SEQUENCE of two INTEGERs. */
static int verify_es256(EVP_PKEY *pkey, const char *input, size_t len, const unsigned char *sig)
{
    int ok = 0;
    unsigned char *der = NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, ES256_SIG_LEN / 2, NULL);
    BIGNUM *s = BN_bin2bn(sig + ES256_SIG_LEN / 2, ES256_SIG_LEN / 2, NULL);
    if (!es || !r || !s)
        goto out;
    if (ECDSA_SIG_set0(es, r, s) != 1)
        goto out;
    r = s = NULL; /* owned by es now */
    int derlen = i2d_ECDSA_SIG(es, &der);
    if (derlen <= 0)
        goto out;
    ok = verify_pkey(pkey, 0, input, len, der, (size_t)derlen);
out:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ok;
}

/* ---- the token -------------------------------------------------------- */

/* what is the subject of the message: "token header is", "token claims are". */
static chat_auth_err_t parse_json_part(const unsigned char *p, size_t n, const char *what,
                                       json_t **out, chat_auth_refusal_t *ref)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        char why[64];
        echo_safe(jerr.text, strlen(jerr.text), why, sizeof why, 60);
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED, "%s not valid JSON (%s)", what, why);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED, "%s not a JSON object", what);
    }
    *out = j;
    return CHAT_AUTH_OK;
}

static chat_auth_err_t check_header(const chat_auth_t *a, const json_t *hdr,
                                    chat_auth_refusal_t *ref)
{
    const char *want = chat_auth_alg_name(a->alg);
    json_t *alg = json_object_get(hdr, "alg");
    if (!alg)
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED, "token header has no alg");
    if (!json_is_string(alg))
        return refuse(ref, CHAT_AUTH_ERR_ALG, "token header alg must be a string (expected %s)",
                      want);
    const char *s = json_string_value(alg);
    size_t n = json_string_length(alg);
    if (n != strlen(want) || memcmp(s, want, n) != 0) {
        char shown[24];
        echo_safe(s, n, shown, sizeof shown, 16);
        return refuse(ref, CHAT_AUTH_ERR_ALG, "alg %s not allowed (expected %s)", shown, want);
    }
    json_t *typ = json_object_get(hdr, "typ");
    if (typ && (!json_is_string(typ) || json_string_length(typ) != 3 ||
                strcasecmp(json_string_value(typ), "JWT") != 0))
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED, "token header typ must be \"JWT\"");
    if (json_object_get(hdr, "crit"))
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED,
                      "token header crit is not supported (no extensions are understood)");
    return CHAT_AUTH_OK;
}

static chat_auth_err_t check_signature(const chat_auth_t *a, const char *input, size_t ilen,
                                       const char *sig64, size_t slen, chat_auth_refusal_t *ref)
{
    unsigned char sig[DECODED_MAX];
    ssize_t n = b64url_decode(sig64, slen, sig, sizeof sig);
    if (n < 0)
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED, "token signature is not valid base64url");
    int ok = 0;
    switch (a->alg) {
    case CHAT_AUTH_HS256:
        if (n != HS256_MAC_LEN)
            return refuse(ref, CHAT_AUTH_ERR_SIGNATURE,
                          "token signature invalid (HS256 signatures are %d bytes, got %zd)",
                          HS256_MAC_LEN, n);
        ok = verify_hs256(a, input, ilen, sig);
        break;
    case CHAT_AUTH_RS256: {
        int want = EVP_PKEY_get_size(a->pkey);
        if (n != want)
            return refuse(ref, CHAT_AUTH_ERR_SIGNATURE,
                          "token signature invalid (RS256 signatures for this key are %d "
                          "bytes, got %zd)",
                          want, n);
        ok = verify_pkey(a->pkey, 1, input, ilen, sig, (size_t)n);
        break;
    }
    case CHAT_AUTH_ES256:
        if (n != ES256_SIG_LEN)
            return refuse(ref, CHAT_AUTH_ERR_SIGNATURE,
                          "token signature invalid (ES256 signatures are r||s, %d bytes, got "
                          "%zd)",
                          ES256_SIG_LEN, n);
        ok = verify_es256(a->pkey, input, ilen, sig);
        break;
    }
    ERR_clear_error();
    if (!ok)
        return refuse(ref, CHAT_AUTH_ERR_SIGNATURE, "token signature invalid");
    return CHAT_AUTH_OK;
}

static chat_auth_err_t check_claims(const chat_auth_t *a, const json_t *claims, int64_t now,
                                    chat_auth_identity_t *id, chat_auth_refusal_t *ref)
{
    json_t *sub = json_object_get(claims, "sub");
    if (!sub)
        return refuse(ref, CHAT_AUTH_ERR_CLAIMS, "missing sub");
    if (!json_is_string(sub))
        return refuse(ref, CHAT_AUTH_ERR_CLAIMS, "claim sub must be a string");
    if (!chat_auth_user_id_valid(json_string_value(sub), json_string_length(sub)))
        return refuse(ref, CHAT_AUTH_ERR_CLAIMS, "claim sub must match ^[a-z0-9_.@-]{1,64}$");

    json_t *name = json_object_get(claims, "name");
    if (name && !json_is_null(name)) {
        if (!json_is_string(name))
            return refuse(ref, CHAT_AUTH_ERR_CLAIMS, "claim name must be a string");
        if (!chat_auth_display_name_valid(json_string_value(name), json_string_length(name)))
            return refuse(ref, CHAT_AUTH_ERR_CLAIMS,
                          "claim name must be 1 to 64 characters of UTF-8 without control "
                          "characters");
    } else {
        name = sub;
    }

    /* Compared as doubles: NumericDate may be fractional, and at any
     * plausible date a double holds the second exactly. */
    json_t *exp = json_object_get(claims, "exp");
    if (exp) {
        if (!json_is_number(exp))
            return refuse(ref, CHAT_AUTH_ERR_CLAIMS, "claim exp must be a number");
        if ((double)(now - a->leeway) >= json_number_value(exp))
            return refuse(ref, CHAT_AUTH_ERR_EXPIRED, "token expired");
    } else if (a->require_exp) {
        return refuse(ref, CHAT_AUTH_ERR_CLAIMS, "missing exp");
    }
    json_t *nbf = json_object_get(claims, "nbf");
    if (nbf && !json_is_null(nbf)) {
        if (!json_is_number(nbf))
            return refuse(ref, CHAT_AUTH_ERR_CLAIMS, "claim nbf must be a number");
        if ((double)(now + a->leeway) < json_number_value(nbf))
            return refuse(ref, CHAT_AUTH_ERR_NOT_YET, "token not yet valid");
    }

    size_t ulen = json_string_length(sub), nlen = json_string_length(name);
    memcpy(id->user, json_string_value(sub), ulen);
    id->user[ulen] = '\0';
    memcpy(id->name, json_string_value(name), nlen);
    id->name[nlen] = '\0';
    id->device = CHAT_DEVICE_WEB;
    return CHAT_AUTH_OK;
}

chat_auth_err_t chat_auth_verify_token(const chat_auth_t *a, const char *token, size_t len,
                                       int64_t now, chat_auth_identity_t *id,
                                       chat_auth_refusal_t *ref)
{
    chat_auth_err_t rc;
    json_t *hdr = NULL, *claims = NULL;
    unsigned char buf[DECODED_MAX];

    if (a->mode != CHAT_AUTH_MODE_JWT)
        return refuse(ref, CHAT_AUTH_ERR_REQUEST, "this server is in open mode: no tokens");
    if (len == 0)
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED, "token is empty");
    if (len > CHAT_AUTH_TOKEN_MAX)
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED, "token too large (%zu bytes, max %d)", len,
                      CHAT_AUTH_TOKEN_MAX);
    if (len >= 7 && strncasecmp(token, "Bearer ", 7) == 0)
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED,
                      "token must be the bare JWT, without a \"Bearer \" prefix");

    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED,
                      "token must have 3 parts separated by '.' (header.payload.signature)");
    size_t hlen = (size_t)(dot1 - token);
    const char *payload = dot1 + 1;
    size_t plen = (size_t)(dot2 - payload);
    const char *sig = dot2 + 1;
    size_t slen = len - (size_t)(sig - token);

    ssize_t n = b64url_decode(token, hlen, buf, sizeof buf);
    if (n < 0)
        return refuse(ref, CHAT_AUTH_ERR_MALFORMED, "token header is not valid base64url");
    rc = parse_json_part(buf, (size_t)n, "token header is", &hdr, ref);
    if (rc != CHAT_AUTH_OK)
        goto out;
    rc = check_header(a, hdr, ref);
    if (rc != CHAT_AUTH_OK)
        goto out;
    rc = check_signature(a, token, (size_t)(dot2 - token), sig, slen, ref);
    if (rc != CHAT_AUTH_OK)
        goto out;

    n = b64url_decode(payload, plen, buf, sizeof buf);
    if (n < 0) {
        rc = refuse(ref, CHAT_AUTH_ERR_MALFORMED, "token payload is not valid base64url");
        goto out;
    }
    rc = parse_json_part(buf, (size_t)n, "token claims are", &claims, ref);
    if (rc != CHAT_AUTH_OK)
        goto out;
    rc = check_claims(a, claims, now, id, ref);
out:
    json_decref(hdr);
    json_decref(claims);
    return rc;
}

/* ---- the handshake ---------------------------------------------------- */

static chat_auth_err_t handshake_open(const json_t *auth, chat_auth_identity_t *id,
                                      chat_auth_refusal_t *ref)
{
    json_t *user = json_object_get(auth, "user");
    if (!user || json_is_null(user)) {
        if (json_object_get(auth, "token"))
            return refuse(ref, CHAT_AUTH_ERR_REQUEST,
                          "auth.user is required (this server is in open mode and does not "
                          "check tokens)");
        return refuse(ref, CHAT_AUTH_ERR_REQUEST, "auth.user is required");
    }
    if (!json_is_string(user))
        return refuse(ref, CHAT_AUTH_ERR_REQUEST, "auth.user must be a string");
    if (!chat_auth_user_id_valid(json_string_value(user), json_string_length(user)))
        return refuse(ref, CHAT_AUTH_ERR_REQUEST, "auth.user must match ^[a-z0-9_.@-]{1,64}$");
    json_t *name = json_object_get(auth, "name");
    if (name && !json_is_null(name)) {
        if (!json_is_string(name))
            return refuse(ref, CHAT_AUTH_ERR_REQUEST, "auth.name must be a string");
        if (!chat_auth_display_name_valid(json_string_value(name), json_string_length(name)))
            return refuse(ref, CHAT_AUTH_ERR_REQUEST,
                          "auth.name must be 1 to 64 characters of UTF-8 without control "
                          "characters");
    } else {
        name = user;
    }
    size_t ulen = json_string_length(user), nlen = json_string_length(name);
    memcpy(id->user, json_string_value(user), ulen);
    id->user[ulen] = '\0';
    memcpy(id->name, json_string_value(name), nlen);
    id->name[nlen] = '\0';
    return CHAT_AUTH_OK;
}

chat_auth_err_t chat_auth_handshake(const chat_auth_t *a, const json_t *auth, int64_t now,
                                    chat_auth_identity_t *id, chat_auth_refusal_t *ref)
{
    if (auth && !json_is_object(auth))
        return refuse(ref, CHAT_AUTH_ERR_REQUEST, "auth must be an object");

    chat_device_t device = CHAT_DEVICE_WEB;
    json_t *dev = auth ? json_object_get(auth, "device") : NULL;
    if (dev && !json_is_null(dev)) {
        if (!json_is_string(dev) ||
            chat_auth_device_parse(json_string_value(dev), json_string_length(dev), &device) != 0)
            return refuse(ref, CHAT_AUTH_ERR_DEVICE,
                          "auth.device must be one of \"web\", \"mobile\", \"desktop\", \"bot\"");
    }

    chat_auth_err_t rc;
    if (a->mode == CHAT_AUTH_MODE_OPEN) {
        if (!auth)
            return refuse(ref, CHAT_AUTH_ERR_REQUEST, "auth.user is required");
        rc = handshake_open(auth, id, ref);
    } else {
        json_t *tok = auth ? json_object_get(auth, "token") : NULL;
        if (!tok || json_is_null(tok)) {
            if (auth && json_object_get(auth, "user"))
                return refuse(ref, CHAT_AUTH_ERR_REQUEST,
                              "auth.token is required (this server signs in with JWT, not "
                              "auth.user)");
            return refuse(ref, CHAT_AUTH_ERR_REQUEST, "auth.token is required");
        }
        if (!json_is_string(tok))
            return refuse(ref, CHAT_AUTH_ERR_REQUEST, "auth.token must be a string");
        rc = chat_auth_verify_token(a, json_string_value(tok), json_string_length(tok), now, id,
                                    ref);
    }
    if (rc == CHAT_AUTH_OK)
        id->device = device;
    return rc;
}

json_t *chat_auth_refusal_json(const chat_auth_refusal_t *ref)
{
    json_t *j = json_object();
    json_object_set_new(j, "code", json_string(ref->code ? ref->code : "unauthorized"));
    json_object_set_new(j, "message", json_string(ref->message));
    return j;
}
