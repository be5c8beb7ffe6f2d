/* The C API from C: the happy path of every call, and the error paths (NULL
 * arguments, bad names and parameters, a corrupted header, the wrong ring
 * kind, calls out of order) with their codes and messages.
 *
 * Rings are named /ringway-ctest-TAG-PID-SUFFIX (TAG from $RINGWAY_TEST_TAG)
 * and removed before exit, also on failure. */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ringway.h"

/* The structs crossing by value, pinned on the C side too. */
_Static_assert(sizeof(ringway_chunk) == 5 * sizeof(void *), "ringway_chunk");
_Static_assert(offsetof(ringway_chunk, second) == 2 * sizeof(void *), "chunk.second");
_Static_assert(offsetof(ringway_chunk, slots) == 4 * sizeof(void *), "chunk.slots");
_Static_assert(sizeof(ringway_params) == 32, "ringway_params");
_Static_assert(offsetof(ringway_params, capacity) == 8, "params.capacity");
_Static_assert(offsetof(ringway_params, reserved) == 28, "params.reserved");
_Static_assert(sizeof(ringway_info) == 40, "ringway_info");
_Static_assert(offsetof(ringway_info, flags) == 28, "info.flags");
_Static_assert(offsetof(ringway_info, map_len) == 32, "info.map_len");
_Static_assert(sizeof(ringway_result) == 4, "ringway_result is 32 bits");
_Static_assert(sizeof(ringway_kind) == 4, "ringway_kind is 32 bits");
#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof(ringway_chunk) == 40, "ringway_chunk on 64-bit");
#endif

#define MAX_NAMES 16
static char names[MAX_NAMES][128];
static int name_count;
static char file_path[256];

/* A unique shm name for this run; remembered for cleanup. */
static const char *shm_name(const char *suffix) {
    const char *tag = getenv("RINGWAY_TEST_TAG");
    CHECK(name_count < MAX_NAMES);
    snprintf(names[name_count], sizeof names[0], "/ringway-ctest-%s-%ld-%s",
             tag ? tag : "x", (long)getpid(), suffix);
    return names[name_count++];
}

static void check_cleanup(void) {
    for (int i = 0; i < name_count; i++) {
        ringway_ring_remove_shm(names[i]); /* NOT_FOUND when already removed */
    }
    if (file_path[0] != '\0') {
        unlink(file_path);
    }
}

static ringway_params spsc_params(uint64_t capacity, uint32_t slot_size) {
    ringway_params p = {0};
    p.kind = RINGWAY_KIND_SPSC;
    p.capacity = capacity;
    p.slot_size = slot_size;
    return p;
}

static void test_versions(void) {
    char expected[64];
    CHECK(strcmp(ringway_version(), RINGWAY_VERSION) == 0);
    snprintf(expected, sizeof expected, "%d.%d.%d", RINGWAY_VERSION_MAJOR,
             RINGWAY_VERSION_MINOR, RINGWAY_VERSION_PATCH);
    CHECK(strcmp(expected, RINGWAY_VERSION) == 0);
    CHECK(ringway_abi_version() == RINGWAY_ABI_VERSION);
    CHECK(ringway_layout_version() == RINGWAY_LAYOUT_VERSION);
#if RINGWAY_ABI_VERSION < 2
#error "RINGWAY_ABI_VERSION is usable in #if, and ringway_info.flags needs C ABI 2"
#endif
}

static void test_results(void) {
    /* Numbers are ABI: pinned here, never reused. */
    static const struct {
        uint32_t code;
        uint32_t value;
    } pinned[] = {
        {RINGWAY_OK, 0},
        {RINGWAY_ERR_NULL, 1},
        {RINGWAY_ERR_INVALID_ARGUMENT, 2},
        {RINGWAY_ERR_INVALID_NAME, 3},
        {RINGWAY_ERR_NOT_FOUND, 4},
        {RINGWAY_ERR_EXISTS, 5},
        {RINGWAY_ERR_FULL, 6},
        {RINGWAY_ERR_EMPTY, 7},
        {RINGWAY_ERR_TIMEOUT, 8},
        {RINGWAY_ERR_SIZE, 9},
        {RINGWAY_ERR_CORRUPT, 10},
        {RINGWAY_ERR_BAD_MAGIC, 11},
        {RINGWAY_ERR_ABI_MISMATCH, 12},
        {RINGWAY_ERR_LAYOUT_MISMATCH, 13},
        {RINGWAY_ERR_NOT_READY, 14},
        {RINGWAY_ERR_BAD_HEADER, 15},
        {RINGWAY_ERR_WRONG_KIND, 16},
        {RINGWAY_ERR_TYPE_MISMATCH, 17},
        {RINGWAY_ERR_ROLE_TAKEN, 18},
        {RINGWAY_ERR_TOO_MANY_PRODUCERS, 19},
        {RINGWAY_ERR_TOO_SMALL, 20},
        {RINGWAY_ERR_NOT_REGULAR_FILE, 21},
        {RINGWAY_ERR_WRONG_OWNER, 22},
        {RINGWAY_ERR_NO_SPACE, 23},
        {RINGWAY_ERR_IO, 24},
        {RINGWAY_ERR_STATE, 25},
        {RINGWAY_ERR_UNSUPPORTED, 26},
        {RINGWAY_ERR_PANIC, 27},
        {RINGWAY_ERR_OTHER, 28},
        {RINGWAY_ERR_BUSY, 29},
        {RINGWAY_ERR_SERVER_GONE, 30},
        {RINGWAY_ERR_CALL_FAILED, 31},
        {RINGWAY_ERR_PEER_GONE, 32},
        {RINGWAY_ERR_FORKED, 33},
    };
    size_t n = sizeof pinned / sizeof pinned[0];
    for (size_t i = 0; i < n; i++) {
        CHECK(pinned[i].code == pinned[i].value);
        const char *s = ringway_result_str(pinned[i].code);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(strcmp(s, "unknown result code") != 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(s, ringway_result_str(pinned[j].code)) != 0);
        }
    }
    CHECK(strcmp(ringway_result_str(RINGWAY_OK), "success") == 0);
    CHECK(strcmp(ringway_result_str(RINGWAY_ERR_FULL), "ring is full") == 0);
    CHECK(strcmp(ringway_result_str((uint32_t)n), "unknown result code") == 0);
    CHECK(strcmp(ringway_result_str(0xffffffffu), "unknown result code") == 0);
}

