//! The Share button and its overlay: the dashboard's viewer link as a QR code large enough to
//! scan from the back of a room, and as text for those who type.
//!
//! The link and the code come from the server (`GET /api/share`), which knows the public
//! address and validates the host; the page only shows them. The overlay is a modal
//! `<dialog>`: the rest of the page is inert while it is open, Escape closes it, Tab cycles
//! inside it, and focus goes back to the Share button when it closes.

use leptos::prelude::*;
use protocol::share::Share;

use crate::http;

#[component]
pub fn ShareControl() -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let opener = NodeRef::<leptos::html::Button>::new();
    // `None` while asking; then the link or why there is none.
    let answer = RwSignal::new(None::<Result<Share, String>>);

    let open = move |_| {
        answer.set(None);
        #[cfg(feature = "hydrate")]
        if let Some(dialog) = dialog.get_untracked() {
            // Fails only if it is open already, which the inert page prevents.
            let _ = dialog.show_modal();
        }
        leptos::task::spawn_local(async move {
            let reply = match http::send("GET", protocol::routes::SHARE, None).await {
                Ok(reply) if reply.is_success() => reply
                    .parse::<Share>()
                    .ok_or_else(|| "the answer is not a share link".to_string()),
                Ok(reply) => Err(reply.error_message()),
                Err(message) => Err(message),
            };
            answer.set(Some(reply));
        });
    };
    let close = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    // However it closes (the button or Escape), focus returns to where it came from.
    let closed = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(button) = opener.get_untracked() {
            let _ = button.focus();
        }
    };
    let trap = move |ev: leptos::ev::KeyboardEvent| {
        #[cfg(feature = "hydrate")]
        if ev.key() == "Tab" {
            browser::keep_focus_inside(&ev);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };

    let url = move || {
        answer.with(|a| match a {
            Some(Ok(share)) => share.url.clone(),
            _ => String::new(),
        })
    };
    let svg = move || {
        answer.with(|a| match a {
            Some(Ok(share)) => share.svg.clone(),
            _ => String::new(),
        })
    };
    let error = move || {
        answer.with(|a| match a {
            Some(Err(message)) => message.clone(),
            _ => String::new(),
        })
    };
    let loaded = move || answer.with(|a| matches!(a, Some(Ok(_))));

    view! {
        <button
            type="button"
            class="toggle"
            node_ref=opener
            data-testid="share-open"
            aria-haspopup="dialog"
            on:click=open
        >
            "Share"
        </button>
        <dialog
            node_ref=dialog
            class="share-dialog"
            data-testid="share-dialog"
            aria-labelledby="share-title"
            aria-describedby="share-hint"
            on:close=closed
            on:keydown=trap
        >
            <h2 id="share-title">"Watch on your phone"</h2>
            <p id="share-hint" class="share-hint">"Scan the code or open the link: the dashboard, read-only, live."</p>
            <div
                class="share-qr"
                data-testid="share-qr"
                role="img"
                aria-label=move || format!("QR code of {}", url())
                hidden=move || !loaded()
                inner_html=svg
            ></div>
            <p class="share-loading" hidden=move || answer.with(Option::is_some)>"Making the code…"</p>
            <p class="share-url" hidden=move || !loaded()>
                <a href=url data-testid="share-url">{url}</a>
            </p>
            <p class="form-error" role="alert" data-testid="share-error" hidden=move || error().is_empty()>
                {error}
            </p>
            <button type="button" class="primary" data-testid="share-close" autofocus on:click=close>
                "Close"
            </button>
        </dialog>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
mod browser {
    use wasm_bindgen::JsCast;

    /// Tab from the dialog's last control goes to its first, Shift+Tab from the first to the
    /// last: focus never leaves an open modal, even in a browser with no toolbar to go to.
    pub fn keep_focus_inside(ev: &web_sys::KeyboardEvent) {
        let Some(dialog) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        let Ok(list) = dialog.query_selector_all("a[href], button:not([disabled])") else {
            return;
        };
        let controls: Vec<web_sys::HtmlElement> = (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
            .filter(|e| e.offset_parent().is_some())
            .collect();
        let (Some(first), Some(last)) = (controls.first(), controls.last()) else {
            return;
        };
        let active = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.active_element());
        let is = |e: &web_sys::HtmlElement| {
            active.as_ref() == Some(e.unchecked_ref::<web_sys::Element>())
        };
        let inside = active
            .as_ref()
            .is_some_and(|a| dialog.contains(Some(a.unchecked_ref())));
        let target = if ev.shift_key() {
            (is(first) || !inside).then_some(last)
        } else {
            (is(last) || !inside).then_some(first)
        };
        if let Some(target) = target {
            ev.prevent_default();
            let _ = target.focus();
        }
    }
}
