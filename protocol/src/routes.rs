//! The server's paths, in one place for the router, the page and the tests.
//!
//! Paths with parameters come as a function that fills them in and, for the router, a pattern
//! (`{id}` placeholders in axum's syntax). A test in the server checks that every pattern here is
//! routed.

/// Where the instance routes live, as in Durable Functions.
pub const INSTANCES: &str = "/runtime/webhooks/durabletask/instances";
/// Durable Functions' built-in start route (`…/orchestrators/{name}[/{instanceId}]`), what the
/// official clients call.
pub const RUNTIME_ORCHESTRATORS: &str = "/runtime/webhooks/durabletask/orchestrators";
/// The start route of the original demo's HTTP starter function.
pub const ORCHESTRATORS: &str = "/api/orchestrators";
/// The live WebSocket endpoint.
pub const LIVE: &str = "/ws/live";
/// The cluster view and, for the local model, its policy and decisions.
pub const CLUSTER: &str = "/api/cluster";
/// The local model's policy, replaced with `PUT`.
pub const CLUSTER_PROFILE: &str = "/api/cluster/profile";
/// Chart and sample exports: `{EXPORT}/{name}.{format}`.
pub const EXPORT: &str = "/api/export";
/// Whether this request may change things (the operator role).
pub const SESSION: &str = "/api/session";
/// The dashboard's viewer link and its QR code.
pub const SHARE: &str = "/api/share";
/// A replay's controls (`scaleboard replay`): speed, pause, seek.
pub const REPLAY_CONTROL: &str = "/api/replay/control";
/// Liveness.
pub const HEALTHZ: &str = "/healthz";
/// Readiness.
pub const READYZ: &str = "/readyz";

/// The orchestrator Scaleboard runs, as in the original demo's `curl`.
pub const ORCHESTRATOR: &str = "ComputeOrchestrator";

/// `POST` here starts a run of `input_count` items.
pub fn start(input_count: u32, cost: Option<u32>) -> String {
    match cost {
        Some(cost) => {
            format!("{ORCHESTRATORS}/{ORCHESTRATOR}?inputCount={input_count}&cost={cost}")
        }
        None => format!("{ORCHESTRATORS}/{ORCHESTRATOR}?inputCount={input_count}"),
    }
}

/// A run's status document.
pub fn instance(id: &str) -> String {
    format!("{INSTANCES}/{id}")
}

/// A lifecycle action on a run: `terminate`, `suspend`, `resume`, `restart`.
pub fn instance_action(id: &str, action: &str) -> String {
    format!("{INSTANCES}/{id}/{action}")
}

/// A what-if replay of a finished run.
pub fn replay(id: &str) -> String {
    format!("/api/runs/{id}/replay")
}

/// The what-if lab's replays of a finished run (`?a=…&b=…&c=…&format=…`).
pub fn whatif(id: &str) -> String {
    format!("/api/runs/{id}/whatif")
}

/// A finished run's recording, for `scaleboard replay`.
pub fn recording(id: &str) -> String {
    format!("/api/runs/{id}/recording")
}

/// Router patterns, in axum's `{param}` syntax.
pub mod patterns {
    pub const ORCHESTRATOR_START: &str = "/api/orchestrators/{name}";
    pub const RUNTIME_START: &str = "/runtime/webhooks/durabletask/orchestrators/{name}";
    pub const RUNTIME_START_WITH_ID: &str =
        "/runtime/webhooks/durabletask/orchestrators/{name}/{id}";
    pub const INSTANCES_SLASH: &str = "/runtime/webhooks/durabletask/instances/";
    pub const INSTANCE: &str = "/runtime/webhooks/durabletask/instances/{id}";
    pub const TERMINATE: &str = "/runtime/webhooks/durabletask/instances/{id}/terminate";
    pub const SUSPEND: &str = "/runtime/webhooks/durabletask/instances/{id}/suspend";
    pub const RESUME: &str = "/runtime/webhooks/durabletask/instances/{id}/resume";
    pub const RESTART: &str = "/runtime/webhooks/durabletask/instances/{id}/restart";
    pub const RAISE_EVENT: &str = "/runtime/webhooks/durabletask/instances/{id}/raiseEvent/{event}";
    pub const REPLAY: &str = "/api/runs/{id}/replay";
    pub const RECORDING: &str = "/api/runs/{id}/recording";
    pub const WHATIF: &str = "/api/runs/{id}/whatif";
    pub const EXPORT_FILE: &str = "/api/export/{file}";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_paths_match_their_patterns() {
        let fill = |pattern: &str| {
            pattern
                .replace("{id}", "abc")
                .replace("{name}", ORCHESTRATOR)
        };
        assert_eq!(instance("abc"), fill(patterns::INSTANCE));
        assert_eq!(
            instance_action("abc", "terminate"),
            fill(patterns::TERMINATE)
        );
        assert_eq!(instance_action("abc", "restart"), fill(patterns::RESTART));
        assert_eq!(replay("abc"), fill(patterns::REPLAY));
        assert_eq!(recording("abc"), fill(patterns::RECORDING));
        assert_eq!(whatif("abc"), fill(patterns::WHATIF));
        assert!(fill(patterns::INSTANCE).starts_with(INSTANCES));
        assert!(fill(patterns::RUNTIME_START).starts_with(RUNTIME_ORCHESTRATORS));
        assert_eq!(
            start(5, None),
            "/api/orchestrators/ComputeOrchestrator?inputCount=5"
        );
        assert_eq!(
            start(200, Some(150_000)),
            "/api/orchestrators/ComputeOrchestrator?inputCount=200&cost=150000"
        );
    }
}