static void test_last_error_message(void) {
    char buf[256];
    char small[6];
    /* Nothing failed yet on this (fresh) thread. */
    memset(buf, 'x', sizeof buf);
    CHECK(ringway_last_error_message(buf, sizeof buf) == 0);
    CHECK(buf[0] == '\0');

    CHECK_RC(ringway_ring_open_shm(NULL, RINGWAY_KIND_ANY, NULL), RINGWAY_ERR_NULL);
    const char *want = "ringway_ring_open_shm: argument `name` is NULL";
    size_t full = strlen(want);
    CHECK(ringway_last_error_message(NULL, 0) == full);
    CHECK(ringway_last_error_message(buf, 0) == full);
    CHECK(buf[0] == '\0'); /* len 0: untouched */
    CHECK(ringway_last_error_message(buf, sizeof buf) == full);
    CHECK(strcmp(buf, want) == 0);
    memset(small, 'x', sizeof small);
    CHECK(ringway_last_error_message(small, sizeof small) == full);
    CHECK(memcmp(small, "ringw", 5) == 0 && small[5] == '\0');
    CHECK(ringway_last_error_message(small, 1) == full);
    CHECK(small[0] == '\0');
    /* A successful call leaves it alone. */
    CHECK(ringway_abi_version() == RINGWAY_ABI_VERSION);
    CHECK(ringway_last_error_message(buf, sizeof buf) == full);
}

static void test_anonymous_spsc(void) {
    ringway_params params = spsc_params(8, 8);
    ringway_ring *ring = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    ringway_info info;
    uint64_t v;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK(ring != NULL);
    CHECK_OK(ringway_ring_info(ring, &info));
    CHECK(info.kind == RINGWAY_KIND_SPSC);
    CHECK(info.capacity == 8);
    CHECK(info.slot_size == 8);
    CHECK(info.slot_align == 8);
    CHECK(info.len == 0);
    CHECK(info.flags == 0); /* contiguous slots */
    CHECK(info.map_len >= 8 * 8);

    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(ring, &rx));
    CHECK_RC(ringway_consumer_try_pop(rx, &v, sizeof v), RINGWAY_ERR_EMPTY);
    CHECK_LAST_ERROR_HAS("ring is empty");
    for (uint64_t i = 0; i < 8; i++) {
        CHECK_OK(ringway_producer_try_push(tx, &i, sizeof i));
    }
    v = 99;
    CHECK_RC(ringway_producer_try_push(tx, &v, sizeof v), RINGWAY_ERR_FULL);
    CHECK_LAST_ERROR_HAS("ringway_producer_try_push: ring is full");
    CHECK_OK(ringway_ring_info(ring, &info));
    CHECK(info.len == 8);
    for (uint64_t i = 0; i < 8; i++) {
        v = 1234;
        CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
        CHECK(v == i);
    }
    /* Wrong lengths. */
    uint32_t short_msg = 1;
    CHECK_RC(ringway_producer_try_push(tx, &short_msg, sizeof short_msg), RINGWAY_ERR_SIZE);
    CHECK_LAST_ERROR_HAS("message is 4 bytes; slots are 8 bytes");
    unsigned char big[16];
    CHECK_RC(ringway_consumer_try_pop(rx, big, sizeof big), RINGWAY_ERR_SIZE);
    CHECK_LAST_ERROR_HAS("buffer is 16 bytes; slots are 8 bytes");

    /* One producer and one consumer per SPSC ring. */
    ringway_producer *tx2 = (ringway_producer *)&params; /* sentinel: must stay */
    CHECK_RC(ringway_producer_create(ring, &tx2), RINGWAY_ERR_ROLE_TAKEN);
    CHECK(tx2 == (ringway_producer *)&params);
    CHECK_LAST_ERROR_HAS("producer role is already held");
    ringway_consumer *rx2 = NULL;
    CHECK_RC(ringway_consumer_create(ring, &rx2), RINGWAY_ERR_ROLE_TAKEN);
    CHECK(rx2 == NULL);

    /* The ring may be freed before its handles; they keep it mapped. */
    ringway_ring_free(ring);
    v = 7;
    CHECK_OK(ringway_producer_try_push(tx, &v, sizeof v));
    v = 0;
    CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
    CHECK(v == 7);
    ringway_producer_free(tx);
    ringway_consumer_free(rx);
}

static void write_u64s(const ringway_chunk *c, uint64_t first) {
    size_t a = c->first_len / 8;
    for (size_t i = 0; i < c->slots; i++) {
        uint64_t v = first + i;
        unsigned char *dst = i < a ? c->first + 8 * i : c->second + 8 * (i - a);
        memcpy(dst, &v, 8);
    }
}

static uint64_t read_u64(const ringway_chunk *c, size_t i) {
    size_t a = c->first_len / 8;
    uint64_t v;
    memcpy(&v, i < a ? c->first + 8 * i : c->second + 8 * (i - a), 8);
    return v;
}

