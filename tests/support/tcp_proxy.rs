//! A TCP proxy on loopback that puts network faults between imbed and a real server.
//!
//! ```text
//! TcpProxy::start(upstream) -> TcpProxy       listens on 127.0.0.1:PORT, forwards to upstream
//! proxy.url() -> String                       "http://127.0.0.1:PORT", for --qdrant
//! proxy.set(Fault)                            from the next chunk on, on every connection
//! proxy.refuse(true | false)                  close the port (connections refused; open ones
//!                                             reset) or open it again on the same port
//! proxy.reset_all()                           reset every open connection (RST, no FIN)
//! proxy.accepted() -> usize                   connections accepted so far
//! proxy.fired() -> usize                      resets that Fault::ResetMidResponse did
//! proxy.requests() -> Vec<String>             HTTP/1 request lines clients sent ("GET /b/k HTTP/1.1")
//! drop(proxy)                                 closes everything
//!
//! Fault::None                                 forward as is
//! Fault::Latency(d)                           each chunk, either way, waits d first
//! Fault::BlackHole                            read everything, forward nothing, never answer
//! Fault::Trickle { bytes, every }             forward `bytes` at a time, `every` apart
//! Fault::ResetMidResponse { times, after }    on a connection that has carried `after` bytes
//!                                             to the server, forward half of the server's next
//!                                             chunk, then reset it; `times` connections in all
//! ```
//!
//! Each connection is one thread that polls both sockets, so a reset closes the only handle of
//! each and the kernel sends RST (SO_LINGER 0), as a crashed peer or a middlebox would.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    None,
    Latency(Duration),
    BlackHole,
    Trickle { bytes: usize, every: Duration },
    ResetMidResponse { times: usize, after: usize },
}

struct Shared {
    upstream: SocketAddr,
    fault: Mutex<Fault>,
    refusing: AtomicBool,
    stopping: AtomicBool,
    /// Bumped to reset every connection opened before.
    generation: AtomicUsize,
    accepted: AtomicUsize,
    fired: AtomicUsize,
    requests: Mutex<Vec<String>>,
}

pub struct TcpProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl TcpProxy {
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            upstream,
            fault: Mutex::new(Fault::None),
            refusing: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            generation: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            fired: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tcp-proxy".into())
                .spawn(move || accept_loop(listener, port, &shared))
                .expect("proxy thread")
        };
        Self { port, shared, acceptor: Some(acceptor) }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock().expect("fault lock") = fault;
    }

    /// Closes the port, resetting what is open, or opens it again.
    pub fn refuse(&self, refuse: bool) {
        self.shared.refusing.store(refuse, Ordering::SeqCst);
        if refuse {
            self.reset_all();
        }
        // The acceptor notices within a few milliseconds.
        std::thread::sleep(Duration::from_millis(50));
    }

    pub fn reset_all(&self) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    pub fn fired(&self) -> usize {
        self.shared.fired.load(Ordering::SeqCst)
    }

    /// The HTTP/1 request lines seen so far (bodiless requests, as GETs and HEADs are).
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().expect("requests lock").clone()
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.reset_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, port: u16, shared: &Arc<Shared>) {
    let mut listener = Some(listener);
    while !shared.stopping.load(Ordering::SeqCst) {
        if shared.refusing.load(Ordering::SeqCst) {
            listener = None;
        } else if listener.is_none() {
            listener = TcpListener::bind(("127.0.0.1", port)).ok();
        }
        let Some(open) = &listener else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        open.set_nonblocking(true).expect("nonblocking listener");
        match open.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                let _ = std::thread::Builder::new().name("tcp-proxy-conn".into()).spawn(move || {
                    let _ = client.set_nonblocking(false);
                    let generation = shared.generation.load(Ordering::SeqCst);
                    match TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(2)) {
                        Ok(server) => pump(client, server, generation, &shared),
                        // The server is down: the client sees its connection reset.
                        Err(_) => reset(client),
                    }
                });
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Closes `stream` with RST instead of FIN.
pub fn reset(stream: TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

fn record_requests(chunk: &[u8], shared: &Shared) {
    let text = String::from_utf8_lossy(chunk);
    let lines = text.split("\r\n").filter(|line| {
        let method = line.split(' ').next().unwrap_or_default();
        matches!(method, "GET" | "HEAD" | "PUT" | "POST" | "DELETE") && line.ends_with(" HTTP/1.1")
    });
    shared.requests.lock().expect("requests lock").extend(lines.map(str::to_string));
}

/// Forwards both ways until either side closes, applying the fault of the moment.
fn pump(mut client: TcpStream, mut server: TcpStream, generation: usize, shared: &Shared) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut upstream_bytes = 0usize;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        if shared.generation.load(Ordering::SeqCst) != generation {
            reset(client);
            reset(server);
            return;
        }
        let mut fds = [
            libc::pollfd { fd: client.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: server.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: two valid pollfd entries.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, 20) };
        if ready <= 0 {
            continue;
        }
        for (index, fd) in fds.iter().enumerate() {
            if fd.revents == 0 {
                continue;
            }
            let to_server = index == 0;
            let (from, to) = if to_server { (&mut client, &mut server) } else { (&mut server, &mut client) };
            let read = match from.read(&mut buffer) {
                Ok(0) | Err(_) => {
                    // One side closed: close the other the same way, politely.
                    let _ = to.shutdown(std::net::Shutdown::Both);
                    return;
                }
                Ok(read) => read,
            };
            let fault = shared.fault.lock().expect("fault lock").clone();
            let chunk = &buffer[..read];
            if to_server {
                upstream_bytes += read;
                record_requests(chunk, shared);
            }
            let written = match fault {
                Fault::None => to.write_all(chunk),
                Fault::Latency(delay) => {
                    std::thread::sleep(delay);
                    to.write_all(chunk)
                }
                Fault::BlackHole => Ok(()),
                Fault::Trickle { bytes, every } => chunk.chunks(bytes.max(1)).try_for_each(|piece| {
                    std::thread::sleep(every);
                    to.write_all(piece)
                }),
                Fault::ResetMidResponse { times, after } if !to_server && times > 0 && upstream_bytes >= after => {
                    let _ = to.write_all(&chunk[..read / 2]);
                    let _ = to.flush();
                    {
                        let mut current = shared.fault.lock().expect("fault lock");
                        if let Fault::ResetMidResponse { times, .. } = &mut *current {
                            *times = times.saturating_sub(1);
                        }
                    }
                    shared.fired.fetch_add(1, Ordering::SeqCst);
                    reset(client);
                    reset(server);
                    return;
                }
                Fault::ResetMidResponse { .. } => to.write_all(chunk),
            };
            if written.is_err() {
                reset(client);
                reset(server);
                return;
            }
        }
    }
}
