/* Record and broadcast rings from C: record round trips across many wraps
 * with mixed sizes (copy-out and zero-copy), abort and tombstones, a second
 * producer in another process, a producer killed between reserve and
 * commit and healed, corrupt and truncated rings giving error codes,
 * broadcast gated (nothing lost) and lossy (the missed count exact), start
 * positions, and a durable file ring flushed, damaged and recovered.
 *
 * Rings are named /ringway-ctest-TAG-PID-SUFFIX (TAG from $RINGWAY_TEST_TAG)
 * and removed before exit, also on failure. */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ringway.h"

_Static_assert(sizeof(ringway_record) == 2 * sizeof(void *) + 8, "ringway_record");
_Static_assert(offsetof(ringway_record, position) == 2 * sizeof(void *), "record.position");
_Static_assert(sizeof(ringway_received) == 24, "ringway_received");
_Static_assert(offsetof(ringway_received, seq) == 16, "received.seq");
_Static_assert(sizeof(ringway_scan) == 56, "ringway_scan");
_Static_assert(offsetof(ringway_scan, durable_intact) == 48, "scan.durable_intact");
_Static_assert(RINGWAY_KIND_RECORD == 3 && RINGWAY_KIND_BROADCAST == 4, "kinds");

#define MAX_NAMES 8
static char names[MAX_NAMES][128];
static int name_count;
static char file_path[256];

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

static ringway_params byte_params(ringway_kind kind, uint64_t capacity, uint32_t flags) {
    ringway_params p = {0};
    p.kind = kind;
    p.capacity = capacity;
    p.flags = flags;
    return p;
}

/* A pseudo-random size in [1, max] for record i. */
static size_t size_of(uint64_t i, size_t max) {
    uint64_t x = i * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return 1 + (size_t)(x % max);
}

/* Record i's bytes: its number, then a pattern. */
static void fill(unsigned char *p, size_t n, uint64_t i) {
    for (size_t k = 0; k < n; k++) {
        p[k] = (unsigned char)(i * 31 + k * 7);
    }
}

static int matches(const unsigned char *p, size_t n, uint64_t i) {
    for (size_t k = 0; k < n; k++) {
        if (p[k] != (unsigned char)(i * 31 + k * 7)) {
            return 0;
        }
    }
    return 1;
}

/* Writes record i of n bytes the `way`-th way (0: copy in, 1: fill in
 * place, 2: timed copy), not waiting (a timeout of 0); returns the result. */
static ringway_result put(ringway_record_producer *tx, uint64_t i, size_t n, int way,
                          uint64_t timeout_ns) {
    static unsigned char src[4096];
    ringway_record r;
    ringway_result rc;
    switch (way) {
    case 0:
        fill(src, n, i);
        return ringway_record_producer_try_push(tx, src, n);
    case 1:
        rc = ringway_record_producer_reserve(tx, n, &r);
        if (rc != RINGWAY_OK) {
            return rc;
        }
        CHECK(r.len == n && r.data != NULL && ((uintptr_t)r.data & 15) == 0);
        CHECK(r.data[0] == 0 && r.data[n - 1] == 0); /* reserved bytes start zeroed */
        fill(r.data, n, i);
        return ringway_record_producer_commit(tx);
    default:
        fill(src, n, i);
        return ringway_record_producer_push_timeout(tx, src, n, timeout_ns);
    }
}

/* As `put`, for a consumer that has read everything: a record that does
 * not fit before the end of the lap leaves a padding record that the
 * consumer skips (reporting EMPTY); then it fits. */
static void put_after_padding(ringway_record_producer *tx, ringway_record_consumer *rx,
                              uint64_t i, size_t n, int way) {
    static unsigned char scratch[4096];
    size_t got;
    ringway_result rc = put(tx, i, n, way, 0);
    if (rc == RINGWAY_ERR_FULL || rc == RINGWAY_ERR_TIMEOUT) {
        CHECK_RC(ringway_record_consumer_try_pop(rx, scratch, sizeof scratch, &got),
                 RINGWAY_ERR_EMPTY);
        rc = put(tx, i, n, way, 1000000000ull);
    }
    CHECK_OK(rc);
}

/* Sizes from 1 byte to three quarters of a 4 KiB ring, through every way
 * in and out, across many wraps. */
