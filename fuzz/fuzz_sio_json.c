/* fuzz_sio_json.c — the payload reader's fast path (sio_packet_json_fast)
 * must never crash, and whatever it takes jansson must read alike: the
 * same tree, keys in the same order. A difference aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sio/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *fast = sio_packet_json_fast((const char *)data, size);
    if (!fast)
        return 0;
    json_t *ref = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!ref)
        abort(); /* taken by the fast path, refused by jansson */
    char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
    char *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!a || !b || strcmp(a, b) != 0 || !json_equal(fast, ref))
        abort();
    free(a);
    free(b);
    json_decref(fast);
    json_decref(ref);
    return 0;
}
