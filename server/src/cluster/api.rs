//! `GET /api/cluster` and `PUT /api/cluster/profile`: which cluster view is in use, and the
//! local model's policy, read and replaced live.

use axum::extract::State;
use axum::Json;
use protocol::cluster::{ClusterInfo, Profile, ProfileApplied};
use protocol::live::ClusterSource;

use crate::app::AppState;
use crate::error::ApiError;

/// `GET /api/cluster`: the cluster view in use and its policy (on Kubernetes, the ScaledObject
/// read as the model's profile), and for the local model its recent decisions.
pub async fn cluster(State(state): State<AppState>) -> Json<ClusterInfo> {
    Json(match &state.local {
        Some(local) => ClusterInfo {
            source: ClusterSource::Local,
            profile: Some(local.profile()),
            profile_error: None,
            events: local.events(),
        },
        None => {
            let (profile, profile_error) = match state.cluster.policy() {
                None => (None, None),
                Some(Ok(profile)) => (Some(profile), None),
                Some(Err(why)) => (None, Some(why)),
            };
            ClusterInfo {
                source: match state.hub.latest() {
                    Some(s) if s.cluster.source == ClusterSource::Kube => ClusterSource::Kube,
                    _ => ClusterSource::None,
                },
                profile,
                profile_error,
                events: Vec::new(),
            }
        }
    })
}

/// `PUT /api/cluster/profile`: replaces the local model's policy, applied from its next step.
pub async fn set_profile(
    State(state): State<AppState>,
    body: Result<Json<Profile>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ProfileApplied>, ApiError> {
    let Some(local) = &state.local else {
        return Err(ApiError::conflict(
            "the policy can be edited only with the local cluster model (--cluster local); on Kubernetes, edit the ScaledObject",
        ));
    };
    let Json(profile) = body.map_err(|e| ApiError::bad_json("not a policy", e))?;
    local
        .set_profile(profile)
        .map_err(|e| ApiError::bad_request(format!("the policy is not valid: {e}")))?;
    Ok(Json(ProfileApplied {
        profile: local.profile(),
    }))
}