static void test_record_round_trip(void) {
    const uint64_t cap = 4096, count = 3000;
    const size_t max = 3072;
    ringway_params params = byte_params(RINGWAY_KIND_RECORD, cap, 0);
    ringway_ring *ring = NULL;
    ringway_record_producer *tx = NULL;
    ringway_record_consumer *rx = NULL;
    ringway_info info;
    static unsigned char src[4096], dst[4096];
    uint64_t bytes = 0, last_pos = 0;
    size_t got;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_ring_info(ring, &info));
    CHECK(info.kind == RINGWAY_KIND_RECORD && info.capacity == cap && info.slot_size == 1);
    CHECK_OK(ringway_record_producer_create(ring, &tx));
    CHECK_OK(ringway_record_consumer_create(ring, &rx));

    for (uint64_t i = 0; i < count; i++) {
        size_t n = size_of(i, max);
        ringway_record r;
        put_after_padding(tx, rx, i, n, (int)(i % 3));
        if (i % 2 == 0) {
            CHECK_OK(ringway_record_consumer_try_pop(rx, dst, sizeof dst, &got));
            CHECK(got == n && matches(dst, n, i));
        } else {
            CHECK_OK(ringway_record_consumer_read(rx, &r));
            CHECK(r.len == n && matches(r.data, n, i));
            CHECK(r.position > last_pos && r.position % 16 == 0);
            last_pos = r.position;
            CHECK_OK(ringway_record_consumer_release(rx));
        }
        bytes += n;
    }
    CHECK(bytes / cap > 250); /* many wraps */
    CHECK_RC(ringway_record_consumer_try_pop(rx, dst, sizeof dst, &got), RINGWAY_ERR_EMPTY);
    CHECK_RC(ringway_record_consumer_pop_timeout(rx, dst, sizeof dst, 1000000, &got),
             RINGWAY_ERR_TIMEOUT);

    /* A zero-length record, and the largest one (which fills the ring). */
    CHECK_OK(ringway_record_producer_try_push(tx, src, 0));
    CHECK_OK(ringway_record_consumer_pop(rx, dst, sizeof dst, &got));
    CHECK(got == 0);
    put_after_padding(tx, rx, 5, cap - RINGWAY_RECORD_HEADER, 0);
    CHECK_RC(ringway_record_producer_try_push(tx, src, 16), RINGWAY_ERR_FULL);
    CHECK_RC(ringway_record_producer_push_timeout(tx, src, 16, 1000000), RINGWAY_ERR_TIMEOUT);
    CHECK_OK(ringway_record_consumer_pop(rx, dst, sizeof dst, &got));
    CHECK(got == cap - RINGWAY_RECORD_HEADER && matches(dst, got, 5));
    CHECK_RC(ringway_record_producer_try_push(tx, src, cap - RINGWAY_RECORD_HEADER + 1),
             RINGWAY_ERR_SIZE);
    CHECK_LAST_ERROR_HAS("the largest this ring takes is 4080");

    /* A buffer too small leaves the record unread. */
    put_after_padding(tx, rx, 7, 100, 0);
    CHECK_RC(ringway_record_consumer_try_pop(rx, dst, 99, &got), RINGWAY_ERR_SIZE);
    CHECK_LAST_ERROR_HAS("the next record is 100 bytes");
    CHECK_OK(ringway_record_consumer_try_pop(rx, dst, 100, &got));
    CHECK(got == 100 && matches(dst, 100, 7));

    ringway_record_consumer_free(rx);
    ringway_record_producer_free(tx);
    ringway_ring_free(ring);
}

/* Aborted reservations (and one dropped with its handle) are skipped;
 * calls out of order are STATE. */
