/*
 * The C ABI of libhandshake_mutator.so as a C program sees it, through the header alone: hh_decode
 * (accepted input, refused input, unknown format, small buffer, size query, null pointers), the
 * libFuzzer hooks (bounded, deterministic) and the three AFL++ functions. Built and run by
 * tests/c_abi.rs with HANDSHAKE_FORMAT=mediastream.datagram.
 *
 * `c_abi unconfigured` only calls the mutator: run without HANDSHAKE_FORMAT it must exit 2.
 */
#include "handshake_mutator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        checks++;                                                                       \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "c_abi.c:%d: check failed: %s\n", __LINE__, #cond);         \
            failures++;                                                                 \
        }                                                                               \
    } while (0)

/* A SYN asking for "assign one": flag 0x0100, zero header, Version 1, zero id, no options. */
static void make_syn(uint8_t *out) {
    memset(out, 0, 67);
    out[1] = 0x01;
    out[26] = 1;
}

static void test_decode(void) {
    uint8_t syn[67];
    char json[1024];
    make_syn(syn);

    int64_t n = hh_decode("mediastream.datagram", syn, sizeof syn, json, sizeof json);
    CHECK(n > 0);
    CHECK(n > 0 && (size_t)n == strlen(json));
    CHECK(strncmp(json, "{\"ok\":true", 10) == 0);
    CHECK(strstr(json, "\"kind\":\"syn\"") != NULL);

    syn[26] = 2; /* Version 2: refused */
    int64_t refused = hh_decode("mediastream.datagram", syn, sizeof syn, json, sizeof json);
    CHECK(refused > 0);
    CHECK(strncmp(json, "{\"ok\":false", 11) == 0);
    syn[26] = 1;

    CHECK(hh_decode("no.such.format", syn, sizeof syn, json, sizeof json) == HH_ERR_UNKNOWN_FORMAT);

    char small[8];
    memset(small, 'x', sizeof small);
    int64_t too_small = hh_decode("mediastream.datagram", syn, sizeof syn, small, sizeof small);
    CHECK(too_small <= HH_ERR_TOO_SMALL);
    CHECK(n > 0 && HH_DECODE_NEEDED(too_small) == (size_t)n + 1);
    CHECK(small[0] == '\0');

    int64_t asked = hh_decode("mediastream.datagram", syn, sizeof syn, NULL, 0);
    CHECK(asked == too_small);
    /* Exactly the size asked for is enough. */
    char *exact = malloc(HH_DECODE_NEEDED(asked));
    CHECK(exact != NULL);
    if (exact != NULL) {
        CHECK(hh_decode("mediastream.datagram", syn, sizeof syn, exact, HH_DECODE_NEEDED(asked)) == n);
        free(exact);
    }

    CHECK(hh_decode(NULL, syn, sizeof syn, json, sizeof json) == HH_ERR_NULL);
    CHECK(hh_decode("mediastream.datagram", NULL, 5, json, sizeof json) == HH_ERR_NULL);
    CHECK(hh_decode("mediastream.datagram", syn, sizeof syn, NULL, 10) == HH_ERR_NULL);
    /* The empty input is an input: too short, refused. */
    CHECK(hh_decode("mediastream.datagram", NULL, 0, json, sizeof json) > 0);
    CHECK(strncmp(json, "{\"ok\":false", 11) == 0);
}

static void test_libfuzzer_hooks(void) {
    enum { MAX = 96 };
    uint8_t a[MAX], b[MAX];
    int changed = 0;
    for (unsigned seed = 0; seed < 300; seed++) {
        make_syn(a);
        make_syn(b);
        size_t na = LLVMFuzzerCustomMutator(a, 67, MAX, seed);
        size_t nb = LLVMFuzzerCustomMutator(b, 67, MAX, seed);
        CHECK(na <= MAX);
        CHECK(na == nb && memcmp(a, b, na) == 0);
        uint8_t syn[67];
        make_syn(syn);
        changed |= na != 67 || memcmp(a, syn, 67) != 0;
    }
    CHECK(changed);

    /* A smaller limit than the input: cut to it. */
    uint8_t c[67];
    make_syn(c);
    CHECK(LLVMFuzzerCustomMutator(c, 67, 40, 9) <= 40);

    uint8_t x[67], y[67], out[50];
    make_syn(x);
    make_syn(y);
    y[1] = 0x02; /* ACK */
    size_t joined = LLVMFuzzerCustomCrossOver(x, sizeof x, y, sizeof y, out, sizeof out, 4);
    CHECK(joined <= sizeof out);
    uint8_t out2[50];
    CHECK(LLVMFuzzerCustomCrossOver(x, sizeof x, y, sizeof y, out2, sizeof out2, 4) == joined);
    CHECK(memcmp(out, out2, joined) == 0);
}

static void test_afl(void) {
    void *state = afl_custom_init(NULL, 1234);
    CHECK(state != NULL);
    uint8_t syn[67], other[67];
    make_syn(syn);
    make_syn(other);
    other[1] = 0x01;
    other[0] = 0x01; /* SYN-ACK */
    int changed = 0;
    for (int i = 0; i < 200; i++) {
        uint8_t *out = NULL;
        size_t n = afl_custom_fuzz(state, syn, sizeof syn, &out, other, sizeof other, 80);
        CHECK(n <= 80);
        CHECK(n == 0 || out != NULL);
        if (out != NULL)
            changed |= n != sizeof syn || memcmp(out, syn, n) != 0;
    }
    CHECK(changed);
    uint8_t *untouched = (uint8_t *)0x1;
    CHECK(afl_custom_fuzz(NULL, syn, sizeof syn, &untouched, NULL, 0, 80) == 0);
    CHECK(untouched == (uint8_t *)0x1);
    afl_custom_deinit(state);
    afl_custom_deinit(NULL);

    /* Two instances with one seed mutate alike. */
    void *s1 = afl_custom_init(NULL, 77), *s2 = afl_custom_init(NULL, 77);
    uint8_t *o1 = NULL, *o2 = NULL;
    size_t n1 = afl_custom_fuzz(s1, syn, sizeof syn, &o1, NULL, 0, 128);
    size_t n2 = afl_custom_fuzz(s2, syn, sizeof syn, &o2, NULL, 0, 128);
    CHECK(n1 == n2 && (n1 == 0 || memcmp(o1, o2, n1) == 0));
    afl_custom_deinit(s1);
    afl_custom_deinit(s2);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "unconfigured") == 0) {
        uint8_t syn[67];
        make_syn(syn);
        LLVMFuzzerCustomMutator(syn, sizeof syn, sizeof syn, 1);
        puts("mutated without a format");
        return 0;
    }
    test_decode();
    test_libfuzzer_hooks();
    test_afl();
    printf("c_abi: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
