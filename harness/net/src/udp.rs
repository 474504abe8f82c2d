//! Drives one endpoint over a real tokio UDP socket, in real time.
//!
//! The endpoint stays sans-I/O: this loop maps the monotonic clock onto [`Instant`] (time since the
//! driver's `epoch`), feeds received datagrams and due timeouts, and sends what the endpoint polls out.
//! It stops when the endpoint is finished, when the optional deadline passes (so a silent peer can never
//! hang the caller), or when `stop` fires (Ctrl-C).

use std::io;
use std::net::SocketAddr;

use handshake_core::{Endpoint, Instant};
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// The largest UDP payload (IPv4).
pub const MAX_DATAGRAM: usize = 65_507;

/// Why [`drive`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveOutcome {
    /// The endpoint finished.
    Finished,
    /// The deadline passed first.
    DeadlineReached,
    /// The stop signal fired.
    Stopped,
}

/// Counters of what crossed the socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams received.
    pub received: u64,
    /// Sends the OS refused (e.g. ECONNREFUSED from an earlier ICMP port unreachable); counted, not fatal.
    pub send_errors: u64,
}

/// A monotonic clock mapped onto endpoint time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: tokio::time::Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Clock {
        Clock {
            epoch: tokio::time::Instant::now(),
        }
    }

    /// Endpoint time now.
    pub fn now(&self) -> Instant {
        let nanos = self.epoch.elapsed().as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The monotonic instant of an endpoint time.
    pub fn to_tokio(&self, t: Instant) -> tokio::time::Instant {
        self.epoch + t.since_start()
    }
}

/// Runs `endpoint` on `socket` until it finishes, `deadline` passes, or `stop` turns true. Every event
/// is handed to `on_event` with its time; `after_step` runs after each wake-up (progress reporting).
pub async fn drive<E: Endpoint>(
    socket: &UdpSocket,
    endpoint: &mut E,
    clock: Clock,
    deadline: Option<Instant>,
    mut stop: watch::Receiver<bool>,
    mut on_event: impl FnMut(Instant, E::Event),
    mut after_step: impl FnMut(&E),
) -> io::Result<(DriveOutcome, SocketStats)> {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut stats = SocketStats::default();
    loop {
        while let Some(transmit) = endpoint.poll_transmit() {
            match socket
                .send_to(&transmit.payload, transmit.destination)
                .await
            {
                Ok(_) => stats.sent += 1,
                Err(_) => stats.send_errors += 1,
            }
        }
        let now = clock.now();
        while let Some(event) = endpoint.poll_event() {
            on_event(now, event);
        }
        after_step(endpoint);
        if endpoint.is_finished() {
            return Ok((DriveOutcome::Finished, stats));
        }
        if *stop.borrow() {
            return Ok((DriveOutcome::Stopped, stats));
        }
        let wake = [endpoint.poll_timeout(), deadline]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(clock.to_tokio(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                match received {
                    Ok((len, source)) => {
                        stats.received += 1;
                        endpoint.handle_datagram(clock.now(), source, buf.get(..len).unwrap_or_default());
                    }
                    // ICMP errors surface as receive errors on some platforms: not the peer's datagram.
                    Err(e) if is_transient(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            () = sleep => {
                let now = clock.now();
                if deadline.is_some_and(|d| now >= d) {
                    return Ok((DriveOutcome::DeadlineReached, stats));
                }
                endpoint.handle_timeout(now);
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return Ok((DriveOutcome::Stopped, stats));
                }
            }
        }
    }
}

/// Asks the kernel to stamp every datagram `socket` receives with its arrival time
/// (`SO_TIMESTAMPNS`), for [`recv_timestamped`]. Returns whether it is on (Linux only).
pub fn enable_receive_timestamps(socket: &UdpSocket) -> bool {
    #[cfg(target_os = "linux")]
    {
        nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
            .is_ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        false
    }
}

/// A datagram with the time it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    /// Payload length (the bytes are in the caller's buffer).
    pub len: usize,
    /// Source.
    pub from: SocketAddr,
    /// When it arrived, on `clock`: the kernel's stamp when there is one, else when it was read.
    pub at: Instant,
    /// How long it waited between arriving and being read (the reader's own scheduling delay);
    /// `None` without a kernel stamp.
    pub read_delay: Option<std::time::Duration>,
}

/// Receives one datagram into `buf`, timed by the kernel when [`enable_receive_timestamps`] is on.
///
/// The kernel stamps in `CLOCK_REALTIME`; the stamp is turned into `clock` time by measuring how
/// long ago it was (real time now minus the stamp) and subtracting that from `clock.now()`, so a
/// step of the wall clock between runs does not matter.
pub async fn recv_timestamped(
    socket: &UdpSocket,
    buf: &mut [u8],
    clock: Clock,
) -> io::Result<Arrival> {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;
        let fd = socket.as_raw_fd();
        let (len, from, stamp) = socket
            .async_io(tokio::io::Interest::READABLE, || {
                let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
                let mut iov = [IoSliceMut::new(buf)];
                let msg =
                    recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())
                        .map_err(io::Error::from)?;
                let from = msg.address.as_ref().and_then(sockaddr_to_std);
                let mut stamp = None;
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmTimestampns(ts) = c {
                            stamp = Some(std::time::Duration::new(
                                u64::try_from(ts.tv_sec()).unwrap_or(0),
                                u32::try_from(ts.tv_nsec()).unwrap_or(0),
                            ));
                        }
                    }
                }
                let from = from.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "datagram without a source address",
                    )
                })?;
                Ok((msg.bytes, from, stamp))
            })
            .await?;
        // The wall clock first: a preemption between the two readings then makes the arrival
        // look later (harmless), never earlier than a datagram read before it.
        let real = std::time::SystemTime::now();
        let now = clock.now();
        let read_delay = stamp.and_then(|s| {
            real.duration_since(std::time::UNIX_EPOCH)
                .ok()
                .and_then(|real| real.checked_sub(s))
        });
        Ok(Arrival {
            len,
            from,
            at: read_delay.map_or(now, |d| now.saturating_sub(d)),
            read_delay,
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let (len, from) = socket.recv_from(buf).await?;
        Ok(Arrival {
            len,
            from,
            at: clock.now(),
            read_delay: None,
        })
    }
}

#[cfg(target_os = "linux")]
fn sockaddr_to_std(a: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}

/// Receive errors that are not the peer's datagram and not fatal (ICMP errors surface as these on some
/// systems).
pub fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Binds a UDP socket for talking to `peer`: the unspecified address of the same family, port 0.
pub async fn bind_for(peer: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if peer.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    UdpSocket::bind(local).await
}
