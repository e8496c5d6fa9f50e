//! The top bar — name, cluster view, chart window, presenter mode, theme, share link,
//! connection — and the
//! banners that say when what is on screen is not current.

use leptos::prelude::*;
use protocol::live::{ClusterSource, StorageHealth};

use crate::cluster::ClusterInfo;
use crate::components::share::ShareControl;
use crate::live::{Connection, LiveState};
use crate::operator::Operator;
use crate::prefs::{Prefs, WINDOWS};

#[component]
pub fn TopBar() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let prefs = expect_context::<Prefs>();
    let cluster = expect_context::<ClusterInfo>();
    let source = move || {
        let source = live
            .latest
            .with(|s| s.as_ref().map(|s| s.cluster.source))
            .unwrap_or_default();
        let view = match source {
            ClusterSource::Local => "local KEDA model",
            ClusterSource::Kube => "AKS cluster",
            ClusterSource::None => "no cluster view",
        };
        match cluster.profile_name() {
            Some(profile) if source == ClusterSource::Local => {
                format!("{view} · {profile} profile")
            }
            _ => view.to_string(),
        }
    };

    view! {
        <header class="topbar">
            <a class="brand" href="/" aria-label="Scaleboard dashboard">
                <img src="/favicon.svg" alt="" width="30" height="30" />
                <span class="brand-name">"Scaleboard"</span>
            </a>
            <span class="context" data-testid="cluster-source">
                {source}
            </span>
            <div class="controls">
                <WindowPicker />
                <button
                    type="button"
                    class="toggle"
                    data-testid="presenter-toggle"
                    aria-pressed=move || prefs.presenter.get().to_string()
                    title="Larger type and higher contrast for a projector"
                    on:click=move |_| prefs.set_presenter(!prefs.presenter.get_untracked())
                >
                    "Presenter"
                </button>
                <button
                    type="button"
                    class="toggle"
                    data-testid="theme-toggle"
                    on:click=move |_| prefs.set_dark(!prefs.dark.get_untracked())
                >
                    // Named "Switch to the Light theme": the visible word is in the name.
                    <span class="visually-hidden">"Switch to the "</span>
                    {move || if prefs.dark.get() { "Light" } else { "Dark" }}
                    <span class="visually-hidden">" theme"</span>
                </button>
                <ShareControl />
                <OperatorControl />
                <ConnectionBadge />
            </div>
        </header>
    }
    .into_any()
}

/// Sign in with the operator key (when the server has one and this tab has not), or say that
/// this tab operates and offer to sign out. Nothing when the server needs no key.
#[component]
fn OperatorControl() -> impl IntoView {
    let operator = expect_context::<Operator>();
    let open = RwSignal::new(false);
    let key = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        operator.sign_in(key.get_untracked());
        key.set(String::new());
    };
    // Close the form once signed in.
    Effect::new(move |_| {
        if operator.signed_in() {
            open.set(false);
        }
    });
    view! {
        <span class="operator" data-testid="operator">
            <span hidden=move || !operator.read_only()>
                <span class="badge" data-testid="read-only">"read-only"</span>
                <button
                    type="button"
                    class="toggle"
                    data-testid="sign-in"
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    "Sign in"
                </button>
            </span>
            <span hidden=move || !operator.signed_in()>
                <span class="badge" data-testid="signed-in">"operator"</span>
                <button
                    type="button"
                    class="toggle"
                    data-testid="sign-out"
                    on:click=move |_| operator.sign_out()
                >
                    "Sign out"
                </button>
            </span>
            <form
                class="sign-in"
                data-testid="sign-in-form"
                hidden=move || !open.get() || !operator.read_only()
                on:submit=submit
            >
                <label for="operator-key">"Operator key"</label>
                <input
                    id="operator-key"
                    type="password"
                    autocomplete="current-password"
                    data-testid="operator-key"
                    prop:value=move || key.get()
                    on:input=move |ev| key.set(event_target_value(&ev))
                />
                <button type="submit" class="primary" data-testid="sign-in-submit">
                    "Sign in"
                </button>
                <p class="form-error" role="alert" data-testid="sign-in-error" hidden=move || operator.error.with(Option::is_none)>
                    {move || operator.error.get().unwrap_or_default()}
                </p>
            </form>
        </span>
    }
    .into_any()
}

/// 1, 5, 15 or 60 minutes of history in the charts.
#[component]
fn WindowPicker() -> impl IntoView {
    let prefs = expect_context::<Prefs>();
    view! {
        <div class="segmented" role="group" aria-label="Chart time window">
            {WINDOWS
                .into_iter()
                .map(|minutes| {
                    view! {
                        <button
                            type="button"
                            data-testid=format!("window-{minutes}")
                            aria-pressed=move || (prefs.window_mins.get() == minutes).to_string()
                            on:click=move |_| prefs.set_window(minutes)
                        >
                            // The name is "Last 5 min": it contains the visible text, so a
                            // voice user saying what they see ("click 5 min") reaches it.
                            <span class="visually-hidden">"Last "</span>
                            {format!("{minutes} min")}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}

/// Live, reconnecting, or storage unreachable: shown at all times so the presenter knows
/// whether the numbers on screen are current.
#[component]
pub fn ConnectionBadge() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let state = move || {
        let connection = live.connection.get();
        let storage = live.latest.with(|s| s.as_ref().map(|s| s.storage.clone()));
        match (connection, storage) {
            (Connection::Live, Some(StorageHealth::Unreachable { endpoint, .. })) => (
                "storage-unreachable",
                format!("storage unreachable: {endpoint}"),
            ),
            (connection, _) => (connection.as_str(), connection.as_str().to_string()),
        }
    };
    view! {
        <span
            class="badge"
            data-testid="connection"
            data-state=move || state().0
            role="status"
            aria-live="polite"
        >
            {move || state().1}
        </span>
    }
    .into_any()
}

/// Says why numbers are not current: storage unreadable, or the cluster view stale.
#[component]
pub fn Banners() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let storage = move || {
        live.latest.with(|s| match s.as_ref().map(|s| &s.storage) {
            Some(StorageHealth::Unreachable { endpoint, error }) => {
                Some(format!("Storage at {endpoint} does not answer: {error}. The queue length is unknown until it does."))
            }
            _ => None,
        })
    };
    let stale = move || {
        live.latest
            .with(|s| s.as_ref().and_then(|s| s.cluster.stale.clone()))
    };
    view! {
        {move || {
            storage()
                .map(|text| {
                    view! {
                        <div class="banner error" role="alert" data-testid="storage-error">
                            {text}
                        </div>
                    }
                })
        }}
        {move || {
            stale()
                .map(|reason| {
                    view! {
                        <div class="banner warn" role="status" data-testid="cluster-stale">
                            <strong>"Pod and node counts are not current: "</strong>
                            {reason}
                            ". Showing the last known counts."
                        </div>
                    }
                })
        }}
    }
    .into_any()
}
