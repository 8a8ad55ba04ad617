//! The Go toolchain as the tests run it: offline, with no user or machine
//! configuration, sharing one build cache.

use std::path::Path;
use std::process::Command;

/// `go` (`bin`: "go" on PATH, or a toolchain's path) run in `dir`, building
/// for linux with cgo off unless the caller sets otherwise: no network
/// (GOPROXY, GOSUMDB off), no go.env or go.work, the local toolchain only,
/// modules from `gopath`, the shared build cache.
pub fn command(bin: impl AsRef<std::ffi::OsStr>, dir: &Path, gopath: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env("GOCACHE", super::go_cache())
        .env("GOPATH", gopath)
        .env("GOENV", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOSUMDB", "off")
        .env("GOWORK", "off")
        .env("GO111MODULE", "on")
        .env("CGO_ENABLED", "0")
        .env("GOOS", "linux");
    cmd
}
