//! References as users write them: parsed into the right transport, and
//! written back the same way, so messages and read-back references name
//! what the user named.

use onebin_image::transport::{self, TRANSPORTS};
use onebin_image::{DockerReference, Error, ImageReference};

#[test]
fn every_transport_round_trips_through_display() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    for written in [
        "oci:/tmp/layout".to_string(),
        "oci:dist/image:v1".to_string(),
        "oci-archive:image.tar".to_string(),
        "oci-archive:out/image.tar:v2".to_string(),
        "docker-archive:saved.tar".to_string(),
        "docker-archive:saved.tar:app:v1".to_string(),
        "docker-archive:saved.tar:@1".to_string(),
        "docker-daemon:docker.io/library/app:v1".to_string(),
        "docker://registry.example.com/team/app:v1".to_string(),
        format!("docker://ghcr.io/o/app@{digest}"),
        "docker://localhost:5000/app:latest".to_string(),
    ] {
        let parsed = ImageReference::parse(&written).unwrap();
        assert_eq!(parsed.to_string(), written);
        assert_eq!(ImageReference::parse(&parsed.to_string()).unwrap(), parsed);
    }
}

#[test]
fn short_names_are_normalised_as_docker_does() {
    for (written, shown) in [
        ("alpine", "docker://docker.io/library/alpine:latest"),
        ("user/app:1.2", "docker://docker.io/user/app:1.2"),
        (
            "docker-daemon:app",
            "docker-daemon:docker.io/library/app:latest",
        ),
        (
            "index.docker.io/library/alpine:3",
            "docker://docker.io/library/alpine:3",
        ),
    ] {
        assert_eq!(
            ImageReference::parse(written).unwrap().to_string(),
            shown,
            "{written}"
        );
    }
    let r = DockerReference::parse("localhost:5000/team/app:v1").unwrap();
    assert_eq!(r.familiar(), "localhost:5000/team/app:v1");
    assert_eq!(r.name(), "localhost:5000/team/app");
}

#[test]
fn each_reference_belongs_to_the_transport_its_prefix_names() {
    for written in [
        "oci:dir",
        "oci-archive:f.tar",
        "docker-archive:f.tar",
        "docker-daemon:app:v1",
        "docker://app:v1",
    ] {
        let reference = ImageReference::parse(written).unwrap();
        let transport = transport::transport_of(&reference);
        assert!(
            written.starts_with(transport.prefix),
            "{written} went to {}",
            transport.prefix
        );
        assert!(reference.to_string().starts_with(transport.prefix));
    }
}

#[test]
fn the_registration_list_gives_the_help_texts() {
    assert_eq!(
        transport::read_syntaxes(),
        "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], docker-daemon:NAME[:TAG], docker://NAME[:TAG|@DIGEST]"
    );
    assert_eq!(
        transport::write_syntaxes(),
        "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], docker-daemon:NAME:TAG, docker://NAME:TAG"
    );
    let mut prefixes: Vec<&str> = TRANSPORTS.iter().map(|t| t.prefix).collect();
    prefixes.sort();
    prefixes.dedup();
    assert_eq!(prefixes.len(), TRANSPORTS.len(), "a prefix is listed twice");
    for t in &TRANSPORTS {
        assert!(t.read_syntax.starts_with(t.prefix), "{}", t.read_syntax);
        assert!(t.write_syntax.starts_with(t.prefix), "{}", t.write_syntax);
        assert!(!t.description.is_empty());
    }
}

#[test]
fn an_unknown_transport_names_every_known_one() {
    let err = ImageReference::parse("ftp:x/y").unwrap_err();
    assert!(matches!(err, Error::Reference { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid image reference 'ftp:x/y': unknown transport 'ftp' (expected oci:, oci-archive:, docker-archive:, docker-daemon: or docker://)"
    );
    for bad in ["oci:", "oci-archive:", "docker-archive:", "docker-daemon:"] {
        assert!(
            matches!(ImageReference::parse(bad), Err(Error::Reference { .. })),
            "{bad}"
        );
    }
}
