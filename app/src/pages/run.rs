//! A run's page: its status document, its charts over its own time span, and its exports.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use protocol::durable::{RunInput, StatusDocument};

use crate::components::charts::LiveChart;
use crate::components::exports::ExportLinks;
use crate::components::whatif::WhatIfLab;
use crate::live::LiveState;
use crate::model::charting::{ChartKind, Span};
use crate::model::{format, runs};

/// Context around a run on its charts: the moments before it, and the scale-down after it.
const LEAD_IN_MS: u64 = 5_000;
const WIND_DOWN_MS: u64 = 45_000;

#[component]
pub fn RunPage() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    // `None` until the first answer; then the status document or why there is none.
    let status = RwSignal::new(None::<Result<StatusDocument, String>>);
    let feed_run = Memo::new(move |_| {
        let id = id.get();
        live.runs
            .with(|runs| runs.iter().find(|r| r.id == id).cloned())
    });
    // The live feed lists recent runs; older ones are read from their status document.
    let run = Memo::new(move |_| {
        feed_run.get().or_else(|| {
            status.with(|s| match s {
                Some(Ok(doc)) => runs::from_status(doc),
                _ => None,
            })
        })
    });

    // The status document, fetched now and again whenever the feed shows the run changed.
    #[cfg(feature = "hydrate")]
    {
        let asked = StoredValue::new(0u64);
        Effect::new(move |_| {
            let id = id.get();
            feed_run.with(|r| r.as_ref().map(|r| (r.status, r.updated_ms)));
            asked.update_value(|n| *n += 1);
            let mine = asked.get_value();
            leptos::task::spawn_local(async move {
                let answer =
                    match crate::http::send("GET", &protocol::routes::instance(&id), None).await {
                        Ok(reply) if reply.is_success() => reply
                            .parse::<StatusDocument>()
                            .ok_or_else(|| "the answer is not a status document".to_string()),
                        Ok(reply) => Err(reply.error_message()),
                        Err(message) => Err(message),
                    };
                // An older request answering late must not overwrite a newer answer.
                if asked.get_value() == mine {
                    status.set(Some(answer));
                }
            });
        });
    }

    let span = Memo::new(move |_| {
        let newest = live.latest.with(|s| s.as_ref().map(|s| s.t_ms))?;
        run.with(|run| {
            let run = run.as_ref()?;
            let end = if run.status.is_active() {
                newest
            } else {
                run.updated_ms
            };
            Some(Span::around(
                run.created_ms,
                end,
                LEAD_IN_MS,
                WIND_DOWN_MS,
                newest,
            ))
        })
    });
    // The run's start, and its end once it has one, marked on its charts.
    let markers = Signal::derive(move || {
        run.with(|run| {
            let Some(run) = run else { return Vec::new() };
            let mut marks = vec![(run.created_ms, "start".to_string())];
            if run.status.is_terminal() {
                marks.push((run.updated_ms, run.status.as_str().to_lowercase()));
            }
            marks
        })
    });
    let now = move || {
        live.latest
            .with(|s| s.as_ref().map(|s| s.t_ms).unwrap_or_default())
    };
    let fact = move |f: fn(&protocol::live::RunProgress, u64) -> String| {
        move || {
            let now = now();
            run.with(|r| r.as_ref().map(|r| f(r, now)).unwrap_or_else(|| "—".into()))
        }
    };
    let input = move |field: fn(&RunInput) -> u32| {
        move || {
            status.with(|s| match s {
                Some(Ok(doc)) => format::group_thousands(u64::from(field(&doc.input))),
                _ => "—".into(),
            })
        }
    };
    let short = move || format::short_id(&id.get()).to_string();
    let query = Signal::derive(move || format!("run={}", id.get()));
    let raw = move || {
        status.with(|s| match s {
            Some(Ok(doc)) => serde_json::to_string_pretty(doc).unwrap_or_default(),
            Some(Err(message)) => message.clone(),
            None => "Loading…".into(),
        })
    };
    // A run is recorded once it has finished (the server answers 409 before).
    let finished = move || run.with(|r| r.as_ref().is_some_and(|r| r.status.is_terminal()));
    let missing = move || status.with(|s| matches!(s, Some(Err(_)))) && run.with(Option::is_none);

    view! {
        <Title text=move || format!("Run {} · Scaleboard", short()) />
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/" data-testid="back-to-dashboard">"← Dashboard"</a>
        </nav>
        <header class="run-header">
            <h1>
                "Run " <span class="run-id" data-testid="run-id" title=move || id.get()>{short}</span>
            </h1>
            <span class="status big" data-testid="run-status" data-status=fact(|r, _| r.status.to_string())>
                {fact(|r, _| r.status.to_string())}
            </span>
        </header>
        <p class="form-error" role="alert" data-testid="run-error" hidden=move || !missing()>
            {move || status.with(|s| match s { Some(Err(m)) => m.clone(), _ => String::new() })}
        </p>
        <dl class="facts" data-testid="run-facts">
            <div><dt>"Items"</dt><dd data-testid="run-items">{fact(|r, _| format::group_thousands(u64::from(r.total)))}</dd></div>
            <div><dt>"Completed"</dt><dd data-testid="run-completed">{fact(|r, _| r.completed.to_string())}</dd></div>
            <div><dt>"Failed"</dt><dd data-testid="run-failed">{fact(|r, _| r.failed.to_string())}</dd></div>
            <div><dt>"Cost / item"</dt><dd>{input(|i| i.cost)}</dd></div>
            <div><dt>"Started"</dt><dd>{fact(|r, _| format::clock(r.created_ms))}</dd></div>
            <div><dt>"Duration"</dt><dd>{fact(|r, now| format::duration(runs::duration_ms(r, now)))}</dd></div>
            <div>
                <dt>"Items / s"</dt>
                <dd>{fact(|r, now| runs::run_rate(r, now).map_or_else(|| "—".into(), format::rate))}</dd>
            </div>
        </dl>
        <section class="charts run-charts" aria-label="Charts over the run">
            {ChartKind::ALL.map(|kind| view! { <LiveChart kind span markers /> }).collect_view()}
        </section>
        <section class="panel export-panel" aria-labelledby="run-export-title">
            <h2 id="run-export-title">"Export this run"</h2>
            <ExportLinks query />
            <p class="recording-link" hidden=move || !finished()>
                <a
                    href=move || protocol::routes::recording(&id.get())
                    download
                    data-testid="download-recording"
                >
                    "Download recording"
                </a>
                " — the whole run in one file, for "
                <code>"scaleboard replay"</code>
                " or "
                <em>"Open recording…"</em>
                " on any dashboard."
            </p>
        </section>
        <WhatIfLab id finished=Signal::derive(finished) />
        <section class="panel">
            <details>
                <summary><h2>"Status document"</h2></summary>
                <pre class="json" data-testid="run-json" tabindex="0">{raw}</pre>
            </details>
        </section>
    }
    .into_any()
}
