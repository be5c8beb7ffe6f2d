/* The barrier mode from C: RINGWAY_CREATE_SYMMETRIC_BARRIER and
 * RINGWAY_CREATE_ASYMMETRIC_BARRIER choose it at creation (shm, file and
 * anonymous rings), ringway_ring_barrier reads it back from any mapping,
 * both flags at once are refused with RINGWAY_ERR_INVALID_ARGUMENT and a
 * message, an asymmetric ring is refused (RINGWAY_ERR_UNSUPPORTED) to a
 * process that cannot register for membarrier, and a symmetric ring is
 * open to it: a forked child made unable by RINGWAY_BARRIER=symmetric
 * sends messages through the symmetric ring to its parent, parked in a
 * blocking pop.
 *
 * Rings are named /ringway-ctest-TAG-PID-SUFFIX (TAG from $RINGWAY_TEST_TAG)
 * and removed before exit, also on failure. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ringway.h"

_Static_assert(sizeof(ringway_barrier) == 4, "ringway_barrier is 32 bits");
_Static_assert((RINGWAY_CREATE_SYMMETRIC_BARRIER & RINGWAY_CREATE_ASYMMETRIC_BARRIER) == 0,
               "distinct barrier flags");
_Static_assert(((RINGWAY_CREATE_SYMMETRIC_BARRIER | RINGWAY_CREATE_ASYMMETRIC_BARRIER) &
                (RINGWAY_CREATE_UNLINK_ON_DROP | RINGWAY_CREATE_GATED |
                 RINGWAY_CREATE_CHECKSUMS | RINGWAY_CREATE_STAMPED)) == 0,
               "barrier flags distinct from the other creation flags");

#define MESSAGES 1000u
/* Generous: a loaded machine, ASan. */
#define TIMEOUT_NS 10000000000ull

#define MAX_NAMES 8
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

static ringway_params mpmc_params(uint32_t flags) {
    ringway_params p = {0};
    p.kind = RINGWAY_KIND_MPMC;
    p.capacity = 8;
    p.slot_size = 8;
    p.flags = flags;
    return p;
}

static ringway_barrier barrier_of(const ringway_ring *ring) {
    ringway_barrier b = 0;
    CHECK_OK(ringway_ring_barrier(ring, &b));
    CHECK(b == RINGWAY_BARRIER_SYMMETRIC || b == RINGWAY_BARRIER_ASYMMETRIC);
    return b;
}

/* Whether this process can honour asymmetric rings: the default mode is the
 * best it can, and asking for asymmetric succeeds exactly then. */
static int asymmetric_available(void) {
    ringway_params p = mpmc_params(0);
    ringway_ring *ring = NULL, *asym = NULL;
    CHECK_OK(ringway_ring_create_anonymous(&p, &ring));
    int available = barrier_of(ring) == RINGWAY_BARRIER_ASYMMETRIC;
    ringway_ring_free(ring);

    p.flags = RINGWAY_CREATE_ASYMMETRIC_BARRIER;
    if (available) {
        CHECK_OK(ringway_ring_create_anonymous(&p, &asym));
        CHECK(barrier_of(asym) == RINGWAY_BARRIER_ASYMMETRIC);
        ringway_ring_free(asym);
    } else {
        CHECK_RC(ringway_ring_create_anonymous(&p, &asym), RINGWAY_ERR_UNSUPPORTED);
        CHECK_LAST_ERROR_HAS("membarrier");
        CHECK(asym == NULL);
    }
    return available;
}

static void test_anonymous(void) {
    ringway_params p = mpmc_params(RINGWAY_CREATE_SYMMETRIC_BARRIER);
    ringway_ring *ring = NULL;
    ringway_producer *tx = NULL;
    ringway_consumer *rx = NULL;
    uint64_t v = 42, got = 0;

    CHECK_OK(ringway_ring_create_anonymous(&p, &ring));
    CHECK(barrier_of(ring) == RINGWAY_BARRIER_SYMMETRIC);
    CHECK_OK(ringway_producer_create(ring, &tx));
    CHECK_OK(ringway_consumer_create(ring, &rx));
    CHECK_OK(ringway_producer_try_push(tx, &v, sizeof v));
    CHECK_OK(ringway_consumer_pop_timeout(rx, &got, sizeof got, TIMEOUT_NS));
    CHECK(got == 42);
    ringway_producer_free(tx);
    ringway_consumer_free(rx);
    ringway_ring_free(ring);

    /* The flags apply to every kind: a record ring (a byte ring). */
    ringway_params r = {0};
    r.kind = RINGWAY_KIND_RECORD;
    r.capacity = 4096;
    r.flags = RINGWAY_CREATE_SYMMETRIC_BARRIER;
    CHECK_OK(ringway_ring_create_anonymous(&r, &ring));
    CHECK(barrier_of(ring) == RINGWAY_BARRIER_SYMMETRIC);
    ringway_ring_free(ring);
}

