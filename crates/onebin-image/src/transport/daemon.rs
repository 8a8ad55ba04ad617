//! The local Docker Engine, through its HTTP API on a Unix socket (or
//! `tcp://` in `DOCKER_HOST`). Images are read by streaming `GET
//! /images/{name}/get`, the same export `docker save` writes, never copied to
//! disk; they are written as a `docker save` archive of the engine's platform,
//! loaded with `POST /images/load`.
//!
//! The client is a small synchronous HTTP/1.1 reader (see ADR-0003 in
//! docs/ARCHITECTURE.md): the export feeds straight into a tar reader, and a
//! local socket needs neither TLS nor an async runtime.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::docker_archive::{self, DockerArchiveSource};
use super::files::{clean_name, FileSet};
use super::{unexpected_reference, WriteReport};
use crate::options::WriteOptions;
use crate::write::WriteSet;
use crate::{DockerReference, Error, ImageReference, ImageSource, Options, Platform, Result};

/// `docker-daemon:NAME[:TAG]`: the engine's export, streamed.
pub(super) fn open(reference: &ImageReference, _: &Options) -> Result<Box<dyn ImageSource>> {
    let ImageReference::DockerDaemon { name } = reference else {
        return Err(unexpected_reference(reference, "docker-daemon:"));
    };
    let export = DaemonExport::open(&Engine::from_env()?, name)?;
    Ok(Box::new(DockerArchiveSource::open(
        export,
        Some(name),
        reference.to_string(),
    )?))
}

/// The platform loaded, settled before any work.
pub(super) fn daemon_platform(
    reference: &ImageReference,
    platforms: &[Platform],
    asked: Option<&Platform>,
) -> Result<Option<Platform>> {
    let ImageReference::DockerDaemon { name } = reference else {
        return Err(unexpected_reference(reference, "docker-daemon:"));
    };
    platform_to_load(name, platforms, asked).map(Some)
}

/// The one asked for, else the engine's own; it must be one of those written.
fn platform_to_load(
    name: &str,
    platforms: &[Platform],
    asked: Option<&Platform>,
) -> Result<Platform> {
    if name.starts_with("sha256:") {
        return Err(Error::invalid(format!(
            "docker-daemon:{name}: name the image to load (NAME:TAG), not an ID"
        )));
    }
    let platform = match asked {
        Some(p) => p.clone(),
        None => Engine::from_env()?.platform()?,
    };
    if !platforms.iter().any(|written| written.matches(&platform)) {
        return Err(Error::invalid(format!(
            "docker-daemon: the engine runs {platform}, and no --binary was given for it (use --daemon-platform)"
        )));
    }
    Ok(platform)
}

/// Loads the image of one platform into the engine, tagged `NAME:TAG`,
/// through a `docker save` archive in a temporary directory.
pub(super) fn write(
    reference: &ImageReference,
    set: &WriteSet,
    options: &WriteOptions,
) -> Result<WriteReport> {
    let ImageReference::DockerDaemon { name } = reference else {
        return Err(unexpected_reference(reference, "docker-daemon:"));
    };
    let engine = Engine::from_env()?;
    let platforms: Vec<Platform> = set.images.iter().map(|i| i.platform.clone()).collect();
    let platform = platform_to_load(name, &platforms, options.daemon_platform)?;
    let image = set
        .images
        .iter()
        .find(|i| i.platform.matches(&platform))
        .expect("the settled platform is one of the set's");
    let single = WriteSet {
        images: std::slice::from_ref(image),
        index: set.index,
        base: set.base,
    };
    let staging =
        tempfile::tempdir().map_err(|e| Error::invalid(format!("a temporary directory: {e}")))?;
    let archive = staging.path().join("image.tar");
    docker_archive::write_archive(
        &archive,
        Some(&DockerReference::parse(name)?),
        &platform,
        &single,
    )?;
    engine.load(&archive)?;
    Ok(WriteReport {
        readback: vec![(image.platform.clone(), reference.clone())],
        push: None,
    })
}

