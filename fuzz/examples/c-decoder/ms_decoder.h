/*
 * A small C decoder of the media stream's datagrams (the ctsTraffic UDP media stream with the 3-way
 * handshake's SYN / SYN-ACK / ACK and their TLV options, decision D14), written as a product's
 * parser would be: it checks a datagram and fills a struct the rest of the program uses.
 *
 * It is the fuzz kit's C example (fuzz/examples/README.md): it carries ONE planted bug, which the
 * kit's campaign must find. Everything else agrees with the reference decoder
 * (hh_decode("mediastream.datagram", ...)) on which datagrams are accepted.
 */
#ifndef MS_DECODER_H
#define MS_DECODER_H

#include <stddef.h>
#include <stdint.h>

enum ms_kind { MS_START, MS_CONNECTION_ID, MS_DATA, MS_DATA_FRAG, MS_SYN, MS_SYN_ACK, MS_ACK };

/* Why a datagram is refused (ms_decode's negative results). */
enum ms_error {
    MS_TOO_SHORT = -1,
    MS_UNKNOWN_FLAG = -2,
    MS_BAD_VERSION = -3,
    MS_TLV_OVERRUN = -4,
    MS_TLV_BAD_LENGTH = -5,
};

#define MS_CONNECTION_ID_LEN 37
/* The longest codec hint the program keeps (longer ones are cut to this). */
#define MS_CODEC_HINT_MAX 16

/* What a control frame asks for (SYN) or grants (SYN-ACK), from its options; 0 when absent. */
struct ms_parameters {
    uint32_t frame_rate;
    uint64_t bits_per_second;
    uint32_t buffer_depth_ms;
    uint32_t max_datagram_bytes;
    char codec_hint[MS_CODEC_HINT_MAX + 1]; /* NUL-terminated, cut to MS_CODEC_HINT_MAX */
    unsigned present;                       /* bit n: an option of type n was there */
    unsigned unknown_options;
};

struct ms_datagram {
    enum ms_kind kind;
    uint64_t seq, qpc, qpf;                          /* DATA, DATA+FRAG */
    uint64_t fragment_offset, total_length;          /* DATA+FRAG */
    const uint8_t *payload;                          /* DATA, DATA+FRAG */
    size_t payload_len;
    uint8_t control_flags;                           /* control frames */
    uint8_t connection_id[MS_CONNECTION_ID_LEN];     /* CONNECTION_ID, control frames */
    struct ms_parameters parameters;                 /* control frames */
    uint8_t *reassembly;                             /* an accepting SYN-ACK's fragment buffer */
    size_t reassembly_len;
};

/* Decodes one datagram (legacy-accepting: exactly "START" is the legacy START). 0 when accepted, a
 * negative enum ms_error when refused. */
int ms_decode(const uint8_t *data, size_t len, struct ms_datagram *out);

/* Frees what ms_decode allocated for an accepted datagram (the reassembly buffer). */
void ms_datagram_release(struct ms_datagram *datagram);

#endif