static void test_record_abort_and_state(void) {
    ringway_params params = byte_params(RINGWAY_KIND_RECORD, 1024, 0);
    ringway_ring *ring = NULL;
    ringway_record_producer *tx = NULL, *tx2 = NULL;
    ringway_record_consumer *rx = NULL, *rx2 = NULL;
    ringway_record r;
    unsigned char buf[256];
    size_t got;
    uint32_t healed = 99;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_record_producer_create(ring, &tx));
    CHECK_OK(ringway_record_consumer_create(ring, &rx));
    CHECK_RC(ringway_record_consumer_create(ring, &rx2), RINGWAY_ERR_ROLE_TAKEN);
    CHECK(rx2 == NULL);

    CHECK_RC(ringway_record_producer_commit(tx), RINGWAY_ERR_STATE);
    CHECK_LAST_ERROR_HAS("no record is reserved");
    CHECK_RC(ringway_record_producer_abort(tx), RINGWAY_ERR_STATE);
    CHECK_RC(ringway_record_consumer_release(rx), RINGWAY_ERR_STATE);

    CHECK_OK(ringway_record_producer_reserve(tx, 40, &r));
    memset(r.data, 0xAA, 40);
    CHECK_RC(ringway_record_producer_reserve(tx, 8, &r), RINGWAY_ERR_STATE);
    CHECK_RC(ringway_record_producer_try_push(tx, "x", 1), RINGWAY_ERR_STATE);
    CHECK_LAST_ERROR_HAS("a record is reserved");
    CHECK_OK(ringway_record_producer_abort(tx));
    CHECK_OK(ringway_record_producer_try_push(tx, "one", 3));
    CHECK_OK(ringway_record_producer_reserve(tx, 5, &r));
    memcpy(r.data, "never", 5);
    CHECK_OK(ringway_record_producer_abort(tx));
    /* A second producer of the same process; its reservation dropped with it. */
    CHECK_OK(ringway_record_producer_create(ring, &tx2));
    CHECK_OK(ringway_record_producer_reserve(tx2, 30, &r));
    ringway_record_producer_free(tx2);
    CHECK_OK(ringway_record_producer_try_push(tx, "two", 3));

    CHECK_OK(ringway_record_consumer_read(rx, &r));
    CHECK(r.len == 3 && memcmp(r.data, "one", 3) == 0);
    CHECK_RC(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got), RINGWAY_ERR_STATE);
    CHECK_LAST_ERROR_HAS("a record is being read");
    CHECK_RC(ringway_record_consumer_heal_dead_producers(rx, &healed), RINGWAY_ERR_STATE);
    CHECK_OK(ringway_record_consumer_release(rx));
    CHECK_OK(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got));
    CHECK(got == 3 && memcmp(buf, "two", 3) == 0);
    CHECK_RC(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got), RINGWAY_ERR_EMPTY);
    CHECK_OK(ringway_record_consumer_heal_dead_producers(rx, &healed));
    CHECK(healed == 0);

    /* A record lent and not released stays in the ring for the next consumer. */
    CHECK_OK(ringway_record_producer_try_push(tx, "kept", 4));
    CHECK_OK(ringway_record_consumer_read(rx, &r));
    ringway_record_consumer_free(rx);
    CHECK_OK(ringway_record_consumer_create(ring, &rx));
    CHECK_OK(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got));
    CHECK(got == 4 && memcmp(buf, "kept", 4) == 0);

    ringway_record_consumer_free(rx);
    ringway_record_producer_free(tx);
    ringway_ring_free(ring);
}

/* Record i of producer `who`: [who, i (8 bytes LE)], then the pattern. */
static void tagged(unsigned char *p, size_t n, unsigned who, uint64_t i) {
    fill(p, n, i + who * 1000003u);
    p[0] = (unsigned char)who;
    memcpy(p + 1, &i, 8);
}

/* A second producer in a child process; each producer's order is kept. */
static void test_record_second_producer(void) {
    const uint64_t each = 20000;
    ringway_params params = byte_params(RINGWAY_KIND_RECORD, 8192, 0);
    ringway_ring *ring = NULL;
    ringway_record_producer *tx = NULL;
    ringway_record_consumer *rx = NULL;
    static unsigned char buf[1024];
    uint64_t next[2] = {0, 0};

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_record_consumer_create(ring, &rx));
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        ringway_record_producer *ctx = NULL;
        if (ringway_record_producer_create(ring, &ctx) != RINGWAY_OK) {
            _exit(2);
        }
        for (uint64_t i = 0; i < each; i++) {
            size_t n = 9 + size_of(i, 500);
            tagged(buf, n, 1, i);
            if (ringway_record_producer_push_timeout(ctx, buf, n, 10000000000ull) != RINGWAY_OK) {
                _exit(3);
            }
        }
        ringway_record_producer_free(ctx);
        _exit(0);
    }
    CHECK_OK(ringway_record_producer_create(ring, &tx));
    static unsigned char out[1024];
    uint64_t sent = 0;
    while (next[0] + next[1] < 2 * each) {
        if (sent < each) {
            size_t n = 9 + size_of(sent, 300);
            tagged(buf, n, 0, sent);
            ringway_result rc = ringway_record_producer_try_push(tx, buf, n);
            CHECK(rc == RINGWAY_OK || rc == RINGWAY_ERR_FULL);
            sent += rc == RINGWAY_OK;
        }
        size_t got = 0;
        ringway_result rc = sent < each
                                ? ringway_record_consumer_try_pop(rx, out, sizeof out, &got)
                                : ringway_record_consumer_pop_timeout(rx, out, sizeof out,
                                                                      10000000000ull, &got);
        if (rc == RINGWAY_ERR_EMPTY) {
            continue;
        }
        CHECK_OK(rc);
        unsigned who = out[0];
        uint64_t i;
        CHECK(who < 2 && got >= 9);
        memcpy(&i, out + 1, 8);
        CHECK(i == next[who]); /* per-producer order */
        size_t n = 9 + size_of(i, who == 0 ? 300 : 500);
        CHECK(got == n);
        unsigned char want[1024];
        tagged(want, n, who, i);
        CHECK(memcmp(out, want, n) == 0);
        next[who]++;
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ringway_record_producer_free(tx);
    ringway_record_consumer_free(rx);
    ringway_ring_free(ring);
}

