//! A loopback HTTP/1.1 server whose paths misbehave on purpose, for the fetch stage's tests.
//!
//! Include it with `#[path = "support/tcp_proxy.rs"] mod tcp_proxy;` beside it (for `reset`).
//!
//! ```text
//! FaultServer::start(image) -> FaultServer      serves on 127.0.0.1:PORT, one thread per connection
//! server.url(path) -> String                    "http://127.0.0.1:PORT/PATH"
//! server.hits(path) -> usize                    requests for PATH (query string aside)
//! server.times(path) -> Vec<Instant>            when each came
//! server.put(name, bytes)                       serves bytes at /files/NAME and /files-chunked/NAME
//! silent_host() -> (TcpListener, String)        a host that accepts and never answers, and its URL
//! ```
//!
//! Paths (the image is `image`, `N` its length):
//!
//! ```text
//! /ok/*              200, the image               /status/404, /status/403, /status/410, /status/500
//! /flaky/*           500 once, then the image     /throttled/*   429 Retry-After: 1 once, then the image
//! /stall-headers/*   headers, then nothing        /stall-body/*  headers and half the body, then nothing
//! /trickle/*         1 byte a second              /reset/*       half the body, then RST
//! /loop/*            302 to itself                /redirects/K   302 to /redirects/K-1, .. /ok/ at 0
//! /short-length/*    Content-Length N/2, N bytes  /long-length/* Content-Length 2N, N bytes, close
//! /big/*             Content-Length 2 MiB + body  /big-unsized/* 2 MiB, no Content-Length
//! /html/*            200 text/html, a page        /gzip/*        the image, Content-Encoding: gzip
//! /silent/*          reads the request, never answers
//! /padded/M/*        the image and zeros, M MiB in all, with its Content-Length
//! /padded-chunked/M/* the same, chunked (no Content-Length)
//! /files/NAME        what `put` stored, with its Content-Length; /files-chunked/NAME, chunked
//! ```
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tcp_proxy::reset;

struct Shared {
    image: Vec<u8>,
    files: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    hits: Mutex<HashMap<String, Vec<Instant>>>,
    stopping: AtomicBool,
}

pub struct FaultServer {
    port: u16,
    shared: Arc<Shared>,
}

