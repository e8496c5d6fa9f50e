//! What-if replay of a finished run: the queue length the server recorded during the run,
//! through the scaling rules with a simulated clock, under a policy given in the query. The same
//! rules as the local model and `scaleboard simulate`, so a presenter can ask "what would the
//! AKS defaults have done with this run?".

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use orchestration::RunId;

use crate::app::AppState;
use crate::cluster::policy::{PolicyArgs, ProfileName};
use crate::durable::params::ApiQuery;
use crate::error::ApiError;

/// Samples kept after a run's last update, so the replay shows the scale-down too.
const TAIL_MS: u64 = 10 * 60 * 1000;

/// `GET /api/runs/{id}/replay?profile=aks&pollingInterval=5&…` → CSV, one row per second.
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (_, trace) = recorded_trace(&state, &id).await?;
    let policy = policy_from_query(&params)?;
    let profile = match policy_in_force(&state, params.get("profile").map(String::as_str))? {
        Some(base) => policy.apply_to(base),
        None => policy.profile(),
    }
    .map_err(|e| ApiError::bad_request(format!("the policy is not valid: {e}")))?;
    // Bounded by the policy's limits and the history window, but still seconds of a core for
    // the largest: on the blocking pool, a few at a time.
    let csv = state
        .heavy
        .run("replay", move || {
            autoscale::simulate(profile, &trace).to_csv()
        })
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"run-{id}-replay.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

/// A finished run's queue as the server recorded it, one row per second: what every what-if
/// replays. 404 for an unknown run, 409 for one still going, 404 when the history no longer
/// reaches back to it.
pub async fn recorded_trace(
    state: &AppState,
    id: &str,
) -> Result<(RunId, Vec<(u64, u64)>), ApiError> {
    let id =
        RunId::parse(id).map_err(|e| ApiError::bad_request(format!("not a valid run id: {e}")))?;
    let doc = state.engine.get(&id).await?;
    if !doc.state.is_terminal() {
        return Err(ApiError::conflict(format!(
            "run {id} is {}: replay a finished run",
            doc.state.runtime_status()
        )));
    }
    let from = doc.state.created_ms().saturating_sub(5_000);
    let to = doc.state.last_updated_ms().saturating_add(TAIL_MS);
    let trace = trace_from(
        state
            .hub
            .history()
            .iter()
            .map(|r| &r.sample)
            .filter(|s| (from..=to).contains(&s.t_ms))
            .filter_map(|s| Some((s.t_ms, s.queue_length?))),
    );
    if trace.is_empty() {
        return Err(ApiError::not_found(format!(
            "no queue samples recorded during run {id}: the server keeps only its recent history"
        )));
    }
    Ok((id, trace))
}

/// The policy a replay starts from when it names no preset (`named` is `None` or `cluster`):
/// the one the cluster runs with — the local model's, or a Kubernetes cluster's ScaledObject —
/// so that "what if" means "what if this run's settings were different". `None`: start from a
/// preset (one was named, or there is no cluster and none was asked for).
pub fn policy_in_force(
    state: &AppState,
    named: Option<&str>,
) -> Result<Option<autoscale::policy::Profile>, ApiError> {
    if !matches!(named, None | Some("cluster")) {
        return Ok(None);
    }
    match state.cluster.policy() {
        Some(Ok(profile)) => Ok(Some(profile)),
        Some(Err(why)) => Err(ApiError::conflict(format!(
            "the cluster's policy cannot be replayed: {why}; name a preset instead (profile=aks)"
        ))),
        None if named.is_some() => Err(ApiError::conflict(
            "profile=cluster needs a cluster view (--cluster local or kube); name a preset instead",
        )),
        None => Ok(None),
    }
}

