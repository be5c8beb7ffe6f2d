/* The scribbler through the C API, under ASan + UBSan (ffi/check.sh).
 *
 * This process is the victim: it runs a producer and a consumer on a named
 * SPSC ring and on a named MPMC ring (try calls, calls with a 1 ms deadline,
 * zero-copy chunks) while a forked child maps the same shm objects and
 * writes random bytes, 1 to 8 at a time, at random offsets: half of them
 * into the first 2 KiB (the header: cursors, futex words, role owners), the
 * rest anywhere in the mapping (peer table, stamps, slots).
 *
 * The victim must never die by a signal (nor trip ASan or UBSan), every call
 * must return one of the codes its documentation in ringway.h lists, and
 * every deadline call must return within a generous bound of its deadline:
 * 2 s of wall time (the machine is shared) and 200 ms of CPU time (CPU time
 * is not inflated by preemption: more means a loop that ignores its
 * deadline). It prints how many deadline calls were more than 10 ms late by
 * wall time, the most CPU time one of those used, how many of them the
 * kernel preempted (involuntary context switches during the call) and how
 * many slept (voluntary ones), and how many ran more than 10 ms past the
 * deadline on the CPU.
 *
 * usage: test_scribbler [WRITES]   (default: $RINGWAY_C_SCRIBBLE_WRITES, or
 * 100000). Ring names carry $RINGWAY_TEST_TAG; they are removed before exit,
 * also on failure, and the child is reaped. */
#define _GNU_SOURCE /* RUSAGE_THREAD */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ringway.h"

#define RINGS 2
#define SLOT 24
#define DEADLINE_NS 1000000ull /* 1 ms */
#define HEADER_BYTES 2048u

static char names[RINGS][128];
static pid_t child = -1;

static void check_cleanup(void) {
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        child = -1;
    }
    for (int i = 0; i < RINGS; i++) {
        if (names[i][0] != '\0') {
            ringway_ring_remove_shm(names[i]);
            names[i][0] = '\0';
        }
    }
}

static uint64_t ns_of(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: the scribbler's randomness, seeded per run. */
static uint64_t rng_state;
static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

/* The child: maps both objects and scribbles until `writes` are done. */
static void scribble(uint64_t writes) {
    volatile uint8_t *maps[RINGS];
    size_t lens[RINGS];
    for (int i = 0; i < RINGS; i++) {
        int fd = shm_open(names[i], O_RDWR, 0);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= (off_t)HEADER_BYTES) {
            _exit(3);
        }
        lens[i] = (size_t)st.st_size;
        void *p = mmap(NULL, lens[i], PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            _exit(4);
        }
        close(fd);
        maps[i] = p;
    }
    for (uint64_t n = 0; n < writes; n++) {
        int which = (int)(rng() % RINGS);
        uint64_t r = rng();
        size_t len = 1 + (size_t)(r % 8);
        size_t span = (r & 0x100) == 0 ? HEADER_BYTES : lens[which];
        size_t at = (size_t)(rng() % (span - len));
        uint64_t bytes = rng();
        for (size_t k = 0; k < len; k++) {
            maps[which][at + k] = (uint8_t)(bytes >> (8 * k));
        }
        if (n % 16 == 15) {
            /* Spread the writes over the victim's calls (a store into the
             * mapping is far quicker than one of them). */
            struct timespec pause = {0, 20000};
            nanosleep(&pause, NULL);
        }
    }
    _exit(0);
}

/* What the victim saw. */
static struct {
    uint64_t calls, ok, corrupt, other_documented;
    uint64_t timed, late_10ms, cpu_over_10ms, late_preempted, late_slept;
    uint64_t max_over_ns, max_cpu_ns, late_max_cpu_ns;
} t;

/* The clocks and context-switch counts of this thread at one moment. */
struct moment {
    uint64_t wall, cpu;
    long voluntary, involuntary;
};

static struct moment now(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    struct moment m = {ns_of(CLOCK_MONOTONIC), ns_of(CLOCK_THREAD_CPUTIME_ID), ru.ru_nvcsw,
                       ru.ru_nivcsw};
    return m;
}

/* Fails unless `rc` is one of the `n` codes in `allowed` (the codes the
 * header documents for `call`). */
