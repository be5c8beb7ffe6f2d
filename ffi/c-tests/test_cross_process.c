/* C and Rust across processes: this C program and the Rust program
 * `ringway_peer` (ffi/examples/ringway_peer.rs, using the Rust crate directly)
 * exchange COUNT messages, a u64 sequence number in 8-byte slots checked in
 * order, through a named ring. First C produces and Rust consumes, then the
 * reverse; on an SPSC ring, then on an MPMC ring. The C side uses each form
 * of the API for a third of the messages: try, zero-copy chunks, blocking.
 *
 * usage: test_cross_process PATH_TO_RINGWAY_PEER [COUNT]   (COUNT: 1000000)
 *
 * The rings are named /ringway-xproc-TAG-PID-N, removed before exit, also on
 * failure; the peer is reaped and its exit status checked. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ringway.h"

extern char **environ;

static char names[4][128];
static pid_t child = -1;

static void check_cleanup(void) {
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    for (int i = 0; i < 4; i++) {
        if (names[i][0] != '\0') {
            ringway_ring_remove_shm(names[i]);
        }
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Yields while the ring is full or empty; fails after 60 s without progress. */
static void idle(double last_progress, uint64_t done) {
    if (now() - last_progress > 60.0) {
        fprintf(stderr, "no progress for 60 s after %llu messages\n", (unsigned long long)done);
        CHECK(0);
    }
    sched_yield();
}

static const char *kind_name(ringway_kind kind) {
    return kind == RINGWAY_KIND_SPSC ? "spsc" : "mpmc";
}

static void spawn_peer(const char *peer, const char *mode, ringway_kind kind, const char *name,
                       uint64_t count) {
    char count_arg[32];
    snprintf(count_arg, sizeof count_arg, "%llu", (unsigned long long)count);
    char *argv[] = {(char *)peer, (char *)mode, (char *)kind_name(kind), (char *)name, count_arg,
                    NULL};
    int err = posix_spawn(&child, peer, NULL, NULL, argv, environ);
    if (err != 0) {
        fprintf(stderr, "posix_spawn %s: %s\n", peer, strerror(err));
        CHECK(0);
    }
}

static void reap_peer(const char *what) {
    int status = 0;
    pid_t got;
    do {
        got = waitpid(child, &status, 0);
    } while (got < 0 && errno == EINTR);
    CHECK(got == child);
    child = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: peer failed (status %#x)\n", what, status);
        CHECK(0);
    }
}

static ringway_ring *create_ring(int i, ringway_kind kind) {
    const char *tag = getenv("RINGWAY_TEST_TAG");
    snprintf(names[i], sizeof names[i], "/ringway-xproc-%s-%ld-%d", tag ? tag : "x",
             (long)getpid(), i);
    ringway_params params = {0};
    params.kind = kind;
    params.capacity = 1024;
    params.slot_size = 8;
    ringway_ring *ring = NULL;
    CHECK_OK(ringway_ring_create_shm(names[i], &params, &ring));
    return ring;
}

/* Address of slot `i` of a chunk: from its spans (SPSC) or by index (MPMC,
 * whose slots are not contiguous). */
static uint8_t *write_slot(ringway_producer *tx, const ringway_chunk *c, size_t i) {
    uint8_t *slot = NULL;
    if (c->first != NULL) {
        size_t a = c->first_len / 8;
        return i < a ? c->first + 8 * i : c->second + 8 * (i - a);
    }
    CHECK_OK(ringway_producer_slot(tx, i, &slot));
    return slot;
}

static const uint8_t *read_slot(ringway_consumer *rx, const ringway_chunk *c, size_t i) {
    const uint8_t *slot = NULL;
    if (c->first != NULL) {
        size_t a = c->first_len / 8;
        return i < a ? c->first + 8 * i : c->second + 8 * (i - a);
    }
    CHECK_OK(ringway_consumer_slot(rx, i, &slot));
    return slot;
}

static void check_seq(uint64_t got, uint64_t expected) {
    if (got != expected) {
        fprintf(stderr, "message %llu is %llu\n", (unsigned long long)expected,
                (unsigned long long)got);
        CHECK(0);
    }
}

