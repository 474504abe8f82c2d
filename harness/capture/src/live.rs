//! Live capture of UDP traffic from a network interface, with `pnet_datalink` (no libpcap).
//!
//! [`LiveCapture::open`] opens a raw packet socket on the interface; [`LiveCapture::run`] reads
//! frames until a [`LiveLimits`] is reached or the stop flag is set, keeps the UDP ones (IPv4 or
//! IPv6, VLAN tags allowed; to or from one port when a port filter is given) and writes each
//! frame as is, with the wall-clock time at which it was read, through
//! [`CaptureWriter::write_frame`]. [`capture`] does both.
//!
//! - Permissions: raw packet sockets need root or the `CAP_NET_RAW` capability; without,
//!   opening fails with [`CaptureError::Permission`], whose message says how to grant it.
//! - Interfaces: only Ethernet-type interfaces are supported, the Linux loopback `lo` included
//!   (its frames carry an Ethernet header with zero MAC addresses). On Linux the interface type
//!   is read from `/sys/class/net/<name>/type`; others (tun, WireGuard, PPP, ... which deliver
//!   raw IP) are refused with [`CaptureError::UnsupportedInterface`]. Only Linux is tested.
//! - The socket is read with a 262,144-byte buffer (a frame on `lo`, MTU 65,536, is 65,550
//!   bytes; the `pnet` default of 4,096 silently cuts frames) and a 100 ms poll timeout, so the
//!   stop flag and the duration limit are checked at least every 100 ms.
//! - Port filter and IP fragments: a non-first IP fragment carries no UDP header. A first
//!   fragment is kept when its UDP ports match, and the verdict is remembered (for the last 256
//!   fragmented datagrams) so that the datagram's other fragments follow it. A non-first
//!   fragment whose first fragment has not been seen (yet) is kept, so a datagram is never cut
//!   by the filter; at worst a few fragments of other datagrams come through, which the reader
//!   counts as discarded fragments.
//! - On Linux `lo` the kernel shows a packet socket every frame twice (going out and coming
//!   in). As libpcap does, only the incoming copy is kept: on Linux the socket is made here
//!   (with `socket2`: a 4 MiB receive buffer, and on the loopback a kernel filter rejecting
//!   outgoing frames), then handed to pnet. On other interfaces both directions are captured,
//!   each frame once.
//! - UDP checksums are not looked at (`lo` frames carry unfinished ones).
//! - Times are wall-clock (`SystemTime::now()` when the frame was read), in nanoseconds: live
//!   capture is the one place the harness writes wall time.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pnet_datalink::{Channel, Config, DataLinkReceiver, NetworkInterface};

use crate::decode::{decode, decode_fast, Decoded, Link};
use crate::defrag::FragKey;
use crate::{CaptureError, CaptureWriter};

/// Bytes of the socket read buffer: the writer's snap length, well above the 65,550 bytes of a
/// full-size `lo` frame.
pub const READ_BUFFER_BYTES: usize = 262_144;

/// How long one read waits before the stop flag and the limits are checked again.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How many fragmented datagrams the port filter remembers.
const REMEMBERED_FRAGMENTED: usize = 256;

/// When [`LiveCapture::run`] stops by itself (it also stops when the stop flag is set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LiveLimits {
    /// Stop after writing this many frames (IP fragments count one each). `Some(0)` writes
    /// nothing and returns at once.
    pub count: Option<u64>,
    /// Stop this long after the capture started (checked at least every 100 ms).
    pub duration: Option<Duration>,
}

/// What a live capture saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct LiveStats {
    /// Frames read from the interface.
    pub frames: u64,
    /// Frames written (UDP, and matching the port filter).
    pub written: u64,
    /// Frames left out: not UDP, or another port.
    pub skipped: u64,
}

/// An open raw packet socket on one interface, with the capture's filter. Made by
/// [`LiveCapture::open`]; the socket closes when it is dropped.
pub struct LiveCapture {
    interface: String,
    rx: Box<dyn DataLinkReceiver>,
    filter: Filter,
}

impl fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveCapture")
            .field("interface", &self.interface)
            .field("port", &self.filter.port)
            .finish_non_exhaustive()
    }
}

