//! The operator role in the page: whether this tab may start, stop and edit, and signing in with
//! the operator key.
//!
//! A server with an operator key serves a read-only dashboard to whoever has not signed in — the
//! audience on their phones — with each control saying why it is off. Signing in keeps the key
//! for this tab only (`sessionStorage`: gone when the tab closes, never shared with other tabs)
//! and sends it as `Authorization: Bearer` with every call.

use leptos::prelude::*;
use protocol::session::Session;

use crate::http;

/// Where the key is kept for the tab's session.
#[cfg(feature = "hydrate")]
const STORAGE_KEY: &str = "scaleboard.operatorKey";

/// What the page shows on a control that needs the operator role.
pub const READ_ONLY_NOTE: &str = "Read-only: sign in with the operator key to change things.";

/// The role, once known. Cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Operator {
    /// The server's answer; `None` until it came.
    pub session: RwSignal<Option<Session>>,
    /// Why the last sign-in failed.
    pub error: RwSignal<Option<String>>,
}

impl Operator {
    pub fn new() -> Operator {
        Operator {
            session: RwSignal::new(None),
            error: RwSignal::new(None),
        }
    }

    /// Whether the controls are on. Until the server answered they are off only if it might
    /// need a key, which the first answer settles within a moment of loading.
    pub fn can_operate(&self) -> bool {
        self.session.with(|s| s.is_some_and(|s| s.operator))
    }

    /// Whether the server needs a key and this tab has not given it.
    pub fn read_only(&self) -> bool {
        self.session
            .with(|s| s.is_some_and(|s| s.operator_key_required && !s.operator))
    }

    /// Whether this tab signed in with a key.
    pub fn signed_in(&self) -> bool {
        self.session
            .with(|s| s.is_some_and(|s| s.operator_key_required && s.operator))
    }

    /// Reads the key kept for this tab, if any, and asks the server what it allows.
    pub fn load(&self) {
        http::set_bearer(stored());
        self.check(None);
    }

    /// Tries `key`: kept for the tab when the server accepts it, refused with a reason if not.
    pub fn sign_in(&self, key: String) {
        let key = key.trim().to_string();
        if key.is_empty() {
            self.error.set(Some("Enter the operator key.".into()));
            return;
        }
        http::set_bearer(Some(key.clone()));
        self.check(Some(key));
    }

    /// Forgets the key.
    pub fn sign_out(&self) {
        store(None);
        http::set_bearer(None);
        self.check(None);
    }

    fn check(&self, trying: Option<String>) {
        let this = *self;
        leptos::task::spawn_local(async move {
            match http::send("GET", protocol::routes::SESSION, None).await {
                Ok(reply) if reply.is_success() => {
                    let Some(session) = reply.parse::<Session>() else {
                        this.error
                            .set(Some("the server's answer was not understood".into()));
                        return;
                    };
                    if let Some(key) = trying {
                        if session.operator {
                            store(Some(&key));
                            this.error.set(None);
                        } else {
                            http::set_bearer(stored());
                            this.error.set(Some("That is not the operator key.".into()));
                        }
                    }
                    this.session.set(Some(session));
                }
                Ok(reply) => this.error.set(Some(reply.error_message())),
                Err(e) => this.error.set(Some(e)),
            }
        });
    }
}

impl Default for Operator {
    fn default() -> Self {
        Self::new()
    }
}

/// The key kept for this tab.
fn stored() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()?
            .session_storage()
            .ok()??
            .get_item(STORAGE_KEY)
            .ok()?
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

fn store(key: Option<&str>) {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        let _ = match key {
            Some(key) => storage.set_item(STORAGE_KEY, key),
            None => storage.remove_item(STORAGE_KEY),
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = key;
}