static void expect(const char *call, ringway_result rc, const ringway_result *allowed, size_t n) {
    t.calls++;
    if (rc == RINGWAY_OK) {
        t.ok++;
        return;
    }
    if (rc == RINGWAY_ERR_CORRUPT) {
        t.corrupt++;
    } else {
        t.other_documented++;
    }
    for (size_t i = 0; i < n; i++) {
        if (allowed[i] == rc) {
            return;
        }
    }
    char msg[512];
    ringway_last_error_message(msg, sizeof msg);
    fprintf(stderr, "%s returned %u (%s), which it does not document\n  last error: %s\n", call,
            (unsigned)rc, ringway_result_str(rc), msg);
    CHECK(0);
}

#define EXPECT(call, rc, ...)                                                        \
    do {                                                                             \
        static const ringway_result allowed_[] = {RINGWAY_OK, __VA_ARGS__};          \
        expect(call, rc, allowed_, sizeof allowed_ / sizeof allowed_[0]);            \
    } while (0)

/* Times a deadline call begun at `m0`: wall time, this thread's CPU time,
 * and whether it was preempted or slept. */
static void timed_end(struct moment m0) {
    struct moment m1 = now();
    uint64_t wall = m1.wall - m0.wall;
    uint64_t cpu = m1.cpu - m0.cpu;
    uint64_t over = wall > DEADLINE_NS ? wall - DEADLINE_NS : 0;
    t.timed++;
    if (over > t.max_over_ns) {
        t.max_over_ns = over;
    }
    if (cpu > t.max_cpu_ns) {
        t.max_cpu_ns = cpu;
    }
    if (over > 10000000ull) {
        t.late_10ms++;
        if (cpu > t.late_max_cpu_ns) {
            t.late_max_cpu_ns = cpu;
        }
        t.late_preempted += m1.involuntary > m0.involuntary;
        t.late_slept += m1.voluntary > m0.voluntary;
    }
    if (cpu > DEADLINE_NS + 10000000ull) {
        t.cpu_over_10ms++;
    }
    /* Generous bounds (see the file comment). */
    if (over > 2000000000ull || cpu > DEADLINE_NS + 200000000ull) {
        fprintf(stderr, "a deadline call took %llu ns wall, %llu ns CPU\n",
                (unsigned long long)wall, (unsigned long long)cpu);
        CHECK(0);
    }
}

/* One round of every call on one ring's two handles. */
static void work(ringway_producer *tx, ringway_consumer *rx, uint64_t i) {
    uint8_t msg[SLOT], buf[SLOT];
    memset(msg, (int)(i & 0xff), sizeof msg);
    EXPECT("try_push", ringway_producer_try_push(tx, msg, sizeof msg), RINGWAY_ERR_FULL,
           RINGWAY_ERR_BUSY, RINGWAY_ERR_PEER_GONE, RINGWAY_ERR_CORRUPT);
    EXPECT("try_pop", ringway_consumer_try_pop(rx, buf, sizeof buf), RINGWAY_ERR_EMPTY,
           RINGWAY_ERR_BUSY, RINGWAY_ERR_PEER_GONE, RINGWAY_ERR_CORRUPT);
    if (i % 8 == 0) {
        struct moment m0 = now();
        ringway_result rc = ringway_producer_push_timeout(tx, msg, sizeof msg, DEADLINE_NS);
        timed_end(m0);
        EXPECT("push_timeout", rc, RINGWAY_ERR_TIMEOUT, RINGWAY_ERR_PEER_GONE,
               RINGWAY_ERR_CORRUPT);
        m0 = now();
        rc = ringway_consumer_pop_timeout(rx, buf, sizeof buf, DEADLINE_NS);
        timed_end(m0);
        EXPECT("pop_timeout", rc, RINGWAY_ERR_TIMEOUT, RINGWAY_ERR_PEER_GONE,
               RINGWAY_ERR_CORRUPT);
    }
    if (i % 64 == 0) {
        /* Chunks: written in place and committed, read in place (copied
         * out: the bytes may change under us) and released. */
        ringway_chunk c;
        ringway_result rc = ringway_producer_reserve(tx, 3, &c);
        EXPECT("reserve", rc, RINGWAY_ERR_FULL, RINGWAY_ERR_CORRUPT);
        if (rc == RINGWAY_OK) {
            CHECK(c.slots >= 1 && c.slots <= 3);
            uint8_t *slot = NULL;
            CHECK_OK(ringway_producer_slot(tx, 0, &slot));
            CHECK(slot != NULL);
            memcpy(slot, msg, sizeof msg);
            CHECK_OK(ringway_producer_commit(tx, 1));
        }
        rc = ringway_consumer_read(rx, 4, &c);
        EXPECT("read", rc, RINGWAY_ERR_EMPTY, RINGWAY_ERR_CORRUPT);
        if (rc == RINGWAY_OK) {
            CHECK(c.slots >= 1 && c.slots <= 4);
            for (size_t k = 0; k < c.slots; k++) {
                const uint8_t *slot = NULL;
                CHECK_OK(ringway_consumer_slot(rx, k, &slot));
                CHECK(slot != NULL);
                memcpy(buf, slot, sizeof buf);
            }
            CHECK_OK(ringway_consumer_release(rx, c.slots));
        }
    }
}