/* A producer process SIGKILLed between reserve and commit holds the
 * consumer until heal_dead_producers buries its claim. */
static void test_record_heal(void) {
    ringway_params params = byte_params(RINGWAY_KIND_RECORD, 4096, 0);
    ringway_ring *ring = NULL;
    ringway_record_producer *tx = NULL;
    ringway_record_consumer *rx = NULL;
    unsigned char buf[64];
    size_t got;
    uint32_t healed = 0;
    int ready[2];

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_record_consumer_create(ring, &rx));
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        ringway_record_producer *ctx = NULL;
        ringway_record r;
        if (ringway_record_producer_create(ring, &ctx) != RINGWAY_OK ||
            ringway_record_producer_try_push(ctx, "before", 6) != RINGWAY_OK ||
            ringway_record_producer_reserve(ctx, 32, &r) != RINGWAY_OK) {
            _exit(2);
        }
        memset(r.data, 0x55, 32);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1) {
            _exit(3);
        }
        for (;;) {
            pause();
        }
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    CHECK_OK(ringway_record_producer_create(ring, &tx));
    CHECK_OK(ringway_record_producer_try_push(tx, "after", 5));
    CHECK_OK(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got));
    CHECK(got == 6 && memcmp(buf, "before", 6) == 0);
    /* The claim in flight holds the head. */
    CHECK_RC(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got), RINGWAY_ERR_EMPTY);
    CHECK_OK(ringway_record_consumer_heal_dead_producers(rx, &healed));
    CHECK(healed == 0); /* alive */
    CHECK(kill(child, SIGKILL) == 0);
    int status;
    CHECK(waitpid(child, &status, 0) == child); /* a zombie still counts as alive */
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CHECK_OK(ringway_record_consumer_heal_dead_producers(rx, &healed));
    CHECK(healed == 1);
    CHECK_OK(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got));
    CHECK(got == 5 && memcmp(buf, "after", 5) == 0);
    close(ready[0]);
    close(ready[1]);
    ringway_record_producer_free(tx);
    ringway_record_consumer_free(rx);
    ringway_ring_free(ring);
}

static unsigned char *map_raw(const char *name, size_t *len, int *fd_out) {
    char path[160];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", name);
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    CHECK(fstat(fd, &st) == 0);
    *len = (size_t)st.st_size;
    void *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED);
    *fd_out = fd;
    return p;
}

/* A peer's garbage in the ring is CORRUPT (never a crash); a checksummed
 * ring catches a flipped payload byte; a truncated object is refused. */
