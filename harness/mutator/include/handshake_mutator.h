/*
 * handshake_mutator.h: the C interface of libhandshake_mutator.so, the fuzz kit's mutator library
 * (handshake-harness, crate harness/mutator).
 *
 * It knows every family's wire formats (ids: mediastream.datagram, mediastream.tlv, proton.stream,
 * darktower.header, darktower.frame_v1, darktower.frame_v2, darktower.signaling,
 * darktower.media_auth; `harness fuzz-kit --family F` lists them with their corpora and
 * dictionaries) and offers, for fuzzing your own parser of one of them:
 *
 *   - a structure-aware mutator for libFuzzer and AFL++: where the input parses, one field is
 *     changed and the bytes re-encoded (lengths, types, flags at their edge values); where it does
 *     not, a dictionary token or byte havoc. Same input and seed, same output.
 *   - hh_decode: the reference decoder's verdict on any bytes, for a differential check (does your
 *     parser accept exactly what the reference accepts?).
 *
 * The format the mutator hooks use: environment variable HANDSHAKE_FORMAT, a format id, read once
 * at the first hook call. Unset or unknown, that call prints the valid ids on stderr and exits the
 * process with status 2 (a campaign that mutates with no format, or the wrong one, must not run
 * on silently). hh_decode takes its format as an argument and does not read the variable.
 *
 * Linking: `cc ... -L DIR -lhandshake_mutator -Wl,-rpath,DIR`. libFuzzer (clang -fsanitize=fuzzer)
 * finds LLVMFuzzerCustomMutator and LLVMFuzzerCustomCrossOver by name at start-up and uses them in
 * place of its own mutations; AFL++ loads the library itself:
 * `AFL_CUSTOM_MUTATOR_LIBRARY=/path/libhandshake_mutator.so HANDSHAKE_FORMAT=… afl-fuzz …`.
 *
 * Thread safety: every function may be called from any thread; an AFL++ state is used by one
 * thread at a time. No function lets a Rust panic unwind into C: a panic (a bug in the library) is
 * reported on stderr and the function returns the value its comment names.
 */
#ifndef HANDSHAKE_MUTATOR_H
#define HANDSHAKE_MUTATOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- libFuzzer ---------------------------------------------------------------------------- */

/*
 * Mutates Data[0..Size) in place; the buffer holds MaxSize bytes. Returns the new size, at most
 * MaxSize. Deterministic in (Data, Size, MaxSize, Seed). Exits (status 2) when HANDSHAKE_FORMAT
 * names no format. On an internal panic: returns min(Size, MaxSize), the input unchanged.
 */
size_t LLVMFuzzerCustomMutator(uint8_t *Data, size_t Size, size_t MaxSize, unsigned int Seed);

/*
 * Writes a cross-over of Data1[0..Size1) and Data2[0..Size2) (a prefix of one, a suffix of the
 * other, then sometimes one structure-aware mutation) into Out, at most MaxOutSize bytes; returns
 * its length. Exits as LLVMFuzzerCustomMutator does. On an internal panic: returns 0.
 */
size_t LLVMFuzzerCustomCrossOver(const uint8_t *Data1, size_t Size1, const uint8_t *Data2,
                                 size_t Size2, uint8_t *Out, size_t MaxOutSize,
                                 unsigned int Seed);

/* ---- AFL++ custom mutator (docs/custom_mutators.md of AFL++) -------------------------------- */

/*
 * Starts one mutator instance for HANDSHAKE_FORMAT (exits with status 2 when it names no format).
 * `afl` is not used. Returns the state every other afl_custom_* call takes; NULL only on an
 * internal panic.
 */
void *afl_custom_init(void *afl, unsigned int seed);

/*
 * One mutation of buf[0..buf_size), at most max_size bytes; one call in four it is a cross-over
 * with add_buf[0..add_buf_size) when AFL++ passes one (add_buf may be NULL). *out_buf is set to a
 * buffer owned by the state, valid until the next afl_custom_fuzz or afl_custom_deinit on it.
 * Returns the mutation's length; 0 (and *out_buf untouched) when data or out_buf is NULL or on an
 * internal panic.
 */
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
                       uint8_t *add_buf, size_t add_buf_size, size_t max_size);

/* Frees the state afl_custom_init returned (NULL is ignored). Call it once. */
void afl_custom_deinit(void *data);

/* ---- The reference decoder ---------------------------------------------------------------- */

/* hh_decode's errors. */
#define HH_ERR_NULL (-1)           /* format is NULL, data NULL with len > 0, out_json NULL with cap > 0 */
#define HH_ERR_UNKNOWN_FORMAT (-2) /* format is not one of the ids above (or not UTF-8) */
#define HH_ERR_PANIC (-3)          /* internal panic (a bug in the library; reported on stderr) */
/*
 * out_json too small: hh_decode returns HH_ERR_TOO_SMALL - needed, needed being the capacity
 * (NUL included) that would do, so every value <= HH_ERR_TOO_SMALL means "too small" and
 * HH_DECODE_NEEDED(ret) is the size to allocate. out_json then holds "" (when cap > 0).
 */
#define HH_ERR_TOO_SMALL (-16)
#define HH_DECODE_NEEDED(ret) ((size_t)(HH_ERR_TOO_SMALL - (ret)))

/*
 * Decodes data[0..len) with the reference decoder of `format` (a format id, NUL-terminated) and
 * writes its verdict as one JSON line, NUL-terminated, into out_json (cap bytes):
 *   {"ok":true|false,"kind":"syn"|null,"fields":{...},"error":"why"|null}
 * "ok" is always the first key, so strncmp(out_json, "{\"ok\":true", 10) == 0 tests acceptance.
 * Returns the bytes written, the NUL not counted (>= 0), or a negative error above. Pass
 * out_json = NULL, cap = 0 to learn the size needed: HH_DECODE_NEEDED(return value).
 * data may be NULL when len is 0 (the empty input).
 */
int64_t hh_decode(const char *format, const uint8_t *data, size_t len, char *out_json,
                  size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* HANDSHAKE_MUTATOR_H */