impl LiveCapture {
    /// Opens `interface` for capture, keeping UDP to or from `port` when given (all UDP
    /// otherwise). Capture starts now: frames arriving before [`run`](Self::run) is called are
    /// queued by the kernel (within its socket buffer) and read by it.
    ///
    /// # Errors
    ///
    /// [`CaptureError::NoSuchInterface`] (listing the interfaces that exist),
    /// [`CaptureError::UnsupportedInterface`] for a non-Ethernet interface or one that is down,
    /// [`CaptureError::Permission`] without root or `CAP_NET_RAW`, [`CaptureError::Live`] for
    /// any other system error.
    pub fn open(interface: &str, port: Option<u16>) -> Result<LiveCapture, CaptureError> {
        let all = pnet_datalink::interfaces();
        let Some(found) = all.iter().find(|i| i.name == interface) else {
            return Err(CaptureError::NoSuchInterface {
                interface: interface.to_owned(),
                available: all.into_iter().map(|i| i.name).collect(),
            });
        };
        let loopback = check_link_type(found)?;
        if !found.is_up() {
            return Err(CaptureError::UnsupportedInterface {
                interface: interface.to_owned(),
                reason: format!(
                    "the interface is down (bring it up first, e.g. `ip link set {interface} up`)"
                ),
            });
        }
        let socket_fd = packet_socket(loopback).map_err(|err| open_error(interface, err))?;
        let config = Config {
            read_buffer_size: READ_BUFFER_BYTES,
            read_timeout: Some(POLL_INTERVAL),
            socket_fd,
            ..Config::default()
        };
        let rx = match pnet_datalink::channel(found, config) {
            // The sender is not needed; the receiver keeps the socket open.
            Ok(Channel::Ethernet(_tx, rx)) => rx,
            Ok(_) => {
                return Err(CaptureError::UnsupportedInterface {
                    interface: interface.to_owned(),
                    reason: "the system does not give Ethernet frames for it".to_owned(),
                })
            }
            Err(err) => return Err(open_error(interface, err)),
        };
        Ok(LiveCapture {
            interface: interface.to_owned(),
            rx,
            filter: Filter::new(port),
        })
    }

    /// The interface's name.
    #[must_use]
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Reads frames and writes the kept ones to `writer` until a limit is reached or `stop` is
    /// set (checked after every frame and at least every 100 ms). Calls `on_packet` with the
    /// number of frames written so far after each one. May be called again to continue.
    ///
    /// The writer is not finished: the caller finishes it, after an error too, to keep what
    /// was written.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Live`] when reading the socket fails, the writer's errors when writing
    /// fails. The frames written before the error stay written.
    pub fn run<W: Write>(
        &mut self,
        limits: LiveLimits,
        stop: &AtomicBool,
        writer: &mut CaptureWriter<W>,
        mut on_packet: impl FnMut(u64),
    ) -> Result<LiveStats, CaptureError> {
        let started = std::time::Instant::now();
        let mut stats = LiveStats::default();
        loop {
            let done = stop.load(Ordering::Relaxed)
                || limits.count.is_some_and(|n| stats.written >= n)
                || limits.duration.is_some_and(|d| started.elapsed() >= d);
            if done {
                return Ok(stats);
            }
            let frame = match self.rx.next() {
                Ok(frame) => frame,
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                    ) =>
                {
                    continue
                }
                Err(source) => {
                    return Err(CaptureError::Live {
                        interface: self.interface.clone(),
                        source,
                    })
                }
            };
            let timestamp_ns = wall_clock_ns();
            stats.frames += 1;
            if self.filter.keep(frame) {
                writer.write_frame(timestamp_ns, frame, None)?;
                stats.written += 1;
                on_packet(stats.written);
            } else {
                stats.skipped += 1;
            }
        }
    }
}

/// Opens `interface` and captures until a limit or `stop`: [`LiveCapture::open`] then
/// [`LiveCapture::run`] (see both, and the [module docs](self)).
///
/// # Errors
///
/// Those of [`LiveCapture::open`] and [`LiveCapture::run`].
pub fn capture<W: Write>(
    interface: &str,
    port: Option<u16>,
    limits: LiveLimits,
    stop: &AtomicBool,
    writer: &mut CaptureWriter<W>,
    on_packet: impl FnMut(u64),
) -> Result<LiveStats, CaptureError> {
    LiveCapture::open(interface, port)?.run(limits, stop, writer, on_packet)
}

fn open_error(interface: &str, err: io::Error) -> CaptureError {
    if is_permission(&err) {
        CaptureError::Permission {
            interface: interface.to_owned(),
        }
    } else {
        CaptureError::Live {
            interface: interface.to_owned(),
            source: err,
        }
    }
}