/// `(t_ms, queue length)` samples as a trace of `(seconds since the first, length)`, one row
/// per second (the last sample of each second wins).
pub fn trace_from(samples: impl Iterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut trace: Vec<(u64, u64)> = Vec::new();
    let mut start = None;
    for (t_ms, length) in samples {
        let start = *start.get_or_insert(t_ms);
        let second = t_ms.saturating_sub(start) / 1000;
        match trace.last_mut() {
            Some(last) if last.0 == second => last.1 = length,
            Some(last) if last.0 > second => {}
            _ => trace.push((second, length)),
        }
    }
    trace
}

/// The policy named in the query with KEDA's ScaledObject field names.
fn policy_from_query(params: &HashMap<String, String>) -> Result<PolicyArgs, ApiError> {
    fn number<T: std::str::FromStr>(
        params: &HashMap<String, String>,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        params
            .get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(format!("{name} must be a number, not `{v}`"))
                })
            })
            .transpose()
    }
    let profile = match params.get("profile").map(String::as_str) {
        // `cluster` is the cluster's own policy (see `base_policy`); the preset is then unused.
        None | Some("demo") | Some("cluster") => ProfileName::Demo,
        Some("aks") => ProfileName::Aks,
        Some("seed-demo") => ProfileName::SeedDemo,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "profile must be cluster, demo, aks or seed-demo, not `{other}`"
            )))
        }
    };
    Ok(PolicyArgs {
        profile,
        profile_file: None,
        polling_interval: number(params, "pollingInterval")?,
        cooldown_period: number(params, "cooldownPeriod")?,
        min_replicas: number(params, "minReplicaCount")?,
        max_replicas: number(params, "maxReplicaCount")?,
        queue_length: number(params, "queueLength")?,
        activation_queue_length: number(params, "activationQueueLength")?,
        min_nodes: number(params, "minNodes")?,
        max_nodes: number(params, "maxNodes")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_become_one_row_per_second() {
        let samples = [(10_000, 1), (10_400, 2), (11_100, 5), (13_050, 7)];
        assert_eq!(
            trace_from(samples.into_iter()),
            vec![(0, 2), (1, 5), (3, 7)]
        );
    }

    #[test]
    fn query_names_follow_the_scaled_object() {
        let params: HashMap<String, String> = [
            ("profile", "aks"),
            ("pollingInterval", "5"),
            ("maxReplicaCount", "20"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let profile = policy_from_query(&params).unwrap().profile().unwrap();
        assert_eq!(profile.scaled_object.max_replicas, 20);
        assert_eq!(
            profile.scaled_object.polling_interval,
            std::time::Duration::from_secs(5)
        );
        let bad: HashMap<String, String> = [("queueLength".to_string(), "many".to_string())].into();
        assert!(policy_from_query(&bad)
            .unwrap_err()
            .message
            .contains("queueLength"));
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any replay query: a policy inside every bound, or a short reason, never a panic.
        #[test]
        fn any_replay_query_is_a_bounded_policy_or_refused(
            pairs in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::strategy::Just("profile".to_string()),
                        proptest::strategy::Just("pollingInterval".to_string()),
                        proptest::strategy::Just("cooldownPeriod".to_string()),
                        proptest::strategy::Just("minReplicaCount".to_string()),
                        proptest::strategy::Just("maxReplicaCount".to_string()),
                        proptest::strategy::Just("queueLength".to_string()),
                        proptest::strategy::Just("activationQueueLength".to_string()),
                        proptest::strategy::Just("minNodes".to_string()),
                        proptest::strategy::Just("maxNodes".to_string()),
                    ],
                    proptest::prop_oneof![
                        proptest::prelude::any::<String>(),
                        proptest::prelude::any::<u64>().prop_map(|n| n.to_string()),
                        proptest::prelude::any::<f64>().prop_map(|n| n.to_string()),
                    ],
                ),
                0..6,
            ),
        ) {
            let params: HashMap<String, String> = pairs.into_iter().collect();
            if let Ok(args) = policy_from_query(&params) {
                if let Ok(profile) = args.profile() {
                    proptest::prop_assert!(profile.validate().is_ok());
                }
            }
        }
    }
}
