/* utf8.h — incremental UTF-8 validation (RFC 3629).
 *
 * What it is: a small deterministic automaton whose state is carried across
 * calls, so text that arrives in pieces (WebSocket fragments, partial frame
 * payloads, inflated chunks) is checked as it arrives and refused at the first
 * byte that can no longer start or continue a valid sequence. It rejects
 * overlong forms (C0, C1, E0 80..9F, F0 80..8F), UTF-16 surrogates
 * (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF). Runs of
 * ASCII are skipped eight bytes at a time.
 *
 * What it is not: no decoding, no normalisation, no replacement characters.
 */
#ifndef PARLEY_CORE_UTF8_H
#define PARLEY_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    UTF8_OK = 0,       /* every byte so far can be part of valid UTF-8 */
    UTF8_INVALID = -1, /* a byte broke the encoding; the state stays invalid */
} utf8_result_t;

/* The validator's state. Zero-initialised (or utf8_init) = at a character
 * boundary, nothing seen. */
typedef struct {
    uint8_t state;
} utf8_dfa_t;

void utf8_init(utf8_dfa_t *d);

/* Feeds p[0..len). Returns UTF8_OK when all bytes so far are a valid prefix
 * (a sequence may still be open: see utf8_complete). Returns UTF8_INVALID
 * when a byte cannot be valid; then *err_off (if not NULL) is the offset in p
 * of that first offending byte, and every later call fails too, with offset 0. */
utf8_result_t utf8_feed(utf8_dfa_t *d, const void *p, size_t len, size_t *err_off);

/* True when the bytes fed so far end on a character boundary (and are valid):
 * the check to make once the whole text has been fed. */
int utf8_complete(const utf8_dfa_t *d);

/* One-shot: true when p[0..len) is complete, valid UTF-8. */
int utf8_valid(const void *p, size_t len);

/* The length of the longest prefix of p[0..len) that is complete, valid UTF-8
 * and ends on a character boundary; for truncating text without cutting a
 * character. Stops at the first invalid byte. */
size_t utf8_boundary(const void *p, size_t len);

#endif