static void test_record_corrupt(void) {
    const char *name = shm_name("rec-corrupt");
    ringway_params params = byte_params(RINGWAY_KIND_RECORD, 4096, RINGWAY_CREATE_CHECKSUMS);
    ringway_ring *ring = NULL, *other = NULL;
    ringway_record_producer *tx = NULL;
    ringway_record_consumer *rx = NULL;
    ringway_info info;
    ringway_scan scan;
    unsigned char buf[256];
    size_t len, got;
    int fd;

    CHECK_OK(ringway_ring_create_shm(name, &params, &ring));
    CHECK_OK(ringway_ring_info(ring, &info));
    unsigned char *raw = map_raw(name, &len, &fd);
    CHECK(len == info.map_len);
    unsigned char *data = raw + (info.map_len - info.capacity); /* the byte ring */
    CHECK_OK(ringway_record_producer_create(ring, &tx));
    CHECK_OK(ringway_record_consumer_create(ring, &rx));

    /* A flipped payload byte fails the CRC32C; scan stops before it. */
    CHECK_OK(ringway_record_producer_try_push(tx, "checksummed", 11));
    CHECK(memcmp(data + 16, "checksummed", 11) == 0); /* after the 16-byte header */
    data[16] ^= 1;
    CHECK_OK(ringway_ring_scan(ring, &scan));
    CHECK(scan.head == 0 && scan.end == 0 && scan.tail == 32 && scan.records == 0);
    CHECK(scan.dropped == 32);
    CHECK_RC(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got), RINGWAY_ERR_CORRUPT);
    CHECK_LAST_ERROR_HAS("checksum");
    data[16] ^= 1;
    CHECK_OK(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got));
    CHECK(got == 11 && memcmp(buf, "checksummed", 11) == 0);

    /* A length running past the end of the ring. */
    CHECK_OK(ringway_record_producer_try_push(tx, "x", 1));
    uint32_t huge = 0x7fffffff, saved;
    memcpy(&saved, data + 32 + 8, 4);
    CHECK(saved == 1);
    memcpy(data + 32 + 8, &huge, 4);
    CHECK_RC(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got), RINGWAY_ERR_CORRUPT);
    CHECK_LAST_ERROR_HAS("runs past the end");
    memcpy(data + 32 + 8, &saved, 4);

    /* A stamp for another position. */
    uint64_t stamp, bad;
    memcpy(&stamp, data + 32, 8);
    CHECK(stamp == (32 | 1)); /* position 32, data */
    bad = 4096 + 32 + 1;
    memcpy(data + 32, &bad, 8);
    CHECK_RC(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got), RINGWAY_ERR_CORRUPT);
    CHECK_LAST_ERROR_HAS("does not match its position");
    memcpy(data + 32, &stamp, 8);
    CHECK_OK(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got));
    CHECK(got == 1 && buf[0] == 'x');

    /* The wrong handle for the kind. */
    ringway_producer *p = NULL;
    CHECK_RC(ringway_producer_create(ring, &p), RINGWAY_ERR_WRONG_KIND);
    ringway_broadcast_subscriber *s = NULL;
    CHECK_RC(ringway_broadcast_subscriber_create(ring, RINGWAY_START_NEXT, 0, &s),
             RINGWAY_ERR_WRONG_KIND);
    CHECK(p == NULL && s == NULL);

    /* Truncated under live handles: a new open is refused, and once a
     * handle touches the lost pages (SIGBUS caught inside ringway) every
     * call is CORRUPT; the process lives. */
    CHECK(munmap(raw, len) == 0);
    CHECK(ftruncate(fd, (off_t)(len - 4096)) == 0);
    CHECK_RC(ringway_ring_open_shm(name, RINGWAY_KIND_RECORD, &other), RINGWAY_ERR_TOO_SMALL);
    CHECK(other == NULL);
    CHECK(ftruncate(fd, 0) == 0);
    close(fd);
    ringway_result first = ringway_record_producer_try_push(tx, "lost", 4);
    CHECK(first == RINGWAY_OK || first == RINGWAY_ERR_FULL || first == RINGWAY_ERR_CORRUPT);
    CHECK_RC(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got), RINGWAY_ERR_CORRUPT);
    CHECK_LAST_ERROR_HAS("truncated");
    CHECK_RC(ringway_record_producer_try_push(tx, "lost", 4), RINGWAY_ERR_CORRUPT);
    ringway_record_consumer_free(rx);
    ringway_record_producer_free(tx);
    ringway_ring_free(ring);
    CHECK_OK(ringway_ring_remove_shm(name));
}

/* Gated: the producer waits for the slowest subscriber; everyone gets
 * everything, in order. Start positions. */