/// On Linux the packet socket is made here (with `socket2`), then handed to pnet, which binds
/// it to the interface and owns it from then on:
///
/// - with a 4 MiB receive buffer (as far as `net.core.rmem_max` allows; more as root), so that
///   bursts on a busy interface are not lost while frames are written;
/// - on the loopback, with a kernel filter rejecting outgoing frames: a packet socket on `lo`
///   sees every frame twice (going out, coming in), and like libpcap only the incoming copy is
///   kept.
///
/// Created with protocol 0, it receives nothing before pnet binds it, so no frame gets in
/// before the filter.
#[cfg(target_os = "linux")]
fn packet_socket(loopback: bool) -> io::Result<Option<i32>> {
    use socket2::{Domain, SockFilter, Socket, Type};
    use std::os::fd::IntoRawFd;

    // Classic BPF: A = skb->pkt_type; if A == PACKET_OUTGOING drop, else accept the whole frame.
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const SKF_AD_PKTTYPE: u32 = 0xffff_f000 + 4;
    const PACKET_OUTGOING: u32 = 4;
    const RECEIVE_BUFFER: usize = 4 << 20;
    let socket = Socket::new(Domain::PACKET, Type::RAW, None)?;
    // Best effort: a smaller buffer still works.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    if loopback {
        let program = [
            SockFilter::new(LD_W_ABS, 0, 0, SKF_AD_PKTTYPE),
            SockFilter::new(JEQ_K, 1, 0, PACKET_OUTGOING),
            SockFilter::new(RET_K, 0, 0, u32::MAX),
            SockFilter::new(RET_K, 0, 0, 0),
        ];
        socket.attach_filter(&program)?;
    }
    Ok(Some(socket.into_raw_fd()))
}

/// Elsewhere pnet opens its own socket.
#[cfg(not(target_os = "linux"))]
fn packet_socket(_loopback: bool) -> io::Result<Option<i32>> {
    Ok(None)
}

fn is_permission(err: &io::Error) -> bool {
    const EPERM: i32 = 1;
    const EACCES: i32 = 13;
    err.kind() == io::ErrorKind::PermissionDenied
        || matches!(err.raw_os_error(), Some(EPERM | EACCES))
}

/// Refuses interfaces that do not carry Ethernet frames; says whether it is the loopback. Only
/// Linux says which they are (in sysfs); elsewhere every interface is tried.
fn check_link_type(interface: &NetworkInterface) -> Result<bool, CaptureError> {
    const ARPHRD_ETHER: u32 = 1;
    const ARPHRD_LOOPBACK: u32 = 772;
    let path = format!("/sys/class/net/{}/type", interface.name);
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(interface.is_loopback());
    };
    match text.trim().parse::<u32>() {
        Ok(ARPHRD_LOOPBACK) => Ok(true),
        Ok(ARPHRD_ETHER) => Ok(false),
        Err(_) => Ok(interface.is_loopback()),
        Ok(other) => Err(CaptureError::UnsupportedInterface {
            interface: interface.name.clone(),
            reason: format!(
                "it is not an Ethernet-type interface (Linux ARPHRD type {other}{}); only \
                 Ethernet interfaces and the loopback `lo` are supported",
                match other {
                    65_534 => ": raw IP, as tun and WireGuard interfaces",
                    512 => ": PPP",
                    776 => ": IPv6-in-IPv4 tunnel",
                    778 => ": GRE tunnel",
                    801..=803 => ": 802.11 monitor mode",
                    _ => "",
                }
            ),
        }),
    }
}

fn wall_clock_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Keeps UDP frames, to or from the port when one is set (see the module docs for fragments).
#[derive(Debug)]
struct Filter {
    port: Option<u16>,
    /// Verdicts on the first fragments seen, oldest first.
    fragmented: VecDeque<(FragKey, bool)>,
}

impl Filter {
    fn new(port: Option<u16>) -> Filter {
        Filter {
            port,
            fragmented: VecDeque::new(),
        }
    }

