//! `docker://` against the real CNCF distribution registry (`docker-registry`),
//! started by each test on a free port of 127.0.0.1: anonymous, htpasswd
//! Basic auth, and the Bearer token flow with a token service written here
//! (JWTs signed by a key and certificate that `openssl` makes). Interop both
//! ways with skopeo and the Docker Engine; faults through a small proxy. The
//! registry, the token service and the proxies are modules of this directory.

#[path = "../support/mod.rs"]
mod support;

mod http;
mod proxy;
mod server;
mod token;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use support::{binary_args, run, s, skopeo, stderr, stdout, strs, EXAMPLE_IMAGE};

use proxy::{ConnectProxy, FaultProxy};
use server::{Auth, Registry};
use token::TokenService;

const HELLO: &str = "/usr/local/bin/hello";
const USER: &str = "onebin-tester";
const PASSWORD: &str = "s3cret-Pa55word-never-printed";

// ---------------------------------------------------------------- onebin, isolated

/// Runs onebin with no credentials from this machine: an empty Docker config,
/// no auth files, no CI variables; `env` adds what a test wants.
fn onebin(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let empty = std::env::temp_dir().join(format!("onebin-registry-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onebin"));
    cmd.args(args)
        .env("DOCKER_CONFIG", &empty)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("CI_REGISTRY")
        .env_remove("CI_REGISTRY_USER")
        .env_remove("CI_REGISTRY_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("onebin runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !all.contains(PASSWORD),
        "the password appeared in onebin's output:\n{all}"
    );
    out
}

