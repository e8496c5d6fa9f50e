//! `scaleboard-worker`: reads its settings, works the queue until SIGTERM or Ctrl-C, exits 0.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use plumbing::{cancel_on_signal, telemetry, LogFormat};
use storage::{names, Storage, StorageArgs};
use tokio_util::sync::CancellationToken;
use worker::{health, Progress, WorkerArgs};

/// Scaleboard's queue worker.
///
/// Takes work items from the `work-items` queue of an Azure Storage account (Azurite on
/// 127.0.0.1 unless told otherwise), computes each, writes its result to the `output` container
/// and reports it on the `item-events` queue. Safe to run many of and to stop at any time: on
/// SIGTERM it finishes or hands back the item in hand, then exits 0.
#[derive(Debug, Parser)]
#[command(name = "scaleboard-worker", version)]
struct Cli {
    #[command(flatten)]
    worker: WorkerArgs,

    /// Address for the `/healthz` endpoint of the kubelet's probes, e.g. 0.0.0.0:8080. None
    /// without it.
    #[arg(long, env = "SCALEBOARD_WORKER_HEALTH_ADDR")]
    health_addr: Option<SocketAddr>,

    /// Log format: `text` for a terminal, `json` for a log collector. Levels with RUST_LOG.
    #[arg(long, env = "SCALEBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(flatten)]
    storage: StorageArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let telemetry = telemetry::init(cli.log_format, "info,azure_core=warn", "scaleboard-worker");
    let code = match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("scaleboard-worker: {e:#}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown();
    code
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.worker.config();
    config.validate()?;
    let account = cli
        .storage
        .account()
        .context("storage settings are not usable")?;
    let storage = Storage::connect(&account, storage::Role::Worker)
        .context("cannot set up storage clients")?;

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(
        shutdown.clone(),
        "shutting down: finishing or releasing the items in hand",
    ));
    let progress = Arc::new(Progress::default());

    // The health endpoint outlives the worker loops so that it can answer "stopping" during
    // the grace period.
    let health_done = CancellationToken::new();
    let health = match cli.health_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for /healthz"))?;
            let router =
                health::router(config.worker_id.clone(), progress.clone(), shutdown.clone());
            tracing::info!(
                "health endpoint on http://{}/healthz",
                listener.local_addr()?
            );
            Some(tokio::spawn(health::serve(
                listener,
                router,
                health_done.clone(),
            )))
        }
        None => None,
    };

    tracing::info!(
        worker = %config.worker_id,
        queue = names::WORK_QUEUE,
        storage = storage.queue_endpoint(),
        emit_events = config.emit_events,
        "working the queue"
    );
    let result = worker::run_with(storage, config, progress, shutdown).await;
    health_done.cancel();
    if let Some(health) = health {
        health
            .await
            .context("the health endpoint stopped unexpectedly")?
            .context("serving /healthz")?;
    }
    result?;
    Ok(())
}
