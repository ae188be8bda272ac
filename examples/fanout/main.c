/* fanout — the broadcast benchmark's server, on Parley's sio layer.
 *
 * On `join`(room) the socket joins the room; on `say`(room, payload) the
 * payload goes out as `said`(payload) to everyone in the room but the
 * sender. Both are acknowledged (with true) when the client asks. The
 * `said` packet is encoded once per `say`, whatever the room's size.
 * Engine.IO defaults are Node's (pingInterval 25 s, pingTimeout 20 s).
 */
#include "core/config.h"
#include "core/log.h"
#include "eio/eio.h"
#include "http/server.h"
#include "net/net.h"
#include "sio/sio.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static struct {
    char *host;
    int64_t port;
    char *log_level;
    int64_t flush_delay_us;
} S;

static const config_option_t options[] = {
    {"host", CFG_STRING, &S.host, "127.0.0.1", "address to listen on", 0, 0},
    {"port", CFG_INT, &S.port, "3000", "TCP port (0 picks a free one)", 0, 65535},
    {"log-level", CFG_STRING, &S.log_level, "info", "debug, info, warn or error", 0, 0},
    {"flush-delay-us", CFG_INT, &S.flush_delay_us, "0",
     "hold a connection's output up to this long to write more frames at once (0 = off)", 0,
     1000000},
};
#define NUM_OPTIONS (sizeof options / sizeof options[0])

static net_server_t *net;
static http_config_t http_cfg;
static sio_server_t *sio;
static uv_signal_t sigterm, sigint;

static void ack_true(sio_ack_t *ack)
{
    if (!ack)
        return;
    json_t *a = json_pack("[b]", 1);
    sio_ack_send(ack, a, NULL, 0);
    json_decref(a);
}

static void on_join(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                    size_t nbins, sio_ack_t *ack, void *ud)
{
    const char *room = json_string_value(json_array_get(args, 0));
    if (room && sio_join(s, room) == SIO_OK)
        ack_true(ack);
}

static void on_say(sio_socket_t *s, const char *event, json_t *args, const sio_bin_t *bins,
                   size_t nbins, sio_ack_t *ack, void *ud)
{
    const char *room = json_string_value(json_array_get(args, 0));
    if (!room || json_array_size(args) < 2)
        return;
    json_t *said = json_array();
    json_array_append(said, json_array_get(args, 1));
    const char *rooms[] = {room};
    const char *except[] = {sio_socket_id(s)};
    sio_target_t t = {.rooms = rooms, .num_rooms = 1, .except = except, .num_except = 1};
    int r = sio_broadcast(sio_socket_nsp(s), &t, "said", said, bins, nbins);
    json_decref(said);
    if (r == SIO_OK)
        ack_true(ack);
}

static void on_request(http_exchange_t *ex, void *ud)
{
    eio_server_t *eio = sio ? sio_server_eio(sio) : NULL;
    if (eio && eio_server_matches(eio, http_ex_request(ex))) {
        eio_server_handle(eio, ex);
        return;
    }
    http_respond(ex, 404, "application/json", NULL, 0, "{\"error\":\"not found\"}", 21);
}

static void on_accept(net_conn_t *c, void *ud)
{
    http_conn_start(c, &http_cfg);
}

static void on_drained(net_server_t *s, void *ud)
{
    net = NULL;
    sio_server_free(sio);
    sio = NULL;
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    uv_signal_stop(&sigterm);
    uv_signal_stop(&sigint);
    sio_server_close_all(sio);
    net_server_drain(net, 3000, on_drained, NULL);
}

int main(int argc, char **argv)
{
    char err[256];
    int rest = 0, help = 0, status = 1;
    if (config_load(options, NUM_OPTIONS, argc, argv, 1, &rest, &help, err, sizeof err) != 0) {
        fprintf(stderr, "fanout: %s\n", err);
        return 2;
    }
    if (help) {
        printf("usage: fanout [options]\n\n");
        config_print_help(stdout, options, NUM_OPTIONS);
        config_free(options, NUM_OPTIONS);
        return 0;
    }
    log_level_t level;
    if (log_level_parse(S.log_level, &level) != 0) {
        fprintf(stderr, "fanout: --log-level: expected debug, info, warn or error\n");
        goto out;
    }
    log_set_level(level);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();

    sio_config_t scfg = {
        .eio = {.path = "/socket.io/", .max_payload = 1000000},
    };
    sio = sio_server_new(loop, &scfg);
    if (!sio) {
        log_error("sio_failed", "cannot create the Socket.IO server");
        goto out;
    }
    sio_nsp_t *root = sio_of(sio, "/");
    sio_on(root, "join", on_join, NULL);
    sio_on(root, "say", on_say, NULL);

    http_cfg = (http_config_t){.handler = on_request, .max_body = 1000000 + 4096};
    net_server_config_t ncfg = {
        .host = S.host,
        .port = (int)S.port,
        .max_output = 64 * 1024 * 1024,
        .tcp_nodelay = 1,
        .flush_delay_us = (uint32_t)S.flush_delay_us,
        .on_accept = on_accept,
    };
    int r = net_server_start(loop, &ncfg, &net);
    if (r != 0) {
        log_error("listen_failed", "cannot listen on %s:%lld: %s", S.host, (long long)S.port,
                  uv_strerror(r));
        sio_server_free(sio);
        uv_run(loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    log_info("listening", "fanout on http://%s:%d", S.host, net_server_port(net));
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    status = 0;
out:
    config_free(options, NUM_OPTIONS);
    return status;
}