fn ok(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> String {
    let out = onebin(args, env, stdin);
    assert!(
        out.status.success(),
        "onebin {args:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn json_ok(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(&all, env, stdin)).unwrap()
}

fn fails(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> String {
    let out = onebin(args, env, stdin);
    assert_eq!(
        out.status.code(),
        Some(2),
        "onebin {args:?} should fail:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

/// `extract IMAGE --path HELLO --out OUT --quiet`.
fn extract_args<'a>(image: &'a str, out: &'a Path) -> [&'a str; 7] {
    [
        "extract",
        image,
        "--path",
        HELLO,
        "--out",
        s(out),
        "--quiet",
    ]
}

/// A temp dir with the example's binaries in it, as CI would have built
/// them: (the dir, amd64, arm64).
fn binaries() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    ok(&extract_args(EXAMPLE_IMAGE, &bin), &[], None);
    let (amd64, arm64) = (bin.join("hello_linux_amd64"), bin.join("hello_linux_arm64"));
    (tmp, amd64, arm64)
}

/// `package` of the two binaries to HELLO in `dest`, then `extra`.
fn package_args(amd64: &Path, arm64: &Path, dest: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["package".to_string()];
    args.extend(binary_args(&[
        ("linux/amd64", amd64),
        ("linux/arm64", arm64),
    ]));
    args.extend(["--path", HELLO, "--dest", dest].map(String::from));
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// Extracts HELLO from `image` into `out` and returns the amd64 and arm64 bytes.
fn extract_both(image: &str, out: &Path, env: &[(&str, &str)]) -> (Vec<u8>, Vec<u8>) {
    ok(&extract_args(image, out), env, None);
    (
        std::fs::read(out.join("hello_linux_amd64")).unwrap(),
        std::fs::read(out.join("hello_linux_arm64")).unwrap(),
    )
}

fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", support::sha256_hex(bytes))
}

/// The digest of what skopeo reads for `image` (`inspect --raw`, over plain
/// HTTP), as USER when `authenticated`.
fn skopeo_digest(image: &str, authenticated: bool) -> String {
    let creds = format!("{USER}:{PASSWORD}");
    let mut args = vec!["inspect", "--tls-verify=false", "--raw"];
    if authenticated {
        args.extend(["--creds", &creds]);
    }
    args.push(image);
    sha256_of(&run(Command::new("skopeo").args(args)).stdout)
}

/// USER's credentials for `host`, as Docker's config.json and containers'
/// auth.json both write them.
fn auths(host: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    json!({"auths": {host: {"auth": auth}}}).to_string()
}

// ---------------------------------------------------------------- tests

#[test]
fn anonymous_push_pull_and_skopeo_both_ways() {
    let Some(registry) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let (tmp, amd64, arm64) = binaries();

    // The same inputs give the same index in a layout and in the registry.
    let layout = format!("oci:{}:v1", tmp.path().join("layout").display());
    let local = json_ok(
        &strs(&package_args(&amd64, &arm64, &layout, &[])),
        &[],
        None,
    );
    let dest = registry.image("team/hello:v1");
    let pushed = json_ok(&strs(&package_args(&amd64, &arm64, &dest, &[])), &[], None);
    let digest = pushed["digest"].as_str().unwrap().to_string();
    assert_eq!(digest, local["digest"].as_str().unwrap());
    assert_eq!(
        pushed["push"]["registry_digest"],
        digest.as_str(),
        "{pushed:#}"
    );
    assert_eq!(pushed["push"]["digests_match"], true);
    assert!(
        pushed["push"]["blobs_uploaded"].as_u64().unwrap() >= 4,
        "{pushed:#}"
    );
    assert_eq!(pushed["verified"], true);

    // Again: every blob is there already.
    let again = json_ok(&strs(&package_args(&amd64, &arm64, &dest, &[])), &[], None);
    assert_eq!(again["push"]["blobs_uploaded"], 0, "{again:#}");
    assert_eq!(again["digest"], digest.as_str());

    // inspect, extract and verify read it back; a bare NAME works as docker:// does.
    let report = json_ok(&["inspect", &dest], &[], None);
    assert_eq!(report["digest"], digest.as_str());
    assert_eq!(report["platforms"].as_array().unwrap().len(), 2);
    let bare = format!("{}/team/hello:v1", registry.host());
    assert_eq!(
        json_ok(&["inspect", &bare], &[], None)["digest"],
        digest.as_str()
    );
    let by_digest = registry.image(&format!("team/hello@{digest}"));
    assert_eq!(
        json_ok(&["inspect", &by_digest], &[], None)["digest"],
        digest.as_str()
    );
    let dist = tmp.path().join("dist");
    let (a, b) = extract_both(&dest, &dist, &[]);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    assert_eq!(b, std::fs::read(&arm64).unwrap());
    let checksums = dist.join("checksums.txt");
    ok(
        &[
            "verify",
            &dest,
            "--path",
            HELLO,
            "--checksums",
            s(&checksums),
        ],
        &[],
        None,
    );

    // A clear 404 that names the repository.
    let err = fails(&["inspect", &registry.image("team/nothing:v1")], &[], None);
    assert!(err.contains("404") && err.contains("team/nothing"), "{err}");

    if !support::require("skopeo") {
        return;
    }
    // skopeo reads what onebin pushed: same digest, same bytes.
    assert_eq!(skopeo_digest(&dest, false), digest);
    let copied = tmp.path().join("skopeo-copy");
    skopeo::copy(
        tmp.path(),
        &[
            "--all",
            "--src-tls-verify=false",
            &dest,
            &format!("oci:{}:v1", copied.display()),
        ],
    );
    let (a2, b2) = extract_both(
        &format!("oci:{}:v1", copied.display()),
        &tmp.path().join("dist2"),
        &[],
    );
    assert_eq!((a2, b2), (a, b));

    // skopeo pushes, onebin pulls: same digest, same bytes as from the layout.
    let base = registry.image("base:v1");
    skopeo::copy(
        tmp.path(),
        &["--all", "--dest-tls-verify=false", EXAMPLE_IMAGE, &base],
    );
    assert_eq!(
        json_ok(&["inspect", &base], &[], None)["digest"],
        skopeo_digest(&base, false).as_str()
    );
    let from_registry = extract_both(&base, &tmp.path().join("dist3"), &[]);
    let from_layout = extract_both(EXAMPLE_IMAGE, &tmp.path().join("dist4"), &[]);
    assert_eq!(from_registry, from_layout);

    // A base in the same registry: its layers are mounted, not uploaded.
    let app = registry.image("app:v1");
    let args = package_args(&amd64, &arm64, &app, &["--base", &base]);
    let pushed = json_ok(&strs(&args), &[], None);
    assert!(
        pushed["push"]["blobs_mounted"].as_u64().unwrap() >= 1,
        "{pushed:#}"
    );
    assert_eq!(pushed["push"]["digests_match"], true);
}

#[test]
fn basic_auth_from_every_credential_source() {
    let Some(registry) = Registry::start(Auth::Htpasswd) else {
        return;
    };
    let (tmp, amd64, arm64) = binaries();
    let dest = registry.image("private/hello:v1");
    let host = registry.host();

    // Anonymous: a clear 401 naming the scope and what to check.
    let err = fails(&strs(&package_args(&amd64, &arm64, &dest, &[])), &[], None);
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("repository:private/hello:pull,push"), "{err}");
    assert!(
        err.contains("anonymously") && err.contains("--username"),
        "{err}"
    );

    // --username with --password-stdin.
    let args = package_args(
        &amd64,
        &arm64,
        &dest,
        &["--username", USER, "--password-stdin"],
    );
    let pushed = json_ok(&strs(&args), &[], Some(&format!("{PASSWORD}\n")));
    assert_eq!(pushed["push"]["digests_match"], true);
    let digest = pushed["digest"].as_str().unwrap().to_string();

    // A wrong password: 401, and the password is never shown (checked in `onebin`).
    let err = fails(
        &["inspect", &dest, "--username", USER, "--password-stdin"],
        &[],
        Some("wrong-password"),
    );
    assert!(err.contains("401") && err.contains(USER), "{err}");

    let inspect_with = |env: &[(&str, &str)]| {
        assert_eq!(
            json_ok(&["inspect", &dest], env, None)["digest"],
            digest.as_str()
        );
    };

    // Docker's config.json `auths`.
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), auths(&host)).unwrap();
    inspect_with(&[("DOCKER_CONFIG", s(&docker))]);

    // `credHelpers` through the real docker-credential-* protocol.
    let helpers = tmp.path().join("helpers");
    std::fs::create_dir_all(&helpers).unwrap();
    let asked = tmp.path().join("helper-asked");
    let script = helpers.join("docker-credential-test");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\necho \"$server\" >> {asked}\nif [ \"$server\" = \"{host}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
            asked = asked.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        helpers.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let helper_config = tmp.path().join("docker-helper");
    std::fs::create_dir_all(&helper_config).unwrap();
    std::fs::write(
        helper_config.join("config.json"),
        json!({"credHelpers": {host.clone(): "test"}}).to_string(),
    )
    .unwrap();
    inspect_with(&[("DOCKER_CONFIG", s(&helper_config)), ("PATH", &path)]);
    assert_eq!(std::fs::read_to_string(&asked).unwrap().trim(), host);
    // `credsStore` too.
    std::fs::write(
        helper_config.join("config.json"),
        json!({"credsStore": "test"}).to_string(),
    )
    .unwrap();
    inspect_with(&[("DOCKER_CONFIG", s(&helper_config)), ("PATH", &path)]);

    // REGISTRY_AUTH_FILE, and containers' auth.json under XDG_RUNTIME_DIR.
    let auth_file = tmp.path().join("auth.json");
    std::fs::write(&auth_file, auths(&host)).unwrap();
    inspect_with(&[("REGISTRY_AUTH_FILE", s(&auth_file))]);
    let runtime = tmp.path().join("run");
    std::fs::create_dir_all(runtime.join("containers")).unwrap();
    std::fs::copy(&auth_file, runtime.join("containers/auth.json")).unwrap();
    inspect_with(&[("XDG_RUNTIME_DIR", s(&runtime))]);

    // GitLab CI's variables.
    inspect_with(&[
        ("CI_REGISTRY", &host),
        ("CI_REGISTRY_USER", USER),
        ("CI_REGISTRY_PASSWORD", PASSWORD),
    ]);

    // Extract and verify with credentials, and skopeo reads it with the same ones.
    let dist = tmp.path().join("dist");
    let (a, _) = extract_both(&dest, &dist, &[("DOCKER_CONFIG", s(&docker))]);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    if support::require("skopeo") {
        assert_eq!(skopeo_digest(&dest, true), digest);
    }
}

