//! Settings, from flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::Parser;
use storage::StorageArgs;

/// Scaleboard: a live dashboard for event-driven autoscaling.
///
/// Serves the dashboard and its live feed, and reads the work queue of an Azure Storage account
/// (Azurite on 127.0.0.1 unless told otherwise).
#[derive(Clone, Debug, Parser)]
#[command(name = "scaleboard", version)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "SCALEBOARD_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,

    /// Address to serve Prometheus metrics on (`/metrics`, OpenMetrics text), a listener of its
    /// own so that whoever reaches the dashboard cannot read them; `off` (or empty) for none.
    /// On a cluster, e.g. `0.0.0.0:9464`, with a NetworkPolicy that lets only the scraper in.
    #[arg(
        long,
        env = "SCALEBOARD_METRICS_ADDR",
        default_value = "127.0.0.1:9464"
    )]
    pub metrics_addr: MetricsAddr,

    /// Folder with the built site (`pkg/` with the wasm, JavaScript and CSS), as
    /// `cargo xtask build` writes it.
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    pub site_root: PathBuf,

    /// Milliseconds between two samples of the live feed.
    #[arg(long, env = "SCALEBOARD_SAMPLE_INTERVAL_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub sample_interval_ms: u64,

    /// Samples kept for clients that connect or reconnect (3600 = one hour at 1/s).
    #[arg(long, env = "SCALEBOARD_HISTORY", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(10..=100_000))]
    pub history: u64,

    /// Log format: `text` for a terminal, `json` for a log collector.
    #[arg(long, env = "SCALEBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// The operator key. When set, every call that changes something (starting, terminating,
    /// suspending, resuming, restarting, purging, raising events, the policy) needs it, as an
    /// `Authorization: Bearer <key>` header or `code=<key>` in the query (as Azure Functions).
    /// Reading needs none. Required when listening on an address other than loopback, unless
    /// --allow-anonymous-operators says otherwise.
    #[arg(
        long,
        env = "SCALEBOARD_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub api_key: Option<crate::auth::Secret>,

    /// The viewer key. When set, the dashboard is private: the page, the live feed and every
    /// read need it (or the operator key), as `?code=<key>` in the link (kept in a cookie from
    /// then on) or an `Authorization: Bearer <key>` header. The probes need none.
    #[arg(
        long,
        env = "SCALEBOARD_VIEWER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub viewer_key: Option<crate::auth::Secret>,

    /// Let anyone who reaches the server change things when it listens on an address other
    /// than loopback and has no --api-key. Off by default: a public dashboard without an
    /// operator key lets any visitor start, stop and purge runs.
    #[arg(long, env = "SCALEBOARD_ALLOW_ANONYMOUS_OPERATORS", global = true)]
    pub allow_anonymous_operators: bool,

    /// Host names the dashboard is reached by (comma-separated, or the flag repeated); requests
    /// for other hosts are refused, which stops DNS rebinding. Default: the loopback names when
    /// listening on loopback; required otherwise (`*` answers to any name).
    #[arg(
        long = "allowed-host",
        env = "SCALEBOARD_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_hosts: Vec<String>,

    /// The address the audience reaches the dashboard by, e.g. `https://scaleboard.example.com/`:
    /// the link (and QR code) the Share button shows. http or https, no user name or password,
    /// no query, at most 256 bytes. Without it the link is built from the host a request came
    /// to, when that host is one of the --allowed-host names.
    #[arg(long, env = "SCALEBOARD_PUBLIC_URL", global = true)]
    pub public_url: Option<crate::share::PublicUrl>,

    /// Believe `X-Forwarded-Proto` and `X-Forwarded-Host` when building links: only behind a
    /// proxy that sets them (an ingress), never when clients reach the server directly.
    #[arg(long, env = "SCALEBOARD_TRUST_FORWARDED_HEADERS")]
    pub trust_forwarded_headers: bool,

    /// Items the runs going on may still owe, all together; a run that would pass it is refused
    /// (429 with Retry-After) until some finish.
    #[arg(long, env = "SCALEBOARD_MAX_QUEUED_ITEMS", default_value_t = 200_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub max_queued_items: u64,

    /// Largest number of items one run may have.
    #[arg(long, env = "SCALEBOARD_MAX_INPUT_COUNT", default_value_t = 100_000,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub max_input_count: u32,

    /// Rounds of SHA-256 per item when a run names no `cost`. Default: about one second of one
    /// core per item on a cluster; with the local model, whose pods all share this machine's
    /// cores, an eighth of that, so a demo run drains at a pace an audience can follow.
    #[arg(long, env = "SCALEBOARD_DEFAULT_COST")]
    pub default_cost: Option<u32>,

    /// Largest `cost` a run may ask for.
    #[arg(long, env = "SCALEBOARD_MAX_COST", default_value_t = 100_000_000)]
    pub max_cost: u32,

    /// Items written to storage at the same time while a run fans out.
    #[arg(long, env = "SCALEBOARD_FAN_OUT_CONCURRENCY", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub fan_out_concurrency: u32,

    /// Most items of one run queued and not yet finished: the fan-out waits for items to
    /// finish before it queues more. KEDA scales on the queue's length, so keep it at or above
    /// `maxReplicaCount × queueLength` (500 with KEDA's defaults).
    #[arg(long, env = "SCALEBOARD_FAN_OUT_WINDOW", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub fan_out_window: u32,

    /// Seconds between two listings of each unfinished run's outputs, which count the items
    /// whose completion events were lost (one list call per 5,000 items of a run).
    #[arg(long = "reconcile-interval", env = "SCALEBOARD_RECONCILE_INTERVAL", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub reconcile_interval_secs: u64,

    /// Seconds a received completion event stays hidden while it is applied; one that could
    /// not be applied (its output blob not readable yet) comes back after this long.
    #[arg(long = "event-visibility-seconds", env = "SCALEBOARD_EVENT_VISIBILITY_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub event_visibility_secs: u64,

    /// The delivery on which a completion event that still cannot be applied is parked on
    /// `item-events-poison` with the reason, as a worker parks a work item on its 5th.
    #[arg(long, env = "SCALEBOARD_EVENT_MAX_DEQUEUE", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub event_max_dequeue: u32,

    /// Seconds a server holds a run's lease (the blob lease of its document) before renewing
    /// it; with two servers on one account, how long a standby waits before it takes over the
    /// runs of one that died. Azure Storage grants 15 to 60.
    #[arg(long = "run-lease-seconds", env = "SCALEBOARD_RUN_LEASE_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(15..=60))]
    pub run_lease_secs: u64,

    #[command(flatten)]
    pub storage: StorageArgs,

    #[command(flatten)]
    pub cluster: crate::cluster::ClusterArgs,

    #[command(flatten)]
    pub policy: crate::cluster::policy::PolicyArgs,

    #[command(subcommand)]
    pub command: Option<Subcommand>,
}

