/* The message the C example's producer and consumer exchange: one slot. */
#ifndef EXAMPLE_MESSAGE_H
#define EXAMPLE_MESSAGE_H

#include <stdint.h>

typedef struct example_message {
    uint64_t seq;
    char text[24];
} example_message;

_Static_assert(sizeof(example_message) == 32, "one 32-byte slot");

#endif
