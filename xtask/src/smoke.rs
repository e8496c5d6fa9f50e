//! The images' smoke test: both containers as a cluster runs them (read-only root, user
//! 65532, no shell) against a private Azurite, on the host's network.
//!
//! The server container (no cluster model, so it computes nothing itself) serves the page, the
//! site and its probes and takes a 50-item run; the worker container computes all 50. Then a
//! run of slow items: `podman stop` (SIGTERM, then SIGKILL after the grace period) while the
//! worker holds one must end the worker cleanly within the grace period, its item finished or
//! handed back (the log says which), and a second worker container must then complete the run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use azurite::{Azurite, Ports};
use serde_json::Value;

use crate::images::{SERVER, WORKER};
use crate::{demo, http, podman, tools};

/// Items of the first run, computed by the worker container.
const ITEMS: u32 = 50;
/// SHA-256 rounds per item of the first run: a few milliseconds each.
const QUICK_COST: u32 = 200_000;
/// Rounds per item of the run stopped midway: several seconds each, so the worker is sure to
/// hold one when it is stopped.
const SLOW_COST: u32 = 100_000_000;
/// Seconds `podman stop` waits after SIGTERM before SIGKILL (the pod's grace period).
const STOP_GRACE_SECONDS: u64 = 30;
/// Hang guard for anything the test waits for; not a speed requirement.
const HANG_GUARD: Duration = Duration::from_secs(300);