static void test_broadcast_gated(void) {
    ringway_params params = byte_params(RINGWAY_KIND_BROADCAST, 1024, RINGWAY_CREATE_GATED);
    ringway_ring *ring = NULL;
    ringway_broadcast_producer *tx = NULL, *tx2 = NULL;
    ringway_broadcast_subscriber *subs[3] = {NULL, NULL, NULL};
    unsigned char buf[1024], small[8];
    ringway_received got;
    uint64_t missed = 99;
    uint64_t next[3] = {0, 0, 0};
    const uint64_t count = 500;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_broadcast_producer_create(ring, &tx));
    CHECK_RC(ringway_broadcast_producer_create(ring, &tx2), RINGWAY_ERR_ROLE_TAKEN);
    for (int k = 0; k < 3; k++) {
        CHECK_OK(ringway_broadcast_subscriber_create(ring, RINGWAY_START_NEXT, 0, &subs[k]));
    }
    uint64_t sent = 0;
    int fulls = 0;
    while (next[0] + next[1] + next[2] < 3 * count) {
        if (sent < count) {
            size_t n = size_of(sent, 200);
            fill(buf, n, sent);
            ringway_result rc = ringway_broadcast_producer_try_push(tx, buf, n);
            CHECK(rc == RINGWAY_OK || rc == RINGWAY_ERR_FULL);
            fulls += rc == RINGWAY_ERR_FULL;
            sent += rc == RINGWAY_OK;
            if (rc == RINGWAY_OK) {
                continue; /* fill the ring before reading */
            }
        }
        for (int k = 0; k < 3; k++) {
            /* Subscriber 2 reads only when the producer is stuck on it. */
            int turns = k == 2 ? 1 : 4;
            for (int t = 0; t < turns; t++) {
                ringway_result rc = ringway_broadcast_subscriber_try_pop(subs[k], buf, sizeof buf, &got);
                if (rc == RINGWAY_ERR_EMPTY) {
                    break;
                }
                CHECK_OK(rc);
                CHECK(got.missed == 0 && got.seq == (uint32_t)next[k]);
                CHECK(got.len == size_of(next[k], 200) && matches(buf, got.len, next[k]));
                next[k]++;
            }
        }
    }
    CHECK(fulls > 0); /* the producer did wait for the slowest */
    CHECK_RC(ringway_broadcast_producer_push_timeout(tx, buf, 1, 0), RINGWAY_OK);
    /* A record larger than the caller's buffer is kept for the next pop. */
    CHECK_RC(ringway_broadcast_subscriber_try_pop(subs[0], small, 0, &got), RINGWAY_ERR_SIZE);
    CHECK_OK(ringway_broadcast_subscriber_try_pop(subs[0], small, sizeof small, &got));
    CHECK(got.len == 1 && got.seq == count);
    CHECK_OK(ringway_broadcast_subscriber_missed(subs[0], &missed));
    CHECK(missed == 0);

    /* Late joiners: the ring holds the last records. */
    ringway_broadcast_subscriber *late = NULL;
    CHECK_OK(ringway_broadcast_subscriber_create(ring, RINGWAY_START_NEWEST, 0, &late));
    CHECK_OK(ringway_broadcast_subscriber_try_pop(late, buf, sizeof buf, &got));
    CHECK(got.seq == count);
    CHECK_RC(ringway_broadcast_subscriber_try_pop(late, buf, sizeof buf, &got), RINGWAY_ERR_EMPTY);
    ringway_broadcast_subscriber_free(late);
    CHECK_OK(ringway_broadcast_subscriber_create(ring, RINGWAY_START_BACK, 3, &late));
    for (uint64_t want = count - 2; want <= count; want++) {
        CHECK_OK(ringway_broadcast_subscriber_try_pop(late, buf, sizeof buf, &got));
        CHECK(got.seq == want);
    }
    ringway_broadcast_subscriber_free(late);
    CHECK_OK(ringway_broadcast_subscriber_create(ring, RINGWAY_START_NEXT, 0, &late));
    CHECK_RC(ringway_broadcast_subscriber_pop_timeout(late, buf, sizeof buf, 1000000, &got),
             RINGWAY_ERR_TIMEOUT);
    ringway_broadcast_subscriber_free(late);
    late = NULL;
    CHECK_RC(ringway_broadcast_subscriber_create(ring, 9, 0, &late), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK(late == NULL);

    for (int k = 0; k < 3; k++) {
        ringway_broadcast_subscriber_free(subs[k]);
    }
    ringway_broadcast_producer_free(tx);
    ringway_ring_free(ring);
}

/* Lossy: the producer laps a subscriber that does not read; what it gets
 * plus what it is told it missed is exactly what was sent. */
