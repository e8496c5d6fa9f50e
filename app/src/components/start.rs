//! The start form: how many items, optionally how much work each, and the button.

use leptos::prelude::*;
use protocol::live::RunProgress;

use crate::http;
use crate::live::LiveState;
use crate::model::format::short_id;
use crate::model::input::{parse_cost, parse_item_count};
use crate::operator::{Operator, READ_ONLY_NOTE};

#[component]
pub fn StartRun() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let operator = expect_context::<Operator>();
    let items = RwSignal::new("200".to_string());
    let cost = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let started = RwSignal::new(None::<String>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let checked = parse_item_count(&items.get_untracked())
            .and_then(|n| parse_cost(&cost.get_untracked()).map(|c| (n, c)));
        let (count, cost) = match checked {
            Ok(values) => values,
            Err(message) => {
                error.set(Some(message));
                return;
            }
        };
        error.set(None);
        started.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            match http::send("POST", &protocol::routes::start(count, cost), None).await {
                Ok(reply) if reply.is_success() => {
                    let id = reply
                        .parse::<protocol::durable::ManagementUris>()
                        .map(|uris| uris.id);
                    if let Some(id) = id {
                        let now = now_ms();
                        live.started.update(|runs| {
                            runs.push(RunProgress {
                                id: id.clone(),
                                status: protocol::durable::RuntimeStatus::Pending,
                                total: count,
                                scheduled: 0,
                                completed: 0,
                                failed: 0,
                                created_ms: now,
                                updated_ms: now,
                            })
                        });
                        started.set(Some(id));
                    }
                }
                Ok(reply) => error.set(Some(reply.error_message())),
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    let invalid = move || error.with(Option::is_some).to_string();

    view! {
        <form
            class="panel start"
            data-testid="start-form"
            aria-labelledby="start-title"
            novalidate
            on:submit=submit
        >
            <h2 id="start-title">"Start a run"</h2>
            <div class="start-fields">
                <div class="field">
                    <label for="item-count">"Items"</label>
                    <input
                        id="item-count"
                        name="inputCount"
                        type="text"
                        inputmode="numeric"
                        autocomplete="off"
                        data-testid="item-count"
                        aria-invalid=invalid
                        aria-describedby="start-error"
                        prop:value=move || items.get()
                        on:input=move |ev| items.set(event_target_value(&ev))
                    />
                </div>
                <div class="field">
                    <label for="item-cost">"Cost / item"</label>
                    <input
                        id="item-cost"
                        name="cost"
                        type="text"
                        inputmode="numeric"
                        autocomplete="off"
                        placeholder="default"
                        title="SHA-256 rounds per item; 150000 is about 50 ms"
                        data-testid="item-cost"
                        aria-describedby="start-error"
                        prop:value=move || cost.get()
                        on:input=move |ev| cost.set(event_target_value(&ev))
                    />
                </div>
                <button
                    type="submit"
                    class="primary"
                    data-testid="start-run"
                    disabled=move || busy.get() || !operator.can_operate()
                    aria-describedby="start-read-only"
                    aria-busy=move || busy.get().to_string()
                >
                    {move || if busy.get() { "Starting…" } else { "Start run" }}
                </button>
            </div>
            <p
                id="start-read-only"
                class="form-note"
                data-testid="start-read-only"
                hidden=move || !operator.read_only()
            >
                {READ_ONLY_NOTE}
            </p>
            <p
                id="start-error"
                class="form-error"
                role="alert"
                data-testid="start-error"
                hidden=move || error.with(Option::is_none)
            >
                {move || error.get().unwrap_or_default()}
            </p>
            <p class="form-note" data-testid="start-note" hidden=move || started.with(Option::is_none)>
                {move || {
                    started
                        .get()
                        .map(|id| {
                            let short = short_id(&id).to_string();
                            view! {
                                "Run "
                                <a href=format!("/runs/{id}")>{short}</a>
                                " accepted."
                            }
                        })
                }}
            </p>
        </form>
    }
    .into_any()
}

fn now_ms() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as u64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default()
    }
}
