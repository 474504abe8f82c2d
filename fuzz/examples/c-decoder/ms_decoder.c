/* The media stream's datagram decoder of the fuzz kit's C example (see ms_decoder.h). */
#include "ms_decoder.h"

#include <stdlib.h>
#include <string.h>

enum {
    FLAG_DATA = 0x0000,
    FLAG_DATA_FRAG = 0x0001,
    FLAG_SYN = 0x0100,
    FLAG_SYN_ACK = 0x0101,
    FLAG_ACK = 0x0102,
    FLAG_CONNECTION_ID = 0x1000,
};

enum {
    HEADER_LEN = 26,          /* flag, seq @2, QPC @10, QPF @18 */
    FRAGMENT_HEADER_LEN = 42, /* + FragmentOffset @26, TotalLength @34 */
    CONNECTION_ID_DATAGRAM_LEN = 39,
    CONTROL_LEN = 67, /* + Version @26, Flags @27, Reserved @28, id @30; options from 67 */
    TLV_HEADER_LEN = 3,
};

enum { TLV_FRAME_RATE = 1, TLV_BITS_PER_SECOND = 2, TLV_BUFFER_DEPTH_MS = 3, TLV_CODEC_HINT = 4, TLV_MAX_DATAGRAM_BYTES = 5 };

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Keeps a codec hint for the program, cut to MS_CODEC_HINT_MAX characters. */
static void keep_codec_hint(struct ms_parameters *p, const uint8_t *value, size_t len) {
    size_t n = len < MS_CODEC_HINT_MAX ? len : MS_CODEC_HINT_MAX;
    memcpy(p->codec_hint, value, n);
    p->codec_hint[n] = '\0';
}

/* Each known option type's value width in bytes; 0 for any length (the codec hint, and the
 * unknown types, which are kept and skipped). */
static const uint8_t OPTION_WIDTH[256] = {
    [TLV_FRAME_RATE] = 4,
    [TLV_BITS_PER_SECOND] = 8,
    [TLV_BUFFER_DEPTH_MS] = 4,
    [TLV_MAX_DATAGRAM_BYTES] = 4,
};