/// How to reach the engine.
#[derive(Clone, Debug)]
pub enum Engine {
    Unix(PathBuf),
    Tcp(String),
}

impl Engine {
    /// `DOCKER_HOST` (`unix://PATH` or `tcp://HOST:PORT`), else the default socket.
    pub fn from_env() -> Result<Self> {
        match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.is_empty() => {
                if let Some(path) = host.strip_prefix("unix://") {
                    Ok(Engine::Unix(path.into()))
                } else if let Some(addr) = host.strip_prefix("tcp://") {
                    Ok(Engine::Tcp(addr.trim_end_matches('/').to_string()))
                } else {
                    Err(Error::Daemon(format!(
                        "DOCKER_HOST '{host}' is neither unix:// nor tcp://"
                    )))
                }
            }
            _ => Ok(Engine::Unix("/var/run/docker.sock".into())),
        }
    }

    fn describe(&self) -> String {
        match self {
            Engine::Unix(p) => format!("unix://{}", p.display()),
            Engine::Tcp(a) => format!("tcp://{a}"),
        }
    }

    /// Sends a GET and returns the status and a body stream (chunked or sized).
    pub fn get(&self, path: &str) -> Result<(u16, Box<dyn Read + Send>)> {
        self.request("GET", path, None)
    }

    /// Sends a request with an optional tar body of known length.
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&mut dyn Read, u64)>,
    ) -> Result<(u16, Box<dyn Read + Send>)> {
        let unreachable = |e: io::Error| {
            Error::Daemon(format!(
                "cannot reach the Docker Engine at {}: {e} (is it running? set DOCKER_HOST)",
                self.describe()
            ))
        };
        let stream: Box<dyn ReadWrite> = match self {
            Engine::Unix(p) => Box::new(UnixStream::connect(p).map_err(unreachable)?),
            Engine::Tcp(a) => {
                let s = TcpStream::connect(a).map_err(unreachable)?;
                s.set_read_timeout(Some(Duration::from_secs(300)))
                    .map_err(unreachable)?;
                Box::new(s)
            }
        };
        let mut reader = BufReader::with_capacity(256 << 10, stream);
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: onebin\r\nConnection: close\r\n");
        if let Some((_, len)) = &body {
            request.push_str(&format!(
                "Content-Type: application/x-tar\r\nContent-Length: {len}\r\n"
            ));
        }
        request.push_str("\r\n");
        reader
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(unreachable)?;
        if let Some((body, _)) = body {
            io::copy(body, reader.get_mut()).map_err(unreachable)?;
        }
        let head = read_head(&mut reader).map_err(unreachable)?;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => {
                return Err(Error::Daemon(format!(
                    "{}: malformed HTTP response",
                    self.describe()
                )))
            }
        }
        let status = response.code.unwrap_or(0);
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
        };
        let body: Box<dyn Read + Send> =
            if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                Box::new(Chunked {
                    inner: reader,
                    remaining: 0,
                    done: false,
                })
            } else if let Some(len) = header("content-length").and_then(|v| v.parse::<u64>().ok()) {
                Box::new(reader.take(len))
            } else {
                Box::new(reader)
            };
        Ok((status, body))
    }
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

fn read_head(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let n = reader.read_until(b'\n', &mut head)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response head",
            ));
        }
        if head.ends_with(b"\r\n\r\n") {
            return Ok(head);
        }
        if head.len() > 64 << 10 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "response head larger than 64 KiB",
            ));
        }
    }
}