impl FaultServer {
    pub fn start(image: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let shared = Arc::new(Shared {
            image,
            files: Mutex::default(),
            hits: Mutex::default(),
            stopping: AtomicBool::new(false),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accepting);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Self { port, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, path.trim_start_matches('/'))
    }

    pub fn hits(&self, path: &str) -> usize {
        self.times(path).len()
    }

    pub fn put(&self, name: &str, bytes: Vec<u8>) {
        self.shared.files.lock().unwrap().insert(name.to_string(), Arc::new(bytes));
    }

    pub fn times(&self, path: &str) -> Vec<Instant> {
        let path = format!("/{}", path.trim_start_matches('/'));
        self.shared.hits.lock().unwrap().get(&path).cloned().unwrap_or_default()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A listener that accepts connections (the kernel does) and never reads or answers.
pub fn silent_host() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    (listener, url)
}

fn serve(stream: TcpStream, shared: &Shared) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
    }
    let target = request.split(' ').nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap_or("/").to_string();
    let head = request.starts_with("HEAD ");
    let previous = {
        let mut hits = shared.hits.lock().unwrap();
        let times = hits.entry(path.clone()).or_default();
        times.push(Instant::now());
        times.len() - 1
    };
    let mut out = stream;
    let image = &shared.image;
    let kind = path.trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
    let ok = |out: &mut TcpStream, body: &[u8], extra: &str| {
        let headers = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nETag: \"v1\"\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        );
        let _ = out.write_all(headers.as_bytes());
        if !head {
            let _ = out.write_all(body);
        }
    };
    let status = |out: &mut TcpStream, code: u16, extra: &str| {
        let _ = write!(out, "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n");
    };
    let headers_only = |out: &mut TcpStream, length: usize| {
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        );
        let _ = out.flush();
    };
    match kind.as_str() {
        "ok" => ok(&mut out, image, ""),
        "status" => {
            let code = path.rsplit('/').next().and_then(|code| code.parse().ok()).unwrap_or(500);
            status(&mut out, code, "");
        }
        "flaky" if previous == 0 => status(&mut out, 500, ""),
        "flaky" => ok(&mut out, image, ""),
        "throttled" if previous == 0 => status(&mut out, 429, "Retry-After: 1\r\n"),
        "throttled" => ok(&mut out, image, ""),
        "stall-headers" => {
            headers_only(&mut out, image.len());
            hold(&shared.stopping);
        }
        "stall-body" => {
            headers_only(&mut out, image.len());
            let _ = out.write_all(&image[..image.len() / 2]);
            hold(&shared.stopping);
        }
        "trickle" => {
            headers_only(&mut out, image.len());
            for byte in image {
                if out.write_all(&[*byte]).is_err() || shared.stopping.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        "reset" => {
            headers_only(&mut out, image.len());
            let _ = out.write_all(&image[..image.len() / 2]);
            let _ = out.flush();
            std::thread::sleep(Duration::from_millis(50));
            reset(out);
            return;
        }
        "loop" => status(&mut out, 302, &format!("Location: {path}\r\n")),
        "redirects" => {
            let left: usize = path.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let next =
                if left == 0 { "/ok/after-redirects.jpg".to_string() } else { format!("/redirects/{}", left - 1) };
            status(&mut out, 302, &format!("Location: {next}\r\n"));
        }
        "short-length" => {
            let _ = write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", image.len() / 2);
            let _ = out.write_all(image);
        }
        "long-length" => {
            headers_only(&mut out, image.len() * 2);
            let _ = out.write_all(image);
        }
        "big" => {
            let body = vec![0xFF; 2 << 20];
            ok(&mut out, &body, "");
        }
        "big-unsized" => {
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nConnection: close\r\n\r\n");
            let chunk = vec![0xFF; 64 << 10];
            for _ in 0..32 {
                if out.write_all(&chunk).is_err() {
                    return;
                }
            }
        }
        "html" => {
            let page = b"<!doctype html><html><head><title>Sign in</title></head><body>Please sign in</body></html>";
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                page.len()
            );
            let _ = out.write_all(page);
        }
        "gzip" => {
            let body = gzip_stored(image);
            ok(&mut out, &body, "Content-Encoding: gzip\r\n");
        }
        "silent" => hold(&shared.stopping),
        "padded" | "padded-chunked" => {
            let mebibytes: usize = path.split('/').nth(2).and_then(|m| m.parse().ok()).unwrap_or(1);
            let mut body = image.clone();
            body.resize((mebibytes << 20).max(image.len()), 0);
            if kind == "padded" {
                ok(&mut out, &body, "");
            } else {
                chunked(&mut out, &body, head);
            }
        }
        "files" | "files-chunked" => {
            let name = path.split('/').nth(2).unwrap_or_default();
            let file = shared.files.lock().unwrap().get(name).cloned();
            match (file, kind.as_str()) {
                (None, _) => status(&mut out, 404, ""),
                (Some(file), "files") => ok(&mut out, &file, ""),
                (Some(file), _) => chunked(&mut out, &file, head),
            }
        }
        _ => status(&mut out, 404, ""),
    }
    let _ = out.flush();
}

/// A 200 whose body comes in chunks of 64 KiB, without a Content-Length.
fn chunked(out: &mut TcpStream, body: &[u8], head: bool) {
    let headers =
        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    if out.write_all(headers.as_bytes()).is_err() || head {
        return;
    }
    for chunk in body.chunks(64 << 10) {
        let framed = write!(out, "{:x}\r\n", chunk.len())
            .and_then(|()| out.write_all(chunk))
            .and_then(|()| out.write_all(b"\r\n"));
        if framed.is_err() {
            return;
        }
    }
    let _ = out.write_all(b"0\r\n\r\n");
}

/// Keeps a connection open, sending nothing, until the server stops (or a minute passes).
fn hold(stopping: &AtomicBool) {
    let started = Instant::now();
    while !stopping.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `bytes` as a gzip member of stored (uncompressed) deflate blocks: real gzip framing and
/// CRC, without a compressor.
fn gzip_stored(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let blocks: Vec<&[u8]> = bytes.chunks(65535).collect();
    for (index, block) in blocks.iter().enumerate() {
        out.push(u8::from(index + 1 == blocks.len()));
        let length = block.len() as u16;
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(bytes).to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
