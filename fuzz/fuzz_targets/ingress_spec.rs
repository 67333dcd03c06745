#![no_main]
//! An ingress spec (YAML/JSON) must never panic the parser or the renderer, and the
//! call-site lint must never panic on any file.
use homelab_core::ingress::{IngressSpec, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(spec) = IngressSpec::parse(text) {
        let _ = render(&spec);
    }
    let _ = homelab_core::ingress::parse_body_size(text);
    let _ = homelab_core::ingress::lint::lint_hcl(text);
});
