//! `GET /api/runs/{id}/whatif?a=…&b=…&c=…&format=json|csv|svg|png`: the what-if lab. A
//! finished run's recorded queue replayed under up to three policies (see
//! [`protocol::whatif::PolicySpec`]), each from the policy in force or a preset, with its
//! overrides and an HPA behavior preset; answered as the comparison (JSON), one CSV, or the
//! three charts — desired replicas, running pods, nodes — with a line per policy.

use std::collections::HashMap;

use app::charts::{self, palette, Mark, Series, TimeChart, TimeLabels};
use autoscale::policy::Profile;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use clap::ValueEnum;
use protocol::whatif::{Comparison, Outcome, PolicySpec, MAX_POLICIES, POLICY_KEYS};

use crate::app::AppState;
use crate::cluster::policy::{PolicyArgs, ProfileName};
use crate::durable::params::ApiQuery;
use crate::error::ApiError;
use crate::replay::{policy_in_force, recorded_trace};

/// The size of the chart images: three charts one above the other, readable on a slide.
const IMAGE_WIDTH: u32 = 1200;
const IMAGE_HEIGHT: u32 = 900;
/// One colour per policy, distinct on a projector and for colour-vision deficiencies.
const COLOURS: [charts::RGBColor; MAX_POLICIES] = [palette::BLUE, palette::AMBER, palette::VIOLET];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Svg,
    Png,
}