static void test_chunks(void) {
    ringway_params params = spsc_params(8, 8);
    ringway_ring *ring = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    ringway_chunk c, sentinel;
    uint64_t v;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(ring, &rx));

    /* Out of order. */
    CHECK_RC(ringway_producer_commit(tx, 0), RINGWAY_ERR_STATE);
    CHECK_LAST_ERROR_HAS("no chunk is reserved");
    uint8_t *no_slot = NULL;
    const uint8_t *no_msg = NULL;
    CHECK_RC(ringway_producer_slot(tx, 0, &no_slot), RINGWAY_ERR_STATE);
    CHECK_RC(ringway_consumer_slot(rx, 0, &no_msg), RINGWAY_ERR_STATE);
    CHECK(no_slot == NULL && no_msg == NULL);
    CHECK_RC(ringway_consumer_release(rx, 0), RINGWAY_ERR_STATE);
    CHECK_RC(ringway_producer_reserve(tx, 0, &c), RINGWAY_ERR_INVALID_ARGUMENT);
    memset(&sentinel, 0xab, sizeof sentinel);
    c = sentinel;
    CHECK_RC(ringway_consumer_read(rx, 4, &c), RINGWAY_ERR_EMPTY);
    CHECK(memcmp(&c, &sentinel, sizeof c) == 0); /* not written on failure */

    /* A chunk that does not wrap: second span NULL. */
    CHECK_OK(ringway_producer_reserve(tx, 5, &c));
    CHECK(c.slots == 5 && c.first_len == 40 && c.second == NULL && c.second_len == 0);
    write_u64s(&c, 100);
    /* While reserved, other calls are refused and the chunk survives. */
    CHECK_RC(ringway_producer_try_push(tx, &v, sizeof v), RINGWAY_ERR_STATE);
    CHECK_LAST_ERROR_HAS("a chunk of 5 slots is outstanding");
    CHECK_RC(ringway_producer_reserve(tx, 1, &c), RINGWAY_ERR_STATE);
    CHECK_RC(ringway_producer_commit(tx, 6), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("cannot commit 6 slots of a chunk of 5");
    CHECK_OK(ringway_producer_commit(tx, 5));
    for (uint64_t i = 0; i < 5; i++) {
        CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
        CHECK(v == 100 + i);
    }

    /* At position 5 of 8: a chunk of 6 wraps, 3 + 3 slots. */
    CHECK_OK(ringway_producer_reserve(tx, 6, &c));
    CHECK(c.slots == 6 && c.first_len == 24 && c.second != NULL && c.second_len == 24);
    write_u64s(&c, 200);
    /* The per-slot accessor agrees with the spans. */
    uint8_t *slot = NULL;
    CHECK_OK(ringway_producer_slot(tx, 2, &slot));
    CHECK(slot == c.first + 16);
    CHECK_OK(ringway_producer_slot(tx, 3, &slot));
    CHECK(slot == c.second);
    CHECK_OK(ringway_producer_slot(tx, 5, &slot));
    CHECK(slot == c.second + 16);
    CHECK_RC(ringway_producer_slot(tx, 6, &slot), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("slot 6 of a chunk of 6");
    CHECK_OK(ringway_producer_commit(tx, 4)); /* partial: 3 before the wrap, 1 after */
    CHECK_OK(ringway_consumer_read(rx, 8, &c));
    CHECK(c.slots == 4 && c.first_len == 24 && c.second_len == 8);
    for (size_t i = 0; i < 4; i++) {
        const uint8_t *msg = NULL;
        CHECK(read_u64(&c, i) == 200 + i);
        CHECK_OK(ringway_consumer_slot(rx, i, &msg));
        memcpy(&v, msg, 8);
        CHECK(v == 200 + i);
    }
    CHECK_RC(ringway_consumer_try_pop(rx, &v, sizeof v), RINGWAY_ERR_STATE);
    CHECK_RC(ringway_consumer_read(rx, 1, &c), RINGWAY_ERR_STATE);
    CHECK_RC(ringway_consumer_release(rx, 5), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_OK(ringway_consumer_release(rx, 1)); /* the rest stay in the ring */
    CHECK_OK(ringway_consumer_read(rx, 8, &c));
    CHECK(c.slots == 3 && read_u64(&c, 0) == 201);
    CHECK_OK(ringway_consumer_release(rx, 3));

    /* Full: reserve is FULL; a chunk abandoned by commit(0) publishes nothing. */
    CHECK_OK(ringway_producer_reserve(tx, 100, &c));
    CHECK(c.slots == 8);
    CHECK_OK(ringway_producer_commit(tx, 0));
    CHECK_RC(ringway_consumer_read(rx, 1, &c), RINGWAY_ERR_EMPTY);
    for (uint64_t i = 0; i < 8; i++) {
        CHECK_OK(ringway_producer_try_push(tx, &i, sizeof i));
    }
    CHECK_RC(ringway_producer_reserve(tx, 1, &c), RINGWAY_ERR_FULL);

    /* Freeing handles with a chunk outstanding is fine. */
    CHECK_OK(ringway_consumer_read(rx, 2, &c));
    CHECK_OK(ringway_consumer_release(rx, 2));
    CHECK_OK(ringway_producer_reserve(tx, 2, &c));
    CHECK_OK(ringway_consumer_read(rx, 2, &c));
    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define THREAD_MESSAGES 20000

/* Pushes THREAD_MESSAGES u64s with the blocking call, after a pause that
 * makes the consumer go to sleep. */
static void *blocking_producer(void *arg) {
    ringway_producer *tx = arg;
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    for (uint64_t i = 0; i < THREAD_MESSAGES; i++) {
        if (ringway_producer_push(tx, &i, sizeof i) != RINGWAY_OK) {
            return (void *)1;
        }
    }
    return NULL;
}

static void test_blocking(ringway_kind kind) {
    ringway_params params = spsc_params(4, 8);
    params.kind = kind;
    ringway_ring *ring = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    uint64_t v = 0;
    uint32_t wrong = 0;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(ring, &rx));

    /* Timeouts on an empty and on a full ring. */
    double t0 = now_s();
    CHECK_RC(ringway_consumer_pop_timeout(rx, &v, sizeof v, 20 * 1000 * 1000), RINGWAY_ERR_TIMEOUT);
    CHECK(now_s() - t0 >= 0.015);
    CHECK_LAST_ERROR_HAS("ringway_consumer_pop_timeout: timed out waiting for a message");
    for (uint64_t i = 0; i < 4; i++) {
        CHECK_OK(ringway_producer_push_timeout(tx, &i, sizeof i, 1000));
    }
    t0 = now_s();
    CHECK_RC(ringway_producer_push_timeout(tx, &v, sizeof v, 20 * 1000 * 1000), RINGWAY_ERR_TIMEOUT);
    CHECK(now_s() - t0 >= 0.015);
    CHECK_LAST_ERROR_HAS("timed out waiting for a free slot");
    CHECK_RC(ringway_producer_push_timeout(tx, &v, sizeof v, 0), RINGWAY_ERR_TIMEOUT);
    CHECK_RC(ringway_producer_push(tx, &wrong, sizeof wrong), RINGWAY_ERR_SIZE);
    CHECK_RC(ringway_producer_push_timeout(tx, &wrong, sizeof wrong, 0), RINGWAY_ERR_SIZE);
    CHECK_RC(ringway_consumer_pop(rx, &wrong, sizeof wrong), RINGWAY_ERR_SIZE);
    CHECK_RC(ringway_producer_push(NULL, &v, sizeof v), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_pop(rx, NULL, sizeof v), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_pop_timeout(NULL, &v, sizeof v, 0), RINGWAY_ERR_NULL);
    for (uint64_t i = 0; i < 4; i++) {
        CHECK_OK(ringway_consumer_pop(rx, &v, sizeof v));
        CHECK(v == i);
    }

    /* Blocked calls are refused while a chunk is outstanding. */
    ringway_chunk c;
    CHECK_OK(ringway_producer_reserve(tx, 1, &c));
    CHECK_RC(ringway_producer_push(tx, &v, sizeof v), RINGWAY_ERR_STATE);
    CHECK_OK(ringway_producer_commit(tx, 0));

    /* A consumer asleep in ringway_consumer_pop is woken by pushes from
     * another thread; order is kept. */
    pthread_t thread;
    void *thread_result = (void *)1;
    CHECK(pthread_create(&thread, NULL, blocking_producer, tx) == 0);
    for (uint64_t i = 0; i < THREAD_MESSAGES; i++) {
        CHECK_OK(ringway_consumer_pop(rx, &v, sizeof v));
        CHECK(v == i);
    }
    CHECK(pthread_join(thread, &thread_result) == 0);
    CHECK(thread_result == NULL);

    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
}

/* Is `fd` readable within `timeout_ms`? */
static int readable(int fd, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, timeout_ms);
    CHECK(rc >= 0);
    return rc == 1 && (p.revents & POLLIN);
}

/* Pushes THREAD_MESSAGES u64s through push_or_arm + poll(2), pausing now
 * and then so that the consumer has to wait. */
static void *readiness_producer(void *arg) {
    ringway_producer *tx = arg;
    int fd = -1;
    if (ringway_producer_readiness_fd(tx, &fd) != RINGWAY_OK) {
        return (void *)1;
    }
    for (uint64_t i = 0; i < THREAD_MESSAGES; i++) {
        ringway_result rc;
        while ((rc = ringway_producer_push_or_arm(tx, &i, sizeof i)) == RINGWAY_ERR_FULL) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 10000) != 1) {
                return (void *)2; /* no wake-up for 10 s */
            }
        }
        if (rc != RINGWAY_OK) {
            return (void *)3;
        }
        if (i % 1000 == 0) {
            struct timespec pause = {0, 200 * 1000};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

/* The readiness fds: an event loop's way to wait, from C. */
static void test_readiness(ringway_kind kind) {
    ringway_params params = spsc_params(4, 8);
    params.kind = kind;
    ringway_ring *ring = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    uint64_t v = 0;
    uint32_t wrong = 0;
    int rfd = -1, wfd = -1;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(ring, &rx));
    CHECK_RC(ringway_consumer_readiness_fd(NULL, &rfd), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_readiness_fd(rx, NULL), RINGWAY_ERR_NULL);
    CHECK_OK(ringway_consumer_readiness_fd(rx, &rfd));
    CHECK_OK(ringway_producer_readiness_fd(tx, &wfd));
    CHECK(rfd >= 0 && wfd >= 0 && rfd != wfd);

    /* Empty: armed, not readable; a push makes it readable; the next call pops. */
    CHECK_RC(ringway_consumer_pop_or_arm(rx, &v, sizeof v), RINGWAY_ERR_EMPTY);
    CHECK_LAST_ERROR_HAS("the readiness fd is armed");
    CHECK(!readable(rfd, 0));
    CHECK_RC(ringway_consumer_pop_or_arm(rx, &wrong, sizeof wrong), RINGWAY_ERR_SIZE);
    v = 41;
    CHECK_OK(ringway_producer_push_or_arm(tx, &v, sizeof v));
    CHECK(readable(rfd, 10000));
    v = 0;
    CHECK_OK(ringway_consumer_pop_or_arm(rx, &v, sizeof v));
    CHECK(v == 41);
    CHECK(!readable(rfd, 0));

    /* Full: the producer's fd, woken by a pop. */
    for (uint64_t i = 0; i < 4; i++) {
        CHECK_OK(ringway_producer_push_or_arm(tx, &i, sizeof i));
    }
    CHECK_RC(ringway_producer_push_or_arm(tx, &v, sizeof v), RINGWAY_ERR_FULL);
    CHECK(!readable(wfd, 0));
    CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
    CHECK(v == 0);
    CHECK(readable(wfd, 10000));
    v = 4;
    CHECK_OK(ringway_producer_push_or_arm(tx, &v, sizeof v));
    for (uint64_t i = 1; i < 5; i++) {
        CHECK_OK(ringway_consumer_pop_or_arm(rx, &v, sizeof v));
        CHECK(v == i);
    }
    CHECK_RC(ringway_consumer_pop_or_arm(rx, &v, sizeof v), RINGWAY_ERR_EMPTY);
    CHECK_OK(ringway_consumer_disarm(rx));
    CHECK_OK(ringway_consumer_disarm(rx)); /* idempotent */
    CHECK_RC(ringway_producer_disarm(NULL), RINGWAY_ERR_NULL);

    /* A stream through both fds, the producer pausing now and then. */
    pthread_t thread;
    void *thread_result = (void *)1;
    CHECK(pthread_create(&thread, NULL, readiness_producer, tx) == 0);
    for (uint64_t i = 0; i < THREAD_MESSAGES; i++) {
        ringway_result rc;
        while ((rc = ringway_consumer_pop_or_arm(rx, &v, sizeof v)) == RINGWAY_ERR_EMPTY) {
            CHECK(readable(rfd, 10000));
        }
        CHECK_OK(rc);
        CHECK(v == i);
    }
    CHECK(pthread_join(thread, &thread_result) == 0);
    CHECK(thread_result == NULL);

    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
}

