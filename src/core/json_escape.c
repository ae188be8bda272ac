/* json_escape.c — JSON string escaping for logs and small hand-built replies. */
#include "core/json_escape.h"

#include <stdio.h>

size_t json_escape(const char *s, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    if (outsz == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        const char *rep = NULL;
        size_t rlen = 1;
        switch (c) {
        case '"': rep = "\\\""; rlen = 2; break;
        case '\\': rep = "\\\\"; rlen = 2; break;
        case '\n': rep = "\\n"; rlen = 2; break;
        case '\r': rep = "\\r"; rlen = 2; break;
        case '\t': rep = "\\t"; rlen = 2; break;
        default:
            if (c < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", c);
                rep = tmp;
                rlen = 6;
            }
        }
        if (o + rlen >= outsz)
            break;
        if (rep) {
            for (size_t k = 0; k < rlen; k++)
                out[o++] = rep[k];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}