pub async fn whatif(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    // `code` is the key, as the Durable Functions API passes it; checked before this runs.
    if let Some(unknown) = params
        .keys()
        .find(|k| !POLICY_KEYS.contains(&k.as_str()) && !matches!(k.as_str(), "format" | "code"))
    {
        return Err(ApiError::bad_request(format!(
            "`{unknown}` is not a what-if parameter: give up to {MAX_POLICIES} policies as a, b \
             and c (e.g. a=profile:aks,pollingInterval:5) and optionally format"
        )));
    }
    let format = match params.get("format").map(String::as_str) {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("svg") => Format::Svg,
        Some("png") => Format::Png,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format must be json, csv, svg or png, not `{other}`"
            )))
        }
    };
    let mut policies = Vec::new();
    for key in POLICY_KEYS {
        let Some(text) = params.get(key) else {
            continue;
        };
        let spec = PolicySpec::parse(text)
            .map_err(|e| ApiError::bad_request(format!("policy {key}: {e}")))?;
        let profile = profile_for(&state, &spec)
            .map_err(|e| ApiError::new(e.status, format!("policy {key}: {}", e.message)))?;
        policies.push((key, spec, profile));
    }
    if policies.is_empty() {
        return Err(ApiError::bad_request(
            "give at least one policy: a=profile:cluster (the policy in force), optionally b and c",
        ));
    }
    let (id, trace) = recorded_trace(&state, &id).await?;
    let run = id.to_string();
    // Up to three replays of a bounded trace: seconds of a core at most, on the blocking pool.
    let body = state
        .heavy
        .run("whatif", move || {
            let comparison = compare(run, &trace, policies);
            render(&comparison, format)
        })
        .await??;
    let content_type = match format {
        Format::Json => "application/json",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Svg => "image/svg+xml",
        Format::Png => "image/png",
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Replays of the history, which moves on: never served from a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if format == Format::Csv {
        if let Ok(value) =
            HeaderValue::from_str(&format!("attachment; filename=\"run-{id}-whatif.csv\""))
        {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

/// The profile a policy describes: its starting point, its numbers, its behavior; validated.
fn profile_for(state: &AppState, spec: &PolicySpec) -> Result<Profile, ApiError> {
    let named = spec.profile.as_deref();
    // `cluster` (or none) is the policy in force; the others are the presets the flags name.
    let preset = match named {
        None | Some("cluster") => ProfileName::Demo,
        Some(name) => ProfileName::from_str(name, false).map_err(|_| {
            ApiError::bad_request(format!(
                "profile must be cluster, demo, aks or seed-demo, not `{name}`"
            ))
        })?,
    };
    let small = |key: &str| -> Result<Option<u32>, ApiError> {
        spec.number(key)
            .map(|v| {
                u32::try_from(v).map_err(|_| {
                    ApiError::bad_request(format!("{key} must be at most {}, not {v}", u32::MAX))
                })
            })
            .transpose()
    };
    let seconds = |key: &str| spec.number(key).map(|v| v as f64);
    let args = PolicyArgs {
        profile: preset,
        profile_file: None,
        polling_interval: seconds("pollingInterval"),
        cooldown_period: seconds("cooldownPeriod"),
        min_replicas: small("minReplicaCount")?,
        max_replicas: small("maxReplicaCount")?,
        queue_length: spec.number("queueLength"),
        activation_queue_length: spec.number("activationQueueLength"),
        min_nodes: small("minNodes")?,
        max_nodes: small("maxNodes")?,
    };
    let mut profile = match policy_in_force(state, named)? {
        Some(base) => args.apply_to(base),
        None => args.profile(),
    }
    .map_err(|e| ApiError::bad_request(format!("the policy is not valid: {e}")))?;
    if let Some(preset) = spec.behavior {
        profile
            .scaled_object
            .advanced
            .horizontal_pod_autoscaler_config
            .behavior = preset.behavior();
        profile
            .validate()
            .map_err(|e| ApiError::bad_request(format!("the policy is not valid: {e}")))?;
    }
    Ok(profile)
}

/// Each policy's replay of `trace` and what it comes to.
fn compare(
    run: String,
    trace: &[(u64, u64)],
    policies: Vec<(&'static str, PolicySpec, Profile)>,
) -> Comparison {
    let outcomes = policies
        .into_iter()
        .map(|(key, spec, profile)| {
            let simulation = autoscale::simulate(profile.clone(), trace);
            Outcome {
                key: key.to_string(),
                policy: spec.to_string(),
                profile: profile.name.clone(),
                summary: simulation.summary(&profile),
                rows: simulation.rows,
            }
        })
        .collect();
    Comparison { run, outcomes }
}

fn render(comparison: &Comparison, format: Format) -> Result<Vec<u8>, ApiError> {
    let charts = || comparison_charts(comparison);
    match format {
        Format::Json => serde_json::to_vec(comparison).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("writing the comparison: {e}"),
            )
        }),
        Format::Csv => Ok(comparison.to_csv().into_bytes()),
        Format::Svg => Ok(charts::svg_stack(&charts(), IMAGE_WIDTH, IMAGE_HEIGHT).into_bytes()),
        Format::Png => charts::png_stack(&charts(), IMAGE_WIDTH, IMAGE_HEIGHT)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// Desired replicas (with the recorded queue, dashed, for reference), running pods and nodes,
/// one line per policy, as the exports draw them: light, with a header and a legend.
pub fn comparison_charts(comparison: &Comparison) -> Vec<TimeChart> {
    let last = comparison
        .outcomes
        .iter()
        .filter_map(|o| o.rows.last())
        .map(|r| r.seconds)
        .max()
        .unwrap_or(0);
    let x_range = (0.0, (last.max(1)) as f64);
    let look = app::model::charting::Look::export(false);
    let chart = |title: &str| {
        let mut chart = TimeChart::new(title, x_range, TimeLabels::Elapsed);
        chart.theme = look.theme;
        chart.font_px = look.font_px;
        chart.line_px = look.line_px;
        chart.header = look.header;
        chart
    };
    let series = |outcome: &Outcome, colour, value: fn(&protocol::whatif::SimRow) -> u64| Series {
        name: format!("{}: {}", outcome.key.to_uppercase(), policy_label(outcome)),
        color: colour,
        mark: Mark::Line,
        step: true,
        points: outcome
            .rows
            .iter()
            .map(|r| (r.seconds as f64, value(r) as f64))
            .collect(),
    };
    let mut desired = chart("Desired replicas");
    let mut running = chart("Pods running");
    let mut nodes = chart("Nodes (ready + provisioning)");
    if let Some(first) = comparison.outcomes.first() {
        desired.series.push(Series {
            name: "queue length ÷ 10 (recorded)".into(),
            color: palette::GREY,
            mark: Mark::Dashed,
            step: true,
            points: first
                .rows
                .iter()
                .map(|r| (r.seconds as f64, r.queue_length as f64 / 10.0))
                .collect(),
        });
    }
    for (outcome, colour) in comparison.outcomes.iter().zip(COLOURS) {
        desired
            .series
            .push(series(outcome, colour, |r| u64::from(r.desired_replicas)));
        running
            .series
            .push(series(outcome, colour, |r| u64::from(r.pods_running)));
        nodes.series.push(series(outcome, colour, |r| {
            u64::from(r.nodes_ready) + u64::from(r.nodes_provisioning)
        }));
    }
    vec![desired, running, nodes]
}

/// How an outcome is named in a legend: its policy, or the profile it started from.
fn policy_label(outcome: &Outcome) -> &str {
    if outcome.policy.is_empty() {
        &outcome.profile
    } else {
        &outcome.policy
    }
}
