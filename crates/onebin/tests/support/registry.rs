//! An anonymous `docker-registry` (the CNCF distribution registry) on a free
//! port of 127.0.0.1, with its storage in a temporary directory; killed when
//! dropped. `tests/registry/server.rs` has the variants with auth and TLS.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// Starts `docker-registry` on `ip:port` with its storage and log in `dir`,
/// `extra` appended to its config (`tls:` under `http:`, `auth:`), and
/// waits until it listens.
pub fn serve(dir: &Path, ip: &str, port: u16, extra: &str) -> Child {
    let config = format!(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {ip}:{port}\n  secret: onebin-test\n{extra}",
        dir.join("data").display()
    );
    let config_file = dir.join("config.yml");
    std::fs::write(&config_file, config).unwrap();
    let mut command = Command::new("docker-registry");
    // The registry reads REGISTRY_* variables as configuration: a
    // REGISTRY_AUTH_FILE meant for clients would become its `auth:` section.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("REGISTRY_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .arg("serve")
        .arg(&config_file)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
        .spawn()
        .expect("docker-registry starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect((ip, port)).is_err() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "docker-registry did not listen on {port}: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

impl Registry {
    /// `None` (a skip) when docker-registry is missing, outside CI.
    pub fn start() -> Option<Registry> {
        if !super::require("docker-registry") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = serve(dir.path(), "127.0.0.1", port, "");
        let registry = Registry {
            child,
            port,
            _dir: dir,
        };
        Some(registry)
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `docker://127.0.0.1:PORT/NAME`.
    pub fn image(&self, name: &str) -> String {
        format!("docker://{}/{name}", self.host())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
