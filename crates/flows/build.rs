//! Compiles the vendored Goldmane proto with protox (pure Rust, no system `protoc`) and
//! generates the prost messages plus the tonic client and server for every service.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest_dir.join("proto");
    let proto_file = proto_dir.join("goldmane").join("api.proto");
    println!("cargo:rerun-if-changed={}", proto_file.display());
    println!("cargo:rerun-if-changed=build.rs");

    let fds = protox::compile([&proto_file], [&proto_dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // `FlowCollector.Connect` would clash with the generated `connect` constructor; we build
        // our own channels anyway (a new one per stream, see `GoldmaneClient`).
        .build_transport(false)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}
