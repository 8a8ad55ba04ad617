//! Any bytes as a layer blob: sniffed (gzip, zstd, tar), decompressed, and
//! indexed entry by entry through the header-record limit, capturing `app`.
#![no_main]

use std::collections::HashSet;
use std::io::Read;

use libfuzzer_sys::fuzz_target;
use onebin_layers::{decode, LayerIndex};

fuzz_target!(|data: &[u8]| {
    let Ok((_, stream)) = decode::decompress(data) else {
        return;
    };
    // Decompression bombs are bounded by the caller's reads; a fuzz run caps them here.
    let stream = stream.take(16 << 20);
    let wanted: HashSet<String> = ["app".to_string()].into();
    let dir = std::env::temp_dir();
    let _ = LayerIndex::scan(stream, &wanted, &dir);
});
