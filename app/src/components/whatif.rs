//! The what-if lab on a finished run's page: the run's recorded queue replayed under up to
//! three policies side by side (`GET /api/runs/<id>/whatif`), charted and compared in a table.
//!
//! The page's address carries the policies (`?a=…&b=…`), so copying it shares the comparison
//! and opening it runs the comparison again; the chart and the CSV are the same address with
//! `format=svg`, `png` or `csv`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use protocol::whatif::{
    BehaviorPreset, Comparison, PolicySpec, MAX_POLICIES, NUMBER_KEYS, POLICY_KEYS, PROFILES,
};

#[cfg(feature = "hydrate")]
use crate::http;
use crate::model::whatif::{self as lab, PolicyForm};

/// The colours of policies A, B and C on the server's chart, for the table's swatches.
const SWATCHES: [&str; MAX_POLICIES] = ["#3b82f6", "#f59e0b", "#a78bfa"];

#[component]
pub fn WhatIfLab(
    #[prop(into)] id: Signal<String>,
    #[prop(into)] finished: Signal<bool>,
) -> impl IntoView {
    let query = use_query_map();
    let forms = RwSignal::new(vec![PolicyForm::default()]);
    let count = Memo::new(move |_| forms.with(Vec::len));
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let result = RwSignal::new(None::<Comparison>);
    // The address of the comparison shown (`a=…&b=…`), for the chart and the downloads.
    let shown = RwSignal::new(None::<String>);

    let compare = move |specs: Vec<PolicySpec>| {
        let address = lab::query(&specs);
        error.set(None);
        busy.set(true);
        #[cfg(feature = "hydrate")]
        {
            let run = id.get_untracked();
            // The address bar becomes the link to this comparison.
            if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
                let _ = history.replace_state_with_url(
                    &wasm_bindgen::JsValue::NULL,
                    "",
                    Some(&format!("/runs/{run}?{address}")),
                );
            }
            leptos::task::spawn_local(async move {
                let url = format!("{}?{address}", protocol::routes::whatif(&run));
                match http::send("GET", &url, None).await {
                    Ok(reply) if reply.is_success() => match reply.parse::<Comparison>() {
                        Some(comparison) => {
                            result.set(Some(comparison));
                            shown.set(Some(address));
                        }
                        None => error.set(Some("the answer is not a comparison".into())),
                    },
                    Ok(reply) => error.set(Some(reply.error_message())),
                    Err(message) => error.set(Some(message)),
                }
                busy.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = address;
    };

    // An address that names policies fills the forms and compares them once the run is done.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) || !finished.get() {
            return done.unwrap_or(false);
        }
        let specs = query.with_untracked(|q| lab::from_query(|key| q.get(key)));
        match specs {
            Ok(specs) if !specs.is_empty() => {
                forms.set(specs.iter().map(PolicyForm::from_spec).collect());
                compare(specs);
            }
            Ok(_) => {}
            Err(message) => error.set(Some(message)),
        }
        true
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let specs: Result<Vec<PolicySpec>, String> = forms.with_untracked(|forms| {
            forms
                .iter()
                .zip(POLICY_KEYS)
                .map(|(form, key)| {
                    form.to_spec()
                        .map_err(|e| format!("policy {}: {e}", key.to_uppercase()))
                })
                .collect()
        });
        match specs {
            Ok(specs) => compare(specs),
            Err(message) => error.set(Some(message)),
        }
    };

    let columns = move || {
        (0..count.get())
            .map(|index| policy_fieldset(forms, index))
            .collect_view()
    };

    let table = move || {
        result.with(|comparison| {
            let comparison = comparison.as_ref()?;
            let rows = comparison
                .outcomes
                .iter()
                .zip(SWATCHES)
                .map(|(outcome, swatch)| {
                    let s = outcome.summary;
                    let key = outcome.key.to_uppercase();
                    let policy = if outcome.policy.is_empty() {
                        "as in force".to_string()
                    } else {
                        outcome.policy.clone()
                    };
                    view! {
                        <tr data-testid=format!("whatif-row-{}", outcome.key)>
                            <th scope="row">
                                <span class="swatch" style=format!("background:{swatch}") aria-hidden="true"></span>
                                {key}
                            </th>
                            <td><code>{policy}</code></td>
                            <td>{outcome.profile.clone()}</td>
                            <td class="num" data-testid="node-hours">{lab::node_hours(s.node_hours)}</td>
                            <td class="num" data-testid="peak-desired">{s.peak_desired_replicas}</td>
                            <td class="num">{s.peak_pods_running}</td>
                            <td class="num" data-testid="peak-nodes">{s.peak_nodes}</td>
                            <td class="num">{lab::seconds(s.first_pod_after_s)}</td>
                            <td class="num">{lab::seconds(s.at_rest_after_s)}</td>
                        </tr>
                    }
                })
                .collect_view();
            Some(
                view! {
                <table class="whatif-table" data-testid="whatif-table">
                    <caption>"What each policy comes to on this run's queue (times from the first and from the last message)"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Policy"</th>
                            <th scope="col">"Settings"</th>
                            <th scope="col">"Starts from"</th>
                            <th scope="col" class="num">"Node-hours"</th>
                            <th scope="col" class="num">"Peak desired"</th>
                            <th scope="col" class="num">"Peak pods"</th>
                            <th scope="col" class="num">"Peak nodes"</th>
                            <th scope="col" class="num">"First pod after"</th>
                            <th scope="col" class="num" title="From the queue's last message until every extra pod and node is gone">"At rest after"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
                }
                .into_any(),
            )
        })
    };

    let export = move |format: &'static str| {
        move || {
            shown.with(|address| {
                address.as_ref().map(|a| {
                    format!(
                        "{}?{a}&format={format}",
                        protocol::routes::whatif(&id.get())
                    )
                })
            })
        }
    };
    let chart_alt = move || {
        result.with(|comparison| {
            comparison
                .as_ref()
                .map(|c| {
                    let parts: Vec<String> = c
                        .outcomes
                        .iter()
                        .map(|o| {
                            format!(
                                "policy {} peaks at {} desired replicas and {} nodes",
                                o.key.to_uppercase(),
                                o.summary.peak_desired_replicas,
                                o.summary.peak_nodes
                            )
                        })
                        .collect();
                    format!(
                        "Desired replicas, running pods and nodes over the run: {}",
                        parts.join("; ")
                    )
                })
                .unwrap_or_default()
        })
    };

    // Built apart and type-erased: one view of the whole lab is too deep a type for the
    // compiler's default limit in the browser build.
    let form = view! {
            <form on:submit=submit novalidate data-testid="whatif-form">
                <div class="whatif-policies">{columns}</div>
                <div class="form-actions">
                    <button
                        type="button"
                        data-testid="whatif-add"
                        disabled=move || { count.get() >= MAX_POLICIES }
                        on:click=move |_| {
                            forms.update(|f| {
                                if f.len() < MAX_POLICIES {
                                    f.push(PolicyForm::default());
                                }
                            })
                        }
                    >
                        "Add a policy"
                    </button>
                    <button type="submit" class="primary" data-testid="whatif-compare" disabled=move || busy.get()>
                        {move || if busy.get() { "Comparing…" } else { "Compare" }}
                    </button>
                </div>
                <p class="form-error" role="alert" data-testid="whatif-error" hidden=move || error.with(Option::is_none)>
                    {move || error.get().unwrap_or_default()}
                </p>
            </form>
    }
    .into_any();
    let result_view = view! {
            <div class="whatif-result" hidden=move || result.with(Option::is_none) aria-live="polite">
                {table}
                <img
                    class="whatif-chart"
                    data-testid="whatif-chart"
                    src=export("svg")
                    alt=chart_alt
                    width="1200"
                    height="900"
                />
                <p class="exports">
                    <a href=export("csv") download data-testid="whatif-csv">"Download CSV"</a>
                    " · "
                    <a href=export("png") download data-testid="whatif-png">"Download PNG"</a>
                    " · "
                    <a href=export("json") data-testid="whatif-json">"JSON"</a>
                    " · The address bar links to this comparison."
                </p>
            </div>
    }
    .into_any();

    view! {
        <section
            class="panel whatif"
            aria-labelledby="whatif-title"
            data-testid="whatif"
            hidden=move || !finished.get()
        >
            <h2 id="whatif-title">"What if…"</h2>
            <p class="hint">
                "This run's recorded queue, replayed through the scaling model under up to three \
                 policies. The queue is replayed as it was, so the policies differ in how many \
                 pods and nodes they run, how fast the first pod comes, and how long the cluster \
                 stays up after the work is done."
            </p>
            {form}
            {result_view}
        </section>
    }
    .into_any()
}

