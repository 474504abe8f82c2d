/*
 * The mutator's throughput (fuzz/examples/bench_kit.py): LLVMFuzzerCustomMutator on the kit's
 * corpus, one file after another, for a number of calls; then how many of its outputs the
 * reference decoder still accepts (hh_decode, timed apart).
 *
 *   HANDSHAKE_FORMAT=mediastream.datagram bench_mutator CORPUS_DIR [CALLS]
 */
#include "handshake_mutator.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_INPUTS = 4096, MAX_SIZE = 4096 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [CALLS]\n", argv[0]);
        return 2;
    }
    long calls = argc > 2 ? atol(argv[2]) : 200000;
    static uint8_t *inputs[MAX_INPUTS];
    static size_t sizes[MAX_INPUTS];
    size_t n = 0;
    DIR *dir = opendir(argv[1]);
    if (dir == NULL) {
        perror(argv[1]);
        return 2;
    }
    for (struct dirent *e; (e = readdir(dir)) != NULL && n < MAX_INPUTS;) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL || e->d_name[0] == '.') {
            if (f != NULL)
                fclose(f);
            continue;
        }
        inputs[n] = malloc(MAX_SIZE);
        sizes[n] = fread(inputs[n], 1, MAX_SIZE, f);
        fclose(f);
        n++;
    }
    closedir(dir);
    if (n == 0) {
        fprintf(stderr, "no inputs in %s\n", argv[1]);
        return 2;
    }

    static uint8_t buf[MAX_SIZE];
    static uint8_t *outputs[1000];
    static size_t output_sizes[1000];
    size_t total = 0;
    double start = now();
    for (long i = 0; i < calls; i++) {
        size_t k = (size_t)i % n;
        memcpy(buf, inputs[k], sizes[k]);
        size_t size = LLVMFuzzerCustomMutator(buf, sizes[k], MAX_SIZE, (unsigned)i);
        total += size;
        if (i < 1000) {
            outputs[i] = malloc(size + 1);
            memcpy(outputs[i], buf, size);
            output_sizes[i] = size;
        }
    }
    double elapsed = now() - start;

    long checked = calls < 1000 ? calls : 1000, accepted = 0;
    char json[65536];
    for (long i = 0; i < checked; i++) {
        int64_t r = hh_decode(getenv("HANDSHAKE_FORMAT"), outputs[i], output_sizes[i], json, sizeof json);
        accepted += r > 0 && strncmp(json, "{\"ok\":true", 10) == 0;
    }
    printf("%ld mutations of %zu inputs in %.3f s: %.0f mutations/s, mean output %.0f bytes; "
           "%ld of the first %ld accepted by the reference\n",
           calls, n, elapsed, (double)calls / elapsed, (double)total / (double)calls, accepted, checked);
    return 0;
}
