//! Zero-copy views. `new_checked` verifies the length for the view's kind once; after it succeeds no
//! accessor can panic or read outside the buffer. Setters need `AsMut<[u8]>`. Constructing a view never
//! checks the flag: [`classify`](super::classify) decides the kind, the view gives access to its fields.

use super::connection_id::ConnectionId;
use super::error::Error;
use super::field::{self, read_u16, read_u64, read_u8, write};
use super::options::Options;
use super::Kind;

macro_rules! view {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps `buffer` without checking its length (accessors then read missing fields as zero).
            pub const fn new_unchecked(buffer: T) -> Self {
                Self { buffer }
            }

            /// Wraps `buffer` after checking it is long enough for this kind.
            pub fn new_checked(buffer: T) -> Result<Self, Error> {
                let view = Self::new_unchecked(buffer);
                view.check_len()?;
                Ok(view)
            }

            /// Checks the buffer holds at least this kind's minimum length.
            pub fn check_len(&self) -> Result<(), Error> {
                let kind: Kind = $kind(self.buffer.as_ref());
                let actual = self.buffer.as_ref().len();
                if actual < kind.min_len() {
                    return Err(Error::TooShort { kind: Some(kind), needed: kind.min_len(), actual });
                }
                Ok(())
            }

            /// The underlying buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }

            /// The whole datagram.
            pub fn as_bytes(&self) -> &[u8] {
                self.buffer.as_ref()
            }

            /// The flag (bytes 0..2, little-endian).
            pub fn flag(&self) -> u16 {
                read_u16(self.buffer.as_ref(), field::FLAG)
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            /// Sets the flag.
            pub fn set_flag(&mut self, value: u16) {
                write(self.buffer.as_mut(), field::FLAG, &value.to_le_bytes());
            }
        }
    };
}

/// The 26-byte header (flag, sequence number, QPC, QPF) shared by DATA, DATA+FRAG and the control frames.
macro_rules! header_accessors {
    ($name:ident) => {
        impl<T: AsRef<[u8]>> $name<T> {
            /// SequenceNumber (bytes 2..10).
            pub fn seq(&self) -> u64 {
                read_u64(self.buffer.as_ref(), field::SEQ)
            }
            /// QPC (bytes 10..18).
            pub fn qpc(&self) -> u64 {
                read_u64(self.buffer.as_ref(), field::QPC)
            }
            /// QPF (bytes 18..26).
            pub fn qpf(&self) -> u64 {
                read_u64(self.buffer.as_ref(), field::QPF)
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            /// Sets SequenceNumber.
            pub fn set_seq(&mut self, value: u64) {
                write(self.buffer.as_mut(), field::SEQ, &value.to_le_bytes());
            }
            /// Sets QPC.
            pub fn set_qpc(&mut self, value: u64) {
                write(self.buffer.as_mut(), field::QPC, &value.to_le_bytes());
            }
            /// Sets QPF.
            pub fn set_qpf(&mut self, value: u64) {
                write(self.buffer.as_mut(), field::QPF, &value.to_le_bytes());
            }
        }
    };
}

view!(
    /// A DATA datagram (or the common header of any headered kind): header + payload from byte 26.
    Packet,
    |_: &[u8]| Kind::Data
);
header_accessors!(Packet);

impl<T: AsRef<[u8]>> Packet<T> {
    /// The payload (bytes from 26 on).
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::HEADER_LEN..).unwrap_or(&[])
    }
}

impl<'a> Packet<&'a [u8]> {
    /// The payload, borrowed for the buffer's whole lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        self.buffer.get(field::HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::HEADER_LEN..)
            .unwrap_or_default()
    }
}

view!(
    /// A DATA+FRAG datagram: header, FragmentOffset, TotalLength, payload from byte 42.
    FragmentPacket,
    |_: &[u8]| Kind::DataFrag
);
header_accessors!(FragmentPacket);

impl<T: AsRef<[u8]>> FragmentPacket<T> {
    /// FragmentOffset (bytes 26..34).
    pub fn fragment_offset(&self) -> u64 {
        read_u64(self.buffer.as_ref(), field::FRAGMENT_OFFSET)
    }
    /// TotalLength (bytes 34..42).
    pub fn total_length(&self) -> u64 {
        read_u64(self.buffer.as_ref(), field::TOTAL_LENGTH)
    }
    /// The payload (bytes from 42 on).
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::FRAGMENT_HEADER_LEN..)
            .unwrap_or(&[])
    }
}

impl<'a> FragmentPacket<&'a [u8]> {
    /// The payload, borrowed for the buffer's whole lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        self.buffer.get(field::FRAGMENT_HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> FragmentPacket<T> {
    /// Sets FragmentOffset.
    pub fn set_fragment_offset(&mut self, value: u64) {
        write(
            self.buffer.as_mut(),
            field::FRAGMENT_OFFSET,
            &value.to_le_bytes(),
        );
    }
    /// Sets TotalLength.
    pub fn set_total_length(&mut self, value: u64) {
        write(
            self.buffer.as_mut(),
            field::TOTAL_LENGTH,
            &value.to_le_bytes(),
        );
    }
    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::FRAGMENT_HEADER_LEN..)
            .unwrap_or_default()
    }
}

view!(
    /// A SYN, SYN-ACK or ACK: header (all zero when sent), Version, Flags, Reserved, connection id, and
    /// TLV options from byte 67.
    ControlPacket,
    |b: &[u8]| Kind::from_flag(read_u16(b, field::FLAG))
        .filter(|k| k.is_control())
        .unwrap_or(Kind::Syn)
);
header_accessors!(ControlPacket);

