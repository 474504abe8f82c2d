//! What Proton endpoints report: stream-level units of one side's view of the connection.

use std::fmt;

use handshake_quic::{Close, ConnId};

/// One thing an endpoint saw or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtonEvent {
    /// A server's startup delay is over: it prints `Server listening`.
    Listening,
    /// A connection's handshake completed.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The ALPN protocol.
        alpn: Option<String>,
    },
    /// A server refused a connection (CONNECTION_REFUSED).
    RefusedIncoming,
    /// The other side opened a stream.
    StreamOpened {
        /// The connection.
        conn: ConnId,
        /// The QUIC stream id.
        stream: u64,
    },
    /// A stream's discriminator byte arrived (a known one, or any other byte).
    Discriminator {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// The byte.
        byte: u8,
    },
    /// A whole u32 arrived.
    Value {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// The value.
        value: u32,
    },
    /// The stream ended (FIN) with `pending` bytes of an unfinished u32.
    Fin {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// Bytes of a u32 left over (0: at a boundary).
        pending: u8,
    },
    /// The other side reset a stream (RESET_STREAM).
    Reset {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// Its code.
        code: u64,
    },
    /// The other side asked this side to stop sending (STOP_SENDING).
    StopSending {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// Its code.
        code: u64,
    },
    /// The connection ended.
    Ended {
        /// The connection.
        conn: ConnId,
        /// How.
        close: Close,
        /// The other side ended it.
        by_peer: bool,
    },
    /// The other side acknowledged every byte this side sent on a stream before `offset` (the
    /// scripted peer, when asked to track acknowledgements).
    Acked {
        /// The connection.
        conn: ConnId,
        /// The stream.
        stream: u64,
        /// Every byte before it is acknowledged.
        offset: u64,
    },
    /// A step could not be done locally (a stream QUIC flow control does not allow yet …).
    Blocked {
        /// The connection.
        conn: ConnId,
        /// What.
        what: String,
    },
    /// A reference client's verdict on the exchange.
    ClientDone {
        /// It got every answer right and closed normally.
        ok: bool,
        /// Why not.
        reason: String,
    },
}

impl fmt::Display for ProtonEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtonEvent::Listening => f.write_str("Server listening"),
            ProtonEvent::Connected { conn, alpn } => {
                write!(
                    f,
                    "conn {conn}: connected alpn={}",
                    alpn.as_deref().unwrap_or("-")
                )
            }
            ProtonEvent::RefusedIncoming => {
                f.write_str("refused a connection (CONNECTION_REFUSED)")
            }
            ProtonEvent::StreamOpened { conn, stream } => {
                write!(f, "conn {conn}: stream {stream} opened")
            }
            ProtonEvent::Discriminator { conn, stream, byte } => {
                write!(f, "conn {conn}: stream {stream} discriminator {byte:#04x}")
            }
            ProtonEvent::Value {
                conn,
                stream,
                value,
            } => write!(f, "conn {conn}: stream {stream} u32 {value}"),
            ProtonEvent::Fin {
                conn,
                stream,
                pending,
            } => {
                write!(f, "conn {conn}: stream {stream} FIN")?;
                if *pending > 0 {
                    write!(f, " inside a u32 ({pending} bytes)")?;
                }
                Ok(())
            }
            ProtonEvent::Reset { conn, stream, code } => {
                write!(f, "conn {conn}: stream {stream} RESET_STREAM code {code}")
            }
            ProtonEvent::StopSending { conn, stream, code } => {
                write!(f, "conn {conn}: stream {stream} STOP_SENDING code {code}")
            }
            ProtonEvent::Ended {
                conn,
                close,
                by_peer,
            } => write!(
                f,
                "conn {conn}: closed by {} ({close})",
                if *by_peer {
                    "the other side"
                } else {
                    "this side"
                }
            ),
            ProtonEvent::Acked {
                conn,
                stream,
                offset,
            } => write!(
                f,
                "conn {conn}: stream {stream} acknowledged up to byte {offset}"
            ),
            ProtonEvent::Blocked { conn, what } => write!(f, "conn {conn}: blocked: {what}"),
            ProtonEvent::ClientDone { ok, reason } => {
                if *ok {
                    f.write_str("client done: ok")
                } else {
                    write!(f, "client done: fail ({reason})")
                }
            }
        }
    }
}