    fn keep(&mut self, frame: &[u8]) -> bool {
        // The reader's fast path first: a plain UDP datagram, decided without etherparse.
        if let Some((src, dst, _)) = decode_fast(Link::Ethernet, frame) {
            return self.port.is_none_or(|p| src.port() == p || dst.port() == p);
        }
        let (key, frag) = match decode(Link::Ethernet, frame) {
            Err(_) => return false,
            Ok(_) if self.port.is_none() => return true,
            Ok(Decoded::Datagram { src, dst, .. }) => {
                return self
                    .port
                    .is_some_and(|p| src.port() == p || dst.port() == p)
            }
            Ok(Decoded::Fragment { key, frag }) => (key, frag),
        };
        if frag.offset != 0 {
            return self
                .fragmented
                .iter()
                .rev()
                .find(|(k, _)| *k == key)
                .is_none_or(|(_, keep)| *keep);
        }
        let ports = frag
            .data
            .get(..4)
            .and_then(|h| <[u8; 4]>::try_from(h).ok())
            .map(|[a, b, c, d]| (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])));
        let keep = match (ports, self.port) {
            (Some((src, dst)), Some(p)) => src == p || dst == p,
            // Too short to tell: keep.
            _ => true,
        };
        self.fragmented.retain(|(k, _)| *k != key);
        if self.fragmented.len() >= REMEMBERED_FRAGMENTED {
            self.fragmented.pop_front();
        }
        self.fragmented.push_back((key, keep));
        keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{EtherType, Ethernet2Header, IpFragOffset, IpNumber, Ipv4Header};

    fn udp_frame(src_port: u16, dst_port: u16) -> Vec<u8> {
        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([0; 6], [0; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(src_port, dst_port)
            .write_to_vec(&mut frame, b"x")
            .map(|()| frame)
            .unwrap_or_default()
    }

    /// An IPv4 fragment frame: `data` at byte `offset` of the IP payload.
    fn fragment(id: u16, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
        let Ok(mut ip) = Ipv4Header::new(
            u16::try_from(data.len()).unwrap_or(0),
            64,
            IpNumber::UDP,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
        ) else {
            return Vec::new();
        };
        ip.identification = id;
        ip.more_fragments = more;
        ip.fragment_offset = IpFragOffset::try_new(offset / 8).unwrap_or(IpFragOffset::ZERO);
        ip.header_checksum = ip.calc_header_checksum();
        let eth = Ethernet2Header {
            source: [0; 6],
            destination: [0; 6],
            ether_type: EtherType::IPV4,
        };
        let mut frame = eth.to_bytes().to_vec();
        frame.extend_from_slice(&ip.to_bytes());
        frame.extend_from_slice(data);
        frame
    }

    fn udp_header(src: u16, dst: u16) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&src.to_be_bytes());
        h.extend_from_slice(&dst.to_be_bytes());
        h.extend_from_slice(&[0, 24, 0, 0]);
        h.extend_from_slice(&[0; 8]);
        h
    }

    #[test]
    fn port_filter_on_whole_datagrams() {
        let mut any = Filter::new(None);
        let mut only = Filter::new(Some(4444));
        for (frame, expect) in [
            (udp_frame(4444, 1), true),
            (udp_frame(1, 4444), true),
            (udp_frame(1, 2), false),
        ] {
            assert!(any.keep(&frame));
            assert_eq!(only.keep(&frame), expect);
        }
        // Not UDP (ARP-ish garbage, empty frame).
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert!(!any.keep(&arp));
        assert!(!any.keep(&[]));
    }

    #[test]
    fn fragments_follow_their_first_fragment() {
        let mut f = Filter::new(Some(4444));
        // Datagram 1 matches, datagram 2 does not; fragments interleaved.
        assert!(f.keep(&fragment(1, 0, true, &udp_header(4444, 9))));
        assert!(!f.keep(&fragment(2, 0, true, &udp_header(7, 9))));
        assert!(f.keep(&fragment(1, 16, false, &[0; 8])));
        assert!(!f.keep(&fragment(2, 16, false, &[0; 8])));
        // A non-first fragment of an unknown datagram is kept.
        assert!(f.keep(&fragment(3, 16, false, &[0; 8])));
        // Memory is bounded.
        for id in 100..(100 + 2 * REMEMBERED_FRAGMENTED as u16) {
            f.keep(&fragment(id, 0, true, &udp_header(7, 9)));
        }
        assert_eq!(f.fragmented.len(), REMEMBERED_FRAGMENTED);
    }

    #[test]
    fn permission_errors_are_recognised() {
        assert!(is_permission(&io::Error::from_raw_os_error(1)));
        assert!(is_permission(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(!is_permission(&io::Error::from_raw_os_error(19)));
    }
}
