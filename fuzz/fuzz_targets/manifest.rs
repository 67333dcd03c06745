#![no_main]
//! The manifest reader (multi-document YAML / JSON) must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = homelab_core::manifest::parse_documents(text);
    let _ = homelab_core::version::KubeVersion::parse_target(text);
});
