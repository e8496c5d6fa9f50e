use leptos::nonce::use_nonce;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::cluster::ClusterInfo;
use crate::components::header::TopBar;
use crate::components::replay::ReplayBar;
use crate::live::LiveState;
use crate::operator::Operator;
use crate::pages::dashboard::Dashboard;
use crate::pages::run::RunPage;
use crate::prefs::{Prefs, HEAD_SCRIPT};

/// The page's Content-Security-Policy for a response whose inline scripts carry `nonce`:
/// scripts only from this origin or with the nonce, WebAssembly compiled from them, connections
/// (the API and the live socket) only to this origin, no plugins, no form posts elsewhere.
/// Style attributes stay allowed: the progress bars' widths and the legend's colours are
/// rendered as `style=` on the server.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'"
    )
}

/// The HTML document the server sends; the app hydrates inside its `<body>`.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let csp = use_nonce().map(|nonce| content_security_policy(&nonce));
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme="dark" data-presenter="off">
            <head>
                <meta charset="utf-8" />
                // First, so it covers everything after it; `frame-ancestors` comes as a header.
                <meta http-equiv="Content-Security-Policy" content=csp />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="dark light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // Applies the stored theme before the first paint (see `prefs`).
                <script nonce=use_nonce() inner_html=HEAD_SCRIPT></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The application: the live feed, the presenter's preferences and the cluster description
/// are shared by both pages, so moving between them keeps the history and the socket.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let live = LiveState::new();
    let prefs = Prefs::new();
    let cluster = ClusterInfo::new();
    let operator = Operator::new();
    provide_context(operator);
    provide_context(live);
    provide_context(crate::local_replay::LocalReplay::new(live, cluster));
    provide_context(prefs);
    provide_context(cluster);
    // Effects run only in the browser, once the page is hydrated; this one runs once.
    Effect::new(move |_| {
        untrack(|| {
            prefs.load();
            operator.load();
            cluster.refresh();
            #[cfg(feature = "hydrate")]
            {
                crate::live::connect(live);
                let resized = window_event_listener(leptos::ev::resize, move |_| {
                    prefs.resized.try_update(|n| *n = n.wrapping_add(1));
                });
                on_cleanup(move || resized.remove());
            }
        })
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/scaleboard.css" />
        <Title text="Scaleboard" />
        <Router>
            <TopBar />
            <ReplayBar />
            <main>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=path!("/") view=Dashboard />
                    <Route path=path!("/runs/:id") view=RunPage />
                </Routes>
            </main>
        </Router>
    }
}
