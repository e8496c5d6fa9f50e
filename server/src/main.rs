//! `scaleboard`: reads its settings, wires the tasks, serves until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use plumbing::{cancel_on_signal, init_logging};
use server::config::{Config, SimulateArgs, Subcommand};
use server::startup::Settings;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(Subcommand::Simulate(args)) = &config.command {
        return simulate(args);
    }
    init_logging(config.log_format, "info,tower_http=warn,azure_core=warn");
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("scaleboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let settings = Settings::from_config(&config)?;
    let storage_endpoint = settings.storage.queue_endpoint().to_string();
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
                "address {} is already in use (is another Scaleboard running?); choose another with --addr or SCALEBOARD_ADDR",
                config.addr
            ),
            _ => anyhow::Error::new(e).context(format!("cannot listen on {}", config.addr)),
        })?;
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
