//! What `transport::write` writes, `transport::open` reads back: the same
//! images, blob for blob, each checked against its digest, for every
//! transport that needs no daemon or registry.

use std::collections::BTreeMap;
use std::io::Read;

use onebin_image::manifest::resolve_images;
use onebin_image::mutate::{append_layer, index, Blob, ConfigChanges, NewImage, NewLayer};
use onebin_image::transport;
use onebin_image::write::WriteSet;
use onebin_image::{sha256_digest, Error, ImageReference, Options, Platform, WriteOptions};

const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

fn image(platform: &str, content: &str) -> NewImage {
    let bytes = content.as_bytes().to_vec();
    let layer = NewLayer {
        diff_id: sha256_digest(&bytes).to_string(),
        blob: Blob::new(LAYER, bytes),
        created_by: "test".into(),
    };
    let changes = ConfigChanges {
        entrypoint: Some(vec!["/app".into()]),
        created: "1970-01-01T00:00:00Z".into(),
        ..Default::default()
    };
    append_layer(
        None,
        &platform.parse().unwrap(),
        layer,
        &changes,
        &BTreeMap::new(),
    )
}

fn read_blob(source: &dyn onebin_image::ImageSource, d: &onebin_image::Descriptor) -> Vec<u8> {
    let mut bytes = Vec::new();
    source
        .open_blob(d)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// Writes two platforms to `dest`, then reads every platform back from
/// where the write report says, and compares configs and layers.
fn round_trip(dest: &str, daemon_platform: Option<&Platform>) -> Vec<(Platform, ImageReference)> {
    let images = vec![
        image("linux/amd64", "amd64 layer"),
        image("linux/arm64", "arm64 layer"),
    ];
    let index = index(&images, &BTreeMap::new());
    let set = WriteSet {
        images: &images,
        index: &index,
        base: None,
    };
    let options = Options::default();
    let dest = ImageReference::parse(dest).unwrap();
    let report = transport::write(
        &dest,
        &set,
        &WriteOptions {
            options: &options,
            daemon_platform,
            progress: &|_, _| {},
        },
    )
    .unwrap();
    assert!(report.push.is_none());
    assert_eq!(report.readback.len(), images.len());
    for ((platform, at), written) in report.readback.iter().zip(&images) {
        assert_eq!(platform, &written.platform);
        let source = transport::open(at, &options).unwrap();
        assert_eq!(source.name(), at.to_string());
        let found = resolve_images(source.as_ref()).unwrap().images;
        let read = found
            .iter()
            .find(|i| i.platform.matches(platform))
            .unwrap_or_else(|| panic!("{at} lacks {platform}"));
        assert_eq!(
            read.manifest.config().digest(),
            written.config.descriptor.digest()
        );
        let layer = &read.manifest.layers()[0];
        assert_eq!(layer.digest(), written.layers[0].descriptor.digest());
        let content = read_blob(source.as_ref(), layer);
        assert_eq!(
            content,
            format!("{} layer", platform.architecture).as_bytes()
        );
    }
    report.readback
}

#[test]
fn oci_layout_directory() {
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}:v1", dir.path().join("image").display());
    let readback = round_trip(&dest, None);
    assert!(readback.iter().all(|(_, r)| r.to_string() == dest));
    // Written again under another tag, the layout holds both.
    round_trip(
        &format!("oci:{}:v2", dir.path().join("image").display()),
        None,
    );
    let first = ImageReference::parse(&dest).unwrap();
    let source = transport::open(&first, &Options::default()).unwrap();
    assert_eq!(resolve_images(source.as_ref()).unwrap().images.len(), 2);
}

#[test]
fn oci_archive() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(
        &format!("oci-archive:{}", dir.path().join("image.tar").display()),
        None,
    );
}

#[test]
fn docker_archive_reads_back_each_platform_from_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("image.tar");
    let arm64: Platform = "linux/arm64".parse().unwrap();
    let readback = round_trip(
        &format!("docker-archive:{}:app:v1", file.display()),
        Some(&arm64),
    );
    let entries: Vec<String> = readback.iter().map(|(_, r)| r.to_string()).collect();
    assert_eq!(
        entries,
        [
            format!("docker-archive:{}:@0", file.display()),
            format!("docker-archive:{}:@1", file.display())
        ]
    );
    // The platform asked for is also tagged NAME:TAG.
    let tagged =
        ImageReference::parse(&format!("docker-archive:{}:app:v1", file.display())).unwrap();
    let source = transport::open(&tagged, &Options::default()).unwrap();
    let images = resolve_images(source.as_ref()).unwrap().images;
    assert_eq!(images.len(), 1);
    assert!(images[0].platform.matches(&arm64));
}

#[test]
fn the_daemon_platform_is_settled_before_any_work() {
    let amd64: Platform = "linux/amd64".parse().unwrap();
    let arm64: Platform = "linux/arm64".parse().unwrap();
    let written = [amd64.clone()];
    let settle = |dest: &str, asked: Option<&Platform>| {
        transport::settle_daemon_platform(&ImageReference::parse(dest).unwrap(), &written, asked)
    };
    assert_eq!(settle("oci:dir", None).unwrap(), None);
    assert_eq!(
        settle("oci:dir", Some(&amd64)).unwrap_err().to_string(),
        "--daemon-platform applies to docker-archive: and docker-daemon: destinations only"
    );
    assert_eq!(
        settle("docker-archive:a.tar:app:v1", None).unwrap(),
        Some(Platform::host())
    );
    assert_eq!(
        settle("docker-archive:a.tar:app:v1", Some(&amd64)).unwrap(),
        Some(amd64.clone())
    );
    assert_eq!(
        settle("docker-archive:a.tar:app:v1", Some(&arm64))
            .unwrap_err()
            .to_string(),
        "--daemon-platform linux/arm64: no --binary was given for it"
    );
    // Settled from the flag alone: no engine is asked.
    assert_eq!(
        settle("docker-daemon:app:v1", Some(&amd64)).unwrap(),
        Some(amd64.clone())
    );
    assert_eq!(
        settle("docker-daemon:app:v1", Some(&arm64))
            .unwrap_err()
            .to_string(),
        "docker-daemon: the engine runs linux/arm64, and no --binary was given for it (use --daemon-platform)"
    );
    let id = format!("docker-daemon:sha256:{}", "a".repeat(64));
    assert!(matches!(settle(&id, Some(&amd64)), Err(Error::Invalid(m)) if m.contains("not an ID")));
}

#[test]
fn a_missing_tag_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("image");
    round_trip(&format!("oci:{}:v1", layout.display()), None);
    let missing = ImageReference::parse(&format!("oci:{}:v9", layout.display())).unwrap();
    let err = transport::open(&missing, &Options::default())
        .err()
        .expect("no image is tagged v9");
    assert!(
        matches!(&err, Error::NotFound(m) if m.contains("no image tagged 'v9'")),
        "{err:?}"
    );
}
