//! What `GET /api/cluster` says: which cluster view the server uses and, for the local model,
//! its scaling profile (editable in the settings panel).

use leptos::prelude::*;
use serde_json::Value;

use crate::http;

/// The cluster view's description, once fetched. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct ClusterInfo {
    /// `local`, `kube` or `none`; `None` until the first answer.
    pub source: RwSignal<Option<String>>,
    /// The local model's profile (JSON, as the server serialises it).
    pub profile: RwSignal<Option<Value>>,
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
        self.source.with(|s| s.as_deref() == Some("local"))
    }

    /// The profile's name, e.g. `demo`.
    pub fn profile_name(&self) -> Option<String> {
        self.profile
            .with(|p| p.as_ref()?.get("name")?.as_str().map(str::to_string))
    }

    /// Fetches the description again.
    pub fn refresh(&self) {
        let this = *self;
        leptos::task::spawn_local(async move {
            match http::send("GET", "/api/cluster", None).await {
                Ok(reply) if reply.is_success() => {
                    let json = reply.json().unwrap_or_default();
                    this.source.set(json["source"].as_str().map(str::to_string));
                    this.profile
                        .set(json.get("profile").filter(|p| p.is_object()).cloned());
                    this.error.set(None);
                }
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
