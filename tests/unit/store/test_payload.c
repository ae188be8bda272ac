/* test_payload.c — message ids, share codes, enum names and the message
 * object's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "store/internal.h"

static void test_ids_roundtrip_and_sort(void **state)
{
    const uint64_t vals[] = {0, 1, 31, 32, 1234567890123ull << 16, UINT64_MAX - 1, UINT64_MAX};
    char prev[STORE__ID_LEN + 1] = "";
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char id[STORE__ID_LEN + 1];
        store__id_encode(vals[i], id);
        assert_int_equal(strlen(id), STORE__ID_LEN);
        uint64_t back;
        assert_int_equal(store__id_decode(id, &back), 0);
        assert_true(back == vals[i]);
        /* Text order is number order: ids sort by time. */
        if (i)
            assert_true(strcmp(prev, id) < 0);
        memcpy(prev, id, sizeof id);
    }
    uint64_t v;
    assert_int_equal(store__id_decode(NULL, &v), -1);
    assert_int_equal(store__id_decode("short", &v), -1);
    assert_int_equal(store__id_decode("000000000000i", &v), -1); /* not in the alphabet */
    assert_int_equal(store__id_decode("g000000000000", &v), -1); /* first digit > 15 */
}

static void test_codes(void **state)
{
    char a[13], b[13];
    store__random_code(a, 12);
    store__random_code(b, 12);
    assert_int_equal(strlen(a), 12);
    assert_string_not_equal(a, b);
    for (int i = 0; i < 12; i++)
        assert_non_null(strchr("0123456789abcdefghjkmnpqrstvwxyz", a[i]));
}

static void test_names(void **state)
{
    assert_string_equal(store_kind_name(STORE_DM), "dm");
    assert_null(store_kind_name((store_kind_t)3));
    assert_int_equal(store_kind_parse("private"), STORE_PRIVATE);
    assert_int_equal(store_kind_parse("Private"), -1);
    assert_int_equal(store_role_parse("admin"), STORE_ADMIN);
    assert_string_equal(store_role_name(STORE_OWNER), "owner");
    assert_int_equal(store_notif_kind_parse("reaction"), STORE_N_REACTION);
    assert_string_equal(store_notif_kind_name(STORE_N_REPLY), "reply");
    assert_string_equal(store_strerror(STORE_E_CONFLICT), "already exists");
    assert_string_equal(store_strerror((store_err_t)99), "unknown store error");
}

static void test_message_shape(void **state)
{
    store_message_t m = {.id = "0000000000001",
                         .channel = "general",
                         .seq = 7,
                         .ts = 1700000000000,
                         .author = "bob",
                         .author_name = "Bob",
                         .text = "hi",
                         .client_id = "c1"};
    json_t *j = store_message_to_json(&m);
    json_t *want =
        json_pack("{s:s, s:s, s:i, s:I, s:{s:s, s:s}, s:s, s:s, s:{}}", "id", "0000000000001",
                  "channel", "general", "seq", 7, "ts", (json_int_t)1700000000000, "author", "id",
                  "bob", "name", "Bob", "text", "hi", "clientId", "c1", "reactions");
    assert_true(json_equal(j, want));
    char *text = json_dumps(j, JSON_COMPACT);
    /* Protocol order, for people reading the wire. */
    assert_true(strncmp(text, "{\"id\":", 6) == 0);
    free(text);
    json_decref(j);
    json_decref(want);

    m.reply_to = "0000000000000";
    m.edited_at = 5;
    m.deleted = true;
    m.client_id = NULL;
    j = store_message_to_json(&m);
    assert_string_equal(json_string_value(json_object_get(j, "replyTo")), "0000000000000");
    assert_int_equal(json_integer_value(json_object_get(j, "editedAt")), 5);
    assert_true(json_is_true(json_object_get(j, "deleted")));
    assert_null(json_object_get(j, "clientId"));
    json_decref(j);
    m.text = "bad \xff utf-8";
    assert_null(store_message_to_json(&m));
}

/* store__message_write gives the bytes jansson writes for
 * store_message_to_json of the same message. */
static void same_text(const store_message_t *m)
{
    json_t *j = store_message_to_json(m);
    assert_non_null(j);
    char *want = json_dumps(j, JSON_COMPACT);
    buf_t b;
    buf_init(&b, 1 << 20);
    assert_true(store__message_write(&b, m, false));
    assert_string_equal(b.data, want);
    free(want);
    json_decref(j);
    buf_free(&b);
}

static void test_message_text(void **state)
{
    store_message_t m = {.id = "0000000000001",
                         .channel = "general",
                         .seq = 7,
                         .ts = 1700000000000,
                         .author = "bob",
                         .author_name = "B\"o\\b",
                         .text = "q\"uote\\ nl\n tab\t cr\r bs\b ff\f ctl\x01\x1f del\x7f "
                                 "caf\xc3\xa9 \xf0\x9f\x98\x80 </script>",
                         .client_id = "c1"};
    same_text(&m);
    m.author_name = NULL; /* the id stands in */
    m.reply_to = "0000000000000";
    m.edited_at = 5;
    m.deleted = true;
    m.client_id = NULL;
    m.seq = UINT64_C(9007199254740991);
    m.ts = -1;
    same_text(&m);
    m.reactions = json_pack("{s:[s, s], s:[s]}", "+1", "alice", "bob", "\xf0\x9f\x8e\x89", "c\"d");
    same_text(&m);
    /* The redacted form: a message:new payload after its delete. */
    buf_t b;
    buf_init(&b, 4096);
    assert_true(store__message_write(&b, &m, true));
    assert_string_equal(b.data, "{\"id\":\"0000000000001\",\"channel\":\"general\","
                                "\"seq\":9007199254740991,\"ts\":-1,\"author\":{\"id\":\"bob\","
                                "\"name\":\"bob\"},\"text\":\"\",\"replyTo\":\"0000000000000\","
                                "\"reactions\":{},\"deleted\":true}");
    json_decref(m.reactions);
    /* Past the cap: refused, not cut short silently. */
    buf_t small;
    buf_init(&small, 32);
    m.reactions = NULL;
    assert_false(store__message_write(&small, &m, false));
    buf_free(&small);
    /* Long text takes the heap path. */
    char *big = malloc(70000);
    memset(big, '"', 69999);
    big[69999] = '\0';
    m.text = big;
    same_text(&m);
    free(big);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_roundtrip_and_sort),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_message_shape),
        cmocka_unit_test(test_message_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
