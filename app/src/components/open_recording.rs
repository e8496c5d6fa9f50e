//! "Open recording…": replays a recording file (`scaleboard-<id>.json.gz`) in this page, chosen
//! with the button or dropped anywhere on the dashboard. Nothing is sent to the server (see
//! [`crate::local_replay`]); a file this build cannot replay is named, with why, and the live
//! dashboard carries on.

use leptos::html;
use leptos::prelude::*;

use crate::local_replay::LocalReplay;

/// The whole page takes a dropped recording, so the audience need not aim at a small target,
/// and goes on taking them while one is replayed (the panel with the button is gone then): a
/// file dropped on a replay replaces it. Without `preventDefault` on `dragover` and `drop` the
/// browser would open the file itself, leaving the dashboard. Call it from a component that
/// stays mounted with the dashboard.
pub fn take_dropped_recordings() {
    #[cfg(feature = "hydrate")]
    {
        let local = expect_context::<LocalReplay>();
        let over = window_event_listener(leptos::ev::dragover, |event| event.prevent_default());
        let dropped = window_event_listener(leptos::ev::drop, move |event| {
            event.prevent_default();
            if let Some(file) = event
                .data_transfer()
                .and_then(|d| d.files())
                .and_then(|files| files.get(0))
            {
                browser::open(local, file);
            }
        });
        on_cleanup(move || {
            over.remove();
            dropped.remove();
        });
    }
}

#[component]
pub fn OpenRecording() -> impl IntoView {
    let local = expect_context::<LocalReplay>();
    let input = NodeRef::<html::Input>::new();

    let chosen = move |_event: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        if let Some(element) = input.get_untracked() {
            if let Some(file) = element.files().and_then(|files| files.get(0)) {
                browser::open(local, file);
            }
            // The same file chosen again is a new choice.
            element.set_value("");
        }
    };

    view! {
        <section class="panel open-recording" aria-labelledby="open-recording-title">
            <h2 id="open-recording-title">"Replay a recording"</h2>
            <p class="hint">
                "A run's recording ("<code>".json.gz"</code>
                ") replays here, in this browser only; drop it on the page or choose it."
            </p>
            <button
                type="button"
                data-testid="open-recording"
                disabled=move || local.reading.get()
                on:click=move |_| {
                    if let Some(element) = input.get_untracked() {
                        element.click();
                    }
                }
            >
                {move || if local.reading.get() { "Opening…" } else { "Open recording…" }}
            </button>
            <input
                node_ref=input
                type="file"
                accept=".gz,application/gzip"
                class="visually-hidden"
                tabindex="-1"
                aria-hidden="true"
                data-testid="open-recording-input"
                on:change=chosen
            />
            <p
                class="form-error"
                role="alert"
                data-testid="open-recording-error"
                hidden=move || local.error.with(Option::is_none)
            >
                {move || local.error.get().unwrap_or_default()}
            </p>
        </section>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::Set;

    use crate::local_replay::{browser::read, LocalReplay};

    /// Reads `file` and replays it, or shows why it cannot be.
    pub fn open(local: LocalReplay, file: web_sys::File) {
        local.reading.set(true);
        leptos::task::spawn_local(async move {
            let name = file.name();
            match read(&file).await {
                Ok(recording) => local.start(recording, name),
                Err(message) => local
                    .error
                    .set(Some(format!("{name} cannot be replayed: {message}"))),
            }
            local.reading.set(false);
        });
    }
}
