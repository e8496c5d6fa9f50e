//! The `scaleboard-worker` process as a pod runs it: configured by environment, healthy on
//! `/healthz`, its metrics on `/metrics` of the same port, done with exit code 0 after SIGTERM.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{completed, Deadline, Env};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scaleboard-worker");

#[tokio::test]
async fn help_explains_every_setting() {
    let output = Command::new(BIN).arg("--help").output().await.unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for setting in [
        "HOSTNAME",
        "SCALEBOARD_WORKER_CONCURRENCY",
        "SCALEBOARD_WORKER_VISIBILITY_SECONDS",
        "SCALEBOARD_WORKER_MAX_DEQUEUE",
        "SCALEBOARD_WORKER_GRACE_SECONDS",
        "SCALEBOARD_EMIT_EVENTS",
        "SCALEBOARD_WORKER_MAX_IDLE_MS",
        "SCALEBOARD_WORKER_HEALTH_ADDR",
        "SCALEBOARD_LOG_FORMAT",
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_ACCOUNT",
        "SCALEBOARD_STORAGE_IDENTITY",
    ] {
        assert!(help.contains(setting), "--help does not mention {setting}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_the_queue_and_exits_zero_on_sigterm() {
    let env = Env::start().await;
    let run = "run-binary";
    for item in 0..3 {
        env.enqueue(run, item, 1000).await;
    }
    let health_port = free_port();

    let mut child = Command::new(BIN)
        .env_clear()
        .env(
            "AZURE_STORAGE_CONNECTION_STRING",
            env.azurite.connection_string(),
        )
        .env("HOSTNAME", "pod-binary")
        .env(
            "SCALEBOARD_WORKER_HEALTH_ADDR",
            format!("127.0.0.1:{health_port}"),
        )
        .env("SCALEBOARD_WORKER_MAX_IDLE_MS", "200")
        .env("SCALEBOARD_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    env.events_until(Duration::from_secs(60), "three completions", |events| {
        completed(events, run).len() == 3
    })
    .await;
    for item in 0..3 {
        assert_eq!(env.output(run, item).await.unwrap().worker, "pod-binary");
    }

    let deadline = Deadline::after(Duration::from_secs(20), "/healthz");
    let health = loop {
        match get(health_port, "/healthz").await {
            Some(response) => break response,
            None => deadline.pause().await,
        }
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""workerId":"pod-binary""#), "{health}");
    assert!(health.contains(r#""processed":3"#), "{health}");

    // The same port serves Prometheus: the counts and one duration per completed item.
    let response = get(health_port, "/metrics")
        .await
        .expect("/metrics answers");
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains(&format!(
            "content-type: {}",
            plumbing::metrics::CONTENT_TYPE
        )),
        "{head}"
    );
    let scrape = plumbing::metrics::Scrape::parse(body).unwrap();
    let value = |name: &str| scrape.value(name, &[]);
    assert_eq!(
        value("scaleboard_worker_messages_received_total"),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        value("scaleboard_worker_items_completed_total"),
        Some(3.0),
        "{body}"
    );
    assert_eq!(
        value("scaleboard_worker_items_failed_total"),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        value("scaleboard_worker_messages_poisoned_total"),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        value("scaleboard_worker_messages_released_total"),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        value("scaleboard_worker_item_duration_seconds_count"),
        Some(3.0),
        "{body}"
    );
    assert!(
        value("scaleboard_worker_item_duration_seconds_sum").unwrap() > 0.0,
        "{body}"
    );
    assert_eq!(value("scaleboard_worker_busy"), Some(0.0), "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");

    let pid = child.id().expect("the worker is running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the worker exits after SIGTERM")
        .unwrap();
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    assert!(status.success(), "{status}; logs:\n{logs}");
    // JSON logs, one object per line, ending with the stop.
    assert!(logs.lines().all(|line| line.starts_with('{')), "{logs}");
    assert!(logs.contains("worker stopped"), "{logs}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The raw HTTP response of `path`, or `None` while nothing listens.
async fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    Some(response)
}
