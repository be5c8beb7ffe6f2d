// The header from C++: declarations are extern "C" (this links against the C
// library without name mangling) and the enum and structs are usable.
#include <cstdio>
#include <cstring>

#include "ringway.h"

static_assert(sizeof(ringway_chunk) == 5 * sizeof(void *), "ringway_chunk");
static_assert(RINGWAY_OK == 0, "RINGWAY_OK");

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
    std::printf("test_cxx: ok\n");
    return 0;
}