/* C produces: a third with try_push, a third zero-copy, a third blocking. */
static void c_to_rust(const char *peer, ringway_kind kind, int n, uint64_t count) {
    ringway_ring *ring = create_ring(n, kind);
    ringway_producer *tx = NULL;
    CHECK_OK(ringway_producer_create(ring, &tx));
    spawn_peer(peer, "consume", kind, names[n], count);

    double start = now(), last = start;
    uint64_t next = 0;
    while (next < count / 3) {
        ringway_result rc = ringway_producer_try_push(tx, &next, sizeof next);
        if (rc == RINGWAY_OK) {
            next++;
            last = now();
        } else {
            /* MPMC: BUSY while a consumer's claim holds the tail's slot. */
            if (rc != RINGWAY_ERR_BUSY) {
                CHECK_RC(rc, RINGWAY_ERR_FULL);
            }
            idle(last, next);
        }
    }
    while (next < 2 * count / 3) {
        ringway_chunk c;
        ringway_result rc = ringway_producer_reserve(tx, (size_t)(2 * count / 3 - next), &c);
        if (rc == RINGWAY_ERR_FULL) {
            idle(last, next);
            continue;
        }
        CHECK_OK(rc);
        for (size_t i = 0; i < c.slots; i++, next++) {
            memcpy(write_slot(tx, &c, i), &next, 8);
        }
        CHECK_OK(ringway_producer_commit(tx, c.slots));
        last = now();
    }
    for (; next < count; next++) {
        CHECK_OK(ringway_producer_push_timeout(tx, &next, sizeof next, 60ull * 1000 * 1000 * 1000));
    }
    reap_peer("C producer -> Rust consumer");
    printf("  %s: C producer -> Rust consumer: %llu messages in %.2f s\n", kind_name(kind),
           (unsigned long long)count, now() - start);
    ringway_producer_free(tx);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_shm(names[n]));
    names[n][0] = '\0';
}

/* C consumes: a third with try_pop, a third zero-copy, a third blocking. */
static void rust_to_c(const char *peer, ringway_kind kind, int n, uint64_t count) {
    ringway_ring *ring = create_ring(n, kind);
    ringway_consumer *rx = NULL;
    CHECK_OK(ringway_consumer_create(ring, &rx));
    spawn_peer(peer, "produce", kind, names[n], count);

    double start = now(), last = start;
    uint64_t expected = 0, v;
    while (expected < count / 3) {
        ringway_result rc = ringway_consumer_try_pop(rx, &v, sizeof v);
        if (rc == RINGWAY_OK) {
            check_seq(v, expected++);
            last = now();
        } else {
            /* MPMC: BUSY while the producer's claim holds the head. */
            if (rc != RINGWAY_ERR_BUSY) {
                CHECK_RC(rc, RINGWAY_ERR_EMPTY);
            }
            idle(last, expected);
        }
    }
    while (expected < 2 * count / 3) {
        ringway_chunk c;
        ringway_result rc = ringway_consumer_read(rx, (size_t)(2 * count / 3 - expected), &c);
        if (rc == RINGWAY_ERR_EMPTY) {
            idle(last, expected);
            continue;
        }
        CHECK_OK(rc);
        for (size_t i = 0; i < c.slots; i++) {
            memcpy(&v, read_slot(rx, &c, i), 8);
            check_seq(v, expected++);
        }
        CHECK_OK(ringway_consumer_release(rx, c.slots));
        last = now();
    }
    while (expected < count) {
        CHECK_OK(ringway_consumer_pop_timeout(rx, &v, sizeof v, 60ull * 1000 * 1000 * 1000));
        check_seq(v, expected++);
    }
    reap_peer("Rust producer -> C consumer");
    printf("  %s: Rust producer -> C consumer: %llu messages in %.2f s\n", kind_name(kind),
           (unsigned long long)count, now() - start);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_shm(names[n]));
    names[n][0] = '\0';
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PATH_TO_RINGWAY_PEER [COUNT]\n", argv[0]);
        return 2;
    }
    uint64_t count = argc == 3 ? strtoull(argv[2], NULL, 10) : 1000000;
    CHECK(count >= 3);
    c_to_rust(argv[1], RINGWAY_KIND_SPSC, 0, count);
    rust_to_c(argv[1], RINGWAY_KIND_SPSC, 1, count);
    c_to_rust(argv[1], RINGWAY_KIND_MPMC, 2, count);
    rust_to_c(argv[1], RINGWAY_KIND_MPMC, 3, count);
    printf("test_cross_process: ok\n");
    return 0;
}
