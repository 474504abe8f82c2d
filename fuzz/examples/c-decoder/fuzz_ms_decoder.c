/*
 * libFuzzer target of the fuzz kit's C example: runs the C decoder (ms_decoder.c) and the
 * reference decoder (hh_decode of libhandshake_mutator.so) on each input and aborts when they
 * disagree on whether it is a valid datagram. Linked with libhandshake_mutator.so, whose
 * LLVMFuzzerCustomMutator/CustomCrossOver libFuzzer then uses (HANDSHAKE_FORMAT=mediastream.datagram).
 *
 * Built with -DHH_DLOPEN='"/path/libhandshake_mutator.so"' it loads the library at run time for
 * hh_decode alone, so libFuzzer keeps its own mutations: the plain-libFuzzer baseline of the
 * benchmark (fuzz/examples/bench_kit.py), with the same differential check.
 */
#include "handshake_mutator.h"
#include "ms_decoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char FORMAT[] = "mediastream.datagram";

#ifdef HH_DLOPEN
#include <dlfcn.h>
typedef int64_t (*hh_decode_fn)(const char *, const uint8_t *, size_t, char *, size_t);

static hh_decode_fn loaded_hh_decode(void) {
    static hh_decode_fn fn;
    if (fn == NULL) {
        void *lib = dlopen(HH_DLOPEN, RTLD_NOW | RTLD_LOCAL);
        if (lib != NULL)
            fn = (hh_decode_fn)dlsym(lib, "hh_decode");
        if (fn == NULL) {
            fprintf(stderr, "cannot load hh_decode from %s: %s\n", HH_DLOPEN, dlerror());
            abort();
        }
    }
    return fn;
}
#define hh_decode (loaded_hh_decode())
#endif

/* Whether the reference accepts data[0..size). */
static int reference_accepts(const uint8_t *data, size_t size) {
    char verdict[4096];
    char *json = verdict;
    int64_t n = hh_decode(FORMAT, data, size, json, sizeof verdict);
    if (n <= HH_ERR_TOO_SMALL) {
        json = malloc(HH_DECODE_NEEDED(n));
        if (json == NULL)
            abort();
        n = hh_decode(FORMAT, data, size, json, HH_DECODE_NEEDED(n));
    }
    if (n < 0) {
        fprintf(stderr, "hh_decode failed: %lld\n", (long long)n);
        abort();
    }
    int ok = strncmp(json, "{\"ok\":true", 10) == 0;
    if (!ok && getenv("MS_DECODER_VERBOSE") != NULL)
        fprintf(stderr, "reference: %s\n", json);
    if (json != verdict)
        free(json);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ms_datagram datagram;
    int c_result = ms_decode(data, size, &datagram);
    ms_datagram_release(&datagram);
    int reference_ok = reference_accepts(data, size);
    if ((c_result == 0) != reference_ok) {
        fprintf(stderr, "DIFFERENTIAL: the C decoder %s (%d), the reference %s this %zu-byte input\n",
                c_result == 0 ? "accepts" : "refuses", c_result,
                reference_ok ? "accepts" : "refuses", size);
        abort();
    }
    return 0;
}