int main(int argc, char **argv) {
    const char *env = getenv("RINGWAY_C_SCRIBBLE_WRITES");
    uint64_t writes = argc > 1   ? strtoull(argv[1], NULL, 10)
                      : env != NULL ? strtoull(env, NULL, 10)
                                    : 100000;
    const char *tag = getenv("RINGWAY_TEST_TAG");
    ringway_kind kinds[RINGS] = {RINGWAY_KIND_SPSC, RINGWAY_KIND_MPMC};
    ringway_ring *rings[RINGS];
    ringway_producer *tx[RINGS];
    ringway_consumer *rx[RINGS];
    for (int i = 0; i < RINGS; i++) {
        snprintf(names[i], sizeof names[i], "/ringway-scribble-%s-%d-%d", tag ? tag : "none",
                 (int)getpid(), i);
        ringway_params params = {.kind = kinds[i], .slot_size = SLOT, .capacity = 16};
        CHECK_OK(ringway_ring_create_shm(names[i], &params, &rings[i]));
        CHECK_OK(ringway_producer_create(rings[i], &tx[i]));
        CHECK_OK(ringway_consumer_create(rings[i], &rx[i]));
    }
    rng_state = (0x5eed0000ull ^ (uint64_t)getpid()) | 1;
    uint64_t seed = rng_state;
    uint64_t started = ns_of(CLOCK_MONOTONIC);
    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        scribble(writes);
    }
    int status = 0;
    for (uint64_t i = 1;; i++) {
        for (int k = 0; k < RINGS; k++) {
            work(tx[k], rx[k], i);
        }
        if (i % 256 == 0) {
            pid_t done = waitpid(child, &status, WNOHANG);
            CHECK(done >= 0);
            if (done == child) {
                child = -1;
                break;
            }
            if (ns_of(CLOCK_MONOTONIC) - started > 600000000000ull) {
                fprintf(stderr, "the scribbler did not finish in 600 s\n");
                CHECK(0);
            }
        }
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    double secs = (double)(ns_of(CLOCK_MONOTONIC) - started) / 1e9;
    printf("test_scribbler: %llu writes in %.2f s (seed %#llx); victim: %llu calls, %llu ok, "
           "%llu corrupt, %llu other documented codes; %llu deadline calls, max overrun %llu us "
           "wall, max %llu us CPU; %llu more than 10 ms late (wall), the most CPU one of them "
           "used %llu us, %llu of them preempted, %llu slept; %llu ran more than 10 ms past "
           "the deadline on the CPU\n",
           (unsigned long long)writes, secs, (unsigned long long)seed,
           (unsigned long long)t.calls, (unsigned long long)t.ok,
           (unsigned long long)t.corrupt, (unsigned long long)t.other_documented,
           (unsigned long long)t.timed, (unsigned long long)(t.max_over_ns / 1000),
           (unsigned long long)(t.max_cpu_ns / 1000), (unsigned long long)t.late_10ms,
           (unsigned long long)(t.late_max_cpu_ns / 1000), (unsigned long long)t.late_preempted,
           (unsigned long long)t.late_slept, (unsigned long long)t.cpu_over_10ms);
    for (int i = 0; i < RINGS; i++) {
        ringway_producer_free(tx[i]);
        ringway_consumer_free(rx[i]);
        ringway_ring_free(rings[i]);
    }
    check_cleanup();
    return 0;
}