#[test]
fn bearer_token_flow_with_the_registrys_token_auth() {
    let Some(tokens) = TokenService::start() else {
        return;
    };
    let Some(registry) = Registry::start(Auth::Token(&tokens)) else {
        return;
    };
    let (tmp, amd64, arm64) = binaries();
    let dest = registry.image("team/app:v1");
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), auths(&registry.host())).unwrap();
    let creds = [("DOCKER_CONFIG", s(&docker))];

    // Anonymous: the token grants nothing, and the error says which scope it asked for.
    let err = fails(&strs(&package_args(&amd64, &arm64, &dest, &[])), &[], None);
    assert!(
        err.contains("401") && err.contains("repository:team/app:pull,push"),
        "{err}"
    );

    let pushed = json_ok(
        &strs(&package_args(&amd64, &arm64, &dest, &[])),
        &creds,
        None,
    );
    assert_eq!(pushed["push"]["digests_match"], true);
    let digest = pushed["digest"].as_str().unwrap().to_string();
    assert!(
        tokens
            .scopes_asked()
            .iter()
            .any(|s| s == "repository:team/app:pull,push"),
        "{:?}",
        tokens.scopes_asked()
    );
    assert_eq!(
        json_ok(&["inspect", &dest], &creds, None)["digest"],
        digest.as_str()
    );
    let (a, b) = extract_both(&dest, &tmp.path().join("dist"), &creds);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    assert_eq!(b, std::fs::read(&arm64).unwrap());

    // A wrong password: the token service refuses, and the error says what to check.
    let err = fails(
        &["inspect", &dest, "--username", USER, "--password-stdin"],
        &[],
        Some("not-the-password"),
    );
    assert!(
        err.contains("token service") && err.contains("401") && err.contains("check"),
        "{err}"
    );

    if support::require("skopeo") {
        assert_eq!(skopeo_digest(&dest, true), digest);
    }
}

