//! Any bytes as a manifest, index or image config (what a registry or a
//! layout serves), then the platform checks a walk applies to each entry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onebin_image::{ImageConfiguration, Manifest, Platform};

fuzz_target!(|data: &[u8]| {
    if let Ok(Manifest::Index(index)) = Manifest::parse(data, None, "fuzz") {
        for child in index.manifests() {
            if let Some(p) = child.platform() {
                let _ = Platform::new(
                    &p.os().to_string(),
                    &p.architecture().to_string(),
                    p.variant().as_deref(),
                )
                .to_string();
            }
        }
    }
    if let Ok(config) = serde_json::from_slice::<ImageConfiguration>(data) {
        let _ = Platform::new(
            &config.os().to_string(),
            &config.architecture().to_string(),
            config.variant().as_deref(),
        );
    }
});
