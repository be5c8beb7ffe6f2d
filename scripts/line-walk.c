/* line-walk: what walking through slots costs a busy-polling round trip,
 * with no ring code. Two threads pinned to two CPUs ping-pong one message
 * at a time through two slot arrays (one per direction). Each slot is a
 * stamp (position + 1) and a payload, stored payload first, stamp last
 * (release), polled by stamp (acquire): the stamped SPSC ring's protocol
 * without its code. The reference is the `cache line` row of
 * `ringway bench`: one word per direction, each in its own line, rewritten
 * in place.
 *
 * Each variant runs right after a reference run; the ratio of the two is
 * kept, split by the placement the reference shows (near: under 200 ns,
 * the two vCPUs share a cache; far: the line crosses chips). Output: the
 * median, minimum and maximum ratio per variant and placement.
 *
 *   usage: line-walk [rounds] [cpu-a cpu-b]      (scripts/line-walk.sh builds and runs it)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRIPS 200000
#define AREA (1u << 21)
#define PONG (1u << 17) /* the pong direction's offset: far from ping's */
#define NEAR_NS 200.0

struct variant {
    const char *name;
    unsigned stride; /* bytes from one slot to the next */
    unsigned slots;  /* slots per direction; 0: the reference (one word rewritten) */
};

static const struct variant variants[] = {
    {"reference: one word per direction", 8, 0},
    {"16 B x 4 (1 line)", 16, 4},
    {"16 B x 32 (8 lines)", 16, 32},
    {"16 B x 48 (12 lines)", 16, 48},
    {"16 B x 64 (16 lines, the bench's ring)", 16, 64},
    {"16 B x 256 (64 lines)", 16, 256},
    {"64 B x 8 (8 lines)", 64, 8},
    {"64 B x 9 (9 lines)", 64, 9},
    {"64 B x 16 (16 lines)", 64, 16},
    {"128 B x 16 (16 lines, every other)", 128, 16},
    {"128 B x 64 (64 lines, every other)", 128, 64},
};
#define NV (sizeof variants / sizeof variants[0])

static char *area;
static const struct variant *current;
static atomic_int go;   /* 1: the echo thread runs `current`; 2: it exits */
static atomic_int done; /* the echo thread finished `current` */

static _Atomic uint64_t *stamp_of(unsigned base, const struct variant *v, uint64_t pos) {
    uint64_t at = v->slots ? (pos % v->slots) * v->stride : 0;
    return (_Atomic uint64_t *)(area + base + at);
}

static void send(unsigned base, const struct variant *v, uint64_t pos, uint64_t value) {
    _Atomic uint64_t *stamp = stamp_of(base, v, pos);
    if (v->slots)
        atomic_store_explicit(stamp + 1, value, memory_order_relaxed);
    atomic_store_explicit(stamp, pos + 1, memory_order_release);
}

static uint64_t receive(unsigned base, const struct variant *v, uint64_t pos) {
    _Atomic uint64_t *stamp = stamp_of(base, v, pos);
    while (atomic_load_explicit(stamp, memory_order_acquire) != pos + 1)
        __builtin_ia32_pause();
    return v->slots ? atomic_load_explicit(stamp + 1, memory_order_relaxed) : pos;
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
        fprintf(stderr, "line-walk: cannot pin to CPU %d\n", cpu);
        exit(2);
    }
}

static int echo_cpu;
static void *echo(void *unused) {
    (void)unused;
    pin(echo_cpu);
    for (;;) {
        int g;
        while ((g = atomic_load(&go)) == 0)
            __builtin_ia32_pause();
        if (g == 2)
            return NULL;
        const struct variant *v = current;
        for (uint64_t p = 0; p < TRIPS; p++)
            send(PONG, v, p, receive(0, v, p));
        atomic_store(&go, 0);
        atomic_store(&done, 1);
    }
}

/* ns per round trip of variant `v` */
static double run(const struct variant *v) {
    memset(area, 0, AREA);
    current = v;
    atomic_store(&done, 0);
    atomic_store(&go, 1);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (uint64_t p = 0; p < TRIPS; p++) {
        send(0, v, p, p);
        if (receive(PONG, v, p) != p) {
            fprintf(stderr, "line-walk: wrong echo at %llu\n", (unsigned long long)p);
            exit(1);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    while (!atomic_load(&done))
        __builtin_ia32_pause();
    return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / TRIPS;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    int cpu = argc > 3 ? atoi(argv[2]) : 0;
    echo_cpu = argc > 3 ? atoi(argv[3]) : 1;
    if (rounds < 1 || rounds > 1000)
        rounds = 15;
    area = aligned_alloc(4096, AREA);
    double *ratio = calloc((size_t)NV * 2 * rounds, sizeof *ratio);
    double *refs = calloc((size_t)2 * rounds * NV, sizeof *refs);
    int count[NV][2] = {{0}}, nref[2] = {0};
    if (!area || !ratio || !refs)
        return 2;
    pthread_t t;
    pthread_create(&t, NULL, echo, NULL);
    pin(cpu);
    for (int r = 0; r < rounds; r++) {
        for (unsigned i = 1; i < NV; i++) {
            double ref = run(&variants[0]);
            double ns = run(&variants[i]);
            int far = ref >= NEAR_NS;
            refs[(size_t)far * rounds * NV + nref[far]++] = ref;
            ratio[((size_t)i * 2 + far) * rounds + count[i][far]++] = ns / ref;
        }
    }
    atomic_store(&go, 2);
    pthread_join(t, NULL);
    for (int far = 0; far < 2; far++) {
        int n = nref[far];
        if (!n) {
            printf("%s placement: no run\n", far ? "far" : "near");
            continue;
        }
        double *rf = refs + (size_t)far * rounds * NV;
        qsort(rf, n, sizeof *rf, by_value);
        printf("%s placement: reference %.0f ns median (%.0f-%.0f, %d runs); ratio to the reference run just before:\n",
               far ? "far" : "near", rf[n / 2], rf[0], rf[n - 1], n);
        for (unsigned i = 1; i < NV; i++) {
            int c = count[i][far];
            double *x = ratio + ((size_t)i * 2 + far) * rounds;
            if (!c)
                continue;
            qsort(x, c, sizeof *x, by_value);
            printf("  %-40s %5.2fx  (%.2f-%.2f, n=%d)\n", variants[i].name, x[c / 2], x[0], x[c - 1], c);
        }
    }
    return 0;
}
