/* frame.c — RFC 6455 frame headers, masks and close payloads; see frame.h. */
#include "ws/frame.h"
#include "core/utf8.h"

#include <string.h>

int ws_frame_header_parse(const uint8_t *p, size_t len, ws_frame_header_t *out)
{
    if (len < 1)
        return 0;
    unsigned b0 = p[0];
    unsigned op = b0 & 0x0Fu;
    int control = WS_IS_CONTROL(op);
    if (!(op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG)))
        return -WS_CLOSE_PROTOCOL;
    if (control && !(b0 & WS_FIN))
        return -WS_CLOSE_PROTOCOL;
    if (len < 2)
        return 0;
    unsigned b1 = p[1];
    unsigned len7 = b1 & 0x7Fu;
    int masked = (b1 & 0x80u) != 0;
    if (control && len7 > WS_MAX_CONTROL_PAYLOAD)
        return -WS_CLOSE_PROTOCOL;

    size_t need = 2;
    uint64_t plen;
    if (len7 < 126) {
        plen = len7;
    } else if (len7 == 126) {
        need += 2;
        if (len < need)
            return 0;
        plen = ((uint64_t)p[2] << 8) | p[3];
        if (plen < 126)
            return -WS_CLOSE_PROTOCOL;
    } else {
        /* The top bit is visible in the first length byte: refuse it early. */
        if (len >= 3 && (p[2] & 0x80u))
            return -WS_CLOSE_PROTOCOL;
        need += 8;
        if (len < need)
            return 0;
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | p[2 + i];
        if (plen <= 0xFFFF)
            return -WS_CLOSE_PROTOCOL;
    }
    if (masked) {
        if (len < need + 4)
            return 0;
        memcpy(out->mask, p + need, 4);
        need += 4;
    } else {
        memset(out->mask, 0, 4);
    }
    out->fin = (b0 & WS_FIN) ? 1 : 0;
    out->rsv = (uint8_t)(b0 & (WS_RSV1 | WS_RSV2 | WS_RSV3));
    out->opcode = (uint8_t)op;
    out->masked = (uint8_t)masked;
    out->len = plen;
    return (int)need;
}

size_t ws_frame_header_encode(uint8_t *out, unsigned opcode, unsigned flags, uint64_t len)
{
    out[0] = (uint8_t)((flags & (WS_FIN | WS_RSV1)) | (opcode & 0x0Fu));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

unsigned ws_unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4], unsigned off)
{
    off &= 3u;
    size_t i = 0;
    if (n >= 16) {
        /* The key, rotated to start at off, repeated over a word: then each
         * 8-byte block is one XOR whatever the alignment of dst and src. */
        uint8_t k[8];
        for (unsigned j = 0; j < 8; j++)
            k[j] = mask[(off + j) & 3u];
        uint64_t key;
        memcpy(&key, k, 8);
        for (; n - i >= 8; i += 8) {
            uint64_t w;
            memcpy(&w, src + i, 8);
            w ^= key;
            memcpy(dst + i, &w, 8);
        }
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ mask[(off + i) & 3u];
    return (unsigned)((off + n) & 3u);
}

int ws_close_code_valid(unsigned code)
{
    if (code >= 1000 && code <= 1003)
        return 1;
    if (code >= 1007 && code <= 1014)
        return 1;
    return code >= 3000 && code <= 4999;
}

int ws_close_payload_parse(const uint8_t *p, size_t len, uint16_t *code, const char **reason,
                           size_t *reason_len)
{
    *reason = "";
    *reason_len = 0;
    if (len == 0) {
        *code = WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (len == 1)
        return -WS_CLOSE_PROTOCOL;
    unsigned c = ((unsigned)p[0] << 8) | p[1];
    if (!ws_close_code_valid(c))
        return -WS_CLOSE_PROTOCOL;
    if (!utf8_valid(p + 2, len - 2))
        return -WS_CLOSE_INVALID_DATA;
    *code = (uint16_t)c;
    *reason = (const char *)p + 2;
    *reason_len = len - 2;
    return 0;
}

size_t ws_close_payload_build(uint8_t *out, unsigned code, const char *reason)
{
    if (code == 0 || code == WS_CLOSE_NO_STATUS)
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (!reason)
        return 2;
    /* utf8_boundary on the cut prefix drops a character split by the cut. */
    size_t keep = utf8_boundary(reason, strnlen(reason, WS_MAX_CONTROL_PAYLOAD - 2));
    memcpy(out + 2, reason, keep);
    return 2 + keep;
}
