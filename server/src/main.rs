//! `scaleboard`: reads its settings, wires the tasks, serves until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use plumbing::{cancel_on_signal, telemetry};
use server::config::{Config, ReplayArgs, SimulateArgs, Subcommand};
use server::startup::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(Subcommand::Simulate(args)) = &config.command {
        return simulate(args);
    }
    let telemetry = telemetry::init(
        config.log_format,
        "info,tower_http=warn,azure_core=warn",
        "scaleboard",
    );
    let code = if let Some(Subcommand::Replay(args)) = &config.command {
        let args = args.clone();
        match replay(&config, &args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                eprintln!("scaleboard replay: {e:#}");
                ExitCode::FAILURE
            }
        }
    } else {
        match run(config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                eprintln!("scaleboard: {e:#}");
                ExitCode::FAILURE
            }
        }
    };
    telemetry.shutdown();
    code
}

async fn run(config: Config) -> anyhow::Result<()> {
    let settings = Settings::from_config(&config)?;
    let storage_endpoint = settings.storage.queue_endpoint().to_string();
    let listener = listen(&config).await?;
    let metrics_listener = match config.metrics_addr.0 {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            anyhow::Error::new(e).context(format!(
                "cannot listen on {addr} for /metrics; choose another address with --metrics-addr or SCALEBOARD_METRICS_ADDR, or `off`"
            ))
        })?),
        None => None,
    };
    let running = server::startup::start_with(settings, listener, metrics_listener).await?;
    tokio::spawn(cancel_on_signal(running.shutdown_token(), "shutting down"));
    tracing::info!(
        storage = storage_endpoint,
        "Scaleboard listening on http://{}",
        running.addr()
    );
    if let Some(addr) = running.metrics_addr() {
        tracing::info!("metrics on http://{addr}/metrics");
    }
    running.stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn listen(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
                "address {} is already in use (is another Scaleboard running?); choose another with --addr or SCALEBOARD_ADDR",
                config.addr
            ),
            _ => anyhow::Error::new(e).context(format!("cannot listen on {}", config.addr)),
        })
}

/// `scaleboard replay FILE`: the recording served as the dashboard until Ctrl-C or SIGTERM.
async fn replay(config: &Config, args: &ReplayArgs) -> anyhow::Result<()> {
    let recording = server::playback::load(&args.file)?;
    let settings = server::playback::ReplaySettings::from_config(config, recording, args.speed)?;
    let (run, samples) = (
        settings.recording.run_id().to_string(),
        settings.recording.samples.len(),
    );
    let listener = listen(config).await?;
    let replaying = server::playback::serve(settings, listener).await?;
    tokio::spawn(cancel_on_signal(
        replaying.shutdown_token(),
        "shutting down",
    ));
    tracing::info!(
        run,
        samples,
        speed = args.speed,
        "Scaleboard replaying on http://{}",
        replaying.addr()
    );
    replaying.stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `scaleboard simulate`: the trace through the rules, CSV on stdout.
fn simulate(args: &SimulateArgs) -> ExitCode {
    let run = || -> anyhow::Result<()> {
        let profile = args
            .policy
            .profile()
            .map_err(|e| anyhow::anyhow!("scaling policy: {e}"))?;
        let text = std::fs::read_to_string(&args.trace)
            .with_context(|| format!("reading {}", args.trace.display()))?;
        let trace = autoscale::parse_trace_csv(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.trace.display()))?;
        let simulation = autoscale::simulate(profile, &trace);
        print!("{}", simulation.to_csv());
        eprintln!("node-hours: {:.3}", simulation.node_hours());
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scaleboard simulate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
