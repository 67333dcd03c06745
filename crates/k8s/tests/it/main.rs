//! The homelab-k8s integration tests: one binary, one module per area (the adapters
//! against homelab-testkit's fake API server and fake Prometheus).

mod collect;
mod exec;
mod kubeconfig;
mod prometheus;
mod secrets;
mod support;
mod whisker;
