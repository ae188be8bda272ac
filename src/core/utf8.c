/* utf8.c — the incremental UTF-8 automaton; see utf8.h.
 *
 * Bytes are first mapped to one of twelve classes, chosen so that every
 * restriction of RFC 3629's table (which second byte may follow E0, ED, F0,
 * F4) is a class boundary; the state then says how many continuation bytes
 * are still owed and, for the four special lead bytes, which range the next
 * one must fall in.
 */
#include "core/utf8.h"

#include <string.h>

enum {
    C_ASCII, /* 00..7F */
    C_80_8F, /* continuation, low quarter */
    C_90_9F, /* continuation, second quarter */
    C_A0_BF, /* continuation, upper half */
    C_BAD,   /* C0, C1 (overlong), F5..FF (beyond U+10FFFF) */
    C_C2_DF, /* lead of 2 */
    C_E0,    /* lead of 3; next must be A0..BF (no overlongs) */
    C_E1_EF, /* lead of 3 except E0 and ED */
    C_ED,    /* lead of 3; next must be 80..9F (no surrogates) */
    C_F0,    /* lead of 4; next must be 90..BF (no overlongs) */
    C_F1_F3, /* lead of 4 */
    C_F4,    /* lead of 4; next must be 80..8F (<= U+10FFFF) */
    C_COUNT
};

enum {
    S_ACCEPT, /* at a character boundary */
    S_REJECT, /* sticky */
    S_NEED1,  /* one continuation byte owed */
    S_NEED2,
    S_NEED3,
    S_E0, /* after E0 */
    S_ED, /* after ED */
    S_F0, /* after F0 */
    S_F4, /* after F4 */
    S_COUNT
};

/* clang-format off */
static const uint8_t byte_class[256] = {
    /* 00..7F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 80..8F */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 90..9F */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    /* A0..BF */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    /* C0..DF */
    4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    /* E0..EF */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,
    /* F0..FF */
    9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

#define R S_REJECT
static const uint8_t transition[S_COUNT][C_COUNT] = {
    /*            ASCII     80-8F    90-9F    A0-BF    BAD C2-DF    E0    E1-EF    ED    F0    F1-F3    F4 */
    [S_ACCEPT] = {S_ACCEPT, R,       R,       R,       R, S_NEED1, S_E0, S_NEED2, S_ED, S_F0, S_NEED3, S_F4},
    [S_REJECT] = {R,        R,       R,       R,       R, R,       R,    R,       R,    R,    R,       R},
    [S_NEED1] =  {R,        S_ACCEPT, S_ACCEPT, S_ACCEPT, R, R,    R,    R,       R,    R,    R,       R},
    [S_NEED2] =  {R,        S_NEED1, S_NEED1, S_NEED1, R, R,       R,    R,       R,    R,    R,       R},
    [S_NEED3] =  {R,        S_NEED2, S_NEED2, S_NEED2, R, R,       R,    R,       R,    R,    R,       R},
    [S_E0] =     {R,        R,       R,       S_NEED1, R, R,       R,    R,       R,    R,    R,       R},
    [S_ED] =     {R,        S_NEED1, S_NEED1, R,       R, R,       R,    R,       R,    R,    R,       R},
    [S_F0] =     {R,        R,       S_NEED2, S_NEED2, R, R,       R,    R,       R,    R,    R,       R},
    [S_F4] =     {R,        S_NEED2, R,       R,       R, R,       R,    R,       R,    R,    R,       R},
};
#undef R
/* clang-format on */

#define HIGH_BITS 0x8080808080808080ULL

void utf8_init(utf8_dfa_t *d)
{
    d->state = S_ACCEPT;
}

utf8_result_t utf8_feed(utf8_dfa_t *d, const void *p, size_t len, size_t *err_off)
{
    const uint8_t *s = p;
    unsigned st = d->state;
    size_t i = 0;

    if (st == S_REJECT) {
        if (err_off)
            *err_off = 0;
        return UTF8_INVALID;
    }
    while (i < len) {
        if (st == S_ACCEPT) {
            /* ASCII needs no state: skip whole words of it. */
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & HIGH_BITS)
                    break;
                i += 8;
            }
            while (i < len && s[i] < 0x80)
                i++;
            if (i == len)
                break;
        }
        st = transition[st][byte_class[s[i]]];
        if (st == S_REJECT) {
            d->state = S_REJECT;
            if (err_off)
                *err_off = i;
            return UTF8_INVALID;
        }
        i++;
    }
    d->state = (uint8_t)st;
    return UTF8_OK;
}

int utf8_complete(const utf8_dfa_t *d)
{
    return d->state == S_ACCEPT;
}

int utf8_valid(const void *p, size_t len)
{
    utf8_dfa_t d = {S_ACCEPT};
    return utf8_feed(&d, p, len, NULL) == UTF8_OK && utf8_complete(&d);
}

size_t utf8_boundary(const void *p, size_t len)
{
    const uint8_t *s = p;
    unsigned st = S_ACCEPT;
    size_t last = 0;
    for (size_t i = 0; i < len; i++) {
        st = transition[st][byte_class[s[i]]];
        if (st == S_REJECT)
            break;
        if (st == S_ACCEPT)
            last = i + 1;
    }
    return last;
}
