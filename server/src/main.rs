//! `scaleboard`: reads its settings, wires the tasks, serves until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use server::config::{Config, LogFormat};
use server::live::Hub;
use server::{app, sampler, AppState};
use storage::Storage;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    init_logging(config.log_format);
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
    let account = config
        .storage
        .account()
        .context("storage settings are not usable")?;
    let storage = Storage::connect(&account).context("cannot set up storage clients")?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow::anyhow!(
                "address {} is already in use (is another Scaleboard running?); choose another with --addr or SCALEBOARD_ADDR",
                config.addr
            ),
            _ => anyhow::Error::new(e).context(format!("cannot listen on {}", config.addr)),
        })?;
    let addr = listener.local_addr().context("reading the bound address")?;

    let shutdown = CancellationToken::new();
    let hub = Hub::new(
        usize::try_from(config.history).unwrap_or(usize::MAX),
        config.sample_interval(),
    );
    let state = AppState {
        storage: storage.clone(),
        hub: hub.clone(),
        leptos: app::leptos_options(&config.site_root, addr),
        shutdown: shutdown.clone(),
    };
    if !config.site_root.join("pkg").is_dir() {
        tracing::warn!(
            site_root = %config.site_root.display(),
            "no built site here: pages render but will not hydrate; run `cargo xtask build`"
        );
    }

    tokio::spawn(app::prepare_storage(storage.clone(), shutdown.clone()));
    tokio::spawn(sampler::run(
        storage.clone(),
        hub,
        config.sample_interval(),
        shutdown.clone(),
    ));
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    tracing::info!(
        storage = storage.queue_endpoint(),
        "Scaleboard listening on http://{addr}"
    );
    server::serve(listener, state)
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(())
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what Kubernetes sends).
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM: {e}");
            let _ = ctrl_c.await;
            shutdown.cancel();
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,azure_core=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