pub fn run() -> Result<()> {
    let started = Instant::now();
    eprintln!("━━ images smoke test");
    podman::ensure()?;
    let tools_dir = tools::ensure_tools()?;
    let azurite = Azurite::start(&azurite::Options {
        ports: Ports::ANY,
        data_dir: None,
        tools_dir,
        log_file: None,
        start_timeout: Duration::from_secs(60),
    })
    .context("starting Azurite")?;
    let ports = azurite.ports();
    let storage = [
        (
            "SCALEBOARD_AZURITE_BLOB",
            format!("127.0.0.1:{}", ports.blob),
        ),
        (
            "SCALEBOARD_AZURITE_QUEUE",
            format!("127.0.0.1:{}", ports.queue),
        ),
    ];

    let server_addr = demo::free_addr()?;
    let metrics_addr = demo::free_addr()?;
    let mut server_env = storage.to_vec();
    server_env.push(("SCALEBOARD_ADDR", server_addr.to_string()));
    server_env.push(("SCALEBOARD_METRICS_ADDR", metrics_addr.to_string()));
    server_env.push(("SCALEBOARD_CLUSTER", "none".into()));
    let server = Container::start(&SERVER.reference(), "server", &server_env)?;
    wait_for(&server, "the server's /healthz", || {
        Ok(http::get(server_addr, "/healthz").is_ok_and(|r| r.status == 200))
    })?;
    check_server(server_addr, metrics_addr)?;

    let (worker, worker_addr) = start_worker(&storage, "worker-1")?;
    let run = start_run(server_addr, ITEMS, QUICK_COST)?;
    let output = wait_for_run(&server, server_addr, &run)?;
    ensure!(
        output["completed"] == ITEMS && output["failed"] == 0,
        "the run's output is not {ITEMS} completed items: {output}"
    );
    let health = worker_health(worker_addr)?;
    ensure!(
        health["stats"]["processed"] == ITEMS,
        "the worker container did not compute all {ITEMS} items: {health}"
    );
    eprintln!("» the worker container computed the {ITEMS} items: {output}");
    let scraped = openmetrics(worker_addr, "the worker's health port")?;
    ensure!(
        scraped.contains(&format!("scaleboard_worker_items_completed_total {ITEMS}")),
        "the worker's /metrics does not count {ITEMS} items: {scraped}"
    );
    let scraped = openmetrics(metrics_addr, "the server's metrics port")?;
    ensure!(
        scraped.contains(&format!("scaleboard_items_completed_total {ITEMS}")),
        "the server's /metrics does not count {ITEMS} items: {scraped}"
    );
    eprintln!("» /metrics on the worker's health port and the server's metrics port count the {ITEMS} items");

    // A run of slow items, and a stop while the worker holds one.
    let slow = start_run(server_addr, 3, SLOW_COST)?;
    wait_for(&worker, "the worker to hold an item", || {
        Ok(worker_health(worker_addr)?["busy"]
            .as_u64()
            .is_some_and(|busy| busy > 0))
    })?;
    let stopping = Instant::now();
    podman::output(podman::command().args([
        "stop",
        "--time",
        &STOP_GRACE_SECONDS.to_string(),
        &worker.name,
    ]))?;
    let stop_secs = stopping.elapsed().as_secs_f64();
    let exit = worker.exit_code()?;
    let logs = worker.logs()?;
    ensure!(
        exit == 0,
        "the worker exited with {exit} on SIGTERM (137: killed after the grace period):\n{logs}"
    );
    ensure!(
        logs.contains("worker stopped") && logs.contains("abandoned: 0"),
        "the worker's log has no clean stop:\n{logs}"
    );
    let released = logs.contains("shutting down: released the message");
    eprintln!(
        "» the worker stopped in {stop_secs:.1} s with exit code 0 (grace {STOP_GRACE_SECONDS} s); its item was {}",
        if released {
            "handed back"
        } else {
            "finished"
        }
    );
    drop(worker);

    let (second, _) = start_worker(&storage, "worker-2")?;
    let output = wait_for_run(&server, server_addr, &slow)?;
    ensure!(
        output["completed"] == 3 && output["failed"] == 0,
        "the stopped run did not complete after a second worker took over: {output}"
    );
    eprintln!("» a second worker container completed the stopped run: {output}");
    drop(second);

    podman::output(podman::command().args(["stop", "--time", "30", &server.name]))?;
    let exit = server.exit_code()?;
    ensure!(
        exit == 0,
        "the server exited with {exit} on SIGTERM:\n{}",
        server.logs()?
    );
    drop(server);
    drop(azurite);
    eprintln!(
        "» smoke test passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `/` renders the dashboard and points at the site, the site is in the image, `/readyz` sees
/// storage; `/metrics` is served on its own port in OpenMetrics text and not on the main one.
fn check_server(addr: SocketAddr, metrics_addr: SocketAddr) -> Result<()> {
    let page = http::get(addr, "/")?;
    ensure!(page.status == 200, "GET / answered {}", page.status);
    let html = page.text();
    let wasm = format!("/pkg/{}_bg.wasm", crate::site::OUTPUT_NAME);
    ensure!(
        html.contains("/pkg/scaleboard.js"),
        "GET / does not load the site's script: {}",
        html.chars().take(400).collect::<String>()
    );
    let asset = http::get(addr, &wasm)?;
    ensure!(
        asset.status == 200 && asset.body.starts_with(b"\0asm"),
        "GET {wasm} answered {} without wasm: the site is not in the image",
        asset.status
    );
    let ready = http::get(addr, "/readyz")?;
    ensure!(
        ready.status == 200,
        "GET /readyz answered {}: {}",
        ready.status,
        ready.text()
    );
    let main_port = http::get(addr, "/metrics")?;
    ensure!(
        main_port.status == 404,
        "GET /metrics on the main port answered {}; it belongs on the metrics port only",
        main_port.status
    );
    openmetrics(metrics_addr, "the server's metrics port")?;
    eprintln!(
        "» server container: / 200 ({} KB), {wasm} 200 ({} KB), /readyz 200, /metrics 404 on the main port and OpenMetrics on {metrics_addr}",
        page.body.len() / 1024,
        asset.body.len() / 1024
    );
    Ok(())
}

/// `GET /metrics` at `addr`: 200 in OpenMetrics text, ending with `# EOF`; its text.
fn openmetrics(addr: SocketAddr, what: &str) -> Result<String> {
    let response = http::get(addr, "/metrics").with_context(|| format!("scraping {what}"))?;
    let text = response.text();
    ensure!(
        response.status == 200 && text.contains("# TYPE ") && text.trim_end().ends_with("# EOF"),
        "GET /metrics on {what} answered {} without OpenMetrics text: {}",
        response.status,
        text.chars().take(400).collect::<String>()
    );
    Ok(text)
}

fn start_worker(storage: &[(&str, String)], id: &str) -> Result<(Container, SocketAddr)> {
    let health = demo::free_addr()?;
    let mut env = storage.to_vec();
    env.push(("SCALEBOARD_WORKER_HEALTH_ADDR", health.to_string()));
    env.push(("HOSTNAME", format!("smoke-{id}")));
    let worker = Container::start(&WORKER.reference(), id, &env)?;
    wait_for(&worker, "the worker's /healthz", || {
        Ok(http::get(health, "/healthz").is_ok_and(|r| r.status == 200))
    })?;
    Ok((worker, health))
}

fn worker_health(addr: SocketAddr) -> Result<Value> {
    let response = http::get(addr, "/healthz")?;
    serde_json::from_slice(&response.body).context("the worker's /healthz is not JSON")
}

/// Starts a run over the HTTP API; returns the path of its status document.
fn start_run(addr: SocketAddr, items: u32, cost: u32) -> Result<String> {
    let path = format!("/api/orchestrators/ComputeOrchestrator?inputCount={items}&cost={cost}");
    let response = http::request(addr, "POST", &path)?;
    ensure!(
        response.status == 202,
        "POST {path} answered {}: {}",
        response.status,
        response.text()
    );
    let location = response
        .header("location")
        .context("the start answer has no Location")?;
    let status_path = location
        .find("/runtime/")
        .map(|i| location[i..].to_owned())
        .with_context(|| format!("unexpected Location {location}"))?;
    Ok(status_path)
}

/// Waits until the run is `Completed` and returns its output.
fn wait_for_run(server: &Container, addr: SocketAddr, status_path: &str) -> Result<Value> {
    let mut output = Value::Null;
    wait_for(server, "the run to complete", || {
        let response = http::get(addr, status_path)?;
        let document: Value = serde_json::from_slice(&response.body)
            .with_context(|| format!("the status of {status_path} is not JSON"))?;
        match document["runtimeStatus"].as_str() {
            Some("Completed") => {
                output = document["output"].clone();
                Ok(true)
            }
            Some("Running" | "Pending") => Ok(false),
            _ => bail!("the run ended otherwise: {document}"),
        }
    })?;
    Ok(output)
}

/// Polls `ready` until it says yes; fails if `container` stops meanwhile or the hang guard
/// runs out.
fn wait_for(
    container: &Container,
    what: &str,
    mut ready: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        if ready()? {
            return Ok(());
        }
        if !container.running()? {
            bail!(
                "waiting for {what}: the {} container stopped:\n{}",
                container.name,
                container.logs()?
            );
        }
        if Instant::now() > deadline {
            bail!(
                "waiting for {what}: nothing after {} s:\n{}",
                HANG_GUARD.as_secs(),
                container.logs()?
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A container started detached; removed (killed if need be) when dropped.
struct Container {
    name: String,
}

impl Container {
    /// Runs `image` as a cluster would: read-only root, user 65532, host network (Azurite
    /// listens on the host's loopback).
    fn start(image: &str, role: &str, env: &[(&str, String)]) -> Result<Container> {
        let name = format!("scaleboard-smoke-{role}-{}", std::process::id());
        let _ = podman::output(podman::command().args(["rm", "--force", &name]));
        let mut command = podman::command();
        command.args([
            "run",
            "--detach",
            "--name",
            &name,
            "--read-only",
            "--network",
            "host",
            "--user",
            "65532:65532",
        ]);
        for (key, value) in env {
            command.args(["--env", &format!("{key}={value}")]);
        }
        command.arg(image);
        podman::output(&mut command)?;
        Ok(Container { name })
    }

    fn running(&self) -> Result<bool> {
        let state = podman::output(podman::command().args([
            "inspect",
            "--format",
            "{{.State.Running}}",
            &self.name,
        ]))?;
        Ok(state.trim() == "true")
    }

    fn exit_code(&self) -> Result<i64> {
        let code = podman::output(podman::command().args([
            "inspect",
            "--format",
            "{{.State.ExitCode}}",
            &self.name,
        ]))?;
        code.trim()
            .parse()
            .with_context(|| format!("exit code {code:?}"))
    }

    /// Standard output and error of the container, interleaved as podman keeps them.
    fn logs(&self) -> Result<String> {
        let output = podman::command()
            .args(["logs", &self.name])
            .output()
            .context("running `podman logs`")?;
        Ok(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman::command()
            .args(["rm", "--force", "--time", "5", &self.name])
            .output();
    }
}
