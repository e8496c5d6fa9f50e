//! `GET /api/cluster` and `PUT /api/cluster/profile`: which cluster view the server uses and, for
//! the local model, the scaling policy the settings panel edits.
//!
//! The policy is `autoscale::Profile` itself, the type the model runs on: the page edits typed
//! fields of it, so a renamed field fails to compile in the page instead of being dropped by it.

use serde::{Deserialize, Serialize};

use crate::live::{ClusterSource, ScaleEvent};

/// The scaling policy of the local model: KEDA's ScaledObject, the HPA, the pods, the node pool
/// and the cluster autoscaler.
pub use autoscale::Profile;

/// `GET /api/cluster`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub source: ClusterSource,
    /// The policy in force: the local model's (editable), or a Kubernetes cluster's ScaledObject
    /// read as the model's profile (what what-if replays start from); absent without a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Why a Kubernetes cluster's policy could not be read as a profile (no ScaledObject yet,
    /// a field out of range), naming the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_error: Option<String>,
    /// The local model's recent decisions, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<ScaleEvent>,
}

/// The answer to `PUT /api/cluster/profile`: the policy now in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileApplied {
    pub profile: Profile,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_view_round_trips_with_its_profile() {
        let info = ClusterInfo {
            source: ClusterSource::Local,
            profile: Some(Profile::demo()),
            profile_error: None,
            events: Vec::new(),
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["source"], "local");
        assert_eq!(json["profile"]["name"], "demo");
        let back: ClusterInfo = serde_json::from_value(json).unwrap();
        assert_eq!(back, info);
        let none: ClusterInfo = serde_json::from_str(r#"{"source":"none"}"#).unwrap();
        assert_eq!(none.profile, None);
    }
}
