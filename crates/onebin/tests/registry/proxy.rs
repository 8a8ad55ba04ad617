//! Proxies in front of the registry: one that injects faults, and a
//! CONNECT-only forward proxy.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::http::{read_request, respond};

/// What the proxy does to the next requests.
#[derive(Default)]
pub struct Faults {
    /// Answer this many requests with 500 without forwarding them.
    pub errors_500: u32,
    /// Answer this many requests with 429 and `Retry-After: 1`.
    pub throttle_429: u32,
    /// Cut the next blob GET off after half its body.
    pub cut_next_blob: bool,
    /// Drop the connection of the next upload (PUT or PATCH) after reading it.
    pub drop_next_upload: bool,
    /// Flip a byte in GETs of the blob with this digest.
    pub corrupt: Option<String>,
    /// Every request line, and what was done to it.
    log: Vec<String>,
}

/// A one-request-per-connection HTTP proxy in front of a registry.
pub struct FaultProxy {
    pub port: u16,
    faults: Arc<Mutex<Faults>>,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(Mutex::new(Faults::default()));
        let shared = faults.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let faults = shared.clone();
                std::thread::spawn(move || {
                    let _ = Self::handle(stream, upstream, &faults);
                });
            }
        });
        FaultProxy { port, faults }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn image(&self, name: &str) -> String {
        format!("docker://{}/{name}", self.host())
    }

    pub fn set(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.faults.lock().unwrap());
    }

    pub fn log(&self) -> Vec<String> {
        self.faults.lock().unwrap().log.clone()
    }

    fn handle(mut client: TcpStream, upstream: u16, faults: &Mutex<Faults>) -> std::io::Result<()> {
        let request = read_request(&mut client)?;
        let line = format!("{} {}", request.method, request.path);
        let is_blob_get = request.method == "GET" && request.path.contains("/blobs/sha256:");
        let is_upload = (request.method == "PUT" || request.method == "PATCH")
            && request.path.contains("/blobs/uploads/");
        {
            let mut f = faults.lock().unwrap();
            if f.errors_500 > 0 {
                f.errors_500 -= 1;
                f.log.push(format!("500 {line}"));
                drop(f);
                return respond(&mut client, "500 Internal Server Error", &[], b"");
            }
            if f.throttle_429 > 0 {
                f.throttle_429 -= 1;
                f.log.push(format!("429 {line}"));
                drop(f);
                return respond(
                    &mut client,
                    "429 Too Many Requests",
                    &[("Retry-After", "1")],
                    b"",
                );
            }
            if is_upload && f.drop_next_upload {
                f.drop_next_upload = false;
                f.log.push(format!("dropped {line}"));
                return client.shutdown(Shutdown::Both);
            }
            let range = request
                .header("range")
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            f.log.push(format!("{line}{range}"));
        }
        // Forward with `Connection: close`, and read the whole answer.
        let mut head = String::from_utf8_lossy(&request.head).into_owned();
        head = head
            .lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .map(|l| format!("{l}\r\n"))
            .collect::<String>();
        head.truncate(head.len() - 2);
        head.push_str("Connection: close\r\n\r\n");
        let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
        server.write_all(head.as_bytes())?;
        server.write_all(&request.body)?;
        let mut response = Vec::new();
        server.read_to_end(&mut response)?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |p| p + 4);
        let (resp_head, body) = response.split_at(split);
        let mut body = body.to_vec();
        let ok = resp_head.starts_with(b"HTTP/1.1 200") || resp_head.starts_with(b"HTTP/1.1 206");
        if is_blob_get && ok {
            let mut f = faults.lock().unwrap();
            if f.cut_next_blob && body.len() > 16 {
                f.cut_next_blob = false;
                f.log.push(format!("cut {line}"));
                drop(f);
                client.write_all(resp_head)?;
                client.write_all(&body[..body.len() / 2])?;
                client.flush()?;
                return client.shutdown(Shutdown::Both);
            }
            if f.corrupt
                .as_ref()
                .is_some_and(|d| request.path.contains(d.as_str()))
                && !body.is_empty()
            {
                f.log.push(format!("corrupted {line}"));
                let last = body.len() - 1;
                body[last] ^= 0xff;
            }
        }
        client.write_all(resp_head)?;
        client.write_all(&body)?;
        client.flush()
    }
}

/// A forward proxy that only tunnels (`CONNECT host:port`), as corporate
/// HTTPS proxies do; it records the targets it was asked for.
pub struct ConnectProxy {
    pub port: u16,
    pub targets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let targets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = targets.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || tunnel(client, &seen));
            }
        });
        ConnectProxy { port, targets }
    }
}

fn tunnel(mut client: TcpStream, seen: &std::sync::Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let Some(target) = head
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next())
    else {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    seen.lock().unwrap().push(target.to_string());
    let Ok(server) = TcpStream::connect(target) else {
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(std::net::Shutdown::Write);
    });
    let (mut s1, mut c1) = (server, client);
    let _ = std::io::copy(&mut s1, &mut c1);
    let _ = c1.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}