#[test]
fn docker_engine_pulls_runs_and_pushes() {
    if !support::require_docker() {
        return;
    }
    let Some(registry) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let (tmp, amd64, arm64) = binaries();
    let repo = format!("onebin-registry-test-{}", std::process::id());
    let name = format!("{}/{repo}:v1", registry.host());
    let pushed = json_ok(
        &strs(&package_args(
            &amd64,
            &arm64,
            &format!("docker://{name}"),
            &[],
        )),
        &[],
        None,
    );
    let digest = pushed["digest"].as_str().unwrap().to_string();

    let docker = |args: &[&str]| run(Command::new("docker").args(args));
    let cleanup = Cleanup(vec![
        name.clone(),
        format!("{}/{repo}:from-docker", registry.host()),
    ]);
    docker(&["pull", "--quiet", &name]);
    let inspected: Value =
        serde_json::from_slice(&docker(&["image", "inspect", &name]).stdout).unwrap();
    let repo_digests = inspected[0]["RepoDigests"].to_string();
    assert!(
        repo_digests.contains(&digest),
        "{repo_digests} lacks {digest}"
    );
    if std::env::consts::ARCH == "x86_64" {
        let out = docker(&["run", "--rm", &name]);
        assert_eq!(stdout(&out), "hello from one binary, one hash\n");
    }

    // docker push, onebin pull: the digest docker reports is the one onebin reads.
    let from_docker = format!("{}/{repo}:from-docker", registry.host());
    docker(&["tag", &name, &from_docker]);
    let out = docker(&["push", &from_docker]);
    let said = stdout(&out);
    let pushed_digest = said
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .unwrap_or_else(|| panic!("no digest in: {said}"))
        .to_string();
    let report = json_ok(&["inspect", &format!("docker://{from_docker}")], &[], None);
    assert_eq!(report["digest"], pushed_digest.as_str());
    let out = tmp.path().join("dist");
    ok(
        &extract_args(&format!("docker://{from_docker}"), &out),
        &[],
        None,
    );
    drop(cleanup);
}

struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "--force"])
            .args(&self.0)
            .output();
    }
}

/// An anonymous registry, and a fault proxy in front of it.
fn registry_behind_fault_proxy() -> Option<(Registry, FaultProxy)> {
    let registry = Registry::start(Auth::Anonymous)?;
    let proxy = FaultProxy::start(registry.port);
    Some((registry, proxy))
}

#[test]
fn faults_are_retried_or_fail_cleanly() {
    let Some((registry, proxy)) = registry_behind_fault_proxy() else {
        return;
    };
    let (tmp, amd64, arm64) = binaries();

    // 500s, a 429 with Retry-After and a dropped upload on the way: the push succeeds.
    proxy.set(|f| {
        f.errors_500 = 2;
        f.throttle_429 = 1;
        f.drop_next_upload = true;
    });
    let dest = proxy.image("faults/app:v1");
    let started = Instant::now();
    let pushed = json_ok(&strs(&package_args(&amd64, &arm64, &dest, &[])), &[], None);
    assert_eq!(pushed["push"]["digests_match"], true);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not waited for"
    );
    let log = proxy.log();
    for what in ["500 ", "429 ", "dropped "] {
        assert!(
            log.iter().any(|l| l.starts_with(what)),
            "no {what}in {log:#?}"
        );
    }

    // A blob cut off mid-stream is fetched again from where it broke.
    proxy.set(|f| f.cut_next_blob = true);
    let (a, b) = extract_both(&dest, &tmp.path().join("dist"), &[]);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    assert_eq!(b, std::fs::read(&arm64).unwrap());
    let log = proxy.log();
    assert!(log.iter().any(|l| l.starts_with("cut ")), "{log:#?}");
    assert!(
        log.iter().any(|l| l.contains("[bytes=")),
        "no Range request after the cut: {log:#?}"
    );

    // A body that does not match its digest: an error naming it, nothing in --out.
    let report = json_ok(&["inspect", &dest], &[], None);
    let layer = report["platforms"][0]["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    proxy.set(|f| f.corrupt = Some(layer.clone()));
    let out = tmp.path().join("corrupt");
    // Fails, and leaves nothing in --out; the error.
    let extract_fails = || {
        let err = fails(&extract_args(&dest, &out), &[], None);
        assert!(
            support::list_files(&out).is_empty(),
            "{:?}",
            support::list_files(&out)
        );
        err
    };
    let err = extract_fails();
    // (gzip's own trailer check may speak first; either way the layer is named.)
    assert!(
        err.contains(&layer)
            && (err.contains("corrupt") || err.contains("does not match its digest")),
        "{err}"
    );
    let config = report["platforms"][0]["config"]
        .as_str()
        .unwrap()
        .to_string();
    proxy.set(|f| f.corrupt = Some(config.clone()));
    let err = extract_fails();
    assert!(
        err.contains(&config) && err.contains("does not match its digest"),
        "{err}"
    );
    proxy.set(|f| f.corrupt = Some(layer.clone()));

    // A corrupt base blob while pushing elsewhere: the push fails, the tag never appears.
    let bad = registry.image("faults/bad:v1");
    let args = package_args(&amd64, &arm64, &bad, &["--base", &dest]);
    let err = fails(&strs(&args), &[], None);
    assert!(err.contains("does not match its digest"), "{err}");
    let err = fails(&["inspect", &bad], &[], None);
    assert!(err.contains("404"), "{err}");

    // A registry that keeps failing: a clear error after the retries, nothing pushed.
    proxy.set(|f| {
        f.corrupt = None;
        f.errors_500 = 1000;
    });
    let err = fails(
        &strs(&package_args(
            &amd64,
            &arm64,
            &proxy.image("faults/never:v1"),
            &[],
        )),
        &[],
        None,
    );
    assert!(err.contains("500"), "{err}");
    proxy.set(|f| f.errors_500 = 0);
    let err = fails(&["inspect", &registry.image("faults/never:v1")], &[], None);
    assert!(err.contains("404"), "{err}");
}