#define RPC_CALLS 2000

/* Serves RPC_CALLS calls x -> x + 1, then fails one. */
static void *rpc_serve(void *arg) {
    ringway_rpc_server *server = arg;
    for (int i = 0; i <= RPC_CALLS; i++) {
        uint64_t x = 0;
        size_t len = 0;
        if (ringway_rpc_server_recv(server, 10ull * 1000 * 1000 * 1000, &x, sizeof x, &len) !=
                RINGWAY_OK ||
            len != sizeof x) {
            return (void *)1;
        }
        if (i == RPC_CALLS) {
            if (ringway_rpc_server_fail(server, "no such thing") != RINGWAY_OK) {
                return (void *)2;
            }
            continue;
        }
        uint64_t y = x + 1;
        int delivered = 0;
        if (ringway_rpc_server_respond(server, &y, sizeof y, &delivered) != RINGWAY_OK ||
            delivered != 1) {
            return (void *)3;
        }
    }
    return NULL;
}

static pid_t rpc_victim;

static void *rpc_kill_later(void *arg) {
    (void)arg;
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    kill(rpc_victim, SIGKILL);
    return NULL;
}

/* Request/response: calls answered, failed and timed out; the errors of
 * the API; and a server process killed under a blocked call. */
static void test_rpc(void) {
    const char *name = shm_name("rpc");
    ringway_rpc_server *server = NULL;
    ringway_rpc_client *client = NULL;
    uint64_t x = 0, y = 0;
    size_t len = 0;

    CHECK_RC(ringway_rpc_client_connect(name, &client), RINGWAY_ERR_NOT_FOUND);
    CHECK_OK(ringway_rpc_server_create(name, 64, &server));
    CHECK_RC(ringway_rpc_server_create(name, 64, &server), RINGWAY_ERR_EXISTS);
    CHECK_RC(ringway_rpc_server_respond(server, &y, sizeof y, NULL), RINGWAY_ERR_STATE);
    CHECK_OK(ringway_rpc_client_connect(name, &client));

    /* Nobody serves yet: the call times out (its request is then skipped). */
    CHECK_RC(ringway_rpc_client_call(client, &x, sizeof x, &y, sizeof y, 20 * 1000 * 1000, &len),
             RINGWAY_ERR_TIMEOUT);
    unsigned char big[217] = {0};
    CHECK_RC(ringway_rpc_client_call(client, big, sizeof big, &y, sizeof y, 0, &len), RINGWAY_ERR_SIZE);
    CHECK_RC(ringway_rpc_client_call(NULL, &x, sizeof x, &y, sizeof y, 0, &len), RINGWAY_ERR_NULL);

    pthread_t thread;
    void *thread_result = (void *)1;
    CHECK(pthread_create(&thread, NULL, rpc_serve, server) == 0);
    for (uint64_t i = 0; i < RPC_CALLS; i++) {
        x = i * 7;
        CHECK_OK(ringway_rpc_client_call(client, &x, sizeof x, &y, sizeof y, UINT64_MAX, &len));
        CHECK(len == sizeof y && y == x + 1);
    }
    CHECK_RC(ringway_rpc_client_call(client, &x, sizeof x, &y, sizeof y, UINT64_MAX, &len),
             RINGWAY_ERR_CALL_FAILED);
    CHECK_LAST_ERROR_HAS("no such thing");
    CHECK(pthread_join(thread, &thread_result) == 0);
    CHECK(thread_result == NULL);
    ringway_rpc_client_free(client);
    ringway_rpc_server_free(server);
    ringway_rpc_server_free(NULL);
    ringway_rpc_client_free(NULL);

    /* A server process that answers one call, then is killed while the
     * next one waits: that call returns SERVER_GONE. */
    const char *name2 = shm_name("rpc-kill");
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        ringway_rpc_server *s = NULL;
        if (ringway_rpc_server_create(name2, 64, &s) != RINGWAY_OK) {
            _exit(1);
        }
        uint64_t v = 0;
        size_t n = 0;
        if (ringway_rpc_server_recv(s, UINT64_MAX, &v, sizeof v, &n) != RINGWAY_OK ||
            ringway_rpc_server_respond(s, &v, sizeof v, NULL) != RINGWAY_OK) {
            _exit(2);
        }
        for (;;) {
            pause();
        }
    }
    client = NULL;
    for (int tries = 0; ringway_rpc_client_connect(name2, &client) != RINGWAY_OK; tries++) {
        CHECK(tries < 10000);
        struct timespec pause_ = {0, 1000 * 1000};
        nanosleep(&pause_, NULL);
    }
    x = 5;
    CHECK_OK(ringway_rpc_client_call(client, &x, sizeof x, &y, sizeof y, UINT64_MAX, &len));
    CHECK(y == 5);
    rpc_victim = child;
    CHECK(pthread_create(&thread, NULL, rpc_kill_later, NULL) == 0);
    double t0 = now_s();
    CHECK_RC(ringway_rpc_client_call(client, &x, sizeof x, &y, sizeof y, UINT64_MAX, &len),
             RINGWAY_ERR_SERVER_GONE);
    CHECK(now_s() - t0 < 10.0); /* generous: the kill comes after 100 ms */
    CHECK(pthread_join(thread, NULL) == 0);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    ringway_rpc_client_free(client);
    ringway_ring_remove_shm(name2); /* the killed server could not */
}

