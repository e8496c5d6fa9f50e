//! The `scaleboard` process stopped with SIGTERM in the middle of a run, as Kubernetes stops a
//! pod: it exits 0 after every task it started has finished — the local worker pods have
//! finished or released their items, the fan-in has deleted what it applied — so no message is
//! left hidden and abandoned, nothing went to poison, and the run completes after a restart.

mod support;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use azurite::{Azurite, Options};
use protocol::durable::{RuntimeStatus, StatusDocument};
use storage::{names, Storage};
use support::{blobs_of_run, eventually, start_run_on, storage_for};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_scaleboard");
const ITEMS: u32 = 200;

fn spawn_server(azurite: &Azurite, port: u16) -> Child {
    Command::new(BIN)
        .env_clear()
        .env("SCALEBOARD_ADDR", format!("127.0.0.1:{port}"))
        // A free port: tests run side by side, and the default port may be taken.
        .env("SCALEBOARD_METRICS_ADDR", "127.0.0.1:0")
        .env(
            "SCALEBOARD_AZURITE_BLOB",
            format!("127.0.0.1:{}", azurite.ports().blob),
        )
        .env(
            "SCALEBOARD_AZURITE_QUEUE",
            format!("127.0.0.1:{}", azurite.ports().queue),
        )
        .env("SCALEBOARD_CLUSTER", "local")
        .env("SCALEBOARD_PROFILE", "demo")
        .env("SCALEBOARD_SAMPLE_INTERVAL_MS", "200")
        .env("LEPTOS_SITE_ROOT", "target/site")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn status(port: u16, id: &str) -> Option<StatusDocument> {
    let url = format!("http://127.0.0.1:{port}{}", protocol::routes::instance(id));
    reqwest::get(url).await.ok()?.json().await.ok()
}

/// Every message of `queue` that can be received right now, by id; with the approximate count,
/// which also counts messages that are hidden.
async fn visible_and_total(storage: &Storage, queue: &str) -> (usize, u64) {
    let total = storage.queue_length(queue).await.unwrap();
    let mut seen = HashSet::new();
    // Each round hides what it got, so the loop ends once every visible message was seen; the
    // bound only guards against a queue that refills.
    for _ in 0..1_000 {
        let batch = storage
            .receive(queue, 32, Duration::from_secs(5))
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        seen.extend(batch.into_iter().map(|m| m.id));
    }
    (seen.len(), total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_run_abandons_no_message_and_the_run_completes_after_a_restart() {
    let azurite = Azurite::start(&Options::for_tests()).unwrap();
    let storage = storage_for(azurite.ports().blob, azurite.ports().queue);
    let port = free_port();
    let mut server = spawn_server(&azurite, port);

    // A run whose items each take a little compute, so pods are busy when the signal comes.
    let id = start_run_on(port, ITEMS, 200_000, Duration::from_secs(30)).await;
    eventually(
        Duration::from_secs(120),
        "some items to complete",
        || async {
            let doc = status(port, &id).await?;
            (doc.custom_status.completed >= 20).then_some(())
        },
    )
    .await;

    let pid = server.id().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap()
        .success());
    let exit = tokio::time::timeout(Duration::from_secs(60), server.wait())
        .await
        .expect("the server exits after SIGTERM")
        .unwrap();
    let mut logs = String::new();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    assert!(exit.success(), "{exit}; logs:\n{logs}");
    assert!(logs.contains("stopped"), "{logs}");
    assert!(!logs.contains("QueueNotFound"), "{logs}");
    assert!(!logs.contains("ContainerNotFound"), "{logs}");

    // Nothing hidden and abandoned: every message still in the queues can be received now.
    for queue in [names::WORK_QUEUE, names::EVENTS_QUEUE] {
        let (visible, total) = visible_and_total(&storage, queue).await;
        assert_eq!(
            visible as u64, total,
            "{queue}: {visible} visible of {total}"
        );
    }
    assert_eq!(storage.queue_length(names::POISON_QUEUE).await.unwrap(), 0);

    // The messages counted above are hidden for a few seconds; a restarted server finishes the
    // run once they are back.
    let port = free_port();
    let mut server = spawn_server(&azurite, port);
    let done = eventually(Duration::from_secs(240), "the run to complete", || async {
        let doc = status(port, &id).await?;
        doc.runtime_status.is_terminal().then_some(doc)
    })
    .await;
    assert_eq!(done.runtime_status, RuntimeStatus::Completed);
    assert_eq!(done.custom_status.completed, ITEMS);
    assert_eq!(done.custom_status.failed, 0);
    let outputs = blobs_of_run(&storage, names::OUTPUT_CONTAINER, &id).await;
    assert_eq!(outputs.len(), ITEMS as usize);
    assert_eq!(storage.queue_length(names::POISON_QUEUE).await.unwrap(), 0);
    server.start_kill().unwrap();
    let _ = server.wait().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
