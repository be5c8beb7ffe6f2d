/* C and Rust across processes: this C program and the Rust program
 * `ringway_peer` (ffi/examples/ringway_peer.rs, using the Rust crate directly)
 * exchange COUNT messages, a u64 sequence number in 8-byte slots checked in
 * order, through a named SPSC ring. First C produces and Rust consumes, then
 * the reverse.
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

static char names[2][128];
static pid_t child = -1;

static void check_cleanup(void) {
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    for (int i = 0; i < 2; i++) {
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

static void spawn_peer(const char *peer, const char *mode, const char *name, uint64_t count) {
    char count_arg[32];
    snprintf(count_arg, sizeof count_arg, "%llu", (unsigned long long)count);
    char *argv[] = {(char *)peer, (char *)mode, (char *)name, count_arg, NULL};
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

static ringway_ring *create_ring(int i) {
    const char *tag = getenv("RINGWAY_TEST_TAG");
    snprintf(names[i], sizeof names[i], "/ringway-xproc-%s-%ld-%d", tag ? tag : "x",
             (long)getpid(), i);
    ringway_params params = {0};
    params.kind = RINGWAY_KIND_SPSC;
    params.capacity = 1024;
    params.slot_size = 8;
    ringway_ring *ring = NULL;
    CHECK_OK(ringway_ring_create_shm(names[i], &params, &ring));
    return ring;
}

/* C produces: the first half with try_push, the second half zero-copy. */
static void c_to_rust(const char *peer, uint64_t count) {
    ringway_ring *ring = create_ring(0);
    ringway_producer *tx = NULL;
    CHECK_OK(ringway_producer_create(ring, &tx));
    spawn_peer(peer, "consume", names[0], count);

    double start = now(), last = start;
    uint64_t next = 0;
    while (next < count / 2) {
        ringway_result rc = ringway_producer_try_push(tx, &next, sizeof next);
        if (rc == RINGWAY_OK) {
            next++;
            last = now();
        } else {
            CHECK_RC(rc, RINGWAY_ERR_FULL);
            idle(last, next);
        }
    }
    while (next < count) {
        ringway_chunk c;
        ringway_result rc = ringway_producer_reserve(tx, (size_t)(count - next), &c);
        if (rc == RINGWAY_ERR_FULL) {
            idle(last, next);
            continue;
        }
        CHECK_OK(rc);
        size_t a = c.first_len / 8;
        for (size_t i = 0; i < c.slots; i++, next++) {
            memcpy(i < a ? c.first + 8 * i : c.second + 8 * (i - a), &next, 8);
        }
        CHECK_OK(ringway_producer_commit(tx, c.slots));
        last = now();
    }
    reap_peer("C producer -> Rust consumer");
    printf("  C producer -> Rust consumer: %llu messages in %.2f s\n", (unsigned long long)count,
           now() - start);
    ringway_producer_free(tx);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_shm(names[0]));
    names[0][0] = '\0';
}

/* C consumes: the first half with try_pop, the second half zero-copy. */
static void rust_to_c(const char *peer, uint64_t count) {
    ringway_ring *ring = create_ring(1);
    ringway_consumer *rx = NULL;
    CHECK_OK(ringway_consumer_create(ring, &rx));
    spawn_peer(peer, "produce", names[1], count);

    double start = now(), last = start;
    uint64_t expected = 0;
    while (expected < count / 2) {
        uint64_t v;
        ringway_result rc = ringway_consumer_try_pop(rx, &v, sizeof v);
        if (rc == RINGWAY_OK) {
            if (v != expected) {
                fprintf(stderr, "message %llu is %llu\n", (unsigned long long)expected,
                        (unsigned long long)v);
                CHECK(0);
            }
            expected++;
            last = now();
        } else {
            CHECK_RC(rc, RINGWAY_ERR_EMPTY);
            idle(last, expected);
        }
    }
    while (expected < count) {
        ringway_chunk c;
        ringway_result rc = ringway_consumer_read(rx, 4096, &c);
        if (rc == RINGWAY_ERR_EMPTY) {
            idle(last, expected);
            continue;
        }
        CHECK_OK(rc);
        size_t a = c.first_len / 8;
        for (size_t i = 0; i < c.slots; i++, expected++) {
            uint64_t v;
            memcpy(&v, i < a ? c.first + 8 * i : c.second + 8 * (i - a), 8);
            if (v != expected) {
                fprintf(stderr, "message %llu is %llu\n", (unsigned long long)expected,
                        (unsigned long long)v);
                CHECK(0);
            }
        }
        CHECK_OK(ringway_consumer_release(rx, c.slots));
        last = now();
    }
    reap_peer("Rust producer -> C consumer");
    printf("  Rust producer -> C consumer: %llu messages in %.2f s\n", (unsigned long long)count,
           now() - start);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_shm(names[1]));
    names[1][0] = '\0';
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PATH_TO_RINGWAY_PEER [COUNT]\n", argv[0]);
        return 2;
    }
    uint64_t count = argc == 3 ? strtoull(argv[2], NULL, 10) : 1000000;
    CHECK(count >= 2);
    c_to_rust(argv[1], count);
    rust_to_c(argv[1], count);
    printf("test_cross_process: ok\n");
    return 0;
}
