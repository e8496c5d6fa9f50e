//! The dashboard: what the audience sees.

use leptos::prelude::*;

use crate::components::charts::{live_span, LiveChart};
use crate::components::exports::ExportLinks;
use crate::components::header::Banners;
use crate::components::open_recording::{take_dropped_recordings, OpenRecording};
use crate::components::runs::RunsTable;
use crate::components::settings::Settings;
use crate::components::start::StartRun;
use crate::components::tiles::Tiles;
use crate::components::timeline::Timeline;
use crate::live::LiveState;
use crate::model::charting::ChartKind;
use crate::prefs::Prefs;

/// The three charts, sharing one time axis, fill the left from top to bottom, so they stay
/// tall on a 720-line projector; the value tiles, the start form, the runs, the scaling
/// decisions and the exports are on the right. On narrow screens: tiles, charts, the rest.
#[component]
pub fn Dashboard() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let prefs = expect_context::<Prefs>();
    let span = live_span(live, prefs);
    let export_query = Signal::derive(move || format!("minutes={}", prefs.window_mins.get()));
    // A replay starts no run, edits no policy and keeps no history beyond its recording: those
    // panels are for a live system.
    let live_system = move || live.replay.with(Option::is_none);
    take_dropped_recordings();
    view! {
        // The page's one level-one heading, for those who move by headings; the top bar's name
        // says it to everyone else.
        <h1 class="visually-hidden">"Scaleboard: live autoscaling dashboard"</h1>
        <Banners />
        <div class="board">
            <Tiles />
            <div class="main-column">
                <section class="charts" aria-label="Charts">
                    {ChartKind::ALL.map(|kind| view! { <LiveChart kind span /> }).collect_view()}
                </section>
                <Show when=live_system>
                    <Settings />
                </Show>
            </div>
            <div class="side">
                <Show when=live_system>
                    <StartRun />
                    <OpenRecording />
                </Show>
                <RunsTable />
                <Timeline />
                <Show when=live_system>
                    <section class="panel export-panel" aria-labelledby="export-title">
                        <h2 id="export-title">
                            "Export the last " {move || prefs.window_mins.get()} " min"
                        </h2>
                        <ExportLinks query=export_query />
                    </section>
                </Show>
            </div>
        </div>
    }
    .into_any()
}