impl<T: AsRef<[u8]>> ControlPacket<T> {
    /// Version (byte 26); 1 in every valid frame.
    pub fn version(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::VERSION)
    }
    /// Flags (byte 27); SYN-ACK bit 0 is Accept.
    pub fn control_flags(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::CONTROL_FLAGS)
    }
    /// Reserved (bytes 28..30); should be zero.
    pub fn reserved(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::RESERVED)
    }
    /// Desired / Assigned / Confirmed connection id (bytes 30..67).
    pub fn connection_id(&self) -> ConnectionId {
        ConnectionId::from_slice(
            self.buffer
                .as_ref()
                .get(field::CONTROL_CONNECTION_ID)
                .unwrap_or(&[]),
        )
        .unwrap_or(ConnectionId::ZERO)
    }
    /// The raw TLV option bytes (from 67 on), not yet validated; see [`Options::parse`].
    pub fn options_bytes(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::CONTROL_LEN..)
            .unwrap_or(&[])
    }
    /// The validated options.
    pub fn options(&self) -> Result<Options<'_>, super::error::TlvError> {
        Options::parse(self.options_bytes())
    }
}

impl<'a> ControlPacket<&'a [u8]> {
    /// The raw option bytes, borrowed for the buffer's whole lifetime.
    pub fn into_options_bytes(self) -> &'a [u8] {
        self.buffer.get(field::CONTROL_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ControlPacket<T> {
    /// Sets Version.
    pub fn set_version(&mut self, value: u8) {
        write(
            self.buffer.as_mut(),
            field::VERSION..field::VERSION + 1,
            &[value],
        );
    }
    /// Sets Flags.
    pub fn set_control_flags(&mut self, value: u8) {
        write(
            self.buffer.as_mut(),
            field::CONTROL_FLAGS..field::CONTROL_FLAGS + 1,
            &[value],
        );
    }
    /// Sets Reserved.
    pub fn set_reserved(&mut self, value: u16) {
        write(self.buffer.as_mut(), field::RESERVED, &value.to_le_bytes());
    }
    /// Sets the connection id.
    pub fn set_connection_id(&mut self, id: &ConnectionId) {
        write(
            self.buffer.as_mut(),
            field::CONTROL_CONNECTION_ID,
            id.as_bytes(),
        );
    }
    /// The option bytes, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::CONTROL_LEN..)
            .unwrap_or_default()
    }
}

view!(
    /// A CONNECTION_ID: flag 0x1000 + 37-byte id; bytes after 39 are ignored.
    ConnectionIdPacket,
    |_: &[u8]| Kind::ConnectionId
);

impl<T: AsRef<[u8]>> ConnectionIdPacket<T> {
    /// The connection id (bytes 2..39).
    pub fn connection_id(&self) -> ConnectionId {
        ConnectionId::from_slice(
            self.buffer
                .as_ref()
                .get(field::CONNECTION_ID)
                .unwrap_or(&[]),
        )
        .unwrap_or(ConnectionId::ZERO)
    }
    /// Bytes after the id, which receivers ignore.
    pub fn trailing(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::CONNECTION_ID_DATAGRAM_LEN..)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ConnectionIdPacket<T> {
    /// Sets the connection id.
    pub fn set_connection_id(&mut self, id: &ConnectionId) {
        write(self.buffer.as_mut(), field::CONNECTION_ID, id.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_views_refuse_short_buffers_and_unchecked_ones_read_zero() {
        assert_eq!(
            Packet::new_checked(&[0u8; 25][..]),
            Err(Error::TooShort {
                kind: Some(Kind::Data),
                needed: 26,
                actual: 25
            })
        );
        assert_eq!(
            FragmentPacket::new_checked(&[1u8, 0, 0][..]).map(|_| ()),
            Err(Error::TooShort {
                kind: Some(Kind::DataFrag),
                needed: 42,
                actual: 3
            })
        );
        let mut ack = [0u8; 66];
        ack[..2].copy_from_slice(&0x0102u16.to_le_bytes());
        assert_eq!(
            ControlPacket::new_checked(&ack[..]).map(|_| ()),
            Err(Error::TooShort {
                kind: Some(Kind::Ack),
                needed: 67,
                actual: 66
            })
        );
        let short = FragmentPacket::new_unchecked(&[1u8, 0, 7][..]);
        assert_eq!((short.seq(), short.total_length()), (0, 0));
        assert!(short.payload().is_empty());
    }

    #[test]
    fn setters_write_exactly_their_field() {
        let mut buf = [0xEEu8; 45];
        let mut view = FragmentPacket::new_unchecked(&mut buf[..]);
        view.set_flag(1);
        view.set_seq(0x0102_0304_0506_0708);
        view.set_qpc(2);
        view.set_qpf(3);
        view.set_fragment_offset(4);
        view.set_total_length(5);
        let view = FragmentPacket::new_checked(&buf[..]).expect("long enough");
        assert_eq!(
            (view.flag(), view.seq(), view.qpc(), view.qpf()),
            (1, 0x0102_0304_0506_0708, 2, 3)
        );
        assert_eq!((view.fragment_offset(), view.total_length()), (4, 5));
        assert_eq!(view.payload(), &[0xEE; 3]);
        assert_eq!(&buf[2..10], &[8, 7, 6, 5, 4, 3, 2, 1]);
    }
}