/// The inputs of policy `index`: where it starts, its HPA behavior, and KEDA's numbers.
fn policy_fieldset(forms: RwSignal<Vec<PolicyForm>>, index: usize) -> AnyView {
    let key = POLICY_KEYS[index];
    let label = key.to_uppercase();
    let field = move |read: fn(&PolicyForm) -> String| {
        move || forms.with(|f| f.get(index).map(read).unwrap_or_default())
    };
    let id = move |name: &str| format!("whatif-{key}-{name}");
    // An input's handler: writes what was chosen into this policy's form.
    let edit = move |write: fn(&mut PolicyForm, String)| {
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            forms.update(|f| {
                if let Some(form) = f.get_mut(index) {
                    write(form, value);
                }
            })
        }
    };
    let profiles = PROFILES
        .iter()
        .map(|profile| {
            let text = if *profile == "cluster" {
                "the policy in force".to_string()
            } else {
                format!("the {profile} preset")
            };
            view! { <option value=*profile>{text}</option> }
        })
        .collect_view();
    let behaviors = BehaviorPreset::ALL
        .iter()
        .map(|preset| view! { <option value=preset.key()>{preset.label()}</option> })
        .collect_view();
    let numbers = NUMBER_KEYS
        .iter()
        .enumerate()
        .map(|(n, name)| {
            let input_id = id(name);
            view! {
                <div class="field">
                    <label for=input_id.clone()>{lab::number_label(name)}</label>
                    <input
                        id=input_id.clone()
                        data-testid=input_id
                        type="text"
                        inputmode="numeric"
                        autocomplete="off"
                        placeholder="as the profile"
                        prop:value=move || forms.with(|f| f.get(index).map(|p| p.numbers[n].clone()).unwrap_or_default())
                        on:input=move |ev| {
                            let value = event_target_value(&ev);
                            forms.update(|f| {
                                if let Some(form) = f.get_mut(index) {
                                    form.numbers[n] = value;
                                }
                            })
                        }
                    />
                </div>
            }
        })
        .collect_view();
    view! {
        <fieldset class="whatif-policy" data-testid=format!("whatif-policy-{key}")>
            <legend>{format!("Policy {label}")}</legend>
            <div class="field">
                <label for=id("profile")>"Starts from"</label>
                <select
                    id=id("profile")
                    data-testid=id("profile")
                    prop:value=field(|p| p.profile.clone())
                    on:change=edit(|form, value| form.profile = value)
                >
                    {profiles}
                </select>
            </div>
            <div class="field">
                <label for=id("behavior")>"HPA behavior"</label>
                <select
                    id=id("behavior")
                    data-testid=id("behavior")
                    prop:value=field(|p| p.behavior.clone())
                    on:change=edit(|form, value| form.behavior = value)
                >
                    <option value="">"as the profile"</option>
                    {behaviors}
                </select>
            </div>
            <div class="settings-grid">{numbers}</div>
            <button
                type="button"
                data-testid=id("remove")
                hidden=move || { forms.with(Vec::len) <= 1 }
                on:click=move |_| forms.update(|f| {
                    if f.len() > 1 && index < f.len() {
                        f.remove(index);
                    }
                })
            >
                {format!("Remove policy {label}")}
            </button>
        </fieldset>
    }
    .into_any()
}
