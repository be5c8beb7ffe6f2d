// The header from C++: declarations are extern "C" (this links against the C
// library without name mangling) and the enum and structs are usable.
#include <cstdio>
#include <cstring>

#include "ringway.h"

static_assert(sizeof(ringway_chunk) == 5 * sizeof(void *), "ringway_chunk");
static_assert(RINGWAY_OK == 0, "RINGWAY_OK");
static_assert(sizeof(ringway_record) == 2 * sizeof(void *) + 8, "ringway_record");
static_assert(sizeof(ringway_received) == 24, "ringway_received");
static_assert(sizeof(ringway_scan) == 56, "ringway_scan");

// A record and a broadcast ring through the C++ view of the header.
static bool records() {
    ringway_params params = {};
    params.kind = RINGWAY_KIND_RECORD;
    params.capacity = 1024;
    ringway_ring *ring = nullptr;
    ringway_record_producer *tx = nullptr;
    ringway_record_consumer *rx = nullptr;
    ringway_record r;
    char buf[16];
    size_t got = 0;
    bool ok = ringway_ring_create_anonymous(&params, &ring) == RINGWAY_OK &&
              ringway_record_producer_create(ring, &tx) == RINGWAY_OK &&
              ringway_record_consumer_create(ring, &rx) == RINGWAY_OK &&
              ringway_record_producer_reserve(tx, 3, &r) == RINGWAY_OK;
    if (ok) {
        std::memcpy(r.data, "c++", 3);
        ok = ringway_record_producer_commit(tx) == RINGWAY_OK &&
             ringway_record_consumer_try_pop(rx, buf, sizeof buf, &got) == RINGWAY_OK &&
             got == 3 && std::memcmp(buf, "c++", 3) == 0;
    }
    ringway_record_consumer_free(rx);
    ringway_record_producer_free(tx);
    ringway_ring_free(ring);

    params.kind = RINGWAY_KIND_BROADCAST;
    params.flags = RINGWAY_CREATE_GATED;
    ringway_broadcast_producer *bp = nullptr;
    ringway_broadcast_subscriber *bs = nullptr;
    ringway_received rec;
    ok = ok && ringway_ring_create_anonymous(&params, &ring) == RINGWAY_OK &&
         ringway_broadcast_producer_create(ring, &bp) == RINGWAY_OK &&
         ringway_broadcast_subscriber_create(ring, RINGWAY_START_NEXT, 0, &bs) == RINGWAY_OK &&
         ringway_broadcast_producer_try_push(bp, "all", 3) == RINGWAY_OK &&
         ringway_broadcast_subscriber_try_pop(bs, buf, sizeof buf, &rec) == RINGWAY_OK &&
         rec.len == 3 && rec.missed == 0;
    ringway_broadcast_subscriber_free(bs);
    ringway_broadcast_producer_free(bp);
    ringway_ring_free(ring);
    return ok;
}

int main() {
    if (std::strcmp(ringway_version(), RINGWAY_VERSION) != 0 ||
        ringway_abi_version() != RINGWAY_ABI_VERSION) {
        std::fprintf(stderr, "test_cxx: version mismatch\n");
        return 1;
    }
    ringway_params params = {};
    params.kind = RINGWAY_KIND_SPSC;
    params.capacity = 4;
    params.slot_size = 8;
    ringway_ring *ring = nullptr;
    ringway_result rc = ringway_ring_create_anonymous(&params, &ring);
    if (rc != RINGWAY_OK) {
        std::fprintf(stderr, "test_cxx: create: %s\n", ringway_result_str(rc));
        return 1;
    }
    ringway_info info;
    rc = ringway_ring_info(ring, &info);
    ringway_ring_free(ring);
    if (rc != RINGWAY_OK || info.capacity != 4) {
        std::fprintf(stderr, "test_cxx: info failed\n");
        return 1;
    }
    if (!records()) {
        std::fprintf(stderr, "test_cxx: record or broadcast round trip failed\n");
        return 1;
    }
    std::printf("test_cxx: ok\n");
    return 0;
}
