//! The runs table: each run's status, progress, throughput and duration, a terminate button
//! and a link to its page.

use leptos::prelude::*;
use protocol::live::RunProgress;
use protocol::routes;

use crate::http;
use crate::live::LiveState;
use crate::model::{format, runs};
use crate::operator::{Operator, READ_ONLY_NOTE};

/// Rows shown: the active runs and the newest finished ones.
const SHOWN: usize = 6;

#[component]
pub fn RunsTable() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let table = Memo::new(move |_| {
        let started = live.started.get();
        live.runs
            .with(|feed| runs::shown(runs::merge(feed, &started), SHOWN))
    });
    let rows = Memo::new(move |_| table.with(|(rows, _)| rows.clone()));
    let hidden = move || table.with(|(_, hidden)| *hidden);
    // Forget the runs started here once the feed lists them.
    Effect::new(move |_| {
        live.runs.with(|feed| {
            let listed = |run: &RunProgress| feed.iter().any(|r| r.id == run.id);
            if live
                .started
                .with_untracked(|started| started.iter().any(listed))
            {
                live.started
                    .update(|started| started.retain(|r| !listed(r)));
            }
        })
    });
    let now = Memo::new(move |_| {
        live.latest
            .with(|s| s.as_ref().map(|s| s.t_ms).unwrap_or_default())
    });
    let error = RwSignal::new(None::<String>);

    view! {
        <section class="panel runs" aria-labelledby="runs-title">
            <h2 id="runs-title">"Runs"</h2>
            <p class="empty" data-testid="runs-empty" hidden=move || rows.with(|r| !r.is_empty())>
                "No runs yet. Start one above."
            </p>
            <table data-testid="runs-table" hidden=move || rows.with(Vec::is_empty)>
                <thead>
                    <tr>
                        <th scope="col">"Run"</th>
                        <th scope="col" class="progress-col">"Progress"</th>
                        <th scope="col" class="num">"Items/s"</th>
                        <th scope="col" class="num">"Time"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=move || rows.get()
                        key=|run| run.id.clone()
                        children=move |run| view! { <RunRow id=run.id rows now error /> }
                    />
                </tbody>
            </table>
            <p class="more" hidden=move || hidden() == 0>
                {move || {
                    let n = hidden();
                    format!("and {n} older run{}, listed by the instances API", if n == 1 { "" } else { "s" })
                }}
            </p>
            <p class="form-error" role="alert" data-testid="runs-error" hidden=move || error.with(Option::is_none)>
                {move || error.get().unwrap_or_default()}
            </p>
        </section>
    }
    .into_any()
}

#[component]
fn RunRow(
    id: String,
    rows: Memo<Vec<RunProgress>>,
    now: Memo<u64>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let run = {
        let id = id.clone();
        Memo::new(move |_| rows.with(|rows| rows.iter().find(|r| r.id == id).cloned()))
    };
    let get = move |f: fn(&RunProgress) -> String| {
        move || run.with(|r| r.as_ref().map(f).unwrap_or_default())
    };
    let status = get(|r| r.status.to_string());
    let active = move || run.with(|r| r.as_ref().is_some_and(|r| r.status.is_active()));
    let fractions = move || run.with(|r| r.as_ref().map(runs::fractions).unwrap_or_default());
    let rate = move || {
        run.with(|r| {
            r.as_ref()
                .and_then(|r| runs::run_rate(r, now.get()))
                .map_or_else(|| "—".to_string(), format::rate)
        })
    };
    let duration = move || {
        run.with(|r| {
            r.as_ref()
                .map(|r| format::duration(runs::duration_ms(r, now.get())))
                .unwrap_or_default()
        })
    };
    let operator = expect_context::<Operator>();
    // A replayed run is a record: there is nothing to stop.
    let replaying = {
        let live = expect_context::<LiveState>();
        move || live.replay.with(Option::is_some)
    };
    let from_file = {
        let live = expect_context::<LiveState>();
        move || live.from_file.get()
    };
    let stopping = RwSignal::new(false);
    let terminate = {
        let id = id.clone();
        move |_| {
            let url = format!(
                "{}?reason=terminated%20from%20the%20dashboard",
                routes::instance_action(&id, "terminate")
            );
            stopping.set(true);
            error.set(None);
            leptos::task::spawn_local(async move {
                match http::send("POST", &url, None).await {
                    Ok(reply) if reply.is_success() => {}
                    Ok(reply) => {
                        error.set(Some(reply.error_message()));
                        stopping.set(false);
                    }
                    Err(message) => {
                        error.set(Some(message));
                        stopping.set(false);
                    }
                }
            });
        }
    };
    let short = format::short_id(&id).to_string();
    let href = format!("/runs/{id}");

    view! {
        <tr
            data-testid="run-row"
            data-run-id=id.clone()
            data-status=status
            data-completed=get(|r| r.completed.to_string())
            data-failed=get(|r| r.failed.to_string())
            data-total=get(|r| r.total.to_string())
        >
            <td class="run-cell">
                // A recording opened in this browser is not on the server: its runs have no page
                // there to link to.
                {
                    let (id, short) = (id.clone(), short.clone());
                    move || {
                        if from_file() {
                            view! {
                                <span data-testid="run-id" class="run-id" title=id.clone()>
                                    {short.clone()}
                                </span>
                            }
                                .into_any()
                        } else {
                            view! {
                                <a
                                    href=href.clone()
                                    data-testid="run-link"
                                    class="run-id"
                                    title=id.clone()
                                >
                                    {short.clone()}
                                </a>
                            }
                                .into_any()
                        }
                    }
                }
                <span class="status" data-status=status>
                    {status}
                </span>
            </td>
            <td class="progress-col">
                <div
                    class="bar"
                    role="progressbar"
                    aria-label=format!("Progress of run {short}")
                    aria-valuemin="0"
                    aria-valuemax=get(|r| r.total.to_string())
                    aria-valuenow=get(|r| (r.completed + r.failed).to_string())
                >
                    <span class="bar-done" style:width=move || format!("{:.2}%", fractions().0 * 100.0)></span>
                    <span class="bar-failed" style:width=move || format!("{:.2}%", fractions().1 * 100.0)></span>
                </div>
                <span class="bar-text">
                    {get(|r| {
                        let failed = if r.failed > 0 { format!(" · {} failed", r.failed) } else { String::new() };
                        format!("{} / {}{failed}", r.completed, r.total)
                    })}
                </span>
            </td>
            <td class="num">{rate}</td>
            <td class="num">{duration}</td>
            <td class="actions">
                <button
                    type="button"
                    class="danger small"
                    data-testid="terminate-run"
                    title=move || operator.read_only().then_some(READ_ONLY_NOTE)
                    hidden=move || !active() || replaying()
                    disabled=move || stopping.get() || !operator.can_operate()
                    on:click=terminate
                >
                    // Named "Stop run <id>": the visible word first, so it is in the name.
                    {move || if stopping.get() { "Stopping…" } else { "Stop" }}
                    <span class="visually-hidden">" run " {short.clone()}</span>
                </button>
            </td>
        </tr>
    }
    .into_any()
}
