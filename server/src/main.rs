//! `scaleboard`: reads its settings, wires the tasks, serves until Ctrl-C or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use server::cluster::local::LocalCluster;
use server::cluster::{ClusterKind, ClusterView, NoCluster};
use server::config::{Config, SimulateArgs, Subcommand};
use server::durable::ApiSettings;
use server::live::Hub;
use server::orchestrator::{Engine, EngineConfig};
use server::{app, sampler, AppState};
use storage::Storage;
use tokio_util::sync::CancellationToken;
use worker::process::{cancel_on_signal, init_logging};

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
    let engine = Engine::start(
        storage.clone(),
        EngineConfig {
            fan_out_concurrency: config.fan_out_concurrency as usize,
            max_input_count: config.max_input_count,
            ..EngineConfig::default()
        },
        shutdown.clone(),
    );
    let (cluster, local) = cluster_view(&config, &storage, &shutdown).await?;
    let state = AppState {
        storage: storage.clone(),
        hub: hub.clone(),
        engine,
        local,
        api: ApiSettings {
            api_key: config.api_key.clone(),
            max_input_count: config.max_input_count,
            max_cost: config.max_cost,
            default_cost: config.default_cost(),
        },
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
        sampler::Sources {
            engine: state.engine.clone(),
            cluster,
        },
        hub,
        config.sample_interval(),
        shutdown.clone(),
    ));
    tokio::spawn(cancel_on_signal(shutdown.clone(), "shutting down"));

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

/// The cluster view the settings ask for.
async fn cluster_view(
    config: &Config,
    storage: &Storage,
    shutdown: &CancellationToken,
) -> anyhow::Result<(Arc<dyn ClusterView>, Option<LocalCluster>)> {
    Ok(match config.cluster.kind {
        ClusterKind::Local => {
            let profile = config
                .policy
                .profile()
                .map_err(|e| anyhow::anyhow!("scaling policy: {e}"))?;
            tracing::info!(profile = %profile.name, "local cluster model");
            let local = LocalCluster::new(
                storage.clone(),
                profile,
                worker::WorkerConfig::default(),
                shutdown.clone(),
            );
            (Arc::new(local.clone()), Some(local))
        }
        ClusterKind::Kube => (kube_view(config, shutdown).await, None),
        ClusterKind::None => (Arc::new(NoCluster), None),
    })
}

/// The Kubernetes view, or, when it cannot be set up, a view that says why on every sample so
/// the rest of the dashboard keeps working.
async fn kube_view(config: &Config, shutdown: &CancellationToken) -> Arc<dyn ClusterView> {
    match server::cluster::kube::KubeView::start(&config.cluster, shutdown.clone()).await {
        Ok(view) => {
            tracing::info!(
                namespace = view.namespace(),
                "watching the Kubernetes cluster"
            );
            Arc::new(view)
        }
        Err(e) => {
            let reason = e.to_string();
            tracing::error!("{reason}");
            Arc::new(server::cluster::Unavailable {
                source: protocol::live::ClusterSource::Kube,
                reason,
            })
        }
    }
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
