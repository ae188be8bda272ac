/* json_escape.h — escapes bytes for the inside of a JSON string literal. */
#ifndef PARLEY_CORE_JSON_ESCAPE_H
#define PARLEY_CORE_JSON_ESCAPE_H

#include <stddef.h>

/* Writes the escaped form of s[0..len) into out (always NUL-terminated when
 * outsz > 0), truncating if out is too small; returns the length written.
 * Six bytes of output per input byte are always enough. */
size_t json_escape(const char *s, size_t len, char *out, size_t outsz);

#endif