/// HTTP/1.1 chunked transfer decoding; a stream cut short is an error, never EOF.
struct Chunked<R> {
    inner: R,
    remaining: u64,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.inner.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "chunked body cut short",
            ));
        }
        Ok(line.trim_end().to_string())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            let line = self.line()?;
            let size = line.split(';').next().unwrap_or("").trim();
            self.remaining = u64::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size '{line}'"),
                )
            })?;
            if self.remaining == 0 {
                while !self.line()?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "chunked body cut short",
            ));
        }
        self.remaining -= n as u64;
        if self.remaining == 0 && !self.line()?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk not followed by CRLF",
            ));
        }
        Ok(n)
    }
}

impl Engine {
    /// The engine's own platform (`GET /info`): what `docker run` would pick.
    pub fn platform(&self) -> Result<Platform> {
        let (status, body) = self.get("/info")?;
        let info: serde_json::Value =
            serde_json::from_reader(body).map_err(|e| Error::Daemon(format!("GET /info: {e}")))?;
        if status != 200 {
            return Err(Error::Daemon(format!("GET /info: HTTP {status}")));
        }
        let os = info["OSType"].as_str().unwrap_or("linux");
        let arch = info["Architecture"]
            .as_str()
            .unwrap_or(std::env::consts::ARCH);
        Ok(Platform::new(os, arch, None))
    }

    /// Loads a `docker save` archive into the engine (`POST /images/load`),
    /// as `docker load` does, and fails with the engine's own message.
    pub fn load(&self, archive: &Path) -> Result<()> {
        let mut file = File::open(archive).map_err(|e| Error::io(archive, e))?;
        let len = file.metadata().map_err(|e| Error::io(archive, e))?.len();
        let (status, body) =
            self.request("POST", "/images/load?quiet=1", Some((&mut file, len)))?;
        let mut text = String::new();
        BufReader::new(body)
            .read_to_string(&mut text)
            .map_err(|e| Error::Daemon(format!("loading: {e}")))?;
        if status != 200 {
            return Err(Error::Daemon(format!(
                "loading the image: HTTP {status}: {}",
                text.trim()
            )));
        }
        // The answer is a stream of JSON messages; a failure is one with `error`.
        for message in serde_json::Deserializer::from_str(&text)
            .into_iter::<serde_json::Value>()
            .flatten()
        {
            if let Some(error) = message["error"].as_str() {
                return Err(Error::Daemon(format!("loading the image: {error}")));
            }
        }
        Ok(())
    }
}

