//! The dashboard: what the audience sees.

use leptos::prelude::*;

use crate::components::charts::{live_span, LiveChart};
use crate::components::exports::ExportLinks;
use crate::components::header::Banners;
use crate::components::runs::RunsTable;
use crate::components::settings::Settings;
use crate::components::start::StartRun;
use crate::components::tiles::Tiles;
use crate::components::timeline::Timeline;
use crate::live::LiveState;
use crate::model::charting::ChartKind;
use crate::prefs::Prefs;

/// Value tiles on top; the three charts, sharing one time axis, and the settings on the left;
/// starting and following runs, the scaling decisions and the exports on the right.
#[component]
pub fn Dashboard() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let prefs = expect_context::<Prefs>();
    let span = live_span(live, prefs);
    let export_query = Signal::derive(move || format!("minutes={}", prefs.window_mins.get()));
    view! {
        <Banners />
        <Tiles />
        <div class="board">
            <div class="main-column">
                <section class="charts" aria-label="Charts">
                    {ChartKind::ALL.map(|kind| view! { <LiveChart kind span /> }).collect_view()}
                </section>
                <Settings />
            </div>
            <aside class="side">
                <StartRun />
                <RunsTable />
                <Timeline />
                <section class="panel export-panel" aria-labelledby="export-title">
                    <h2 id="export-title">
                        "Export the last " {move || prefs.window_mins.get()} " min"
                    </h2>
                    <ExportLinks query=export_query />
                </section>
            </aside>
        </div>
    }
    .into_any()
}
