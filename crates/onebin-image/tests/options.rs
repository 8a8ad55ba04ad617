//! Registry settings travel with each call: two calls in one process may use
//! different limits, and a call's limits are the ones it was given.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use onebin_image::transport::{self, remote::is_plain_http};
use onebin_image::{Credentials, Error, ImageReference, Options};

#[test]
fn defaults_are_the_documented_ones() {
    let o = Options::default();
    assert_eq!(o.timeout, Duration::from_secs(120));
    assert_eq!(o.connect_timeout, Duration::from_secs(30));
    assert_eq!((o.retries, o.parallel, o.chunk_size), (5, 4, 8 << 20));
    assert!(o.insecure_registries.is_empty() && o.credentials.is_none());
}

#[test]
fn insecure_registries_are_per_call() {
    let insecure = ["reg.lan:5000".to_string()];
    assert!(is_plain_http("reg.lan:5000", &insecure));
    assert!(!is_plain_http("reg.lan:5000", &[]));
}

#[test]
fn credentials_never_show_their_secret() {
    let c = Credentials::new("ci-bot", "s3cret-token", "--username/--password-stdin");
    let o = Options {
        credentials: Some(c.clone()),
        ..Options::default()
    };
    for shown in [format!("{c}"), format!("{c:?}"), format!("{o:?}")] {
        assert!(!shown.contains("s3cret-token"), "{shown}");
        assert!(shown.contains("ci-bot"), "{shown}");
    }
}

/// A registry that accepts connections and never answers: only the call's own
/// timeout and retries end the wait, and the error says it could not connect.
#[test]
fn a_call_waits_as_long_as_its_options_say() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let reference =
        ImageReference::parse(&format!("docker://{}/app:v1", silent.local_addr().unwrap()))
            .unwrap();
    let options = Options {
        retries: 1,
        timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let started = Instant::now();
    let err = transport::open(&reference, &options)
        .err()
        .expect("nothing answers");
    let took = started.elapsed();
    assert!(
        matches!(&err, Error::Connection(m) if m.contains("after 2 attempts")),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(20),
        "{took:?}"
    );
}
