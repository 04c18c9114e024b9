//! The probes of `smoke`: TCP and UDP listeners and connects of the tool's own, each on a
//! thread entered into one of the namespaces smoke made (see [`libcni::netns::run_in`]), or
//! on the calling thread for the host side.

use std::io::{self, BufRead as _, BufReader, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long one probe waits for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a listener waits for its address to become usable (an IPv6 address is
/// "tentative" until duplicate address detection is over).
const BIND_WAIT: Duration = Duration::from_secs(5);

/// What the server saw of one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The client's address as the server saw it.
    pub peer: SocketAddr,
    /// The client's own address (its socket's local address).
    pub client: SocketAddr,
    /// The bytes of the datagram the server received (UDP).
    pub len: usize,
}

/// Runs `f` in the namespace at `ns`, or on this thread when `ns` is `None` (the host).
fn in_ns<T: Send>(ns: Option<&Path>, f: impl FnOnce() -> T + Send) -> Result<T, String> {
    match ns {
        Some(p) => libcni::netns::run_in(p, f).map_err(|e| e.to_string()),
        None => Ok(f()),
    }
}

/// Binds with retries while the address is not usable yet.
fn bind_retry<T>(mut bind: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let start = Instant::now();
    loop {
        match bind() {
            Err(e)
                if e.kind() == io::ErrorKind::AddrNotAvailable && start.elapsed() < BIND_WAIT =>
            {
                thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// A one-shot server running on its own thread inside a namespace.
#[derive(Debug)]
pub struct Server {
    done: mpsc::Receiver<Result<Seen, String>>,
}

impl Server {
    /// Waits for the server's view of the exchange.
    pub fn seen(self) -> Result<Seen, String> {
        self.done
            .recv_timeout(PROBE_TIMEOUT * 2)
            .unwrap_or_else(|_| Err("the server got nothing".into()))
    }
}

/// Starts a TCP server on `bind` in `ns` that answers one connection with the peer address it
/// saw; returns once it listens.
pub fn tcp_server(ns: PathBuf, bind: SocketAddr) -> Result<Server, String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let outcome = libcni::netns::run_in(&ns, || {
            let listener = match bind_retry(|| TcpListener::bind(bind)) {
                Ok(l) => l,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("listening on {bind}: {e}")));
                    return Err(String::new());
                }
            };
            let _ = ready_tx.send(Ok(()));
            listener.set_nonblocking(true).map_err(|e| e.to_string())?;
            let start = Instant::now();
            let (mut conn, peer) = loop {
                match listener.accept() {
                    Ok(c) => break c,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if start.elapsed() > PROBE_TIMEOUT * 2 {
                            return Err("no connection came".to_owned());
                        }
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => return Err(format!("accept: {e}")),
                }
            };
            conn.set_nonblocking(false).map_err(|e| e.to_string())?;
            conn.set_read_timeout(Some(PROBE_TIMEOUT))
                .map_err(|e| e.to_string())?;
            let mut line = String::new();
            BufReader::new(&conn)
                .read_line(&mut line)
                .map_err(|e| format!("reading: {e}"))?;
            conn.write_all(format!("{peer}\n").as_bytes())
                .map_err(|e| format!("answering: {e}"))?;
            let client: SocketAddr = line
                .trim()
                .parse()
                .map_err(|_| format!("client sent {line:?}"))?;
            Ok(Seen {
                peer,
                client,
                len: 0,
            })
        });
        let _ = done_tx.send(outcome.unwrap_or_else(|e| Err(e.to_string())));
    });
    match ready_rx.recv_timeout(BIND_WAIT * 2) {
        Ok(Ok(())) => Ok(Server { done: done_rx }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("the listener on {bind} did not start")),
    }
}

