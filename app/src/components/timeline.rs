//! The scaling timeline: what KEDA, the HPA and the cluster autoscaler decided, and why,
//! newest first.

use leptos::prelude::*;

use crate::live::LiveState;
use crate::model::format;
use crate::model::timeline::{kind_label, plain_reason, recent_events};

/// Events shown; older ones stay in the exports.
const SHOWN: usize = 40;

#[component]
pub fn Timeline() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let events = Memo::new(move |_| live.samples.with(|s| recent_events(s, SHOWN)));
    view! {
        <section class="panel timeline" aria-labelledby="timeline-title">
            <h2 id="timeline-title">"Scaling decisions"</h2>
            <p class="empty" hidden=move || events.with(|e| !e.is_empty())>
                "None yet: the autoscalers' decisions appear here with their reasons."
            </p>
            // It scrolls: focusable, so the keyboard can scroll it too, and named for that stop.
            <ol
                data-testid="timeline"
                tabindex="0"
                aria-labelledby="timeline-title"
                hidden=move || events.with(Vec::is_empty)
            >
                <For
                    each=move || events.get()
                    key=|entry| entry.key
                    children=move |entry| {
                        let (symbol, label) = kind_label(&entry.event.kind);
                        let reason = plain_reason(&label, &entry.event.reason).to_string();
                        let kind = entry.event.kind;
                        let item_kind = kind.clone();
                        view! {
                            <li data-testid="timeline-event" data-kind=item_kind>
                                <time class="when">{format::clock(entry.event.t_ms)}</time>
                                <span class="what" data-kind=kind>
                                    <span aria-hidden="true">{symbol}</span>
                                    " "
                                    {label}
                                </span>
                                <span class="why">{reason}</span>
                            </li>
                        }
                    }
                />
            </ol>
        </section>
    }
    .into_any()
}
