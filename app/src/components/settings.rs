//! The local model's scaling parameters, editable and applied live (`PUT
//! /api/cluster/profile`). Shown only when the server runs the local model: on a real cluster
//! the ScaledObject is edited with kubectl.

use leptos::prelude::*;

use crate::cluster::ClusterInfo;
use crate::http;
use crate::operator::{Operator, READ_ONLY_NOTE};
use protocol::cluster::ProfileApplied;

use crate::model::input::{self, apply_edits, field_text, Field, GROUPS};

#[component]
pub fn Settings() -> impl IntoView {
    let cluster = expect_context::<ClusterInfo>();
    let operator = expect_context::<Operator>();
    let fields: Vec<(&'static Field, RwSignal<String>)> = input::fields()
        .map(|f| (f, RwSignal::new(String::new())))
        .collect();
    let error = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Fill the inputs whenever a profile arrives (first load, or after applying).
    {
        let fields = fields.clone();
        Effect::new(move |_| {
            cluster.profile.with(|profile| {
                if let Some(profile) = profile {
                    for (field, value) in &fields {
                        value.set(field_text(profile, field));
                    }
                }
            })
        });
    }

    let submit = {
        let fields = fields.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let Some(profile) = cluster.profile.get_untracked() else {
                return;
            };
            let edits: Vec<(&Field, String)> = fields
                .iter()
                .map(|(field, value)| (*field, value.get_untracked()))
                .collect();
            let body = match apply_edits(&profile, &edits) {
                Ok(edited) => serde_json::to_string(&edited).unwrap_or_default(),
                Err(message) => {
                    error.set(Some(message));
                    note.set(None);
                    return;
                }
            };
            error.set(None);
            note.set(None);
            busy.set(true);
            leptos::task::spawn_local(async move {
                match http::send("PUT", protocol::routes::CLUSTER_PROFILE, Some(body)).await {
                    Ok(reply) if reply.is_success() => {
                        if let Some(applied) = reply.parse::<ProfileApplied>() {
                            cluster.profile.set(Some(applied.profile));
                        }
                        note.set(Some(
                            "Applied: the model uses these from its next step.".into(),
                        ));
                    }
                    Ok(reply) => error.set(Some(reply.error_message())),
                    Err(message) => error.set(Some(message)),
                }
                busy.set(false);
            });
        }
    };
    let reset = move |_| {
        error.set(None);
        note.set(None);
        cluster.refresh();
    };

    let groups = GROUPS
        .iter()
        .map(|(title, group)| {
            let inputs = group
                .iter()
                .map(|field| {
                    let value = fields
                        .iter()
                        .find(|(f, _)| f == &field)
                        .map(|(_, v)| *v)
                        .expect("every field has an input");
                    let id = field.id;
                    view! {
                        <div class="field">
                            <label for=id>{field.label}</label>
                            <input
                                id=id
                                data-testid=id
                                type="text"
                                inputmode=if field.is_count() { "numeric" } else { "decimal" }
                                autocomplete="off"
                                aria-describedby="settings-error"
                                prop:value=move || value.get()
                                on:input=move |ev| value.set(event_target_value(&ev))
                            />
                            <small class="hint">{field.hint}</small>
                        </div>
                    }
                })
                .collect_view();
            view! {
                <fieldset>
                    <legend>{*title}</legend>
                    <div class="settings-grid">{inputs}</div>
                </fieldset>
            }
        })
        .collect_view();

    view! {
        <section
            class="panel settings"
            aria-labelledby="settings-title"
            data-testid="settings"
            hidden=move || !cluster.is_local() || cluster.profile.with(Option::is_none)
        >
            <details>
                <summary>
                    <h2 id="settings-title">"Scaling settings"</h2>
                    <span class="summary-note">
                        {move || {
                            cluster
                                .profile_name()
                                .map(|name| format!("local model, {name} profile: applied live"))
                                .unwrap_or_default()
                        }}
                    </span>
                </summary>
                <form on:submit=submit novalidate data-testid="settings-form">
                    {groups}
                    <div class="form-actions">
                        <button
                            type="submit"
                            class="primary"
                            data-testid="settings-apply"
                            title=move || operator.read_only().then_some(READ_ONLY_NOTE)
                            disabled=move || busy.get() || !operator.can_operate()
                        >
                            {move || if busy.get() { "Applying…" } else { "Apply" }}
                        </button>
                        <button type="button" data-testid="settings-reset" on:click=reset>
                            "Reload current"
                        </button>
                        <p class="form-note" data-testid="settings-note" hidden=move || note.with(Option::is_none)>
                            {move || note.get().unwrap_or_default()}
                        </p>
                    </div>
                    <p
                        id="settings-error"
                        class="form-error"
                        role="alert"
                        data-testid="settings-error"
                        hidden=move || error.with(Option::is_none)
                    >
                        {move || error.get().unwrap_or_default()}
                    </p>
                </form>
            </details>
        </section>
    }
    .into_any()
}
