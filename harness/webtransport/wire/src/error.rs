//! The one wire error type: small and `Copy`; rich diagnostics belong to the judge.

/// Why bytes could not be read (or a value could not be written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// The input ends before the item is complete. For the incremental readers this means "wait for
    /// more bytes"; at a FIN it means the stream was cut short.
    #[error("input ends before the item is complete")]
    UnexpectedEnd,
    /// A value above 2^62 - 1 cannot be a QUIC variable-length integer.
    #[error("{0:#x} exceeds the largest QUIC varint (2^62 - 1)")]
    VarIntTooLarge(u64),
    /// A frame's declared payload length is above the reader's limit.
    #[error("frame type {frame_type:#x} declares {len} payload bytes, limit {limit}")]
    FrameTooLarge {
        /// The frame type.
        frame_type: u64,
        /// The declared length.
        len: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A frame's payload does not match its type's layout (a GOAWAY with trailing bytes, a SETTINGS
    /// list cut inside a pair).
    #[error("frame type {frame_type:#x}: malformed payload")]
    MalformedFrame {
        /// The frame type.
        frame_type: u64,
    },
    /// A datagram may only name a client-initiated bidirectional stream (id divisible by 4).
    #[error("stream {0} is not client-initiated bidirectional")]
    NotClientBidi(u64),
    /// A quarter stream id whose stream id (`× 4`) is not a varint.
    #[error("quarter stream id {0:#x} names no valid stream")]
    QuarterStreamIdTooLarge(u64),
    /// A QPACK field section could not be decoded.
    #[error("qpack: {0}")]
    Qpack(#[from] QpackError),
}

/// Why a QPACK field section could not be decoded (RFC 9204 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum QpackError {
    /// The section ends inside a representation.
    #[error("field section ends inside a representation")]
    UnexpectedEnd,
    /// A prefixed integer does not fit 62 bits.
    #[error("prefixed integer overflows")]
    IntegerOverflow,
    /// A reference to the dynamic table (or a non-zero Required Insert Count): this codec is
    /// static-table only, like a peer that advertises QPACK_MAX_TABLE_CAPACITY 0.
    #[error("dynamic table reference (this codec is static-table only)")]
    DynamicTable,
    /// A static-table index above 98.
    #[error("static table index {0} does not exist")]
    StaticIndex(u64),
    /// An invalid Huffman-coded string literal.
    #[error("invalid Huffman string: {0:?}")]
    Huffman(crate::huffman::HuffmanError),
    /// A string literal longer than the remaining section.
    #[error("string literal of {0} bytes runs past the section")]
    StringTooLong(u64),
}

impl Error {
    /// `true` when more bytes could complete the item (the readers' "wait").
    pub const fn is_incomplete(&self) -> bool {
        matches!(self, Error::UnexpectedEnd)
    }
}

impl From<handshake_core::VarIntError> for Error {
    fn from(e: handshake_core::VarIntError) -> Error {
        match e {
            handshake_core::VarIntError::UnexpectedEnd => Error::UnexpectedEnd,
            handshake_core::VarIntError::TooLarge(value) => Error::VarIntTooLarge(value),
        }
    }
}