static void test_broadcast_lossy(void) {
    ringway_params params = byte_params(RINGWAY_KIND_BROADCAST, 1024, 0);
    ringway_ring *ring = NULL;
    ringway_broadcast_producer *tx = NULL;
    ringway_broadcast_subscriber *sub = NULL, *oldest = NULL;
    unsigned char buf[1024];
    ringway_received got;
    const uint64_t count = 1000;
    uint64_t received = 0, missed = 0, total = 0;
    uint32_t expect = 0;

    CHECK_OK(ringway_ring_create_anonymous(&params, &ring));
    CHECK_OK(ringway_broadcast_producer_create(ring, &tx));
    CHECK_OK(ringway_broadcast_subscriber_create(ring, RINGWAY_START_NEXT, 0, &sub));
    for (uint64_t i = 0; i < count; i++) {
        size_t n = size_of(i, 100);
        fill(buf, n, i);
        CHECK_OK(ringway_broadcast_producer_try_push(tx, buf, n)); /* never FULL */
        if (i % 97 == 0) { /* read a few now and then: laps in between */
            for (int t = 0; t < 3; t++) {
                if (ringway_broadcast_subscriber_try_pop(sub, buf, sizeof buf, &got) != RINGWAY_OK) {
                    break;
                }
                CHECK(got.seq == expect + got.missed);
                CHECK(got.len == size_of(got.seq, 100) && matches(buf, got.len, got.seq));
                expect = got.seq + 1;
                received++;
                missed += got.missed;
            }
        }
    }
    for (;;) {
        ringway_result rc = ringway_broadcast_subscriber_try_pop(sub, buf, sizeof buf, &got);
        if (rc == RINGWAY_ERR_EMPTY) {
            break;
        }
        CHECK_OK(rc);
        CHECK(got.seq == expect + got.missed);
        CHECK(got.len == size_of(got.seq, 100) && matches(buf, got.len, got.seq));
        expect = got.seq + 1;
        received++;
        missed += got.missed;
    }
    CHECK(expect == count);            /* it ends with the last record */
    CHECK(missed > 0);                 /* it was lapped */
    CHECK(received + missed == count); /* exact */
    CHECK_OK(ringway_broadcast_subscriber_missed(sub, &total));
    CHECK(total == missed);

    /* A joiner at the oldest record gets what the ring still holds, in order. */
    CHECK_OK(ringway_broadcast_subscriber_create(ring, RINGWAY_START_OLDEST, 0, &oldest));
    CHECK_OK(ringway_broadcast_subscriber_try_pop(oldest, buf, sizeof buf, &got));
    CHECK(got.missed == 0 && got.seq < count && got.seq > count - 64);
    expect = got.seq + 1;
    while (ringway_broadcast_subscriber_try_pop(oldest, buf, sizeof buf, &got) == RINGWAY_OK) {
        CHECK(got.seq == expect && got.missed == 0);
        expect++;
    }
    CHECK(expect == count);

    ringway_broadcast_subscriber_free(oldest);
    ringway_broadcast_subscriber_free(sub);
    ringway_broadcast_producer_free(tx);
    ringway_ring_free(ring);
}

/* A durable file ring: flush, damage past the flushed prefix, scan and
 * recover keep every flushed record. */
