#![no_main]
//! The snapshot parser must never panic; an accepted snapshot must round-trip.
use homelab_core::upgrade::ClusterSnapshot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(s) = ClusterSnapshot::from_json(text) else { return };
    let again = ClusterSnapshot::from_json(&s.to_json_pretty()).expect("round trip");
    assert_eq!(s, again);
});
