//! `GET /api/share`: the dashboard's viewer link, for the audience to open on their phones.

use serde::{Deserialize, Serialize};

/// The link and the same link as a QR code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The absolute URL of the read-only dashboard: the configured public URL, else the
    /// validated host the request came to. It carries the viewer key when the dashboard is
    /// private (never the operator key), since the link is what lets a phone in.
    pub url: String,
    /// `url` as a QR code: a standalone `<svg>` element (black on white, with its quiet zone),
    /// sized by its `viewBox` in modules so the page can scale it.
    pub svg: String,
}