static void test_durable(void) {
    const char *tag = getenv("RINGWAY_TEST_TAG");
    ringway_params params =
        byte_params(RINGWAY_KIND_RECORD, 4096, RINGWAY_CREATE_CHECKSUMS);
    ringway_ring *ring = NULL, *spsc = NULL;
    ringway_record_producer *tx = NULL;
    ringway_record_consumer *rx = NULL;
    ringway_scan scan;
    ringway_info info;
    unsigned char buf[128];
    uint64_t durable = 0, sizes = 0;
    size_t got;

    snprintf(file_path, sizeof file_path, "/tmp/ringway-ctest-%s-%ld-durable",
             tag ? tag : "x", (long)getpid());
    CHECK_OK(ringway_ring_create_file(file_path, &params, &ring));
    CHECK_OK(ringway_record_producer_create(ring, &tx));
    for (uint64_t i = 0; i < 10; i++) {
        fill(buf, 40, i);
        CHECK_OK(ringway_record_producer_try_push(tx, buf, 40)); /* 64 bytes each */
    }
    CHECK_OK(ringway_ring_flush(ring, &durable));
    CHECK(durable == 640);
    for (uint64_t i = 10; i < 15; i++) {
        fill(buf, 40, i);
        CHECK_OK(ringway_record_producer_try_push(tx, buf, 40));
    }
    ringway_record_producer_free(tx);
    CHECK_OK(ringway_ring_scan(ring, &scan));
    CHECK(scan.head == 0 && scan.durable == 640 && scan.tail == 960 && scan.end == 960);
    CHECK(scan.records == 15 && scan.dropped == 0 && scan.durable_intact == 1);
    CHECK_OK(ringway_ring_info(ring, &info));
    ringway_ring_free(ring);

    /* Damage record 12 (not flushed) in the file, as a lost page would. */
    int fd = open(file_path, O_RDWR);
    CHECK(fd >= 0);
    off_t at = (off_t)(info.map_len - info.capacity + 12 * 64 + 20);
    unsigned char junk = 0xEE;
    CHECK(pwrite(fd, &junk, 1, at) == 1);
    close(fd);

    CHECK_OK(ringway_ring_open_file(file_path, RINGWAY_KIND_RECORD, &ring));
    CHECK_OK(ringway_ring_scan(ring, &scan));
    CHECK(scan.end == 12 * 64 && scan.records == 12 && scan.dropped == 3 * 64);
    CHECK(scan.durable_intact == 1);
    CHECK_OK(ringway_ring_recover(ring, &scan));
    CHECK(scan.end == 12 * 64 && scan.dropped == 3 * 64);
    CHECK_OK(ringway_ring_scan(ring, &scan));
    CHECK(scan.tail == 12 * 64 && scan.end == 12 * 64 && scan.dropped == 0);

    CHECK_OK(ringway_record_consumer_create(ring, &rx));
    for (uint64_t i = 0; i < 12; i++) {
        CHECK_OK(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got));
        CHECK(got == 40 && matches(buf, 40, i));
        sizes += got;
    }
    CHECK(sizes == 480);
    CHECK_RC(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got), RINGWAY_ERR_EMPTY);
    /* Writing goes on after the prefix. */
    CHECK_OK(ringway_record_producer_create(ring, &tx));
    CHECK_OK(ringway_record_producer_try_push(tx, "again", 5));
    CHECK_OK(ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got));
    CHECK(got == 5 && memcmp(buf, "again", 5) == 0);
    ringway_record_producer_free(tx);
    ringway_record_consumer_free(rx);
    ringway_ring_free(ring);

    /* The durable calls need a record ring. */
    ringway_params sp = {0};
    sp.kind = RINGWAY_KIND_SPSC;
    sp.capacity = 4;
    sp.slot_size = 8;
    CHECK_OK(ringway_ring_create_anonymous(&sp, &spsc));
    CHECK_RC(ringway_ring_flush(spsc, &durable), RINGWAY_ERR_WRONG_KIND);
    CHECK_RC(ringway_ring_scan(spsc, &scan), RINGWAY_ERR_WRONG_KIND);
    CHECK_RC(ringway_ring_recover(spsc, &scan), RINGWAY_ERR_WRONG_KIND);
    ringway_record_producer *wrong = NULL;
    CHECK_RC(ringway_record_producer_create(spsc, &wrong), RINGWAY_ERR_WRONG_KIND);
    ringway_ring_free(spsc);
    CHECK_OK(ringway_ring_remove_file(file_path));
    file_path[0] = '\0';
}

/* Parameters of byte rings, and NULLs. */
static void test_record_arguments(void) {
    ringway_ring *ring = NULL;
    ringway_params p = byte_params(RINGWAY_KIND_RECORD, 4096, 0);
    p.slot_size = 8;
    CHECK_RC(ringway_ring_create_anonymous(&p, &ring), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK_LAST_ERROR_HAS("slot_size and slot_align must be 0");
    p = byte_params(RINGWAY_KIND_RECORD, 4096, RINGWAY_CREATE_GATED);
    CHECK_RC(ringway_ring_create_anonymous(&p, &ring), RINGWAY_ERR_INVALID_ARGUMENT);
    p = byte_params(RINGWAY_KIND_BROADCAST, 4096, RINGWAY_CREATE_CHECKSUMS);
    CHECK_RC(ringway_ring_create_anonymous(&p, &ring), RINGWAY_ERR_INVALID_ARGUMENT);
    p = byte_params(RINGWAY_KIND_RECORD, 1000, 0); /* not a power of two */
    CHECK_RC(ringway_ring_create_anonymous(&p, &ring), RINGWAY_ERR_INVALID_ARGUMENT);
    CHECK(ring == NULL);

    CHECK_RC(ringway_record_producer_create(NULL, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_record_producer_try_push(NULL, "x", 1), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_record_consumer_try_pop(NULL, NULL, 0, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_broadcast_subscriber_pop(NULL, NULL, 0, NULL), RINGWAY_ERR_NULL);
    CHECK_RC(ringway_ring_scan(NULL, NULL), RINGWAY_ERR_NULL);
    ringway_record_producer_free(NULL);
    ringway_record_consumer_free(NULL);
    ringway_broadcast_producer_free(NULL);
    ringway_broadcast_subscriber_free(NULL);
}

int main(void) {
    test_record_round_trip();
    test_record_abort_and_state();
    test_record_second_producer();
    test_record_heal();
    test_record_corrupt();
    test_broadcast_gated();
    test_broadcast_lossy();
    test_durable();
    test_record_arguments();
    check_cleanup();
    printf("test_records: ok\n");
    return 0;
}
