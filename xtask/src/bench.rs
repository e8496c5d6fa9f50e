//! `cargo xtask bench`: every benchmark, release builds, figures printed and saved.
//!
//! Storage benchmarks run against a private Azurite and report ratios to the raw SDK rate
//! measured in the same run, since Azurite (one single-threaded Node.js process per service) is the
//! ceiling on any machine.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::{paths, process, site, tools};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Run only the benchmarks whose name contains this (apply, engine, live_fanout, demo_run,
    /// throughput, reconcile_cost, soak).
    #[arg(long)]
    pub only: Option<String>,
}

/// (package, bench target, what it measures)
const BENCHES: [(&str, &str, &str); 9] = [
    (
        "orchestration",
        "apply",
        "state machine apply rate (criterion)",
    ),
    ("server", "engine", "fan-out / fan-in vs raw SDK"),
    (
        "server",
        "expensive_requests",
        "100 maximum PNG exports + 100 maximum replays at once: /healthz p99, peak RSS",
    ),
    (
        "protocol",
        "snapshot",
        "a new viewer's snapshot: one hour of history and 50 active runs",
    ),
    (
        "worker",
        "throughput",
        "worker items/s vs raw SDK, 1/4/16 consumers",
    ),
    (
        "server",
        "live_fanout",
        "1,000 / 5,000 / 10,000 WebSocket clients at 4 samples/s: lag, server RSS",
    ),
    (
        "server",
        "demo_run",
        "demo-profile run of 500 items: replica and node series",
    ),
    (
        "server",
        "reconcile_cost",
        "one reconciliation pass: list calls and bytes for 1,000 and 20,000 items",
    ),
    (
        "server",
        "soak",
        "one 20,000-item run through the local system: items/s over time, peak RSS, a new viewer's first frame",
    ),
];

pub fn run(args: &BenchArgs) -> Result<()> {
    tools::ensure_tools()?;
    let target = paths::target_dir()?;
    let report_path = target.join("bench").join("report.txt");
    std::fs::create_dir_all(report_path.parent().expect("has a parent"))?;
    let mut report = String::new();
    for (package, bench, what) in BENCHES {
        if args
            .only
            .as_deref()
            .is_some_and(|only| !bench.contains(only))
        {
            continue;
        }
        eprintln!("━━ {bench}: {what}");
        let mut command = Command::new(paths::cargo());
        command
            .args(["bench", "--package", package, "--bench", bench])
            .current_dir(paths::root())
            .stdout(Stdio::piped());
        if bench == "apply" {
            command.args(["--", "--noplot"]);
        }
        eprintln!("» {}", process::describe(&command));
        let output = command
            .spawn()
            .and_then(|child| child.wait_with_output())
            .with_context(|| format!("running benchmark {bench}"))?;
        let text = String::from_utf8_lossy(&output.stdout);
        std::io::stdout().write_all(text.as_bytes())?;
        if !output.status.success() {
            bail!("benchmark {bench} failed ({})", output.status);
        }
        report.push_str(&format!("## {bench}: {what}\n{text}\n"));
    }
    if args
        .only
        .as_deref()
        .is_none_or(|only| "browser".contains(only))
    {
        // The page's own timings (first chart paint, sample → pixel lag, bundle size), in
        // Chromium against a real server: Playwright's test tagged @perf prints them.
        eprintln!("━━ browser: first chart paint, sample-to-pixel lag, wasm size");
        let built = site::build(&site::BuildArgs::default())?;
        crate::test::browser_tests(&built, &["--grep", "@perf", "--reporter", "list"])?;
        report.push_str(
            "## browser: see the Playwright output above (tagged @perf)
",
        );
    }
    std::fs::write(&report_path, report)
        .with_context(|| format!("writing {}", report_path.display()))?;
    eprintln!("━━ report saved to {}", report_path.display());
    Ok(())
}