/* RINGWAY_CREATE_STAMPED: an SPSC ring whose slots each carry a readiness
 * stamp. Messages go through across wraps; chunks are scattered (no spans)
 * and reached slot by slot; a partial release keeps the rest ready. */
static void test_stamped(void) {
    ringway_params params = spsc_params(4, 8);
    ringway_ring *ring = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    ringway_chunk c;
    uint64_t v;

    params.flags = RINGWAY_CREATE_STAMPED;
    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(ring, &rx));
    for (uint64_t i = 0; i < 10; i++) {
        CHECK_OK(ringway_producer_try_push(tx, &i, sizeof i));
        v = 99;
        CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
        CHECK(v == i);
    }
    CHECK_RC(ringway_consumer_try_pop(rx, &v, sizeof v), RINGWAY_ERR_EMPTY);
    CHECK_OK(ringway_producer_reserve(tx, 4, &c));
    CHECK(c.slots == 4 && c.first == NULL && c.first_len == 0 && c.second == NULL);
    for (size_t i = 0; i < c.slots; i++) {
        uint8_t *slot = NULL;
        CHECK_OK(ringway_producer_slot(tx, i, &slot));
        v = 200 + i;
        memcpy(slot, &v, sizeof v);
    }
    CHECK_OK(ringway_producer_commit(tx, 3));
    CHECK_OK(ringway_consumer_read(rx, 8, &c));
    CHECK(c.slots == 3 && c.first == NULL);
    for (size_t i = 0; i < c.slots; i++) {
        const uint8_t *slot = NULL;
        CHECK_OK(ringway_consumer_slot(rx, i, &slot));
        memcpy(&v, slot, sizeof v);
        CHECK(v == 200 + i);
    }
    CHECK_OK(ringway_consumer_release(rx, 1));
    CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
    CHECK(v == 201);
    CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
    CHECK(v == 202);
    CHECK_RC(ringway_consumer_try_pop(rx, &v, sizeof v), RINGWAY_ERR_EMPTY);
    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);

    /* MPMC slots always carry a stamp: the flag is refused there. */
    params.kind = RINGWAY_KIND_MPMC;
    ring = NULL;
    CHECK_RC(ringway_ring_create_anonymous(&params, &ring), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("do not apply to this kind");
    CHECK(ring == NULL);
}

/* The layout flags a ring was created with, seen in ringway_info.flags as
 * RINGWAY_CREATE_* bits (C ABI 2), for every kind, and from a second
 * mapping that did not create it (they come from the ring's header). */
static void test_info_flags(void) {
    static const struct {
        ringway_kind kind;
        uint64_t capacity;
        uint32_t slot_size;
        uint32_t flags;
    } cases[] = {
        {RINGWAY_KIND_SPSC, 8, 8, 0},
        {RINGWAY_KIND_SPSC, 8, 8, RINGWAY_CREATE_STAMPED},
        {RINGWAY_KIND_MPMC, 8, 8, 0},
        {RINGWAY_KIND_RECORD, 4096, 0, 0},
        {RINGWAY_KIND_RECORD, 4096, 0, RINGWAY_CREATE_CHECKSUMS},
        {RINGWAY_KIND_BROADCAST, 4096, 0, 0},
        {RINGWAY_KIND_BROADCAST, 4096, 0, RINGWAY_CREATE_GATED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ringway_params params = spsc_params(cases[i].capacity, cases[i].slot_size);
        ringway_ring *ring = NULL;
        ringway_info info;
        params.kind = cases[i].kind;
        /* unlink-on-drop is a creation flag, not a layout flag: never reported */
        params.flags = cases[i].flags | RINGWAY_CREATE_UNLINK_ON_DROP;
        CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
        memset(&info, 0xff, sizeof info);
        CHECK_OK(ringway_ring_info(ring, &info));
        CHECK(info.kind == cases[i].kind);
        CHECK(info.flags == cases[i].flags);
        ringway_ring_free(ring);
    }

    const char *name = shm_name("info-flags");
    ringway_params params = spsc_params(16, 8);
    ringway_ring *ring = NULL, *other = NULL;
    ringway_info info;
    params.flags = RINGWAY_CREATE_STAMPED;
    CHECK_OK(ringway_ring_create_shm(name, &params, &ring));
    CHECK_OK(ringway_ring_open_shm(name, RINGWAY_KIND_ANY, &other));
    CHECK_OK(ringway_ring_info(other, &info));
    CHECK(info.kind == RINGWAY_KIND_SPSC && info.flags == RINGWAY_CREATE_STAMPED);
    ringway_ring_free(other);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_shm(name));
}

/* A handle copied into a forked child refuses every call that would touch
 * the ring with RINGWAY_ERR_FORKED; the parent's handles and ring are
 * untouched, and a handle the child creates on the inherited ring works.
 * The child reports with its exit code. */