#[test]
fn large_blobs_go_up_in_chunks_and_come_down_whole() {
    let Some((_registry, proxy)) = registry_behind_fault_proxy() else {
        return;
    };
    let (tmp, amd64, arm64) = binaries();
    // The binary with 9 MiB of noise after it: still the same ELF, a layer past one chunk.
    let mut big = std::fs::read(&amd64).unwrap();
    big.extend(support::noise(9, 9 << 20));
    let big_file = tmp.path().join("hello-big");
    std::fs::write(&big_file, &big).unwrap();
    proxy.set(|f| f.drop_next_upload = true);
    let dest = proxy.image("big/app:v1");
    let pushed = json_ok(
        &strs(&package_args(&big_file, &arm64, &dest, &[])),
        &[],
        None,
    );
    assert_eq!(pushed["push"]["digests_match"], true);
    let log = proxy.log();
    let patches = log.iter().filter(|l| l.starts_with("PATCH ")).count();
    assert!(patches >= 2, "expected a chunked upload: {log:#?}");
    assert!(log.iter().any(|l| l.starts_with("dropped ")), "{log:#?}");

    proxy.set(|f| f.cut_next_blob = true);
    let (a, _) = extract_both(&dest, &tmp.path().join("dist"), &[]);
    assert!(a == big, "the big binary came back different");
    if support::require("skopeo") {
        assert_eq!(
            skopeo_digest(&dest, false),
            pushed["digest"].as_str().unwrap()
        );
    }
}

#[test]
fn tls_with_a_private_certificate_authority() {
    let certs = tempfile::tempdir().unwrap();
    let Some((registry, tls)) = Registry::start_tls(certs.path()) else {
        return;
    };
    let (tmp, amd64, arm64) = binaries();
    let dest = registry.image("tls/hello:v1");

    // Without the CA the certificate is not trusted: a clear error, nothing pushed.
    let refused = fails(&strs(&package_args(&amd64, &arm64, &dest, &[])), &[], None);
    assert!(refused.contains(&registry.host()), "{refused}");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    // SSL_CERT_FILE names the CA that signed it, as for curl and Go.
    let trusted = [("SSL_CERT_FILE", tls.ca.to_str().unwrap())];
    let pushed = json_ok(
        &strs(&package_args(&amd64, &arm64, &dest, &[])),
        &trusted,
        None,
    );
    assert_eq!(pushed["push"]["digests_match"], true, "{pushed:#}");
    let (a, b) = extract_both(&dest, &tmp.path().join("out"), &trusted);
    assert_eq!(
        (a, b),
        (
            std::fs::read(&amd64).unwrap(),
            std::fs::read(&arm64).unwrap()
        )
    );
}

#[test]
fn https_proxy_and_no_proxy_are_honoured() {
    let certs = tempfile::tempdir().unwrap();
    let Some((registry, tls)) = Registry::start_tls(certs.path()) else {
        return;
    };
    let proxy = ConnectProxy::start();
    let (tmp, amd64, arm64) = binaries();
    let dest = registry.image("proxied/hello:v1");
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let ca = tls.ca.to_str().unwrap();

    let through = [
        ("SSL_CERT_FILE", ca),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("NO_PROXY", ""),
    ];
    let pushed = json_ok(
        &strs(&package_args(&amd64, &arm64, &dest, &[])),
        &through,
        None,
    );
    assert_eq!(pushed["push"]["digests_match"], true, "{pushed:#}");
    let tunnels = proxy.targets.lock().unwrap().clone();
    assert!(
        tunnels.iter().any(|t| *t == registry.host()),
        "the proxy saw {tunnels:?}"
    );

    // NO_PROXY names the registry: straight there, the proxy sees nothing new.
    let before = proxy.targets.lock().unwrap().len();
    let bypass = [
        ("SSL_CERT_FILE", ca),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("NO_PROXY", "127.0.0.2"),
    ];
    let (a, _) = extract_both(&dest, &tmp.path().join("out"), &bypass);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    assert_eq!(
        proxy.targets.lock().unwrap().len(),
        before,
        "NO_PROXY was not honoured"
    );
}