/* Both barrier flags: refused on every creation call, nothing created. */
static void test_invalid_mode(void) {
    ringway_params p = mpmc_params(RINGWAY_CREATE_SYMMETRIC_BARRIER |
                                   RINGWAY_CREATE_ASYMMETRIC_BARRIER);
    ringway_ring *sentinel = (ringway_ring *)&p, *out = sentinel;
    const char *name = shm_name("invalid");

    CHECK_RC(ringway_ring_create_anonymous(&p, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("invalid barrier mode");
    CHECK_RC(ringway_ring_create_shm(name, &p, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("invalid barrier mode");
    CHECK_RC(ringway_ring_open_shm(name, RINGWAY_KIND_ANY, &out), RINGWAY_ERR_NOT_FOUND);
    CHECK_RC(ringway_ring_create_file(file_path, &p, &out), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("invalid barrier mode");
    CHECK(access(file_path, F_OK) != 0);
    CHECK(out == sentinel);

    CHECK_RC(ringway_ring_barrier(NULL, (ringway_barrier *)&p), RINGWAY_ERR_NULL);
    p = mpmc_params(0);
    CHECK_OK(ringway_ring_create_anonymous(&p, &out));
    CHECK_RC(ringway_ring_barrier(out, NULL), RINGWAY_ERR_NULL);
    ringway_ring_free(out);
}

/* A file-backed ring keeps its mode across an open. */
static void test_file(int asymmetric) {
    ringway_params p = mpmc_params(asymmetric ? RINGWAY_CREATE_ASYMMETRIC_BARRIER
                                              : RINGWAY_CREATE_SYMMETRIC_BARRIER);
    ringway_barrier want = asymmetric ? RINGWAY_BARRIER_ASYMMETRIC : RINGWAY_BARRIER_SYMMETRIC;
    ringway_ring *ring = NULL, *other = NULL;

    CHECK_OK(ringway_ring_create_file(file_path, &p, &ring));
    CHECK(barrier_of(ring) == want);
    CHECK_OK(ringway_ring_open_file(file_path, RINGWAY_KIND_MPMC, &other));
    CHECK(barrier_of(other) == want);
    ringway_ring_free(other);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_file(file_path));
}

/* The child: unable to register (RINGWAY_BARRIER=symmetric, read when this
 * fresh process first needs a barrier), it is refused the asymmetric ring
 * and sends MESSAGES through the symmetric one. Exit status 0 on success. */
static int child(const char *sym_name, const char *asym_name) {
    ringway_ring *ring = NULL;
    ringway_producer *tx = NULL;
    char msg[512];

    if (setenv("RINGWAY_BARRIER", "symmetric", 1) != 0) {
        return 10;
    }
    if (asym_name != NULL) {
        ringway_result rc = ringway_ring_open_shm(asym_name, RINGWAY_KIND_ANY, &ring);
        ringway_last_error_message(msg, sizeof msg);
        if (rc != RINGWAY_ERR_UNSUPPORTED || strstr(msg, "membarrier") == NULL) {
            fprintf(stderr, "child: opening the asymmetric ring gave %u (%s): %s\n",
                    (unsigned)rc, ringway_result_str(rc), msg);
            return 11;
        }
    }
    if (ringway_ring_open_shm(sym_name, RINGWAY_KIND_MPMC, &ring) != RINGWAY_OK ||
        ringway_producer_create(ring, &tx) != RINGWAY_OK) {
        ringway_last_error_message(msg, sizeof msg);
        fprintf(stderr, "child: symmetric ring: %s\n", msg);
        return 12;
    }
    for (uint64_t i = 0; i < MESSAGES; i++) {
        if (ringway_producer_push_timeout(tx, &i, sizeof i, TIMEOUT_NS) != RINGWAY_OK) {
            ringway_last_error_message(msg, sizeof msg);
            fprintf(stderr, "child: push %llu: %s\n", (unsigned long long)i, msg);
            return 13;
        }
        if (i % 64 == 0) {
            struct timespec pause = {0, 200000}; /* let the parent park now and then */
            nanosleep(&pause, NULL);
        }
    }
    ringway_producer_free(tx);
    ringway_ring_free(ring);
    return 0;
}

static void test_cross_process(int asymmetric) {
    const char *sym_name = shm_name("sym");
    const char *asym_name = asymmetric ? shm_name("asym") : NULL;
    ringway_params p = mpmc_params(RINGWAY_CREATE_SYMMETRIC_BARRIER);
    ringway_ring *sym = NULL, *asym = NULL;
    ringway_consumer *rx = NULL;
    int status = 0;

    CHECK_OK(ringway_ring_create_shm(sym_name, &p, &sym));
    CHECK(barrier_of(sym) == RINGWAY_BARRIER_SYMMETRIC);
    if (asymmetric) {
        p.flags = RINGWAY_CREATE_ASYMMETRIC_BARRIER;
        CHECK_OK(ringway_ring_create_shm(asym_name, &p, &asym));
        CHECK(barrier_of(asym) == RINGWAY_BARRIER_ASYMMETRIC);
    }
    CHECK_OK(ringway_consumer_create(sym, &rx));

    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        _exit(child(sym_name, asym_name));
    }
    for (uint64_t i = 0; i < MESSAGES; i++) {
        uint64_t v = UINT64_MAX;
        CHECK_OK(ringway_consumer_pop_timeout(rx, &v, sizeof v, TIMEOUT_NS));
        CHECK(v == i);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    ringway_consumer_free(rx);
    ringway_ring_free(sym);
    ringway_ring_free(asym);
    CHECK_OK(ringway_ring_remove_shm(sym_name));
    if (asymmetric) {
        CHECK_OK(ringway_ring_remove_shm(asym_name));
    }
}

int main(void) {
    const char *tag = getenv("RINGWAY_TEST_TAG");
    snprintf(file_path, sizeof file_path, "/tmp/ringway-ctest-%s-%ld-barrier",
             tag ? tag : "x", (long)getpid());
    int asymmetric = asymmetric_available();
    test_anonymous();
    test_invalid_mode();
    test_file(0);
    if (asymmetric) {
        test_file(1);
    }
    test_cross_process(asymmetric);
    check_cleanup();
    printf("test_barrier: ok (asymmetric barrier %s in this process)\n",
           asymmetric ? "available" : "unavailable");
    return 0;
}