/* A little-endian unsigned integer of `width` (at most 8) bytes. */
static uint64_t le_uint(const uint8_t *p, size_t width) {
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Checks the TLV list options[0..len) whole (D14: a TLV running past the end, or a known type
 * with the wrong length, refuses the datagram), then keeps the values: the last of each type. */
static int decode_options(const uint8_t *options, size_t len, struct ms_parameters *p) {
    size_t at = 0;
    while (at < len) {
        if (len - at < TLV_HEADER_LEN)
            return MS_TLV_OVERRUN;
        size_t value_len = le16(options + at + 1);
        if (len - at - TLV_HEADER_LEN < value_len)
            return MS_TLV_OVERRUN;
        uint8_t width = OPTION_WIDTH[options[at]];
        if (width != 0 && value_len != width)
            return MS_TLV_BAD_LENGTH;
        at += TLV_HEADER_LEN + value_len;
    }
    uint64_t value[8] = {0};
    memset(p, 0, sizeof *p);
    for (at = 0; at < len;) {
        uint8_t type = options[at];
        size_t value_len = le16(options + at + 1);
        const uint8_t *v = options + at + TLV_HEADER_LEN;
        if (OPTION_WIDTH[type] != 0) {
            value[type] = le_uint(v, value_len);
            p->present |= 1u << type;
        } else if (type == TLV_CODEC_HINT) {
            keep_codec_hint(p, v, value_len);
            p->present |= 1u << type;
        } else {
            p->unknown_options++;
        }
        at += TLV_HEADER_LEN + value_len;
    }
    p->frame_rate = (uint32_t)value[TLV_FRAME_RATE];
    p->bits_per_second = value[TLV_BITS_PER_SECOND];
    p->buffer_depth_ms = (uint32_t)value[TLV_BUFFER_DEPTH_MS];
    p->max_datagram_bytes = (uint32_t)value[TLV_MAX_DATAGRAM_BYTES];
    return 0;
}

/* The options a SYN-ACK must fix before the receiver plans the stream from them. */
#define STREAM_OPTIONS (1u << TLV_FRAME_RATE | 1u << TLV_BITS_PER_SECOND | 1u << TLV_MAX_DATAGRAM_BYTES)
/* UDP's largest payload: a larger datagram limit is no limit. */
#define MAX_UDP_PAYLOAD 65507

/* An accepting SYN-ACK fixes the stream: the receiver sets up its reassembly buffer for one
 * fragment, a DATA+FRAG header and the largest datagram the responder will send. */
static void plan_stream(struct ms_datagram *out) {
    const struct ms_parameters *p = &out->parameters;
    if ((p->present & STREAM_OPTIONS) != STREAM_OPTIONS || p->max_datagram_bytes > MAX_UDP_PAYLOAD)
        return;
    /* THE PLANTED BUG: the size is kept in 16 bits (a UDP payload fits in them, the header and
     * the payload together need not), so a limit within 42 bytes of UDP's largest wraps to a few
     * bytes and the header is written past them (ASan: heap-buffer-overflow). */
    uint16_t room = (uint16_t)(FRAGMENT_HEADER_LEN + p->max_datagram_bytes);
    uint8_t *fragment = malloc(room);
    if (fragment == NULL)
        return;
    memset(fragment, 0, FRAGMENT_HEADER_LEN);
    out->reassembly = fragment;
    out->reassembly_len = room;
}

void ms_datagram_release(struct ms_datagram *datagram) {
    free(datagram->reassembly);
    datagram->reassembly = NULL;
    datagram->reassembly_len = 0;
}

static size_t min_len(enum ms_kind kind) {
    switch (kind) {
    case MS_START: return 5;
    case MS_CONNECTION_ID: return CONNECTION_ID_DATAGRAM_LEN;
    case MS_DATA: return HEADER_LEN;
    case MS_DATA_FRAG: return FRAGMENT_HEADER_LEN;
    default: return CONTROL_LEN;
    }
}

int ms_decode(const uint8_t *data, size_t len, struct ms_datagram *out) {
    memset(out, 0, sizeof *out);
    if (len < 2)
        return MS_TOO_SHORT;
    if (len == 5 && memcmp(data, "START", 5) == 0) {
        out->kind = MS_START;
        return 0;
    }
    switch (le16(data)) {
    case FLAG_DATA: out->kind = MS_DATA; break;
    case FLAG_DATA_FRAG: out->kind = MS_DATA_FRAG; break;
    case FLAG_SYN: out->kind = MS_SYN; break;
    case FLAG_SYN_ACK: out->kind = MS_SYN_ACK; break;
    case FLAG_ACK: out->kind = MS_ACK; break;
    case FLAG_CONNECTION_ID: out->kind = MS_CONNECTION_ID; break;
    default: return MS_UNKNOWN_FLAG;
    }
    if (len < min_len(out->kind))
        return MS_TOO_SHORT;
    switch (out->kind) {
    case MS_CONNECTION_ID:
        memcpy(out->connection_id, data + 2, MS_CONNECTION_ID_LEN);
        return 0;
    case MS_DATA:
    case MS_DATA_FRAG:
        out->seq = le64(data + 2);
        out->qpc = le64(data + 10);
        out->qpf = le64(data + 18);
        if (out->kind == MS_DATA) {
            out->payload = data + HEADER_LEN;
            out->payload_len = len - HEADER_LEN;
        } else {
            out->fragment_offset = le64(data + 26);
            out->total_length = le64(data + 34);
            out->payload = data + FRAGMENT_HEADER_LEN;
            out->payload_len = len - FRAGMENT_HEADER_LEN;
        }
        return 0;
    default:
        if (data[26] != 1)
            return MS_BAD_VERSION;
        out->control_flags = data[27];
        memcpy(out->connection_id, data + 30, MS_CONNECTION_ID_LEN);
        int result = decode_options(data + CONTROL_LEN, len - CONTROL_LEN, &out->parameters);
        if (result == 0 && out->kind == MS_SYN_ACK && (out->control_flags & 1) != 0)
            plan_stream(out);
        return result;
    }
}