static void test_forked_handle(void) {
    ringway_params params = {0};
    params.kind = RINGWAY_KIND_MPMC;
    params.capacity = 8;
    params.slot_size = 8;
    ringway_ring *ring = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    uint64_t v = 1;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(ring, &rx));
    CHECK_OK(ringway_producer_try_push(tx, &v, sizeof v));
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        uint64_t w = 99;
        char msg[256];
        ringway_chunk c;
        if (ringway_producer_try_push(tx, &w, sizeof w) != RINGWAY_ERR_FORKED) {
            _exit(1);
        }
        if (ringway_last_error_message(msg, sizeof msg) == 0 || strstr(msg, "fork()") == NULL) {
            _exit(2);
        }
        if (ringway_consumer_try_pop(rx, &w, sizeof w) != RINGWAY_ERR_FORKED ||
            ringway_producer_reserve(tx, 1, &c) != RINGWAY_ERR_FORKED) {
            _exit(3);
        }
        ringway_producer_free(tx);
        ringway_consumer_free(rx);
        ringway_producer *own = NULL;
        w = 2;
        if (ringway_producer_create(ring, &own) != RINGWAY_OK ||
            ringway_producer_try_push(own, &w, sizeof w) != RINGWAY_OK) {
            _exit(4);
        }
        ringway_producer_free(own);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    v = 3;
    CHECK_OK(ringway_producer_try_push(tx, &v, sizeof v));
    for (uint64_t want = 1; want <= 3; want++) {
        uint64_t got = 0;
        CHECK_OK(ringway_consumer_try_pop(rx, &got, sizeof got));
        CHECK(got == want);
    }
    CHECK_RC(ringway_consumer_try_pop(rx, &v, sizeof v), RINGWAY_ERR_EMPTY);
    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
}

static void test_mpmc(void) {
    ringway_params params = {0};
    params.kind = RINGWAY_KIND_MPMC;
    params.capacity = 8;
    params.slot_size = 16;
    ringway_ring *ring = NULL;
    ringway_producer *tx[2] = {NULL, NULL};
    ringway_consumer *rx[2] = {NULL, NULL};
    ringway_info info;
    ringway_chunk c;
    uint64_t msg[2];

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_ring_info(ring, &info));
    CHECK(info.kind == RINGWAY_KIND_MPMC && info.capacity == 8 && info.slot_size == 16);
    for (int i = 0; i < 2; i++) {
        CHECK_OK(ringway_producer_create(ring, &tx[i]));
        CHECK_OK(ringway_consumer_create(ring, &rx[i]));
    }
    /* Every handle lives: nothing to reap, nothing lost. */
    uint32_t reaped = 99;
    uint64_t lost = 99;
    CHECK_OK(ringway_ring_reap_dead(ring, &reaped));
    CHECK(reaped == 0);
    CHECK_OK(ringway_ring_lost(ring, &lost));
    CHECK(lost == 0);
    CHECK_RC(ringway_ring_reap_dead(ring, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_lost(NULL, &lost), RINGWAY_ERR_NULL);

    /* Two producers, two consumers: each producer's messages in order. */
    for (uint64_t i = 0; i < 4; i++) {
        for (uint64_t p = 0; p < 2; p++) {
            msg[0] = p;
            msg[1] = i;
            CHECK_OK(ringway_producer_try_push(tx[p], msg, sizeof msg));
        }
    }
    CHECK_RC(ringway_producer_try_push(tx[0], msg, sizeof msg), RINGWAY_ERR_FULL);
    CHECK_OK(ringway_ring_info(ring, &info));
    CHECK(info.len == 8);
    uint64_t next[2] = {0, 0};
    for (int n = 0; n < 8; n++) {
        CHECK_OK(ringway_consumer_try_pop(rx[n % 2], msg, sizeof msg));
        CHECK(msg[0] < 2 && msg[1] == next[msg[0]]);
        next[msg[0]]++;
    }
    CHECK_RC(ringway_consumer_try_pop(rx[0], msg, sizeof msg), RINGWAY_ERR_EMPTY);
    CHECK_RC(ringway_consumer_try_pop(rx[1], msg, sizeof msg), RINGWAY_ERR_EMPTY);

    /* Zero-copy: the slots are not contiguous, so the chunk has no spans and
     * each slot is reached by index. A partial commit skips the rest. */
    CHECK_OK(ringway_producer_reserve(tx[0], 5, &c));
    CHECK(c.slots == 5 && c.first == NULL && c.first_len == 0 && c.second == NULL);
    for (size_t i = 0; i < c.slots; i++) {
        uint8_t *slot = NULL;
        CHECK_OK(ringway_producer_slot(tx[0], i, &slot));
        msg[0] = 7;
        msg[1] = 100 + i;
        memcpy(slot, msg, sizeof msg);
    }
    CHECK_RC(ringway_producer_slot(tx[0], 5, &(uint8_t *){NULL}), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_RC(ringway_producer_try_push(tx[0], msg, sizeof msg), RINGWAY_ERR_STATE);
    CHECK_OK(ringway_producer_commit(tx[0], 3));
    CHECK_OK(ringway_consumer_read(rx[1], 8, &c));
    CHECK(c.slots == 3 && c.first == NULL);
    for (size_t i = 0; i < c.slots; i++) {
        const uint8_t *slot = NULL;
        CHECK_OK(ringway_consumer_slot(rx[1], i, &slot));
        memcpy(msg, slot, sizeof msg);
        CHECK(msg[0] == 7 && msg[1] == 100 + i);
    }
    CHECK_RC(ringway_consumer_release(rx[1], 2), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("an MPMC chunk is released whole");
    CHECK_OK(ringway_consumer_release(rx[1], 3));
    CHECK_RC(ringway_consumer_read(rx[0], 8, &c), RINGWAY_ERR_EMPTY); /* skipped slots: none */

    /* The peer table has a bound (62 handles of any role). */
    ringway_producer *more[64];
    int made = 0;
    ringway_result rc = RINGWAY_OK;
    while (made < 64 && (rc = ringway_producer_create(ring, &more[made])) == RINGWAY_OK) {
        made++;
    }
    CHECK_RC(rc, RINGWAY_ERR_TOO_MANY_PRODUCERS);
    CHECK(made >= 1 && made < 64);
    CHECK_LAST_ERROR_HAS("peer table is full");
    for (int i = 0; i < made; i++) {
        ringway_producer_free(more[i]);
    }

    for (int i = 0; i < 2; i++) {
        ringway_producer_free(tx[i]);
        ringway_consumer_free(rx[i]);
    }
    ringway_ring_free(ring);

    /* Kind checks on open. */
    const char *name = shm_name("mpmc");
    CHECK_OK(ringway_ring_create_shm(name, &params, &ring));
    ringway_ring *other = NULL;
    CHECK_RC(ringway_ring_open_shm(name, RINGWAY_KIND_SPSC, &other), RINGWAY_ERR_WRONG_KIND);
    CHECK_LAST_ERROR_HAS("ring is mpmc, not spsc");
    CHECK_OK(ringway_ring_open_shm(name, RINGWAY_KIND_MPMC, &other));
    ringway_ring_free(other);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_shm(name));
}

static void test_shm(void) {
    const char *name = shm_name("shm");
    ringway_params params = spsc_params(16, 8);
    ringway_ring *ring = NULL, *other = NULL, *again = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    ringway_info info;
    uint64_t v;

    CHECK_OK(ringway_ring_create_shm(name, &params, &ring));
    CHECK_RC(ringway_ring_create_shm(name, &params, &again), RINGWAY_ERR_EXISTS);
    CHECK(again == NULL);
    CHECK_LAST_ERROR_HAS("already exists");
    CHECK_OK(ringway_ring_open_shm(name, RINGWAY_KIND_ANY, &other));
    CHECK_OK(ringway_ring_info(other, &info));
    CHECK(info.kind == RINGWAY_KIND_SPSC && info.capacity == 16 && info.slot_size == 8);
    ringway_ring_free(other);
    other = NULL;
    CHECK_OK(ringway_ring_open_shm(name, RINGWAY_KIND_SPSC, &other));

    /* Two mappings of one ring: producer on one, consumer on the other. */
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(other, &rx));
    for (uint64_t i = 0; i < 100; i++) {
        CHECK_OK(ringway_producer_try_push(tx, &i, sizeof i));
        CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
        CHECK(v == i);
    }

    /* Wrong kind. */
    CHECK_RC(ringway_ring_open_shm(name, RINGWAY_KIND_MPMC, &again), RINGWAY_ERR_WRONG_KIND);
    CHECK_LAST_ERROR_HAS("ring is spsc, not mpmc");
    CHECK(again == NULL);

    CHECK_OK(ringway_ring_remove_shm(name));
    CHECK_RC(ringway_ring_open_shm(name, RINGWAY_KIND_ANY, &again), RINGWAY_ERR_NOT_FOUND);
    CHECK_LAST_ERROR_HAS("no ring named");
    CHECK_RC(ringway_ring_remove_shm(name), RINGWAY_ERR_NOT_FOUND);
    /* Removed, but still mapped: still works. */
    v = 5;
    CHECK_OK(ringway_producer_try_push(tx, &v, sizeof v));
    CHECK_OK(ringway_consumer_try_pop(rx, &v, sizeof v));
    CHECK(v == 5);
    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
    ringway_ring_free(other);

    /* RINGWAY_CREATE_UNLINK_ON_DROP: freeing the last handle removes the name. */
    const char *name2 = shm_name("unlink");
    params.flags = RINGWAY_CREATE_UNLINK_ON_DROP;
    CHECK_OK(ringway_ring_create_shm(name2, &params, &ring));
    CHECK_OK(ringway_producer_create(ring, &tx));
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_open_shm(name2, RINGWAY_KIND_ANY, &other)); /* tx keeps it */
    ringway_ring_free(other);
    ringway_producer_free(tx);
    CHECK_RC(ringway_ring_open_shm(name2, RINGWAY_KIND_ANY, &other), RINGWAY_ERR_NOT_FOUND);
}

