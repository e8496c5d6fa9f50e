//! What `GET /api/cluster` says: which cluster view the server uses and, for the local model,
//! its scaling profile (editable in the settings panel), as `protocol::cluster` types.

use leptos::prelude::*;
use protocol::cluster::{ClusterInfo as Described, Profile};
use protocol::live::ClusterSource;

use crate::http;

/// The cluster view's description, once fetched. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct ClusterInfo {
    /// The view in use; `None` until the first answer.
    pub source: RwSignal<Option<ClusterSource>>,
    /// The local model's profile.
    pub profile: RwSignal<Option<Profile>>,
    /// Why the last fetch failed.
    pub error: RwSignal<Option<String>>,
}

impl ClusterInfo {
    pub fn new() -> ClusterInfo {
        ClusterInfo {
            source: RwSignal::new(None),
            profile: RwSignal::new(None),
            error: RwSignal::new(None),
        }
    }

    pub fn is_local(&self) -> bool {
        self.source.with(|s| *s == Some(ClusterSource::Local))
    }

    /// The profile's name, e.g. `demo`.
    pub fn profile_name(&self) -> Option<String> {
        self.profile.with(|p| p.as_ref().map(|p| p.name.clone()))
    }

    /// Fetches the description again.
    pub fn refresh(&self) {
        let this = *self;
        leptos::task::spawn_local(async move {
            match http::send("GET", protocol::routes::CLUSTER, None).await {
                Ok(reply) if reply.is_success() => match reply.parse::<Described>() {
                    Some(described) => {
                        this.source.set(Some(described.source));
                        this.profile.set(described.profile);
                        this.error.set(None);
                    }
                    None => this.error.set(Some(
                        "the cluster description is not one this page reads".into(),
                    )),
                },
                Ok(reply) => this.error.set(Some(reply.error_message())),
                Err(e) => this.error.set(Some(e)),
            }
        });
    }
}

impl Default for ClusterInfo {
    fn default() -> Self {
        Self::new()
    }
}
