//! What the benchmarks share: settings from the environment and a private Azurite with
//! Scaleboard's containers and queues.

#![allow(dead_code)]

use azurite::{Azurite, Options};
use storage::{Storage, StorageArgs};

/// A number from the environment, or `default` when unset or not a number.
pub fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A fresh Azurite and a client with the resources created. Keep the Azurite alive: dropping
/// it stops the emulator.
pub async fn private_storage() -> (Azurite, Storage) {
    let azurite = Azurite::start(&Options::for_tests()).expect("start Azurite");
    let account = StorageArgs::azurite(azurite.ports().blob, azurite.ports().queue)
        .account()
        .unwrap();
    let storage = Storage::connect(&account, storage::Role::Server).unwrap();
    storage.ensure_resources().await.unwrap();
    (azurite, storage)
}

/// A server on a free loopback port, started the one way every server starts
/// (`server::start`), with the given cluster view and one sample a second.
pub async fn start_server(
    storage: &Storage,
    cluster: server::startup::ClusterChoice,
) -> server::Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    server::start(
        server::Settings {
            storage: storage.clone(),
            engine: server::orchestrator::EngineConfig::default(),
            api: server::durable::ApiSettings {
                operator_key: None,
                viewer_key: None,
                max_input_count: 1_000_000,
                max_cost: 100_000_000,
                default_cost: 0,
                trust_forwarded: false,
                public_url: None,
            },
            cluster,
            sample_interval: std::time::Duration::from_secs(1),
            history: 3600,
            site_root: "target/site".into(),
            hosts: server::guard::HostPolicy::for_bind("127.0.0.1:0".parse().unwrap(), &[], false)
                .unwrap(),
        },
        listener,
    )
    .await
    .expect("start a server")
}

/// The real `scaleboard` binary on a free loopback port, on `azurite`, with `env` on top
/// (its metrics listener on a free port too); the process and its port.
pub fn spawn_server(azurite: &Azurite, env: &[(&str, &str)]) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_ADDR", format!("127.0.0.1:{port}"))
        // A free port: benchmarks may run beside a demo holding the default one.
        .env("SCALEBOARD_METRICS_ADDR", "127.0.0.1:0")
        .env(
            "SCALEBOARD_AZURITE_BLOB",
            format!("127.0.0.1:{}", azurite.ports().blob),
        )
        .env(
            "SCALEBOARD_AZURITE_QUEUE",
            format!("127.0.0.1:{}", azurite.ports().queue),
        )
        .env("RUST_LOG", "warn")
        .env_remove("AZURE_STORAGE_CONNECTION_STRING")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the server");
    (server, port)
}
