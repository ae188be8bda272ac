/* auth.h — who is connecting: JWT verification, open-mode sign-in, and the
 * Socket.IO handshake `auth` object turned into an identity or a refusal.
 *
 * What it is: verification of compact JWS tokens (RFC 7515/7519) with the
 * algorithm pinned by configuration — HS256, RS256 or ES256, exactly one —
 * and the name-only sign-in of open mode, both with the checks of
 * PROTOCOL.md "Connecting" (user ids, display names, device). Everything is
 * synchronous and pure apart from the clock, which the caller passes in.
 *
 * What it is not: no token issuing, no key sets or key rotation, no fetching
 * of keys (`jku`, `jwk`, `x5u`, `kid` are ignored, never followed), no
 * `iss`/`aud` checks, no per-user connection limits (the caller counts
 * sockets), no decision about where open mode may listen — that is main.c's,
 * with chat_auth_host_is_loopback().
 *
 * Decisions, all checked by tests/unit/chat/test_auth.c:
 *   - The token's `alg` header must equal the configured algorithm, byte for
 *     byte; anything else ("none", "HS256" on an RS256 server, "hs256") is
 *     refused before any signature work. The key never comes from the token.
 *   - base64url is strict: alphabet A-Z a-z 0-9 - _ only, no '=' padding, no
 *     length that no encoding has (len % 4 == 1), no non-zero unused bits, so
 *     every token has exactly one spelling.
 *   - Header and claims must be JSON objects without duplicate keys. `typ`,
 *     when present, must be "JWT" (compared case-insensitively, as media
 *     types are); a `crit` header is refused since we understand no
 *     extension. Unknown header fields and unknown claims are ignored.
 *   - The signature is checked before the claims are decoded or read.
 *   - `sub` is required and must match ^[a-z0-9_.@-]{1,64}$ (no folding:
 *     "Alice" is refused, not lowered). `name` is optional (default = sub);
 *     when present it is a string of 1..64 Unicode characters with no control
 *     characters (C0, DEL, C1). JSON null counts as absent: harmless for
 *     the optional `name`, `nbf`, auth.name and auth.device, "required" for
 *     auth.token and auth.user; in claims, `sub: null` and `exp: null` are
 *     refused as not strings/numbers.
 *   - `exp` is required unless require_exp is off; `exp` and `nbf` are JSON
 *     numbers (integers or fractions, RFC 7519 NumericDate). The token is
 *     valid while nbf - leeway <= now < exp + leeway.
 *   - JWT mode: the identity comes from the claims only; auth.user and
 *     auth.name are ignored when a token is present, and a `user` without a
 *     token is refused ("auth.token is required ...").
 *   - Open mode: auth.token is ignored (there is no key to check it with, and
 *     we never read unverified claims); auth.user is required.
 *   - auth.device is optional in both modes, default "web"; any other value
 *     than web, mobile, desktop, bot is refused. A NULL auth object (no auth
 *     sent) is treated as {}.
 *   - Config contradictions are errors, not guesses: HS256 with a public key,
 *     RS256/ES256 with a secret, open mode with either, an RSA key shorter
 *     than 2048 bits (RFC 7518 §3.3), an EC key not on P-256, a key of the
 *     wrong type for the algorithm.
 *
 * Refusal messages are meant for the client (connect_error data.message):
 * they say which field and what was expected, and never echo more than a
 * short, printable piece of what the client sent.
 */
#ifndef PARLEY_CHAT_AUTH_H
#define PARLEY_CHAT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Longest token accepted, in bytes. Larger ones are refused unread. */
#define CHAT_AUTH_TOKEN_MAX 8192
/* User ids: ^[a-z0-9_.@-]{1,64}$ (PROTOCOL.md). */
#define CHAT_AUTH_USER_MAX 64
/* Display names: up to 64 characters, so up to 256 bytes of UTF-8. */
#define CHAT_AUTH_NAME_CHARS_MAX 64
#define CHAT_AUTH_NAME_BYTES_MAX (4 * CHAT_AUTH_NAME_CHARS_MAX)
#define CHAT_AUTH_MESSAGE_MAX 160
#define CHAT_AUTH_DEFAULT_LEEWAY 30
#define CHAT_AUTH_LEEWAY_MAX 3600

/* Why a sign-in was refused (or a configuration rejected). The client sees
 * only code "unauthorized" and the message; the reason is for metrics, logs
 * and tests. */
typedef enum {
    CHAT_AUTH_OK = 0,
    CHAT_AUTH_ERR_REQUEST = -1,   /* auth object: missing/mistyped field, wrong mode */
    CHAT_AUTH_ERR_MALFORMED = -2, /* token: size, parts, base64url, JSON, header */
    CHAT_AUTH_ERR_ALG = -3,       /* token alg is not the configured one */
    CHAT_AUTH_ERR_SIGNATURE = -4, /* signature wrong (or of the wrong length) */
    CHAT_AUTH_ERR_EXPIRED = -5,   /* now >= exp + leeway */
    CHAT_AUTH_ERR_NOT_YET = -6,   /* now < nbf - leeway */
    CHAT_AUTH_ERR_CLAIMS = -7,    /* sub/name/exp/nbf missing or invalid */
    CHAT_AUTH_ERR_DEVICE = -8,    /* auth.device not one of the four */
    CHAT_AUTH_ERR_CONFIG = -9,    /* chat_auth_new: configuration rejected */
} chat_auth_err_t;

typedef enum {
    CHAT_AUTH_MODE_OPEN = 0, /* sign in by name; loopback only (main.c's rule) */
    CHAT_AUTH_MODE_JWT,
} chat_auth_mode_t;

