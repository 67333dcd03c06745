#![no_main]
//! Secret references and `secret inject` templates must never panic, and a reference that
//! parses must print to a canonical form that parses back to itself.
use homelab_core::secret::{SecretRef, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = SecretRef::parse(text) {
        let printed = r.to_string();
        assert_eq!(SecretRef::parse(&printed).ok(), Some(r), "round trip of {printed}");
    }
    let _ = Template::parse(text);
});