static void test_file(void) {
    const char *tag = getenv("RINGWAY_TEST_TAG");
    ringway_params params = spsc_params(4, 16);
    ringway_ring *ring = NULL, *other = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    unsigned char msg[16] = "file-backed ring", got[16];

    snprintf(file_path, sizeof file_path, "/tmp/ringway-ctest-%s-%ld.ring", tag ? tag : "x",
             (long)getpid());
    CHECK_OK(ringway_ring_create_file(file_path, &params, &ring));
    CHECK_RC(ringway_ring_create_file(file_path, &params, &other), RINGWAY_ERR_EXISTS);
    CHECK_OK(ringway_ring_open_file(file_path, RINGWAY_KIND_SPSC, &other));
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(other, &rx));
    CHECK_OK(ringway_producer_try_push(tx, msg, sizeof msg));
    CHECK_OK(ringway_consumer_try_pop(rx, got, sizeof got));
    CHECK(memcmp(msg, got, sizeof msg) == 0);
    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);
    ringway_ring_free(other);
    other = NULL;
    CHECK_OK(ringway_ring_remove_file(file_path));
    CHECK_RC(ringway_ring_open_file(file_path, RINGWAY_KIND_ANY, &other), RINGWAY_ERR_NOT_FOUND);
    CHECK_RC(ringway_ring_remove_file(file_path), RINGWAY_ERR_NOT_FOUND);

    /* A short foreign file: not a ring (bad magic), whatever its length. */
    FILE *f = fopen(file_path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite("not a ring", 1, 10, f) == 10);
    CHECK(fclose(f) == 0);
    CHECK_RC(ringway_ring_open_file(file_path, RINGWAY_KIND_ANY, &other), RINGWAY_ERR_BAD_MAGIC);
    CHECK_LAST_ERROR_HAS("not a ringway ring");
    CHECK(other == NULL);
    /* The first bytes of the magic and nothing more: too small. */
    f = fopen(file_path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite("RING", 1, 4, f) == 4);
    CHECK(fclose(f) == 0);
    CHECK_RC(ringway_ring_open_file(file_path, RINGWAY_KIND_ANY, &other), RINGWAY_ERR_TOO_SMALL);
    CHECK_LAST_ERROR_HAS("region is 4 bytes");
    CHECK(other == NULL);
    CHECK(unlink(file_path) == 0);
    file_path[0] = '\0';
}

/* Maps the shm object `name` a second time, as a peer would, to scribble on
 * its header. */
static unsigned char *map_raw(const char *name, size_t *len) {
    char path[160];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", name);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(fstat(fd, &st) == 0);
    *len = (size_t)st.st_size;
    void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    close(fd);
    return p;
}

static void test_corrupt_header(void) {
    const char *name = shm_name("corrupt");
    ringway_params params = spsc_params(8, 8);
    ringway_ring *ring = NULL, *other = NULL;
    size_t len;

    CHECK_OK(ringway_ring_create_shm(name, &params, &ring));
    unsigned char *raw = map_raw(name, &len);
    CHECK(memcmp(raw, "RINGWAY\0", 8) == 0); /* the magic, at offset 0 */

    raw[0] = 'X';
    CHECK_RC(ringway_ring_open_shm(name, RINGWAY_KIND_ANY, &other), RINGWAY_ERR_BAD_MAGIC);
    CHECK_LAST_ERROR_HAS("ringway_ring_open_shm: not a ringway ring");
    CHECK(other == NULL);
    raw[0] = 'R';

    uint32_t abi, bad_abi = 999;
    memcpy(&abi, raw + 8, 4); /* abi_version follows the magic */
    CHECK(abi == RINGWAY_LAYOUT_VERSION);
    memcpy(raw + 8, &bad_abi, 4);
    CHECK_RC(ringway_ring_open_shm(name, RINGWAY_KIND_ANY, &other), RINGWAY_ERR_ABI_MISMATCH);
    CHECK_LAST_ERROR_HAS("created with ABI 999");
    memcpy(raw + 8, &abi, 4);

    /* Restored: opens again. */
    CHECK_OK(ringway_ring_open_shm(name, RINGWAY_KIND_ANY, &other));
    ringway_ring_free(other);
    CHECK(munmap(raw, len) == 0);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_shm(name));
}

/* A foreign object (text, zeros) in /dev/shm is not a ring: BAD_MAGIC at
 * once, never NOT_READY. */
