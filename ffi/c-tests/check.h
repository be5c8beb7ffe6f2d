/* Minimal checking macros for the ringway C tests: fail fast with the file,
 * line, expression, the result's name and the library's last error message. */
#ifndef RINGWAY_CHECK_H
#define RINGWAY_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringway.h"

/* Called before exiting on a failed check (removes the test's rings). */
static void check_cleanup(void);

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            check_cleanup();                                                 \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* Checks that `call` returns `want`; on a mismatch prints both codes and the
 * thread's last error message. */
#define CHECK_RC(call, want)                                                   \
    do {                                                                       \
        ringway_result check_rc_ = (call);                                     \
        ringway_result check_want_ = (want);                                   \
        if (check_rc_ != check_want_) {                                        \
            char check_msg_[512];                                              \
            ringway_last_error_message(check_msg_, sizeof check_msg_);         \
            fprintf(stderr,                                                    \
                    "%s:%d: %s\n  returned %u (%s), expected %u (%s)\n"        \
                    "  last error: %s\n",                                      \
                    __FILE__, __LINE__, #call, (unsigned)check_rc_,            \
                    ringway_result_str(check_rc_), (unsigned)check_want_,      \
                    ringway_result_str(check_want_), check_msg_);              \
            check_cleanup();                                                   \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, RINGWAY_OK)

/* Checks that the thread's last error message contains `needle`. */
#define CHECK_LAST_ERROR_HAS(needle)                                          \
    do {                                                                      \
        char check_msg_[512];                                                 \
        ringway_last_error_message(check_msg_, sizeof check_msg_);            \
        if (strstr(check_msg_, (needle)) == NULL) {                           \
            fprintf(stderr,                                                   \
                    "%s:%d: last error message \"%s\" lacks \"%s\"\n",        \
                    __FILE__, __LINE__, check_msg_, (needle));                \
            check_cleanup();                                                  \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#endif /* RINGWAY_CHECK_H */
