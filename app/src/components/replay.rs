//! The replay's banner and controls, over the dashboard while the server replays a recording
//! (`scaleboard replay`): always visible, so nobody takes a replay for a live system.
//!
//! The controls call `POST /api/replay/control`; their effect comes back through the live feed
//! to every viewer, so two screens on one replay always agree. For a recording opened in this
//! page ([`LocalReplay`]) they move the page's own replay instead, and the banner says the
//! dashboard is not live until it goes back to the live feed (a reload).

use leptos::prelude::*;
use protocol::recording::{ReplayControl, REPLAY_SPEEDS};

use crate::live::LiveState;
use crate::local_replay::LocalReplay;
use crate::model::replay::{banner, length_ms, progress_label, seek_value_ms, seek_value_text};
use crate::operator::Operator;

#[component]
pub fn ReplayBar() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let operator = expect_context::<Operator>();
    let local = expect_context::<LocalReplay>();
    let error = RwSignal::new(None::<String>);
    let latest_ms = Memo::new(move |_| live.latest.with(|s| s.as_ref().map(|s| s.t_ms)));
    // The position last chosen on the seek bar, so the bar stays there (see `seek_value_ms`).
    let sought = RwSignal::new(None::<u64>);
    let seek_value = Memo::new(move |_| {
        live.replay.with(|r| {
            r.as_ref().map_or(0, |r| {
                seek_value_ms(r, latest_ms.get(), sought.get(), live.interval_ms.get())
            })
        })
    });
    let send = move |control: ReplayControl| {
        if live.from_file.get_untracked() {
            error.set(local.control(&control).err());
            return;
        }
        let body = serde_json::to_string(&control).unwrap_or_default();
        leptos::task::spawn_local(async move {
            match crate::http::send("POST", protocol::routes::REPLAY_CONTROL, Some(body)).await {
                Ok(reply) if reply.is_success() => error.set(None),
                Ok(reply) => error.set(Some(reply.error_message())),
                Err(message) => error.set(Some(message)),
            }
        });
    };
    // A recording opened in this page is the viewer's own to move.
    let disabled = move || !local.active() && !operator.can_operate();
    let paused = move || live.replay.with(|r| r.as_ref().is_some_and(|r| r.paused));
    let speed = move || live.replay.with(|r| r.as_ref().map_or(1, |r| r.speed));

    view! {
        <Show when=move || live.replay.with(Option::is_some)>
            <section class="replay-bar" data-testid="replay-bar" aria-label="Replay">
                <p class="replay-banner" data-testid="replay-banner">
                    {move || live.replay.with(|r| r.as_ref().map(banner).unwrap_or_default())}
                    <Show when=move || local.active()>
                        <span class="replay-source" data-testid="replay-source">
                            {move || {
                                format!(
                                    " — opened from {} in this browser; the dashboard is not live.",
                                    local.file_name.get().unwrap_or_default(),
                                )
                            }}
                        </span>
                        " "
                        <button
                            type="button"
                            class="small"
                            data-testid="replay-back-to-live"
                            on:click=move |_| back_to_live()
                        >
                            "Back to live"
                        </button>
                    </Show>
                </p>
                <div class="replay-controls">
                    <div class="replay-speeds" role="group" aria-label="Speed">
                        {REPLAY_SPEEDS
                            .map(|s| {
                                view! {
                                    <button
                                        type="button"
                                        class="toggle"
                                        data-testid=format!("replay-speed-{s}")
                                        aria-pressed=move || (speed() == s).to_string()
                                        disabled=disabled
                                        on:click=move |_| {
                                            send(ReplayControl {
                                                speed: Some(s),
                                                ..ReplayControl::default()
                                            })
                                        }
                                    >
                                        {format!("{s}×")}
                                    </button>
                                }
                            })
                            .collect_view()}
                    </div>
                    <button
                        type="button"
                        class="toggle"
                        data-testid="replay-pause"
                        disabled=disabled
                        on:click=move |_| {
                            send(ReplayControl {
                                paused: Some(!paused()),
                                ..ReplayControl::default()
                            })
                        }
                    >
                        {move || if paused() { "Resume" } else { "Pause" }}
                    </button>
                    <input
                        type="range"
                        class="replay-seek"
                        data-testid="replay-seek"
                        aria-label="Position in the recording"
                        min="0"
                        step="1000"
                        disabled=disabled
                        max=move || {
                            live.replay.with(|r| r.as_ref().map_or(0, length_ms)).to_string()
                        }
                        prop:value=move || seek_value.get().to_string()
                        aria-valuetext=move || {
                            live.replay
                                .with(|r| {
                                    r.as_ref()
                                        .map(|r| seek_value_text(r, seek_value.get()))
                                        .unwrap_or_default()
                                })
                        }
                        on:change=move |event| {
                            if let Ok(position) = event_target_value(&event).parse::<u64>() {
                                sought.set(Some(position));
                                send(ReplayControl {
                                    position_ms: Some(position),
                                    ..ReplayControl::default()
                                });
                            }
                        }
                    />
                    <span class="replay-position" data-testid="replay-position">
                        {move || {
                            live.replay
                                .with(|r| {
                                    r.as_ref()
                                        .map(|r| progress_label(r, latest_ms.get()))
                                        .unwrap_or_default()
                                })
                        }}
                    </span>
                </div>
                // A control refused, or a file dropped on the replay that cannot be replayed.
                <p
                    class="error"
                    role="alert"
                    data-testid="replay-error"
                    hidden=move || error.with(Option::is_none) && local.error.with(Option::is_none)
                >
                    {move || error.get().or_else(|| local.error.get()).unwrap_or_default()}
                </p>
            </section>
        </Show>
    }
    .into_any()
}

/// Leaves a recording opened in the page: a fresh page, a fresh live feed.
fn back_to_live() {
    #[cfg(feature = "hydrate")]
    if let Err(e) = window().location().reload() {
        leptos::logging::warn!("reloading the page failed: {e:?}");
    }
}