/// Commands other than serving.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Subcommand {
    /// Replay a queue-length trace through the scaling rules with a simulated clock and print
    /// one CSV row per second (node-hours go to stderr). The trace is CSV `seconds,queue_length`;
    /// each value holds until the next row.
    Simulate(SimulateArgs),
    /// Serve the dashboard from a recording (`GET /api/runs/{id}/recording`) alone: no storage,
    /// no cluster. The charts, tiles, runs table and timeline replay the run at the chosen
    /// speed, with a banner saying so and controls to pause, seek and change speed. Takes the
    /// serving flags (--addr, --api-key, --viewer-key, --allowed-host, --site-root).
    Replay(ReplayArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct ReplayArgs {
    /// The recording: `scaleboard-<id>.json.gz` as the server gives it.
    pub file: PathBuf,

    /// Times the recorded pace: 1, 2, 5 or 10 (changeable from the page).
    #[arg(long, default_value_t = 1,
          value_parser = clap::builder::PossibleValuesParser::new(["1", "2", "5", "10"])
              .map(|s| s.parse::<u32>().expect("a listed speed is a number")))]
    pub speed: u32,
}

#[derive(Clone, Debug, clap::Args)]
pub struct SimulateArgs {
    /// The trace: CSV with `seconds,queue_length` rows (a header line is optional).
    #[arg(long)]
    pub trace: PathBuf,

    #[command(flatten)]
    pub policy: crate::cluster::policy::PolicyArgs,
}

/// Where `/metrics` is served: an address, or nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsAddr(pub Option<SocketAddr>);

impl std::str::FromStr for MetricsAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<MetricsAddr, String> {
        match text.trim() {
            "" | "off" | "none" => Ok(MetricsAddr(None)),
            addr => addr
                .parse()
                .map(|a| MetricsAddr(Some(a)))
                .map_err(|e| format!("{e}: expected an address such as 127.0.0.1:9464, or `off`")),
        }
    }
}

/// About one second of work per item on one core (measured by the worker crate).
pub const DEFAULT_COST: u32 = worker::DEFAULT_COST;

pub use plumbing::LogFormat;

impl Config {
    /// The cost per item when a run names none (see `--default-cost`).
    pub fn default_cost(&self) -> u32 {
        self.default_cost.unwrap_or(match self.cluster.kind {
            crate::cluster::ClusterKind::Local => DEFAULT_COST / 8,
            _ => DEFAULT_COST,
        })
    }

    pub fn sample_interval(&self) -> Duration {
        Duration::from_millis(self.sample_interval_ms)
    }

    pub fn reconcile_interval(&self) -> Duration {
        Duration::from_secs(self.reconcile_interval_secs)
    }

    pub fn event_visibility(&self) -> Duration {
        Duration::from_secs(self.event_visibility_secs)
    }

