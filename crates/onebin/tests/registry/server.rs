//! `docker-registry` started for one test, and the certificates for TLS.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::support::{self, run};
use crate::token::TokenService;
use crate::{PASSWORD, USER};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the registry authenticates clients.
pub enum Auth<'a> {
    Anonymous,
    Htpasswd,
    Token(&'a TokenService),
}

/// `docker-registry` with a config of its own in a temporary directory,
/// killed when dropped.
pub struct Registry {
    child: Child,
    ip: &'static str,
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// A certificate authority and a server certificate for 127.0.0.2 it signed,
/// made with the real openssl.
pub struct Tls {
    pub ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Tls {
    pub fn make(dir: &Path) -> Option<Tls> {
        if !support::require("openssl") {
            return None;
        }
        let p = |name: &str| dir.join(name);
        // A new RSA key, unencrypted, in KEY; the request (or, with -x509,
        // the self-signed certificate) in OUT.
        let req = |args: &[&str], key: &str, out: &str| {
            run(Command::new("openssl")
                .args(["req", "-newkey", "rsa:2048", "-nodes"])
                .args(args)
                .arg("-keyout")
                .arg(p(key))
                .arg("-out")
                .arg(p(out)));
        };
        req(
            &[
                "-x509",
                "-days",
                "2",
                "-subj",
                "/CN=onebin test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
            "ca.key",
            "ca.pem",
        );
        req(&["-subj", "/CN=127.0.0.2"], "server.key", "server.csr");
        std::fs::write(
            p("ext.cnf"),
            "subjectAltName=IP:127.0.0.2\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(p("server.csr"))
            .arg("-CA")
            .arg(p("ca.pem"))
            .arg("-CAkey")
            .arg(p("ca.key"))
            .arg("-extfile")
            .arg(p("ext.cnf"))
            .arg("-out")
            .arg(p("server.pem")));
        Some(Tls {
            ca: p("ca.pem"),
            cert: p("server.pem"),
            key: p("server.key"),
        })
    }
}

impl Registry {
    pub fn start(auth: Auth) -> Option<Registry> {
        Self::start_with(auth, None)
    }

    /// Anonymous, over TLS with a certificate authority made in `certs`.
    pub fn start_tls(certs: &Path) -> Option<(Registry, Tls)> {
        let tls = Tls::make(certs)?;
        let registry = Self::start_with(Auth::Anonymous, Some(&tls))?;
        Some((registry, tls))
    }

    /// With `tls`, the registry listens on 127.0.0.2 (which onebin reaches
    /// over TLS, as any host but localhost and 127.0.0.1) with that certificate.
    pub fn start_with(auth: Auth, tls: Option<&Tls>) -> Option<Registry> {
        if !support::require("docker-registry") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let ip = if tls.is_some() {
            "127.0.0.2"
        } else {
            "127.0.0.1"
        };
        let tls_config = tls
            .map(|t| {
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    t.cert.display(),
                    t.key.display()
                )
            })
            .unwrap_or_default();
        let auth = match auth {
            Auth::Anonymous => String::new(),
            Auth::Htpasswd => {
                let hash = bcrypt::hash(PASSWORD, 5).unwrap();
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{USER}:{hash}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: onebin-test\n    path: {}\n",
                    file.display()
                )
            }
            Auth::Token(t) => format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.port,
                TokenService::SERVICE,
                TokenService::ISSUER,
                t.cert.display()
            ),
        };
        let child = support::registry::serve(dir.path(), ip, port, &format!("{tls_config}{auth}"));
        Some(Registry {
            child,
            ip,
            port,
            _dir: dir,
        })
    }

    pub fn host(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

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