static void test_foreign_object(void) {
    static const char text[] = "remember the milk\n";
    static unsigned char zeros[8192];
    const char *name = shm_name("foreign");
    char path[300];
    ringway_ring *other = NULL;
    snprintf(path, sizeof path, "/dev/shm%s", name);
    for (int round = 0; round < 2; round++) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0);
        const void *bytes = round == 0 ? (const void *)text : (const void *)zeros;
        size_t n = round == 0 ? sizeof text - 1 : sizeof zeros;
        CHECK(write(fd, bytes, n) == (ssize_t)n);
        close(fd);
        CHECK_RC(ringway_ring_open_shm(name, RINGWAY_KIND_ANY, &other), RINGWAY_ERR_BAD_MAGIC);
        CHECK_LAST_ERROR_HAS("not a ringway ring");
        CHECK(other == NULL);
        CHECK(unlink(path) == 0);
    }
}

static void test_bad_arguments(void) {
    ringway_params params = spsc_params(8, 8);
    ringway_ring *ring = NULL;
    ringway_ring *sentinel = (ringway_ring *)&params;
    ringway_ring *out = sentinel;
    ringway_info info;
    ringway_chunk chunk;
    uint64_t v = 0;
    char long_name[300];

    /* NULL arguments: RINGWAY_ERR_NULL naming the argument, output untouched. */
    CHECK_RC(ringway_ring_create_shm(NULL, &params, &out), RINGWAY_ERR_NULL);
    CHECK_LAST_ERROR_HAS("argument `name` is NULL");
    CHECK_RC(ringway_ring_create_shm("/x", NULL, &out), RINGWAY_ERR_NULL);
    CHECK_LAST_ERROR_HAS("argument `params` is NULL");
    CHECK_RC(ringway_ring_create_shm("/x", &params, NULL), RINGWAY_ERR_NULL);
    CHECK_LAST_ERROR_HAS("argument `out` is NULL");
    CHECK_RC(ringway_ring_create_file(NULL, &params, &out), RINGWAY_ERR_NULL);
    CHECK_LAST_ERROR_HAS("argument `path` is NULL");
    CHECK_RC(ringway_ring_create_anonymous(NULL, &out), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_create_anonymous(&params, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_open_shm(NULL, RINGWAY_KIND_ANY, &out), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_open_shm("/x", RINGWAY_KIND_ANY, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_open_file(NULL, RINGWAY_KIND_ANY, &out), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_remove_shm(NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_remove_file(NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_info(NULL, &info), RINGWAY_ERR_NULL);
    CHECK_LAST_ERROR_HAS("ringway_ring_info: argument `ring` is NULL");
    CHECK(out == sentinel);

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_RC(ringway_ring_info(ring, NULL), RINGWAY_ERR_NULL);
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    CHECK_RC(ringway_producer_create(NULL, &tx), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_producer_create(ring, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_create(NULL, &rx), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_create(ring, NULL), RINGWAY_ERR_NULL);
    CHECK(tx == NULL && rx == NULL);
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(ring, &rx));
    CHECK_RC(ringway_producer_try_push(NULL, &v, sizeof v), RINGWAY_ERR_NULL);
    CHECK_LAST_ERROR_HAS("argument `producer` is NULL");
    CHECK_RC(ringway_producer_try_push(tx, NULL, sizeof v), RINGWAY_ERR_NULL);
    CHECK_LAST_ERROR_HAS("argument `message` is NULL");
    CHECK_RC(ringway_consumer_try_pop(NULL, &v, sizeof v), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_try_pop(rx, NULL, sizeof v), RINGWAY_ERR_NULL);
    CHECK_LAST_ERROR_HAS("argument `buf` is NULL");
    CHECK_RC(ringway_producer_reserve(NULL, 1, &chunk), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_producer_reserve(tx, 1, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_producer_commit(NULL, 0), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_read(NULL, 1, &chunk), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_read(rx, 1, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_consumer_release(NULL, 0), RINGWAY_ERR_NULL);
    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);

    /* _free(NULL) is a no-op. */
    ringway_ring_free(NULL);
    ringway_producer_free(NULL);
    ringway_consumer_free(NULL);

    /* Bad names. */
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[0] = '/';
    long_name[sizeof long_name - 1] = '\0';
    const char *bad_names[] = {"no-slash", "/a/b", "", "/", "/..", "/\xff\xfe", long_name};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        CHECK_RC(ringway_ring_create_shm(bad_names[i], &params, &out), RINGWAY_ERR_INVALID_NAME);
        CHECK_RC(ringway_ring_open_shm(bad_names[i], RINGWAY_KIND_ANY, &out),
                 RINGWAY_ERR_INVALID_NAME);
        CHECK_RC(ringway_ring_remove_shm(bad_names[i]), RINGWAY_ERR_INVALID_NAME);
    }
    CHECK_RC(ringway_ring_open_shm("no-slash", RINGWAY_KIND_ANY, &out), RINGWAY_ERR_INVALID_NAME);
    CHECK_LAST_ERROR_HAS("starts with '/'");
    CHECK(out == sentinel);

    /* Bad parameters. */
    ringway_params bad = params;
    bad.capacity = 3;
    CHECK_RC(ringway_ring_create_anonymous(&bad, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("cannot lay out the ring");
    bad = params;
    bad.slot_size = 0;
    CHECK_RC(ringway_ring_create_anonymous(&bad, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    bad = params;
    bad.slot_align = 3;
    CHECK_RC(ringway_ring_create_anonymous(&bad, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    bad = params;
    bad.kind = 7;
    CHECK_RC(ringway_ring_create_anonymous(&bad, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("kind 7 is none of");
    bad = params;
    bad.flags = 0x80;
    CHECK_RC(ringway_ring_create_anonymous(&bad, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    bad = params;
    bad.reserved = 1;
    CHECK_RC(ringway_ring_create_anonymous(&bad, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_RC(ringway_ring_open_shm("/whatever", 9, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK(out == sentinel);

    /* Odd slot sizes get a fitting default alignment. */
    bad = params;
    bad.slot_size = 12;
    CHECK_OK(ringway_ring_create_anonymous(&bad, &ring));
    CHECK_OK(ringway_ring_info(ring, &info));
    CHECK(info.slot_size == 12 && info.slot_align == 4);
    ringway_ring_free(ring);
}

int main(void) {
    /* First: the fresh thread has no last error yet. */
    test_last_error_message();
    test_versions();
    test_results();
    test_anonymous_spsc();
    test_chunks();
    test_stamped();
    test_info_flags();
    test_blocking(RINGWAY_KIND_SPSC);
    test_blocking(RINGWAY_KIND_MPMC);
    test_mpmc();
    test_forked_handle();
    test_readiness(RINGWAY_KIND_SPSC);
    test_readiness(RINGWAY_KIND_MPMC);
    test_rpc();
    test_shm();
    test_file();
    test_corrupt_header();
    test_foreign_object();
    test_bad_arguments();
    check_cleanup();
    printf("test_api: ok (ringway %s, C ABI %u)\n", ringway_version(), ringway_abi_version());
    return 0;
}
