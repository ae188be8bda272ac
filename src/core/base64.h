/* base64.h — standard base64 (RFC 4648 §4, alphabet A-Z a-z 0-9 + /).
 *
 * Used by the WebSocket handshake (Sec-WebSocket-Accept) and by Engine.IO
 * polling payloads, where binary packets travel as "b" + base64. Not the
 * URL-safe alphabet, no line breaks, no whitespace skipping.
 */
#ifndef PARLEY_CORE_BASE64_H
#define PARLEY_CORE_BASE64_H

#include <stddef.h>
#include <sys/types.h>

/* Decoding errors (negative returns of base64_decode). */
enum {
    BASE64_ERR_INVALID = -1, /* character outside the alphabet, misplaced '=',
                                or a length that no encoding has */
    BASE64_ERR_SPACE = -2,   /* outsz too small for the decoded bytes */
};

/* Characters base64_encode writes for n input bytes: 4 * ceil(n / 3). */
size_t base64_encoded_len(size_t n);

/* Bytes base64_decode can produce from n characters at most (exact for
 * unpadded input, up to 2 more than the truth for padded input). */
size_t base64_decoded_max(size_t n);

/* Encodes len bytes of in into out, padded with '='. out must hold
 * base64_encoded_len(len) bytes; no NUL is written. Returns the number of
 * characters written (== base64_encoded_len(len)). */
size_t base64_encode(const void *in, size_t len, char *out);

/* Decodes len characters of in into out (outsz bytes). Padding is optional
 * ("AQ==" and "AQ" both give 01), but if present it must be complete and
 * last. Bits below the last full byte are ignored, as browsers and Node do.
 * Returns the number of bytes written, or BASE64_ERR_INVALID /
 * BASE64_ERR_SPACE; on error out's contents are unspecified. */
ssize_t base64_decode(const char *in, size_t len, void *out, size_t outsz);

/* Checks syntax only (same rules as base64_decode) and gives the exact
 * decoded length; returns 0 on success, BASE64_ERR_INVALID otherwise. */
int base64_check(const char *in, size_t len, size_t *decoded_len);

#endif
