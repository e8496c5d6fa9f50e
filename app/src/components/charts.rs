//! A live chart: a plotters drawing on a `<canvas>`, redrawn on every sample, with an HTML
//! legend that carries the current values in type large enough to read from the back.
//!
//! A canvas is a picture to assistive technology: it is an image (`role="img"`) named with its
//! headline figures, and described by a visually hidden paragraph with every value of its
//! legend and its peak, rewritten on each sample. That paragraph is not a live region: a
//! screen reader reading out a new sample every second would drown everything else; the
//! values are there, current, whenever the reader comes to the chart.

use leptos::prelude::*;

use crate::live::LiveState;
use crate::model::charting::{self, ChartKind, Drawn, Span};
use crate::prefs::Prefs;

/// What the canvas last showed, and when, exposed as `data-*` attributes so tests can wait for
/// a redraw, check for gaps and measure the lag from a sample to its pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Painted {
    drawn: Drawn,
    /// `performance.timeOrigin + performance.now()` when the canvas was drawn, ms.
    at_ms: f64,
    /// `performance.now()` of the first drawing that showed a sample: time from navigation
    /// start to the first chart painted.
    first_paint_ms: Option<f64>,
}

/// One chart of `kind` over `span` (which tracks the samples: the newest sample's time for the
/// dashboard, the run's time span on a run's page), with optional `markers` (epoch ms and a
/// label) such as a run's start and end.
#[component]
pub fn LiveChart(
    kind: ChartKind,
    span: Memo<Option<Span>>,
    #[prop(optional, into)] markers: Option<Signal<Vec<(u64, String)>>>,
) -> impl IntoView {
    let live = expect_context::<LiveState>();
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let painted = RwSignal::new(Painted::default());

    #[cfg(feature = "hydrate")]
    let prefs = expect_context::<Prefs>();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        prefs.resized.track();
        let (dark, presenter) = (prefs.dark.get(), prefs.presenter.get());
        let (Some(element), Some(span)) = (canvas.get(), span.get()) else {
            return;
        };
        let Some(ratio) = browser::fit(&element) else {
            return;
        };
        let look = charting::Look::screen(dark, presenter, ratio);
        let (mut chart, drawn) = live
            .samples
            .with(|samples| charting::build(kind, samples, &span, &look));
        if let Some(markers) = markers {
            chart.markers = markers.with(|m| {
                m.iter()
                    .map(|(t_ms, label)| charts::Marker {
                        x: span.x(*t_ms),
                        label: label.clone(),
                    })
                    .collect()
            });
        }
        if charts::canvas::draw(element, &chart) {
            let (origin, now) = browser::clock();
            painted.update(|p| {
                p.drawn = drawn;
                p.at_ms = origin + now;
                if p.first_paint_ms.is_none() && drawn.count > 0 {
                    p.first_paint_ms = Some(now);
                }
            });
        }
    });

    #[cfg(not(feature = "hydrate"))]
    let _ = markers;
    let legend = Memo::new(move |_| live.latest.with(|s| charting::legend(kind, s.as_ref())));
    let slug = kind.slug();
    let description = move || {
        let minutes = span
            .get()
            .map(|s| (s.to_ms - s.from_ms) / 60_000)
            .unwrap_or_default();
        let drawn = painted.get().drawn;
        if drawn.count == 0 {
            return format!("{}: no samples drawn yet", kind.title());
        }
        format!(
            "{} over {} minute{}: now {} {}, at most {}",
            kind.title(),
            minutes.max(1),
            if minutes > 1 { "s" } else { "" },
            drawn.latest,
            kind.unit(),
            drawn.peak
        )
    };

    let description_id = format!("{slug}-chart-description");
    let full_description = move || {
        let minutes = span
            .get()
            .map(|s| (s.to_ms - s.from_ms) / 60_000)
            .unwrap_or_default();
        let drawn = painted.get().drawn;
        legend.with(|items| charting::describe(kind, items, minutes, &drawn))
    };

    view! {
        <figure class="chart" data-kind=slug>
            <figcaption>
                <span class="chart-title">{kind.title()}</span>
                <ul class="legend" data-testid=format!("{slug}-legend")>
                    {move || {
                        legend
                            .get()
                            .into_iter()
                            .map(|item| {
                                view! {
                                    <li class:dashed=item.dashed>
                                        <span
                                            class="swatch"
                                            style:background-color=item.color.clone()
                                            style:border-color=item.color
                                        ></span>
                                        <span class="legend-name">{item.name}</span>
                                        <span class="legend-value">{item.value}</span>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </figcaption>
            <canvas
                node_ref=canvas
                data-testid=format!("{slug}-chart")
                data-drawn-seq=move || painted.get().drawn.last_seq.to_string()
                data-first-seq=move || painted.get().drawn.first_seq.to_string()
                data-sample-count=move || painted.get().drawn.count.to_string()
                data-drawn-t-ms=move || painted.get().drawn.newest_t_ms.to_string()
                data-drawn-at-ms=move || format!("{:.1}", painted.get().at_ms)
                data-first-paint-ms=move || {
                    painted.get().first_paint_ms.map(|t| format!("{t:.1}")).unwrap_or_default()
                }
                data-latest=move || painted.get().drawn.latest.to_string()
                data-peak=move || painted.get().drawn.peak.to_string()
                role="img"
                aria-label=description
                aria-describedby=description_id.clone()
            ></canvas>
            <p class="visually-hidden" id=description_id data-testid=format!("{slug}-description")>
                {full_description}
            </p>
        </figure>
    }
    .into_any()
}

/// The span of the dashboard's charts: the chosen window up to the newest sample. One memo for
/// all three charts, so they share their time axis exactly.
pub fn live_span(live: LiveState, prefs: Prefs) -> Memo<Option<Span>> {
    Memo::new(move |_| {
        let minutes = prefs.window_mins.get();
        live.latest
            .with(|s| s.as_ref().map(|s| Span::ending_at(s.t_ms, minutes * 60)))
            .or(Some(Span::ending_at(0, minutes * 60)))
    })
}

#[cfg(feature = "hydrate")]
mod browser {
    /// Sizes the canvas's pixels to its CSS box times the device pixel ratio, touching them
    /// only when they differ (setting a canvas's size clears it); `None` while it has no box.
    pub fn fit(canvas: &web_sys::HtmlCanvasElement) -> Option<f64> {
        let ratio = web_sys::window()?.device_pixel_ratio().max(1.0);
        let (width, height) = (canvas.client_width(), canvas.client_height());
        if width <= 0 || height <= 0 {
            return None;
        }
        let (width, height) = (
            (f64::from(width) * ratio).round() as u32,
            (f64::from(height) * ratio).round() as u32,
        );
        if canvas.width() != width {
            canvas.set_width(width);
        }
        if canvas.height() != height {
            canvas.set_height(height);
        }
        Some(ratio)
    }

    /// `(performance.timeOrigin, performance.now())`.
    pub fn clock() -> (f64, f64) {
        web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| (p.time_origin(), p.now()))
            .unwrap_or_else(|| (js_sys::Date::now(), 0.0))
    }
}
