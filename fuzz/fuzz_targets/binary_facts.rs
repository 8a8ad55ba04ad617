//! Any bytes through `BinaryFacts::parse` (ELF, PE, Mach-O headers, dynamic
//! sections, symbol versions, Go build info in both layouts), then what
//! `onebin explain --json` does with facts: serialize them and compare them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onebin_binary::explain::explain;
use onebin_binary::BinaryFacts;

fuzz_target!(|data: &[u8]| {
    let Ok(facts) = BinaryFacts::parse(data) else {
        return;
    };
    let _ = facts.platform();
    serde_json::to_string(&facts).expect("facts serialize");
    // Equal hashes short-cut to `identical`: also compare under two hashes,
    // so every check of the comparison runs.
    let same = explain("a", &facts, "a", &facts);
    assert!(same.differences.is_empty());
    let other = explain("a", &facts, "b", &facts);
    serde_json::to_string(&other.differences).expect("differences serialize");
});
