-- Wireshark / tshark Lua dissector for the ctsTraffic UDP "media stream" protocol
-- (legacy START discovery and the 3-way SYN / SYN-ACK / ACK handshake).
--
-- Written from the wire facts in shared/protocols/mediastream.md ("Wire facts", decision D14).
-- Field abbreviations follow the JSON of `harness decode --json` (mediastream.kind, .seq, .connection_id …);
-- test_dissector.py in this folder checks, packet by packet, that both decode every capture alike.
--
-- Usage:  tshark -X lua_script:mediastream.lua -r capture.pcapng
--   or copy this file to ~/.local/lib/wireshark/plugins/ (Wireshark >= 4.0, Lua 5.2).
--
-- All integers are little-endian. Receive classification (3-way spec §8):
--   length < 2                      -> invalid (too short for a flag)
--   exactly the 5 bytes "START"     -> START (only in mode "legacy", the default, like `harness decode`)
--   flag 0x1000                     -> CONNECTION_ID, needs >= 39 (trailing bytes ignored)
--   flag 0x0000 / 0x0001            -> DATA (>= 26) / DATA+FRAG (>= 42)
--   flag 0x0100 / 0x0101 / 0x0102   -> SYN / SYN-ACK / ACK (>= 67, Version must be 1, TLV options from 67)
--   anything else                   -> unknown flag

local ms = Proto("mediastream", "ctsTraffic Media Stream")

local MODE_LEGACY, MODE_3WAY = 1, 2
ms.prefs.mode = Pref.enum("Classification mode", MODE_LEGACY,
    "legacy: an exact 5-byte START is recognised first (legacy-accepting receiver, the default of "
        .. "`harness decode`); 3way: never, the bytes read as the unknown flag 0x5453",
    { { 1, "legacy", MODE_LEGACY }, { 2, "3way", MODE_3WAY } }, false)
ms.prefs.heuristic = Pref.bool("Heuristic claims whole conversation", true,
    "When the UDP heuristic recognises a datagram, dissect the rest of its UDP conversation as media stream too")

-- Wire constants ----------------------------------------------------------------------------------------
local FLAG_DATA, FLAG_DATA_FRAG = 0x0000, 0x0001
local FLAG_SYN, FLAG_SYN_ACK, FLAG_ACK = 0x0100, 0x0101, 0x0102
local FLAG_CONNECTION_ID = 0x1000
local FLAG_START_AS_FLAG = 0x5453 -- "ST"

local HEADER_LEN = 26        -- flag, seq @2, QPC @10, QPF @18
local FRAG_HEADER_LEN = 42   -- + FragmentOffset @26, TotalLength @34
local CONTROL_LEN = 67       -- header + Version @26, Flags @27, Reserved @28, id @30 (37 bytes)
local CONNECTION_ID_DATAGRAM_LEN = 39
local ID_LEN = 37
local TLV_HEADER_LEN = 3

-- kind: { json name, wire name, minimum length }
local KINDS = {
    [FLAG_DATA] = { "data", "DATA", HEADER_LEN },
    [FLAG_DATA_FRAG] = { "data_frag", "DATA+FRAG", FRAG_HEADER_LEN },
    [FLAG_SYN] = { "syn", "SYN", CONTROL_LEN },
    [FLAG_SYN_ACK] = { "syn_ack", "SYN-ACK", CONTROL_LEN },
    [FLAG_ACK] = { "ack", "ACK", CONTROL_LEN },
    [FLAG_CONNECTION_ID] = { "connection_id", "CONNECTION_ID", CONNECTION_ID_DATAGRAM_LEN },
}
local WIRE_NAME = { start = "START" }
for _, k in pairs(KINDS) do WIRE_NAME[k[1]] = k[2] end

local flag_names = {
    [FLAG_DATA] = "DATA", [FLAG_DATA_FRAG] = "DATA+FRAG", [FLAG_SYN] = "SYN",
    [FLAG_SYN_ACK] = "SYN-ACK", [FLAG_ACK] = "ACK", [FLAG_CONNECTION_ID] = "CONNECTION_ID",
}