typedef enum {
    CHAT_AUTH_HS256 = 0,
    CHAT_AUTH_RS256,
    CHAT_AUTH_ES256,
} chat_auth_alg_t;

typedef enum {
    CHAT_DEVICE_WEB = 0,
    CHAT_DEVICE_MOBILE,
    CHAT_DEVICE_DESKTOP,
    CHAT_DEVICE_BOT,
} chat_device_t;

/* Configuration, borrowed by chat_auth_new (which copies what it keeps).
 * Start from chat_auth_config_init() and set what differs. */
typedef struct {
    chat_auth_mode_t mode;
    chat_auth_alg_t alg;
    const void *secret; /* HS256: the shared secret, secret_len bytes (any bytes) */
    size_t secret_len;
    const char *public_key_pem;  /* RS256/ES256: PEM text (NUL-terminated) ... */
    const char *public_key_path; /* ... or a file holding it; exactly one of them */
    int leeway;                  /* seconds of clock skew allowed on exp/nbf */
    bool require_exp;            /* refuse tokens without exp (default true) */
} chat_auth_config_t;

/* A verified (or open-mode) identity. Strings are NUL-terminated. */
typedef struct {
    char user[CHAT_AUTH_USER_MAX + 1];
    char name[CHAT_AUTH_NAME_BYTES_MAX + 1];
    chat_device_t device;
} chat_auth_identity_t;

/* What the client is told: connect_error data {code, message}. */
typedef struct {
    chat_auth_err_t reason;
    const char *code; /* always "unauthorized" (static string) */
    char message[CHAT_AUTH_MESSAGE_MAX];
} chat_auth_refusal_t;

/* The verifier: the pinned algorithm, a copy of the secret or the parsed
 * public key, leeway and require_exp. Immutable after chat_auth_new, so it
 * may be shared by several loops. */
typedef struct chat_auth chat_auth_t;

/* Defaults: open mode, HS256, no secret, no key, leeway 30 s, exp required. */
void chat_auth_config_init(chat_auth_config_t *cfg);

/* Builds a verifier. On success returns CHAT_AUTH_OK and *out (free with
 * chat_auth_free). On CHAT_AUTH_ERR_CONFIG, *out is NULL and err (errsz
 * bytes, NUL-terminated, truncated if need be) says why: empty HS256 secret;
 * no key, or both a PEM and a path; a file that cannot be read (with
 * strerror) or is over 64 KiB; PEM text that holds no public key (a
 * certificate or a private key is accepted: its public half is used); a key
 * of the wrong type for alg ("RSA key given for ES256"); an RSA key under
 * 2048 bits; an EC key not on P-256; leeway outside 0..CHAT_AUTH_LEEWAY_MAX;
 * a secret or key in open mode; a secret with RS256/ES256 or a key with
 * HS256. */
chat_auth_err_t chat_auth_new(const chat_auth_config_t *cfg, chat_auth_t **out, char *err,
                              size_t errsz);

/* NULL is fine. Wipes the secret copy before freeing it. */
void chat_auth_free(chat_auth_t *a);

chat_auth_mode_t chat_auth_mode(const chat_auth_t *a);

/* Verifies a token (len bytes, no NUL needed) at time now (Unix seconds).
 * JWT mode only (in open mode returns CHAT_AUTH_ERR_REQUEST). On CHAT_AUTH_OK
 * fills id->user and id->name and sets id->device to CHAT_DEVICE_WEB; on any
 * other result fills *ref and leaves *id unspecified. */
chat_auth_err_t chat_auth_verify_token(const chat_auth_t *a, const char *token, size_t len,
                                       int64_t now, chat_auth_identity_t *id,
                                       chat_auth_refusal_t *ref);

/* The whole sign-in: takes the handshake `auth` value (borrowed; NULL when
 * the client sent none) and the time now, and either fills *id (CHAT_AUTH_OK)
 * or *ref (any other result), following the mode's rules above. */
chat_auth_err_t chat_auth_handshake(const chat_auth_t *a, const json_t *auth, int64_t now,
                                    chat_auth_identity_t *id, chat_auth_refusal_t *ref);

/* Builds {code, message} for connect_error; a new reference, caller owns it. */
json_t *chat_auth_refusal_json(const chat_auth_refusal_t *ref);

/* True when s[0..len) matches ^[a-z0-9_.@-]{1,64}$. */
int chat_auth_user_id_valid(const char *s, size_t len);

/* True when s[0..len) is valid UTF-8 of 1..64 characters with no control
 * characters (U+0000-U+001F, U+007F-U+009F). */
int chat_auth_display_name_valid(const char *s, size_t len);

/* "web", "mobile", "desktop", "bot". */
const char *chat_auth_device_name(chat_device_t d);

/* Parses a device name; returns 0 and sets *out, or -1 when unknown. */
int chat_auth_device_parse(const char *s, size_t len, chat_device_t *out);

/* "HS256", "RS256", "ES256". */
const char *chat_auth_alg_name(chat_auth_alg_t alg);

/* Parses an algorithm name (exact, upper case); 0 and *out, or -1. */
int chat_auth_alg_parse(const char *s, chat_auth_alg_t *out);

/* True when host (a listen address as given to --host) is loopback:
 * "localhost" (any case), an IPv4 address in 127.0.0.0/8 in dotted-quad form,
 * "::1" (optionally in brackets), or an IPv4-mapped ::ffff:127.x.y.z. Names
 * are not resolved; NULL, "", "0.0.0.0" and "::" are not loopback. */
int chat_auth_host_is_loopback(const char *host);

#endif
