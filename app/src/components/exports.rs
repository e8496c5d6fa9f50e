//! Download links for the server-side exports: charts as SVG and PNG, samples as CSV and JSON.

use leptos::prelude::*;

use crate::model::charting::ChartKind;

/// Where the exports live.
pub const EXPORT: &str = "/api/export";

/// The links for one selection: `query` is `minutes=5` or `run=<id>`.
#[component]
pub fn ExportLinks(#[prop(into)] query: Signal<String>) -> impl IntoView {
    let link = move |file: String, label: String| {
        let testid = format!("export-{}", file.replace('.', "-"));
        view! {
            <li>
                <a
                    href=move || format!("{EXPORT}/{file}?{}", query.get())
                    download
                    data-testid=testid
                >
                    {label}
                </a>
            </li>
        }
    };
    let charts = ChartKind::ALL
        .into_iter()
        .flat_map(|kind| {
            ["svg", "png"].map(|ext| {
                (
                    format!("{}.{ext}", kind.slug()),
                    format!("{} ({})", kind.title(), ext.to_uppercase()),
                )
            })
        })
        .chain([
            ("charts.svg".to_string(), "All charts (SVG)".to_string()),
            ("charts.png".to_string(), "All charts (PNG)".to_string()),
        ])
        .map(|(file, label)| link(file, label))
        .collect_view();
    let data = [
        ("samples.csv", "Samples (CSV)"),
        ("samples.json", "Samples (JSON)"),
    ]
    .map(|(file, label)| link(file.to_string(), label.to_string()))
    .collect_view();
    view! {
        <nav class="exports" aria-label="Exports">
            <ul class="export-list">{charts}</ul>
            <ul class="export-list">{data}</ul>
        </nav>
    }
    .into_any()
}
