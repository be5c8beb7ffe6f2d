/* ringway C example, producer side: opens the ring the consumer created
 * (consumer.c), waiting for it to appear, and sends COUNT messages.
 *
 *   ./consumer /my-ring 100000 &
 *   ./producer /my-ring 100000 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ringway.h>

#include "message.h"

static int fail(const char *what, ringway_result rc) {
    char msg[256];
    ringway_last_error_message(msg, sizeof msg);
    fprintf(stderr, "producer: %s: %s (%s)\n", what, ringway_result_str(rc), msg);
    return 1;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "/ringway-example";
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;

    /* The consumer creates the ring: retry for up to 10 s until it exists and
     * is initialised (while its creator sets it up, an open may see it
     * missing, still empty, or not ready). */
    ringway_ring *ring = NULL;
    ringway_result rc;
    for (int tries = 0;; tries++) {
        rc = ringway_ring_open_shm(name, RINGWAY_KIND_SPSC, &ring);
        int starting = rc == RINGWAY_ERR_NOT_FOUND || rc == RINGWAY_ERR_TOO_SMALL ||
                       rc == RINGWAY_ERR_NOT_READY;
        if (!starting || tries == 1000) {
            break;
        }
        struct timespec ten_ms = {0, 10 * 1000 * 1000};
        nanosleep(&ten_ms, NULL);
    }
    if (rc != RINGWAY_OK) {
        return fail("open", rc);
    }
    ringway_info info;
    ringway_ring_info(ring, &info);
    if (info.slot_size != sizeof(example_message)) {
        fprintf(stderr, "producer: slots are %u bytes, messages %zu\n", info.slot_size,
                sizeof(example_message));
        ringway_ring_free(ring);
        return 1;
    }
    ringway_producer *tx = NULL;
    rc = ringway_producer_create(ring, &tx);
    if (rc != RINGWAY_OK) {
        ringway_ring_free(ring);
        return fail("producer", rc);
    }

    int status = 0;
    for (uint64_t seq = 0; seq < count;) {
        example_message m;
        memset(&m, 0, sizeof m);
        m.seq = seq;
        snprintf(m.text, sizeof m.text, "#%llu", (unsigned long long)seq);
        /* Waits while the ring is full (sleeping, woken by the consumer). */
        rc = ringway_producer_push(tx, &m, sizeof m);
        if (rc != RINGWAY_OK) {
            status = fail("push", rc);
            break;
        }
        seq++;
    }
    if (status == 0) {
        printf("producer: sent %llu messages\n", (unsigned long long)count);
    }
    ringway_producer_free(tx);
    ringway_ring_free(ring);
    return status;
}
