//! The state machine's own apply rate, in process: how many events per second the pure core
//! can fold, which bounds the fan-in rate whatever storage does.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use orchestration::{apply, apply_all, Event, ItemResult, RunId, RunState};

const ITEMS: u32 = 10_000;

fn scheduled_run() -> RunState {
    let mut run = RunState::new(RunId::from_random(7), "ComputeOrchestrator", ITEMS, 0);
    let scheduled = (0..ITEMS).map(|item| Event::ItemScheduled { item, at: 1 });
    apply_all(&mut run, scheduled);
    run
}

fn completions() -> Vec<Event> {
    (0..ITEMS)
        .map(|item| Event::ItemCompleted {
            item,
            result: ItemResult {
                value: u64::from(item) * 31,
                compute_ms: 1000,
            },
            at: 2 + u64::from(item),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply");
    group.throughput(Throughput::Elements(u64::from(ITEMS)));
    group.sample_size(20);
    group.bench_function("10k completions one at a time", |b| {
        b.iter_batched(
            || (scheduled_run(), completions()),
            |(mut run, events)| {
                for event in events {
                    apply(&mut run, event).expect("in range");
                }
                run
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("10k completions in batches of 32", |b| {
        b.iter_batched(
            || (scheduled_run(), completions()),
            |(mut run, events)| {
                for chunk in events.chunks(32) {
                    apply_all(&mut run, chunk.iter().cloned());
                }
                run
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("serialize a 10k-item run", |b| {
        let mut run = scheduled_run();
        apply_all(&mut run, completions());
        b.iter(|| serde_json::to_vec(&run).expect("serializes"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
