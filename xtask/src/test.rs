//! `cargo xtask test`: every check, in the order that fails fastest.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use azurite::Ports;

use crate::demo::{self, StackOptions};
use crate::site::{self, BuildArgs};
use crate::{images, paths, process, smoke, tools};

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Skip the browser tests (Playwright in Chromium).
    #[arg(long)]
    pub no_browser: bool,
    /// Skip formatting and lint checks.
    #[arg(long)]
    pub no_lint: bool,
    /// Skip building and running the container images (they need root for podman).
    #[arg(long)]
    pub no_images: bool,
    /// Skip the Rust tests (to run the later stages again).
    #[arg(long)]
    pub no_rust_tests: bool,
    /// Run only the browser tests whose title or file matches this pattern (Playwright's
    /// `--grep`), and skip the official client's tests: for working on a few specs.
    #[arg(long, value_name = "PATTERN")]
    pub browser_grep: Option<String>,
}

pub fn run(args: &TestArgs) -> Result<()> {
    let started = Instant::now();
    let root = paths::root();
    let mut steps: Vec<(&str, f64)> = Vec::new();
    let mut step = |name: &'static str, work: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        let t = Instant::now();
        eprintln!("━━ {name}");
        work().with_context(|| format!("step `{name}` failed"))?;
        steps.push((name, t.elapsed().as_secs_f64()));
        Ok(())
    };

    if !args.no_lint {
        step("format", &mut || {
            process::run(
                Command::new(paths::cargo())
                    .args(["fmt", "--all", "--", "--check"])
                    .current_dir(&root),
            )
        })?;
        step("clippy", &mut || {
            process::run(
                Command::new(paths::cargo())
                    .args([
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ])
                    .current_dir(&root),
            )
        })?;
        step("clippy (browser build)", &mut || {
            tools::ensure_wasm_target()?;
            process::run(
                Command::new(paths::cargo())
                    .args([
                        "clippy",
                        "--package",
                        "app",
                        "--lib",
                        "--target",
                        tools::WASM_TARGET,
                        "--no-default-features",
                        "--features",
                        "hydrate",
                        "--",
                        "-D",
                        "warnings",
                    ])
                    .current_dir(&root),
            )
        })?;
    }

    let mut built = None;
    step("build", &mut || {
        built = Some(site::build(&BuildArgs::default())?);
        Ok(())
    })?;
    let built = built.expect("the build step sets it");

    if !args.no_rust_tests {
        step("rust tests", &mut || {
            tools::ensure_tools()?;
            process::run(
                Command::new(paths::cargo())
                    .args(["test", "--workspace"])
                    .env("SCALEBOARD_SERVER_BIN", &built.server)
                    .env("LEPTOS_SITE_ROOT", &built.site)
                    .current_dir(&root),
            )
        })?;
    }

    if args.browser_grep.is_none() {
        step("official Durable Functions client", &mut || {
            official_client(&built)
        })?;
    }

    if !args.no_browser {
        step("browser tests", &mut || match &args.browser_grep {
            Some(pattern) => browser_tests(&built, &["--grep", pattern, "--grep-invert", "@perf"]),
            None => browser_tests(&built, &["--grep-invert", "@perf"]),
        })?;
    }

    // Last: the slowest stage (static release builds for the images), so that every faster
    // check has reported first.
    if !args.no_images {
        step("images", &mut || {
            images::build(&built.site)?;
            smoke::run()
        })?;
    }

    eprintln!(
        "━━ all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    for (name, secs) in &steps {
        eprintln!("   {name:<24} {secs:>6.1} s");
    }
    Ok(())
}

/// The official Durable Functions Python client (`azure-functions-durable`, pinned in
/// `end2end/durable-client/requirements.txt`, installed from PyPI into a virtual environment
/// under the target folder) driving a real server on a real Azurite, as a function host's client
/// binding does: on loopback, with no key (the clients cannot send one on their RPC calls). No
/// cluster model: the runs complete through raised events, so nothing computes meanwhile.
fn official_client(built: &site::Built) -> Result<()> {
    let dir = paths::root().join("end2end").join("durable-client");
    let python = tools::ensure_python_env(&dir.join("requirements.txt"))?;
    let stack = test_stack(built, &[("SCALEBOARD_CLUSTER", "none")])?;
    let status = process::status(
        Command::new(&python)
            .args(["-m", "unittest", "-v", "test_official_client"])
            .env("SCALEBOARD_BASE_URL", &stack.url)
            .current_dir(&dir),
    )?;
    drop(stack);
    if !status.success() {
        bail!("the official Durable Functions client's tests failed ({status})");
    }
    Ok(())
}

/// The operator key of the browser tests' keyed server.
const OPERATOR_KEY: &str = "browser-test-operator-key";

/// A server on a free loopback port over a private Azurite on free ports, with `server_env`.
/// Its metrics listen on a free port too: the browser tests run two servers at once.
fn test_stack(built: &site::Built, server_env: &[(&str, &str)]) -> Result<demo::Stack> {
    let mut env = vec![("SCALEBOARD_METRICS_ADDR", "127.0.0.1:0")];
    env.extend_from_slice(server_env);
    demo::start_stack(&StackOptions {
        server_bin: &built.server,
        site: &built.site,
        addr: demo::free_addr()?,
        azurite_ports: Ports::ANY,
        data_dir: None,
        log_file: None,
        server_env: &env,
    })
}

/// Playwright in Debian's Chromium against a real server on a real Azurite.
pub fn browser_tests(built: &site::Built, playwright_args: &[&str]) -> Result<()> {
    tools::ensure_chromium()?;
    let end2end = paths::root().join("end2end");
    tools::ensure_npm_packages(&end2end)?;
    let stack = test_stack(built, &[])?;
    // A second server with an operator key, for the read-only dashboard and sign-in.
    let keyed = test_stack(
        built,
        &[
            ("SCALEBOARD_API_KEY", OPERATOR_KEY),
            ("SCALEBOARD_CLUSTER", "none"),
        ],
    )?;
    let status = process::status(
        Command::new("npx")
            .args(["playwright", "test"])
            .args(playwright_args)
            .env("SCALEBOARD_BASE_URL", &stack.url)
            .env(
                "AZURE_STORAGE_CONNECTION_STRING",
                stack.azurite.connection_string(),
            )
            .env("CHROMIUM_PATH", tools::CHROMIUM)
            .env("SCALEBOARD_KEYED_BASE_URL", &keyed.url)
            .env("SCALEBOARD_OPERATOR_KEY", OPERATOR_KEY)
            .current_dir(&end2end),
    )?;
    drop(keyed);
    drop(stack);
    if !status.success() {
        bail!("Playwright tests failed ({status}); report in end2end/playwright-report");
    }
    Ok(())
}
