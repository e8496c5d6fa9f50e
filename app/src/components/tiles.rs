//! The big numbers: queue, pods, nodes and items per second (with the count of parked events
//! beside it when there are any), readable from the back of a room. Each carries its value in
//! `data-*` attributes as well, for tests.

use leptos::prelude::*;
use protocol::live::Sample;

use crate::live::LiveState;
use crate::model::{format, runs};

/// Seconds of samples the items-per-second tile looks back over.
const RATE_SPAN_MS: u64 = 10_000;

#[component]
pub fn Tiles() -> impl IntoView {
    let live = expect_context::<LiveState>();
    // Values from a closed socket or a stale cluster view are the last known, not current:
    // the tiles say so rather than pass them off as live.
    let stale = move || {
        !live.is_live()
            || live
                .latest
                .with(|s| s.as_ref().is_some_and(|s| s.cluster.stale.is_some()))
    };
    let field = move |get: fn(&Sample) -> Option<u64>| {
        move || live.latest.with(|s| s.as_ref().and_then(get))
    };
    let text = |value: Option<u64>| value.map_or_else(|| "—".to_string(), |v| v.to_string());

    let queue = field(|s| s.queue_length);
    let target = field(|s| s.cluster.target_queue_length.map(u64::from));
    let running = field(|s| Some(u64::from(s.cluster.pods_running)));
    let desired = field(|s| s.cluster.desired_replicas.map(u64::from));
    let starting = field(|s| Some(u64::from(s.cluster.pods_starting)));
    let pending = field(|s| Some(u64::from(s.cluster.pods_pending)));
    let terminating = field(|s| Some(u64::from(s.cluster.pods_terminating)));
    let failed = field(|s| Some(u64::from(s.cluster.pods_failed)));
    let total = field(|s| {
        let c = &s.cluster;
        Some(u64::from(
            c.pods_pending + c.pods_starting + c.pods_running + c.pods_terminating,
        ))
    });
    let ready = field(|s| Some(u64::from(s.cluster.nodes_ready)));
    let provisioning = field(|s| Some(u64::from(s.cluster.nodes_provisioning)));
    let parked = field(|s| Some(s.events_poisoned));
    let rate = Memo::new(move |_| {
        live.samples
            .with(|samples| runs::items_per_second(samples, RATE_SPAN_MS))
    });

    view! {
        <section class="tiles" aria-label="Current values" data-stale=move || stale().to_string()>
            <div class="tile" data-kind="queue">
                <div class="tile-label" id="tile-queue">"Queue"</div>
                <div
                    class="tile-value"
                    data-testid="queue-length"
                    data-value=move || text(queue())
                >
                    {move || text(queue())}
                </div>
                <div class="tile-unit">
                    "messages · target "
                    <span data-testid="queue-target" data-value=move || text(target())>
                        {move || text(target())}
                    </span>
                    " per pod"
                </div>
            </div>
            <div class="tile" data-kind="pods">
                <div class="tile-label" id="tile-pods">"Pods running"</div>
                <div class="tile-value">
                    <span
                        data-testid="pods-running"
                        data-running=move || text(running())
                        data-desired=move || text(desired())
                        data-total=move || text(total())
                    >
                        {move || text(running())}
                    </span>
                    <span class="tile-of">
                        " / "
                        {move || text(desired())}
                    </span>
                </div>
                <div class="tile-unit">
                    "of " {move || text(desired())} " desired · " {move || text(starting())}
                    " starting · " {move || text(pending())}
                    " pending · " {move || text(terminating())} " stopping"
                    {move || {
                        failed()
                            .filter(|n| *n > 0)
                            .map(|n| view! { <span class="failed">" · " {n} " failed"</span> })
                    }}
                </div>
            </div>
            <div class="tile" data-kind="nodes">
                <div class="tile-label" id="tile-nodes">"Nodes ready"</div>
                <div
                    class="tile-value"
                    data-testid="nodes-ready"
                    data-ready=move || text(ready())
                    data-provisioning=move || text(provisioning())
                >
                    {move || text(ready())}
                </div>
                <div class="tile-unit">{move || text(provisioning())} " provisioning"</div>
            </div>
            <div class="tile" data-kind="rate">
                <div class="tile-label" id="tile-rate">"Throughput"</div>
                <div
                    class="tile-value"
                    data-testid="throughput"
                    data-value=move || rate.get().map(|r| format!("{r:.2}")).unwrap_or_default()
                >
                    {move || rate.get().map_or_else(|| "—".to_string(), format::rate)}
                </div>
                <div class="tile-unit">
                    "items / s, last 10 s"
                    // Events the server could never apply, parked on `item-events-poison`: shown
                    // only when there are some, since each one is worth a look.
                    <span
                        class="failed"
                        data-testid="events-poisoned"
                        data-value=move || text(parked())
                        title="event messages parked on item-events-poison since the server started"
                    >
                        {move || {
                            parked()
                                .filter(|n| *n > 0)
                                .map(|n| format!(" · {n} events parked"))
                        }}
                    </span>
                </div>
            </div>
        </section>
    }
    .into_any()
}
