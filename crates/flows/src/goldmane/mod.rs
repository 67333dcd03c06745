//! Calico Goldmane's `Flows` API: the generated protobuf/gRPC code, the conversion to
//! the pure [`FlowRecord`], the `GOLDMANE_*` configuration and the mTLS streaming client.
//!
//! What the client relies on (docs/contracts/flow-trail.md): Goldmane aggregates flows into
//! 15 s buckets and streams one message per flow key per bucket (both reporters, so a
//! pod-to-pod connection usually arrives twice), all messages of a bucket sharing
//! `start_time`/`end_time`. `start_time_gte` = 0 streams from now, < 0 is relative
//! seconds, > 0 absolute Unix seconds; non-zero values backfill from the ~1 h in-memory
//! ring, gap-free and duplicate-free within one connection. There is no heartbeat (hence
//! HTTP/2 keepalive) and at most 100 concurrent streams (`ResourceExhausted`).
//!
//! The reconnect loop lives with the aggregator: it calls [`FlowSource::open`] with the
//! resume cursor and sleeps [`Backoff::next_delay`] between failed attempts.

mod backoff;
mod client;
mod config;
mod error;

use std::pin::Pin;

use homelab_core::flows::{Action, EndpointType, FlowRecord, Reporter};

pub use backoff::Backoff;
pub use client::GoldmaneClient;
pub use config::{GoldmaneConfig, host_without_port};
pub use error::{ConvertError, GoldmaneError};

/// The code generated from `proto/goldmane/api.proto` (package `goldmane`): messages,
/// `flows_client::FlowsClient`, `flows_server::{Flows, FlowsServer}` and the other services.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::nursery,
    missing_debug_implementations,
    missing_docs,
    unreachable_pub
)]
pub mod proto {
    tonic::include_proto!("goldmane");
}

/// A live flow stream: converted flows, ended by one `Err` (see [`GoldmaneClient::stream`]).
pub type FlowStream = Pin<Box<dyn futures::Stream<Item = Result<FlowRecord, GoldmaneError>> + Send>>;

/// Something that opens Goldmane flow streams. [`GoldmaneClient`] is the one
/// implementation; tests run it against the simulator ([`crate::sim`]).
pub trait FlowSource: Send {
    /// Opens a stream from `start_time_gte` (0 = now, < 0 = relative seconds, > 0 =
    /// absolute Unix seconds with backfill).
    fn open(&mut self, start_time_gte: i64) -> impl Future<Output = Result<FlowStream, GoldmaneError>> + Send;
}

/// Unknown numbers map to `Unspecified`.
pub fn action_from_proto(value: i32) -> Action {
    match proto::Action::try_from(value) {
        Ok(proto::Action::Allow) => Action::Allow,
        Ok(proto::Action::Deny) => Action::Deny,
        Ok(proto::Action::Pass) => Action::Pass,
        Ok(proto::Action::Unspecified) | Err(_) => Action::Unspecified,
    }
}

/// Unknown numbers map to `Unspecified`.
pub fn reporter_from_proto(value: i32) -> Reporter {
    match proto::Reporter::try_from(value) {
        Ok(proto::Reporter::Src) => Reporter::Src,
        Ok(proto::Reporter::Dst) => Reporter::Dst,
        Ok(proto::Reporter::Unspecified) | Err(_) => Reporter::Unspecified,
    }
}

/// Unknown numbers map to `Unspecified`.
pub fn endpoint_type_from_proto(value: i32) -> EndpointType {
    match proto::EndpointType::try_from(value) {
        Ok(proto::EndpointType::WorkloadEndpoint) => EndpointType::WorkloadEndpoint,
        Ok(proto::EndpointType::HostEndpoint) => EndpointType::HostEndpoint,
        Ok(proto::EndpointType::NetworkSet) => EndpointType::NetworkSet,
        Ok(proto::EndpointType::Network) => EndpointType::Network,
        Ok(proto::EndpointType::Unspecified) | Err(_) => EndpointType::Unspecified,
    }
}

pub fn action_to_proto(action: Action) -> proto::Action {
    match action {
        Action::Allow => proto::Action::Allow,
        Action::Deny => proto::Action::Deny,
        Action::Pass => proto::Action::Pass,
        Action::Unspecified => proto::Action::Unspecified,
    }
}

pub fn reporter_to_proto(reporter: Reporter) -> proto::Reporter {
    match reporter {
        Reporter::Src => proto::Reporter::Src,
        Reporter::Dst => proto::Reporter::Dst,
        Reporter::Unspecified => proto::Reporter::Unspecified,
    }
}

pub fn endpoint_type_to_proto(t: EndpointType) -> proto::EndpointType {
    match t {
        EndpointType::Unspecified => proto::EndpointType::Unspecified,
        EndpointType::WorkloadEndpoint => proto::EndpointType::WorkloadEndpoint,
        EndpointType::HostEndpoint => proto::EndpointType::HostEndpoint,
        EndpointType::NetworkSet => proto::EndpointType::NetworkSet,
        EndpointType::Network => proto::EndpointType::Network,
    }
}

