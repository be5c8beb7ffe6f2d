/* ringway C example, consumer side: creates a named SPSC ring, receives
 * COUNT messages from the producer (producer.c), checks their order, and
 * removes the ring.
 *
 *   ./consumer /my-ring 100000 &
 *   ./producer /my-ring 100000
 *
 * Build: see Makefile (pkg-config) or README "Using ringway from C". */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringway.h>

#include "message.h"

/* Checks one message; returns 0 when it is the expected one. */
static int check(const example_message *m, uint64_t expected) {
    if (m->seq != expected) {
        fprintf(stderr, "consumer: message %llu has seq %llu\n", (unsigned long long)expected,
                (unsigned long long)m->seq);
        return 1;
    }
    return 0;
}

static int fail(const char *what, ringway_result rc) {
    char msg[256];
    ringway_last_error_message(msg, sizeof msg);
    fprintf(stderr, "consumer: %s: %s (%s)\n", what, ringway_result_str(rc), msg);
    return 1;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "/ringway-example";
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;

    ringway_params params = {0};
    params.kind = RINGWAY_KIND_SPSC;
    params.capacity = 4096;
    params.slot_size = sizeof(example_message);

    ringway_ring *ring = NULL;
    ringway_result rc = ringway_ring_create_shm(name, &params, &ring);
    if (rc != RINGWAY_OK) {
        return fail("create", rc);
    }
    ringway_consumer *rx = NULL;
    rc = ringway_consumer_create(ring, &rx);
    if (rc != RINGWAY_OK) {
        ringway_ring_free(ring);
        ringway_ring_remove_shm(name);
        return fail("consumer", rc);
    }

    int status = 0;
    uint64_t received = 0;
    uint64_t batches = 0;
    while (received < count && status == 0) {
        /* Zero-copy: read the ready messages in place, then release them. */
        ringway_chunk chunk;
        rc = ringway_consumer_read(rx, 256, &chunk);
        if (rc == RINGWAY_ERR_EMPTY) {
            /* Nothing ready: wait (sleeping, woken by the producer) for one. */
            example_message m;
            rc = ringway_consumer_pop_timeout(rx, &m, sizeof m, 10ull * 1000 * 1000 * 1000);
            if (rc != RINGWAY_OK) {
                status = fail("pop", rc);
                break;
            }
            status = check(&m, received++);
            continue;
        }
        if (rc != RINGWAY_OK) {
            status = fail("read", rc);
            break;
        }
        size_t in_first = chunk.first_len / sizeof(example_message);
        for (size_t i = 0; i < chunk.slots && status == 0; i++) {
            example_message m;
            const uint8_t *slot = i < in_first ? chunk.first + i * sizeof m
                                               : chunk.second + (i - in_first) * sizeof m;
            memcpy(&m, slot, sizeof m);
            status = check(&m, received++);
        }
        ringway_consumer_release(rx, chunk.slots);
        batches++;
    }
    if (status == 0) {
        printf("consumer: received %llu messages in order, in %llu batches\n",
               (unsigned long long)received, (unsigned long long)batches);
    }
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
    ringway_ring_remove_shm(name);
    return status;
}