/// Percent-encodes an image name for a URL path, keeping `/`, `:` and `@`.
fn encode_path(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'.'
            | b'_'
            | b'-'
            | b'~'
            | b'/'
            | b':'
            | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Files whose bytes are kept from the first pass: metadata and small blobs.
const KEEP_BELOW: u64 = 1 << 20;
const KEEP_TOTAL: u64 = 64 << 20;

/// The export stream of one image, seen as a [`FileSet`]. A first pass keeps
/// the metadata (and any small file); opening a large member streams the export
/// again up to that member, so nothing is written to disk.
pub struct DaemonExport {
    engine: Engine,
    image: String,
    sizes: HashMap<String, u64>,
    aliases: HashMap<String, String>,
    kept: HashMap<String, Vec<u8>>,
}

impl DaemonExport {
    pub fn open(engine: &Engine, image: &str) -> Result<Self> {
        let (status, mut body) = engine.get(&format!("/images/{}/json", encode_path(image)))?;
        let mut text = String::new();
        let _ = body.read_to_string(&mut text);
        match status {
            200 => {}
            404 => {
                return Err(Error::NotFound(format!(
                    "the Docker Engine has no image '{image}' (`docker images` lists what it has)"
                )))
            }
            _ => {
                return Err(Error::Daemon(format!(
                    "inspecting '{image}': HTTP {status}: {}",
                    text.trim()
                )))
            }
        }
        let mut export = DaemonExport {
            engine: engine.clone(),
            image: image.to_string(),
            sizes: HashMap::new(),
            aliases: HashMap::new(),
            kept: HashMap::new(),
        };
        let mut archive = tar::Archive::new(export.stream()?);
        let mut kept_total = 0;
        let broken = |e: io::Error| Error::Daemon(format!("exporting '{image}': {e}"));
        for entry in archive.entries().map_err(broken)? {
            let mut entry = entry.map_err(broken)?;
            let Some(name) = entry
                .path()
                .ok()
                .and_then(|p| clean_name(&p.to_string_lossy()))
            else {
                continue;
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    export.sizes.insert(name.clone(), size);
                    if size <= KEEP_BELOW && kept_total + size <= KEEP_TOTAL {
                        let mut bytes = Vec::with_capacity(size as usize);
                        entry.read_to_end(&mut bytes).map_err(broken)?;
                        kept_total += size;
                        export.kept.insert(name, bytes);
                    }
                }
                tar::EntryType::Symlink => {
                    if let Ok(Some(target)) = entry.link_name() {
                        let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                        if let Some(target) =
                            clean_name(&format!("{dir}/{}", target.to_string_lossy()))
                        {
                            export.aliases.insert(name, target);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(export)
    }

    fn stream(&self) -> Result<Box<dyn Read + Send>> {
        let (status, mut body) = self
            .engine
            .get(&format!("/images/{}/get", encode_path(&self.image)))?;
        if status != 200 {
            let mut text = String::new();
            let _ = body.read_to_string(&mut text);
            return Err(Error::Daemon(format!(
                "exporting '{}': HTTP {status}: {}",
                self.image,
                text.trim()
            )));
        }
        Ok(body)
    }

    fn resolve(&self, name: &str) -> Option<String> {
        let name = clean_name(name)?;
        let name = self.aliases.get(&name).cloned().unwrap_or(name);
        self.sizes.contains_key(&name).then_some(name)
    }

    fn missing(&self, name: &str) -> Error {
        Error::NotFound(format!(
            "docker-daemon:{}: the export has no file '{name}'",
            self.image
        ))
    }
}

impl FileSet for DaemonExport {
    fn location(&self) -> String {
        format!("docker-daemon:{}", self.image)
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>> {
        let name = self.resolve(name).ok_or_else(|| self.missing(name))?;
        if let Some(bytes) = self.kept.get(&name) {
            return Ok(Box::new(Cursor::new(bytes.clone())));
        }
        let broken = |e: io::Error| Error::Daemon(format!("exporting '{}': {e}", self.image));
        let mut archive = tar::Archive::new(self.stream()?);
        let mut found = None;
        for entry in archive.entries().map_err(broken)? {
            let entry = entry.map_err(broken)?;
            if entry
                .path()
                .ok()
                .and_then(|p| clean_name(&p.to_string_lossy()))
                .as_deref()
                == Some(name.as_str())
                && entry.header().entry_type().is_file()
            {
                found = Some(entry.size());
                break;
            }
        }
        // The archive's reader now stands at the member's first byte.
        let size = found.ok_or_else(|| self.missing(&name))?;
        Ok(Box::new(archive.into_inner().take(size)))
    }

    fn size(&self, name: &str) -> Result<u64> {
        let name = self.resolve(name).ok_or_else(|| self.missing(name))?;
        Ok(self.sizes[&name])
    }

    fn exists(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    fn random_access(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_chunked_and_detects_truncation() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        let mut out = String::new();
        Chunked {
            inner: &body[..],
            remaining: 0,
            done: false,
        }
        .read_to_string(&mut out)
        .unwrap();
        assert_eq!(out, "hello world");
        let cut = b"5\r\nhel";
        let err = Chunked {
            inner: &cut[..],
            remaining: 0,
            done: false,
        }
        .read_to_end(&mut Vec::new())
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn encodes_names() {
        assert_eq!(
            encode_path("docker.io/library/app:v1"),
            "docker.io/library/app:v1"
        );
        assert_eq!(encode_path("a b?"), "a%20b%3F");
    }
}
