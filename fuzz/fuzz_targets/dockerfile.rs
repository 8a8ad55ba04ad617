//! Any text as a Dockerfile: continuations, heredocs, stages, `ARG`s.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onebin_audit::dockerfile;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = dockerfile::parse(text);
        let _ = format!("{parsed:?}");
    }
});
