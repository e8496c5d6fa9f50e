//! The dashboard page: what the audience sees.

use leptos::prelude::*;
use protocol::live::StorageHealth;

use crate::live::{Connection, LiveState};

/// Seconds of history the queue chart shows.
const WINDOW_SECS: f64 = 300.0;

/// The page: header with the connection badge, value tiles, and the queue chart.
#[component]
pub fn Dashboard() -> impl IntoView {
    let live = LiveState::new();
    provide_context(live);
    // Effects run only in the browser, once the page is hydrated.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        crate::live::connect(live);
    });

    view! {
        <header class="topbar">
            <h1>"Scaleboard"</h1>
            <ConnectionBadge />
        </header>
        <section class="tiles" aria-label="Current values">
            <QueueTile />
        </section>
        <section class="charts" aria-label="Charts">
            <QueueChart />
        </section>
    }
}

/// Live, reconnecting, or storage unreachable: shown at all times so the presenter knows
/// whether the numbers on screen are current.
#[component]
fn ConnectionBadge() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let state = move || {
        let connection = live.connection.get();
        let storage = live.samples.with(|s| s.last().map(|s| s.storage.clone()));
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
}

#[component]
fn QueueTile() -> impl IntoView {
    let live = expect_context::<LiveState>();
    let value = move || {
        live.samples
            .with(|s| s.last().and_then(|s| s.queue_length))
            .map(|n| n.to_string())
            .unwrap_or_else(|| "—".into())
    };
    view! {
        <div class="tile">
            <div class="tile-label">"Queue"</div>
            <div class="tile-value" data-testid="queue-length">{value}</div>
            <div class="tile-unit">"messages"</div>
        </div>
    }
}

/// The queue length over the last five minutes, redrawn on every sample.
#[component]
fn QueueChart() -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    // What the canvas last showed — the newest and oldest sample's sequence numbers and how many
    // samples — exposed as attributes so tests can wait for a redraw and check for gaps.
    let drawn = RwSignal::new(Drawn::default());

    #[cfg(feature = "hydrate")]
    {
        let live = expect_context::<LiveState>();
        Effect::new(move |_| {
            let Some(element) = canvas.get() else {
                return;
            };
            let (chart, shown) = live.samples.with(|samples| queue_chart(samples));
            if charts::canvas::draw(element, &chart) {
                drawn.set(shown);
            }
        });
    }

    view! {
        <figure class="chart">
            <figcaption>"Queue length"</figcaption>
            <canvas
                node_ref=canvas
                width="960"
                height="280"
                data-testid="queue-chart"
                data-drawn-seq=move || drawn.get().last_seq.to_string()
                data-first-seq=move || drawn.get().first_seq.to_string()
                data-sample-count=move || drawn.get().count.to_string()
                aria-label="Queue length over the last five minutes"
                role="img"
            ></canvas>
        </figure>
    }
}

/// Which samples a chart shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Drawn {
    first_seq: u64,
    last_seq: u64,
    count: usize,
}

/// The queue chart for `samples`, with time relative to the newest sample.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn queue_chart(samples: &[protocol::live::Sample]) -> (charts::TimeChart, Drawn) {
    let newest = samples.last().map(|s| s.t_ms).unwrap_or_default();
    let points = samples
        .iter()
        .filter_map(|s| {
            let age = (newest.saturating_sub(s.t_ms)) as f64 / 1000.0;
            s.queue_length.map(|q| (-age, q as f64))
        })
        .collect();
    let chart = charts::TimeChart {
        title: "Queue length".into(),
        window_secs: WINDOW_SECS,
        series: vec![charts::Series {
            name: "queue length".into(),
            color: charts::palette::BLUE,
            points,
        }],
        reference: None,
        dark: true,
    };
    let drawn = Drawn {
        first_seq: samples.first().map(|s| s.seq).unwrap_or_default(),
        last_seq: samples.last().map(|s| s.seq).unwrap_or_default(),
        count: samples.len(),
    };
    (chart, drawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::live::Sample;

    #[test]
    fn chart_time_is_relative_to_the_newest_sample_and_skips_gaps() {
        let samples: Vec<Sample> = [(1_000, Some(3)), (2_000, None), (3_500, Some(9))]
            .into_iter()
            .enumerate()
            .map(|(i, (t_ms, queue_length))| Sample {
                t_ms,
                seq: i as u64 + 1,
                queue_length,
                storage: StorageHealth::Ok,
                ..Default::default()
            })
            .collect();
        let (chart, drawn) = queue_chart(&samples);
        assert_eq!(
            drawn,
            Drawn {
                first_seq: 1,
                last_seq: 3,
                count: 3
            }
        );
        assert_eq!(chart.series[0].points, vec![(-2.5, 3.0), (0.0, 9.0)]);
    }
}