-- D14 option types: code -> { name, fixed value length or nil }
local TLV = {
    [1] = { "frame_rate", 4 },
    [2] = { "bits_per_second", 8 },
    [3] = { "buffer_depth_ms", 4 },
    [4] = { "codec_hint", nil },
    [5] = { "max_datagram_bytes", 4 },
}
local tlv_type_names = {}
for code, t in pairs(TLV) do tlv_type_names[code] = t[1] end

-- Fields (names as in `harness decode --json`) ----------------------------------------------------------
local F = {
    kind = ProtoField.string("mediastream.kind", "Kind"),
    flag = ProtoField.uint16("mediastream.flag", "Flag", base.HEX, flag_names),
    seq = ProtoField.uint64("mediastream.seq", "Sequence number", base.DEC),
    qpc = ProtoField.uint64("mediastream.qpc", "QPC", base.DEC),
    qpf = ProtoField.uint64("mediastream.qpf", "QPF", base.DEC),
    fragment_offset = ProtoField.uint64("mediastream.fragment_offset", "Fragment offset", base.DEC),
    total_length = ProtoField.uint64("mediastream.total_length", "Total length", base.DEC),
    payload_len = ProtoField.uint32("mediastream.payload_len", "Payload length", base.DEC),
    payload = ProtoField.bytes("mediastream.payload", "Payload"),
    payload_is_pattern = ProtoField.bool("mediastream.payload_is_pattern", "Payload is the fill pattern"),
    pattern_mismatch = ProtoField.uint32("mediastream.pattern_mismatch_offset",
        "First payload byte differing from the fill pattern", base.DEC),
    -- control frames: header (zero when sent; not printed by the harness, hence other names)
    control_seq = ProtoField.uint64("mediastream.control.seq", "Sequence number (must be 0)", base.DEC),
    control_qpc = ProtoField.uint64("mediastream.control.qpc", "QPC (must be 0)", base.DEC),
    control_qpf = ProtoField.uint64("mediastream.control.qpf", "QPF (must be 0)", base.DEC),
    control_flags = ProtoField.uint8("mediastream.control.flags", "Flags", base.HEX),
    version = ProtoField.uint8("mediastream.version", "Version", base.DEC),
    flags = ProtoField.uint8("mediastream.flags", "Flags", base.HEX),
    accept = ProtoField.bool("mediastream.accept", "Accept", 8, { "Accepted", "Rejected" }, 0x01),
    reserved = ProtoField.uint16("mediastream.reserved", "Reserved", base.HEX),
    connection_id = ProtoField.string("mediastream.connection_id", "Connection id"),
    trailing = ProtoField.bytes("mediastream.trailing", "Trailing bytes (ignored)"),
    -- D14 TLV options
    options = ProtoField.none("mediastream.options", "Options"),
    option = ProtoField.none("mediastream.options.option", "Option"),
    opt_type = ProtoField.uint8("mediastream.options.type", "Type", base.DEC, tlv_type_names),
    opt_name = ProtoField.string("mediastream.options.name", "Name"),
    opt_length = ProtoField.uint16("mediastream.options.length", "Length", base.DEC),
    opt_frame_rate = ProtoField.uint32("mediastream.options.frame_rate", "Frame rate", base.DEC),
    opt_bits_per_second = ProtoField.uint64("mediastream.options.bits_per_second", "Bits per second", base.DEC),
    opt_buffer_depth_ms = ProtoField.uint32("mediastream.options.buffer_depth_ms", "Buffer depth (ms)", base.DEC),
    opt_codec_hint = ProtoField.string("mediastream.options.codec_hint", "Codec hint"),
    opt_max_datagram_bytes = ProtoField.uint32("mediastream.options.max_datagram_bytes",
        "Max datagram bytes", base.DEC),
    opt_unknown = ProtoField.bytes("mediastream.options.unknown", "Unknown option value"),
    -- malformed datagrams (names as in the harness's "error" object)
    error = ProtoField.string("mediastream.error", "Error"),
    error_kind = ProtoField.string("mediastream.error.kind", "Kind"),
    error_needed = ProtoField.uint32("mediastream.error.needed", "Needed bytes", base.DEC),
    error_actual = ProtoField.uint32("mediastream.error.actual", "Actual", base.DEC),
    error_flag = ProtoField.uint16("mediastream.error.flag", "Flag", base.HEX),
    error_version = ProtoField.uint8("mediastream.error.version", "Version", base.DEC),
    error_offset = ProtoField.uint32("mediastream.error.offset", "Offset", base.DEC),
    error_available = ProtoField.uint32("mediastream.error.available", "Available bytes", base.DEC),
    error_type = ProtoField.uint8("mediastream.error.type", "TLV type", base.DEC),
    error_expected = ProtoField.uint32("mediastream.error.expected", "Expected length", base.DEC),
}
local field_list = {}
for _, f in pairs(F) do field_list[#field_list + 1] = f end
ms.fields = field_list

local E = {
    malformed = ProtoExpert.new("mediastream.malformed", "Malformed media-stream datagram",
        expert.group.MALFORMED, expert.severity.ERROR),
    pattern = ProtoExpert.new("mediastream.payload_not_pattern", "Payload is not the fill pattern",
        expert.group.PROTOCOL, expert.severity.WARN),
    nonzero = ProtoExpert.new("mediastream.control_nonzero", "Control frame field should be zero",
        expert.group.PROTOCOL, expert.severity.WARN),
}
ms.experts = { E.malformed, E.pattern, E.nonzero }

-- Helpers --------------------------------------------------------------------------------------------------

-- The escaping of `harness decode`: printable ASCII as is, backslash doubled, other bytes as \xNN.
local function escape(s)
    local out = {}
    for i = 1, #s do
        local b = s:byte(i)
        if b == 92 then
            out[#out + 1] = "\\\\"
        elseif b >= 0x20 and b <= 0x7e then
            out[#out + 1] = string.char(b)
        else
            out[#out + 1] = string.format("\\x%02x", b)
        end
    end
    return table.concat(out)
end

-- A connection id is shown without its trailing NULs (all-zero id: the empty string).
local function escape_id(raw)
    return escape((raw:gsub("%z+$", "")))
end

-- The fill pattern: little-endian u16 counter 0..32767, repeating every 65,536 bytes.
local PATTERN_PERIOD = 65536
local PATTERN
do
    local parts = {}
    for i = 0, 32767 do parts[#parts + 1] = string.char(i % 256, math.floor(i / 256)) end
    PATTERN = table.concat(parts)
end

-- Returns nil when `s` equals pattern[0 .. #s], else the first differing offset.
local function pattern_mismatch(s)
    local n, at = #s, 0
    while at < n do
        local len = math.min(PATTERN_PERIOD, n - at)
        local chunk = s:sub(at + 1, at + len)
        if chunk ~= PATTERN:sub(1, len) then
            for i = 1, len do
                if chunk:byte(i) ~= PATTERN:byte(i) then return at + i - 1 end
            end
        end
        at = at + len
    end
    return nil
end

local function u64_is_zero(v) return v == UInt64(0, 0) end

-- Classification (no tree): returns kind name and, for malformed datagrams, an error table
-- { error = name, kind = kind or nil, ... , message = text as `harness decode` prints it }.
local function too_short(kind, needed, actual)
    local msg
    if kind then
        msg = string.format("%s too short: needed %d bytes, got %d", WIRE_NAME[kind], needed, actual)
    else
        msg = string.format("too short for a flag: needed %d bytes, got %d", needed, actual)
    end
    return { error = "too_short", kind = kind, needed = needed, actual = actual, message = msg }
end

local function classify(tvb, mode)
    local len = tvb:len()
    if len < 2 then return nil, too_short(nil, 2, len) end
    if mode == MODE_LEGACY and len == 5 and tvb:raw(0, 5) == "START" then return "start" end
    local flag = tvb(0, 2):le_uint()
    local k = KINDS[flag]
    if not k then
        local msg = string.format("unknown flag 0x%04x", flag)
        if flag == FLAG_START_AS_FLAG then
            msg = msg .. " (\"ST\": a START is exactly the 5 bytes `START`, and only legacy-accepting "
                .. "receivers take it)"
        end
        return nil, { error = "unknown_flag", flag = flag, message = msg }
    end
    if len < k[3] then return nil, too_short(k[1], k[3], len) end
    return k[1]
end

-- Walks the TLV options in tvb[from ..]; calls visit(offset, type, length) for each one that fits and
-- returns nil, or returns the error table of the first bad one. D14 only says "a TLV running past the end
-- is invalid"; like `harness decode`, a known fixed-width type (1, 3, 5: u32; 2: u64) with another length
-- is invalid too (tlv_bad_length). Unknown types are kept and shown, whatever their length.
local function walk_options(tvb, from, kind, visit)
    local len, at = tvb:len(), from
    while at < len do
        local available = len - at
        if available < TLV_HEADER_LEN then
            return { error = "tlv_overrun", kind = kind, offset = at, needed = TLV_HEADER_LEN,
                available = available }
        end
        local t = tvb(at, 1):uint()
        local l = tvb(at + 1, 2):le_uint()
        if available < TLV_HEADER_LEN + l then
            return { error = "tlv_overrun", kind = kind, offset = at, needed = TLV_HEADER_LEN + l,
                available = available }
        end
        local known = TLV[t]
        if known and known[2] and known[2] ~= l then
            return { error = "tlv_bad_length", kind = kind, type = t, expected = known[2], actual = l,
                offset = at }
        end
        if visit then visit(at, t, l) end
        at = at + TLV_HEADER_LEN + l
    end
    return nil
end

local function tlv_message(e)
    if e.error == "tlv_overrun" then
        return string.format("%s TLV option at byte %d overruns the datagram: needs %d bytes, %d left",
            WIRE_NAME[e.kind], e.offset, e.needed, e.available)
    end
    return string.format("%s TLV option type %d has length %d, expected %d",
        WIRE_NAME[e.kind], e.type, e.actual, e.expected)
end

-- Full check of a datagram: kind, or nil + error (including version and TLV checks of control frames).
local function parse_check(tvb, mode)
    local kind, err = classify(tvb, mode)
    if not kind then return nil, err end
    if kind == "syn" or kind == "syn_ack" or kind == "ack" then
        local version = tvb(26, 1):uint()
        if version ~= 1 then
            return nil, { error = "bad_version", kind = kind, version = version,
                message = string.format("%s has version %d, expected 1", WIRE_NAME[kind], version) }
        end
        local e = walk_options(tvb, CONTROL_LEN, kind, nil)
        if e then
            e.message = tlv_message(e)
            return nil, e
        end
    end
    return kind
end

-- Tree building ---------------------------------------------------------------------------------------------

local function add_payload(tree, tvb, from, info)
    local n = tvb:len() - from
    local range = n > 0 and tvb(from, n) or tvb(from, 0)
    tree:add(F.payload_len, range, n):set_generated()
    if n > 0 then tree:add(F.payload, range) end
    local mismatch = n > 0 and pattern_mismatch(tvb:raw(from, n)) or nil
    local item = tree:add(F.payload_is_pattern, range, mismatch == nil)
    item:set_generated()
    if mismatch then
        tree:add(F.pattern_mismatch, tvb(from + mismatch, 1), mismatch):set_generated()
        item:add_proto_expert_info(E.pattern,
            string.format("Payload is not the fill pattern (first difference at payload byte %d)", mismatch))
        info[#info + 1] = "(payload is not the fill pattern)"
    end
    return n
end

local function add_header(tree, tvb, info, prefix)
    local seq, qpc, qpf = tvb(2, 8):le_uint64(), tvb(10, 8):le_uint64(), tvb(18, 8):le_uint64()
    if prefix == "control" then
        local items = { { F.control_seq, 2, seq }, { F.control_qpc, 10, qpc }, { F.control_qpf, 18, qpf } }
        for _, it in ipairs(items) do
            local item = tree:add_le(it[1], tvb(it[2], 8))
            if not u64_is_zero(it[3]) then item:add_proto_expert_info(E.nonzero) end
        end
    else
        tree:add_le(F.seq, tvb(2, 8))
        tree:add_le(F.qpc, tvb(10, 8))
        tree:add_le(F.qpf, tvb(18, 8))
        info[#info + 1] = "seq=" .. tostring(seq)
        info[#info + 1] = "qpc=" .. tostring(qpc)
        info[#info + 1] = "qpf=" .. tostring(qpf)
    end
end

local function add_options(tree, tvb, kind, info)
    local len = tvb:len()
    local range = len > CONTROL_LEN and tvb(CONTROL_LEN, len - CONTROL_LEN) or tvb(CONTROL_LEN, 0)
    local otree = tree:add(F.options, range)
    local count = 0
    local err = walk_options(tvb, CONTROL_LEN, kind, function(at, t, l)
        count = count + 1
        local known = TLV[t]
        local name = known and known[1] or "unknown"
        local vrange = l > 0 and tvb(at + TLV_HEADER_LEN, l) or tvb(at + TLV_HEADER_LEN, 0)
        local item = otree:add(F.option, tvb(at, TLV_HEADER_LEN + l))
        item:add(F.opt_type, tvb(at, 1))
        item:add(F.opt_name, tvb(at, 1), name):set_generated()
        item:add_le(F.opt_length, tvb(at + 1, 2))
        local shown
        if t == 1 or t == 3 or t == 5 then
            item:add_le(F["opt_" .. name], vrange)
            shown = tostring(vrange:le_uint())
        elseif t == 2 then
            item:add_le(F.opt_bits_per_second, vrange)
            shown = tostring(vrange:le_uint64())
        elseif t == 4 then
            shown = escape(l > 0 and vrange:raw() or "")
            item:add(F.opt_codec_hint, vrange, shown)
            shown = '"' .. shown .. '"'
        else
            if l > 0 then item:add(F.opt_unknown, vrange) end -- empty: no value item (length 0 says it)
            shown = t .. ":" .. l .. "B"
        end
        item:set_text(string.format("Option %d (%s), length %d: %s", t, name, l, shown))
        info[#info + 1] = name .. "=" .. shown
    end)
    otree:set_text(count == 0 and "Options: none" or string.format("Options (%d)", count))
    return err
end

-- Marks a datagram malformed: kind "malformed", the error fields, expert info with the harness's text.
local function add_error(tree, tvb, err)
    local whole = tvb:len() > 0 and tvb() or tvb(0, 0)
    local etree = tree:add(F.error, whole, err.error)
    if err.kind then etree:add(F.error_kind, whole, err.kind) end
    local range_at = function(off, n)
        if off and off < tvb:len() then return tvb(off, math.min(n or 1, tvb:len() - off)) end
        return whole
    end
    if err.error == "too_short" then
        etree:add(F.error_needed, whole, err.needed)
        etree:add(F.error_actual, whole, err.actual)
    elseif err.error == "unknown_flag" then
        etree:add(F.error_flag, tvb(0, 2), err.flag)
    elseif err.error == "bad_version" then
        etree:add(F.error_version, tvb(26, 1), err.version)
    elseif err.error == "tlv_overrun" then
        local r = range_at(err.offset, err.available)
        etree:add(F.error_offset, r, err.offset)
        etree:add(F.error_needed, r, err.needed)
        etree:add(F.error_available, r, err.available)
    elseif err.error == "tlv_bad_length" then
        local r = range_at(err.offset, TLV_HEADER_LEN + err.actual)
        etree:add(F.error_type, r, err.type)
        etree:add(F.error_expected, r, err.expected)
        etree:add(F.error_actual, r, err.actual)
    end
    etree:add_proto_expert_info(E.malformed, err.message)
end

local function dissect(tvb, pinfo, tree)
    local len = tvb:len()
    pinfo.cols.protocol = "MEDIASTREAM"
    local root = tree:add(ms, tvb())
    local kind, err = parse_check(tvb, ms.prefs.mode)
    local info = {}

    if not kind then
        root:add(F.kind, tvb(0, 0), "malformed"):set_generated()
        if len >= 2 then root:add_le(F.flag, tvb(0, 2)) end
        if err.kind == "syn" or err.kind == "syn_ack" or err.kind == "ack" then
            -- bad version or bad TLV: show what could be read, under the non-JSON names
            add_header(root, tvb, info, "control")
            root:add(F.version, tvb(26, 1))
            root:add(F.control_flags, tvb(27, 1))
            root:add_le(F.reserved, tvb(28, 2))
        end
        add_error(root, tvb, err)
        root:append_text(", MALFORMED: " .. err.message)
        pinfo.cols.info = "MALFORMED: " .. err.message
        return len
    end

    root:add(F.kind, tvb(0, len >= 2 and 2 or 0), kind):set_generated()
    local wire = WIRE_NAME[kind]
    if kind == "start" then
        -- exactly "START", nothing else to show
    elseif kind == "connection_id" then
        root:add_le(F.flag, tvb(0, 2))
        local id = escape_id(tvb:raw(2, ID_LEN))
        root:add(F.connection_id, tvb(2, ID_LEN), id)
        info[#info + 1] = 'id="' .. id .. '"'
        if len > CONNECTION_ID_DATAGRAM_LEN then
            root:add(F.trailing, tvb(CONNECTION_ID_DATAGRAM_LEN, len - CONNECTION_ID_DATAGRAM_LEN))
        end
    elseif kind == "data" then
        root:add_le(F.flag, tvb(0, 2))
        add_header(root, tvb, info)
        local n = add_payload(root, tvb, HEADER_LEN, info)
        table.insert(info, 4, "payload=" .. n)
    elseif kind == "data_frag" then
        root:add_le(F.flag, tvb(0, 2))
        add_header(root, tvb, info)
        root:add_le(F.fragment_offset, tvb(26, 8))
        root:add_le(F.total_length, tvb(34, 8))
        info[#info + 1] = "offset=" .. tostring(tvb(26, 8):le_uint64())
        info[#info + 1] = "total=" .. tostring(tvb(34, 8):le_uint64())
        local n = add_payload(root, tvb, FRAG_HEADER_LEN, info)
        table.insert(info, 6, "payload=" .. n)
    else -- syn, syn_ack, ack
        root:add_le(F.flag, tvb(0, 2))
        add_header(root, tvb, info, "control")
        root:add(F.version, tvb(26, 1))
        local flags = tvb(27, 1):uint()
        local fitem = root:add(F.flags, tvb(27, 1))
        if kind == "syn_ack" then
            fitem:add(F.accept, tvb(27, 1))
            info[#info + 1] = "accept=" .. tostring(flags % 2 == 1)
            if flags > 1 then info[#info + 1] = string.format("flags=0x%02x", flags) end
        elseif flags ~= 0 then
            info[#info + 1] = string.format("flags=0x%02x", flags)
        end
        local reserved = root:add_le(F.reserved, tvb(28, 2))
        if tvb(28, 2):le_uint() ~= 0 then reserved:add_proto_expert_info(E.nonzero) end
        local id = escape_id(tvb:raw(30, ID_LEN))
        root:add(F.connection_id, tvb(30, ID_LEN), id)
        info[#info + 1] = 'id="' .. id .. '"'
        add_options(root, tvb, kind, info)
    end
    local text = wire .. (#info > 0 and (" " .. table.concat(info, " ")) or "")
    root:append_text(", " .. text)
    pinfo.cols.info = text
    return len
end

function ms.dissector(tvb, pinfo, tree)
    return dissect(tvb, pinfo, tree)
end

local PORT = 4444 -- the Responder's default port (ctsTraffic -listen)
DissectorTable.get("udp.port"):add(PORT, ms)

-- Empty datagrams -------------------------------------------------------------------------------------------
-- Wireshark's UDP dissector never hands a 0-byte payload to a sub-dissector, yet a 0-byte datagram is a
-- malformed media-stream datagram ("length < 2 -> invalid"). A small post-dissector marks those sent to or
-- from the registered port, with the same fields and expert info as any other malformed datagram.
local f_udp_length = Field.new("udp.length")
local f_udp_srcport = Field.new("udp.srcport")
local f_udp_dstport = Field.new("udp.dstport")
local ms_empty = Proto("mediastream_empty", "ctsTraffic Media Stream (empty datagrams)")

function ms_empty.dissector(tvb, pinfo, tree)
    local lengths = { f_udp_length() }
    if #lengths ~= 1 or lengths[1].value ~= 8 then return end
    local sp, dp = f_udp_srcport(), f_udp_dstport()
    if not sp or not dp or (sp.value ~= PORT and dp.value ~= PORT) then return end
    local at = sp.offset + 8 -- end of the UDP header (source port is its first field): a zero-length range
    if at > tvb:len() then return end
    local empty = tvb(at, 0)
    local root = tree:add(ms, empty)
    root:add(F.kind, empty, "malformed"):set_generated()
    local err = too_short(nil, 2, 0)
    local etree = root:add(F.error, empty, err.error)
    etree:add(F.error_needed, empty, err.needed)
    etree:add(F.error_actual, empty, err.actual)
    etree:add_proto_expert_info(E.malformed, err.message)
    root:append_text(", MALFORMED: " .. err.message)
    pinfo.cols.protocol = "MEDIASTREAM"
    pinfo.cols.info = "MALFORMED: " .. err.message
end

register_postdissector(ms_empty)

-- Heuristic -------------------------------------------------------------------------------------------------
-- Conservative: only datagrams that look like this protocol on their own.
--   * exactly "START" (5 bytes);
--   * a well-formed SYN / SYN-ACK / ACK: >= 67 bytes, Version 1, Flags <= 1, Reserved 0, valid TLVs, and an
--     id that is all zero or printable ASCII padded with NULs;
--   * a CONNECTION_ID: >= 39 bytes whose id is printable ASCII (>= 1 char) padded with NULs;
--   * DATA / DATA+FRAG: sequence number >= 1, QPF != 0, and a payload of >= 8 bytes that starts with the
--     fill pattern (first 64 bytes checked); DATA+FRAG also needs offset + payload <= total length.
-- A recognised datagram makes its UDP conversation a media-stream conversation (preference), so the short
-- tail datagrams and malformed datagrams of that stream are dissected too.

local function printable_id(raw, allow_zero)
    local text = raw:gsub("%z+$", "")
    if #text == 0 then return allow_zero end
    return text:find("[^\32-\126]") == nil
end

local function looks_like_media(tvb, header_len)
    local len = tvb:len()
    if len < header_len + 8 then return false end
    if u64_is_zero(tvb(2, 8):le_uint64()) then return false end
    if u64_is_zero(tvb(18, 8):le_uint64()) then return false end
    local n = math.min(64, len - header_len)
    if tvb:raw(header_len, n) ~= PATTERN:sub(1, n) then return false end
    if header_len == FRAG_HEADER_LEN then
        local offset, total = tvb(26, 8):le_uint64(), tvb(34, 8):le_uint64()
        if offset > total or UInt64(len - header_len, 0) > total - offset then return false end
    end
    return true
end

local function heuristic_accepts(tvb)
    local len = tvb:len()
    if len == 5 then return tvb:raw(0, 5) == "START" end
    if len < 26 then return false end
    local flag = tvb(0, 2):le_uint()
    if flag == FLAG_SYN or flag == FLAG_SYN_ACK or flag == FLAG_ACK then
        if len < CONTROL_LEN then return false end
        if tvb(26, 1):uint() ~= 1 or tvb(27, 1):uint() > 1 or tvb(28, 2):le_uint() ~= 0 then return false end
        if not printable_id(tvb:raw(30, ID_LEN), true) then return false end
        local kind = KINDS[flag][1]
        return walk_options(tvb, CONTROL_LEN, kind, nil) == nil
    elseif flag == FLAG_CONNECTION_ID then
        return len >= CONNECTION_ID_DATAGRAM_LEN and printable_id(tvb:raw(2, ID_LEN), false)
    elseif flag == FLAG_DATA then
        return looks_like_media(tvb, HEADER_LEN)
    elseif flag == FLAG_DATA_FRAG then
        return looks_like_media(tvb, FRAG_HEADER_LEN)
    end
    return false
end

local function heuristic(tvb, pinfo, tree)
    if not heuristic_accepts(tvb) then return false end
    if ms.prefs.heuristic then pinfo.conversation = ms end
    dissect(tvb, pinfo, tree)
    return true
end

ms:register_heuristic("udp", heuristic)