/// `proto::Flow` → [`FlowRecord`]; a flow without `Key` is an error, never a panic.
pub fn flow_record(flow: proto::Flow) -> Result<FlowRecord, ConvertError> {
    let Some(key) = flow.key else {
        return Err(ConvertError::MissingKey {
            start_time: flow.start_time,
            end_time: flow.end_time,
        });
    };
    Ok(FlowRecord {
        source_namespace: key.source_namespace,
        source_name: key.source_name,
        source_type: endpoint_type_from_proto(key.source_type),
        dest_namespace: key.dest_namespace,
        dest_name: key.dest_name,
        dest_type: endpoint_type_from_proto(key.dest_type),
        dest_port: key.dest_port,
        proto: key.proto,
        reporter: reporter_from_proto(key.reporter),
        action: action_from_proto(key.action),
        start_time: flow.start_time,
        end_time: flow.end_time,
        num_connections_started: flow.num_connections_started,
    })
}

/// `proto::FlowResult` → [`FlowRecord`] (the result `id` is not durable and is dropped).
pub fn flow_result_record(result: proto::FlowResult) -> Result<FlowRecord, ConvertError> {
    match result.flow {
        Some(flow) => flow_record(flow),
        None => Err(ConvertError::MissingFlow { id: result.id }),
    }
}

impl TryFrom<proto::Flow> for FlowRecord {
    type Error = ConvertError;

    fn try_from(flow: proto::Flow) -> Result<FlowRecord, ConvertError> {
        flow_record(flow)
    }
}

/// [`FlowRecord`] → `proto::Flow` (fakes, tests): the fields a record does not carry are
/// left empty/zero.
pub fn flow_to_proto(record: &FlowRecord) -> proto::Flow {
    proto::Flow {
        key: Some(proto::FlowKey {
            source_name: record.source_name.clone(),
            source_namespace: record.source_namespace.clone(),
            source_type: endpoint_type_to_proto(record.source_type) as i32,
            dest_name: record.dest_name.clone(),
            dest_namespace: record.dest_namespace.clone(),
            dest_type: endpoint_type_to_proto(record.dest_type) as i32,
            dest_port: record.dest_port,
            proto: record.proto.clone(),
            reporter: reporter_to_proto(record.reporter) as i32,
            action: action_to_proto(record.action) as i32,
            ..Default::default()
        }),
        start_time: record.start_time,
        end_time: record.end_time,
        num_connections_started: record.num_connections_started,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> proto::Flow {
        proto::Flow {
            key: Some(proto::FlowKey {
                source_name: "web-7d9f-*".into(),
                source_namespace: "frontend".into(),
                source_type: proto::EndpointType::WorkloadEndpoint as i32,
                dest_name: "api-*".into(),
                dest_namespace: "backend".into(),
                dest_type: proto::EndpointType::WorkloadEndpoint as i32,
                dest_port: 8080,
                proto: "tcp".into(),
                reporter: proto::Reporter::Dst as i32,
                action: proto::Action::Deny as i32,
                ..Default::default()
            }),
            start_time: 1_700_000_000,
            end_time: 1_700_000_015,
            num_connections_started: 4,
            packets_in: 10,
            ..Default::default()
        }
    }

    #[test]
    fn converts_every_field() {
        let r = flow_record(sample()).unwrap();
        assert_eq!(
            r,
            FlowRecord {
                source_namespace: "frontend".into(),
                source_name: "web-7d9f-*".into(),
                source_type: EndpointType::WorkloadEndpoint,
                dest_namespace: "backend".into(),
                dest_name: "api-*".into(),
                dest_type: EndpointType::WorkloadEndpoint,
                dest_port: 8080,
                proto: "tcp".into(),
                reporter: Reporter::Dst,
                action: Action::Deny,
                start_time: 1_700_000_000,
                end_time: 1_700_000_015,
                num_connections_started: 4,
            }
        );
        // Round trip through the reverse conversion.
        assert_eq!(flow_record(flow_to_proto(&r)).unwrap(), r);
        assert_eq!(FlowRecord::try_from(sample()).unwrap(), r);
    }

    #[test]
    fn missing_key_or_flow_is_an_error() {
        let mut f = sample();
        f.key = None;
        assert_eq!(
            flow_record(f).unwrap_err(),
            ConvertError::MissingKey {
                start_time: 1_700_000_000,
                end_time: 1_700_000_015
            }
        );
        let r = proto::FlowResult { id: 7, flow: None };
        assert_eq!(flow_result_record(r).unwrap_err(), ConvertError::MissingFlow { id: 7 });
    }

    #[test]
    fn unknown_enum_numbers_are_unspecified() {
        let mut f = sample();
        let key = f.key.as_mut().unwrap();
        key.action = 42;
        key.reporter = -1;
        key.source_type = 99;
        key.dest_type = 7;
        let r = flow_record(f).unwrap();
        assert_eq!(r.action, Action::Unspecified);
        assert_eq!(r.reporter, Reporter::Unspecified);
        assert_eq!(r.source_type, EndpointType::Unspecified);
        assert_eq!(r.dest_type, EndpointType::Unspecified);
        assert_eq!(action_from_proto(3), Action::Pass);
        assert_eq!(endpoint_type_from_proto(4), EndpointType::Network);
    }
}