/// Connects to `to` from `ns` (the host when `None`), tells the server its own address and
/// returns the address the server says it saw.
pub fn tcp_client(ns: Option<&Path>, to: SocketAddr) -> Result<SocketAddr, String> {
    in_ns(ns, || {
        let mut conn = TcpStream::connect_timeout(&to, PROBE_TIMEOUT)
            .map_err(|e| format!("connecting to {to}: {e}"))?;
        conn.set_read_timeout(Some(PROBE_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let local = conn.local_addr().map_err(|e| e.to_string())?;
        conn.write_all(format!("{local}\n").as_bytes())
            .map_err(|e| format!("sending to {to}: {e}"))?;
        let mut line = String::new();
        BufReader::new(&conn)
            .read_line(&mut line)
            .map_err(|e| format!("reading from {to}: {e}"))?;
        line.trim()
            .parse()
            .map_err(|_| format!("{to} answered {line:?}"))
    })?
}

/// Starts a UDP server on `bind` in `ns` that answers one datagram with its length.
pub fn udp_server(ns: PathBuf, bind: SocketAddr) -> Result<Server, String> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        let outcome = libcni::netns::run_in(&ns, || {
            let sock = match bind_retry(|| UdpSocket::bind(bind)) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("listening on udp {bind}: {e}")));
                    return Err(String::new());
                }
            };
            let _ = ready_tx.send(Ok(()));
            sock.set_read_timeout(Some(PROBE_TIMEOUT * 2))
                .map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 65536];
            let (len, peer) = sock
                .recv_from(&mut buf)
                .map_err(|e| format!("no datagram came: {e}"))?;
            // The client's address is in the first line of the datagram.
            let text = String::from_utf8_lossy(&buf[..len.min(64)]).into_owned();
            let client: SocketAddr =
                text.split('\n').next().unwrap_or("").parse().map_err(|_| {
                    "the datagram does not start with the client's address".to_owned()
                })?;
            sock.send_to(format!("{len} {peer}\n").as_bytes(), peer)
                .map_err(|e| format!("answering: {e}"))?;
            Ok(Seen { peer, client, len })
        });
        let _ = done_tx.send(outcome.unwrap_or_else(|e| Err(e.to_string())));
    });
    match ready_rx.recv_timeout(BIND_WAIT * 2) {
        Ok(Ok(())) => Ok(Server { done: done_rx }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("the listener on udp {bind} did not start")),
    }
}

/// Sends a datagram of `size` bytes (at least 64) to `to` from `ns` and returns the length
/// the server says it received.
pub fn udp_client(ns: Option<&Path>, to: SocketAddr, size: usize) -> Result<usize, String> {
    in_ns(ns, || {
        let any: SocketAddr = match to.ip() {
            IpAddr::V4(_) => "0.0.0.0:0".parse().unwrap_or(to),
            IpAddr::V6(_) => "[::]:0".parse().unwrap_or(to),
        };
        let sock = UdpSocket::bind(any).map_err(|e| e.to_string())?;
        sock.connect(to).map_err(|e| format!("udp to {to}: {e}"))?;
        let local = sock.local_addr().map_err(|e| e.to_string())?;
        let mut payload = format!("{local}\n").into_bytes();
        payload.resize(size.max(64), b'x');
        sock.set_read_timeout(Some(PROBE_TIMEOUT / 3))
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 256];
        let mut last = String::from("no answer");
        for _ in 0..3 {
            sock.send(&payload)
                .map_err(|e| format!("sending {} bytes to {to}: {e}", payload.len()))?;
            match sock.recv(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    return text
                        .split_whitespace()
                        .next()
                        .and_then(|l| l.parse().ok())
                        .ok_or_else(|| format!("{to} answered {text:?}"));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("udp {to}: {last}"))
    })?
}

/// Whether `gateway` answers from `ns`: a TCP connection to its discard port that is
/// accepted or refused (a refusal is the gateway's own TCP reset), else a UDP datagram that
/// is answered or refused (an ICMP port unreachable, seen as `ECONNREFUSED` on the next
/// receive of a connected socket).
pub fn gateway_answers(ns: &Path, gateway: IpAddr) -> Result<String, String> {
    let to = SocketAddr::new(gateway, 9);
    in_ns(Some(ns), || {
        match TcpStream::connect_timeout(&to, PROBE_TIMEOUT) {
            Ok(_) => return Ok(format!("{gateway} accepted TCP on port 9")),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                return Ok(format!("{gateway} answered TCP (reset on port 9)"))
            }
            Err(_) => {}
        }
        let any: SocketAddr = if gateway.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let sock = UdpSocket::bind(any).map_err(|e| e.to_string())?;
        sock.connect(to).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(PROBE_TIMEOUT / 3))
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        for _ in 0..3 {
            let _ = sock.send(b"cnitool smoke");
            match sock.recv(&mut buf) {
                Ok(_) => return Ok(format!("{gateway} answered UDP on port 9")),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    return Ok(format!("{gateway} answered UDP (port unreachable)"))
                }
                Err(_) => {}
            }
        }
        Err(format!("{gateway} answers neither TCP nor UDP on port 9"))
    })?
}