    pub fn run_lease(&self) -> Duration {
        Duration::from_secs(self.run_lease_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_port_3000() {
        let config = Config::try_parse_from(["scaleboard"]).unwrap();
        assert_eq!(config.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.sample_interval(), Duration::from_secs(1));
        assert_eq!(
            config.metrics_addr,
            MetricsAddr(Some("127.0.0.1:9464".parse().unwrap()))
        );
        assert_eq!(config.reconcile_interval(), Duration::from_secs(30));
        assert_eq!(config.event_visibility(), Duration::from_secs(60));
        assert_eq!(config.event_max_dequeue, 5);
        assert_eq!(config.run_lease(), Duration::from_secs(30));
        assert_eq!(config.fan_out_window, 1_000);
    }

    #[test]
    fn the_fan_out_window_is_bounded() {
        let config = Config::try_parse_from(["scaleboard", "--fan-out-window", "1"]).unwrap();
        assert_eq!(config.fan_out_window, 1);
        for bad in ["0", "-1", "1000001", "all"] {
            let flag = format!("--fan-out-window={bad}");
            let err = Config::try_parse_from(["scaleboard", flag.as_str()]).unwrap_err();
            assert!(err.to_string().contains("--fan-out-window"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_run_lease_is_what_azure_storage_grants() {
        let config = Config::try_parse_from(["scaleboard", "--run-lease-seconds", "15"]).unwrap();
        assert_eq!(config.run_lease(), Duration::from_secs(15));
        for bad in ["14", "61", "0", "-1", "forever"] {
            let flag = format!("--run-lease-seconds={bad}");
            let err = Config::try_parse_from(["scaleboard", flag.as_str()]).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("--run-lease-seconds"), "{bad}: {err}");
        }
        let err = Config::try_parse_from(["scaleboard", "--run-lease-seconds=61"]).unwrap_err();
        assert!(err.to_string().contains("15..=60"), "{err}");
    }

    #[test]
    fn metrics_can_move_or_be_turned_off() {
        let parse = |value: &str| {
            Config::try_parse_from(["scaleboard", "--metrics-addr", value]).map(|c| c.metrics_addr)
        };
        assert_eq!(
            parse("0.0.0.0:9100").unwrap(),
            MetricsAddr(Some("0.0.0.0:9100".parse().unwrap()))
        );
        assert_eq!(parse("off").unwrap(), MetricsAddr(None));
        assert_eq!(parse("").unwrap(), MetricsAddr(None));
        let err = parse("everywhere").unwrap_err();
        assert!(err.to_string().contains("--metrics-addr"), "{err}");
    }

    #[test]
    fn the_reconcile_interval_is_read_in_seconds_and_bounded() {
        let config = Config::try_parse_from(["scaleboard", "--reconcile-interval", "5"]).unwrap();
        assert_eq!(config.reconcile_interval(), Duration::from_secs(5));
        for bad in ["0", "-1", "soon", "86401"] {
            let flag = format!("--reconcile-interval={bad}");
            let err = Config::try_parse_from(["scaleboard", flag.as_str()]).unwrap_err();
            assert!(
                err.to_string().contains("--reconcile-interval"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_event_delivery_settings_are_bounded() {
        let config = Config::try_parse_from([
            "scaleboard",
            "--event-visibility-seconds",
            "2",
            "--event-max-dequeue",
            "3",
        ])
        .unwrap();
        assert_eq!(config.event_visibility(), Duration::from_secs(2));
        assert_eq!(config.event_max_dequeue, 3);
        for (flag, bad) in [
            ("--event-visibility-seconds", "0"),
            ("--event-visibility-seconds", "3601"),
            ("--event-max-dequeue", "0"),
            ("--event-max-dequeue", "101"),
            ("--event-max-dequeue", "many"),
        ] {
            let arg = format!("{flag}={bad}");
            let err = Config::try_parse_from(["scaleboard", arg.as_str()]).unwrap_err();
            assert!(err.to_string().contains(flag), "{arg}: {err}");
        }
    }

    #[test]
    fn bad_values_are_rejected_with_the_flag_named() {
        let err = Config::try_parse_from(["scaleboard", "--addr", "nowhere"]).unwrap_err();
        assert!(err.to_string().contains("--addr"), "{err}");
        let err = Config::try_parse_from(["scaleboard", "--sample-interval-ms", "5"]).unwrap_err();
        assert!(err.to_string().contains("--sample-interval-ms"), "{err}");
    }

    #[test]
    fn replay_takes_a_file_a_speed_and_the_serving_flags_after_it() {
        let config = Config::try_parse_from([
            "scaleboard",
            "replay",
            "run.json.gz",
            "--addr",
            "127.0.0.1:4000",
            "--speed",
            "5",
        ])
        .unwrap();
        assert_eq!(config.addr, "127.0.0.1:4000".parse().unwrap());
        let Some(Subcommand::Replay(args)) = config.command else {
            panic!("not the replay command");
        };
        assert_eq!((args.file, args.speed), (PathBuf::from("run.json.gz"), 5));
        let err =
            Config::try_parse_from(["scaleboard", "replay", "f", "--speed", "3"]).unwrap_err();
        assert!(err.to_string().contains("--speed"), "{err}");
    }

    #[test]
    fn help_explains_every_setting() {
        let help = <Config as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for setting in [
            "SCALEBOARD_ADDR",
            "AZURE_STORAGE_CONNECTION_STRING",
            "LEPTOS_SITE_ROOT",
        ] {
            assert!(help.contains(setting), "--help does not mention {setting}");
        }
    }
}
