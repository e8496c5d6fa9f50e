//! `GET /api/session`: what the page may offer the person in front of it.
//!
//! With an operator key configured, the dashboard is read-only until someone signs in with the
//! key (the audience on their phones sees the charts, not the controls); without one, everyone
//! who can reach it operates it (the laptop demo on loopback).

use serde::{Deserialize, Serialize};

/// The answer, for the key the request presented (if any).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Whether changing anything needs the operator key.
    pub operator_key_required: bool,
    /// Whether this request may change things: no key is required, or it presented the key.
    pub operator: bool,
}
