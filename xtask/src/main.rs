//! Scaleboard's project commands, run as `cargo xtask <command>`.
//!
//! `demo` starts everything on a fresh machine, `test` runs every check CI runs, `build` builds
//! the server and the hydrated site without cargo-leptos (which takes half an hour to install
//! here). Each installs what it needs when missing: the wasm target with rustup, Azurite and
//! wasm-opt from npm (pinned, with a lockfile, in `tools/`), Playwright from npm in `end2end/`,
//! and Chromium from Debian's packages.
//!
//! # Layout
//! - `paths`: the workspace, the target folder, the site folder.
//! - `tools`: finds or installs the wasm target, npm packages and Chromium.
//! - `site`: builds the server and the wasm site (wasm-bindgen, wasm-opt, CSS).
//! - `demo`: Azurite + server until Ctrl-C.
//! - `test`: format, lints, Rust tests, browser tests.
//! - `bench`: the benchmarks, with figures saved to `<target>/bench/report.txt`.
//! - `process`: child processes that are stopped on Ctrl-C and never orphaned.

mod bench;
mod demo;
mod paths;
mod process;
mod site;
mod test;
mod tools;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Scaleboard's project commands")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the server and the site (wasm, JavaScript, CSS) into the target folder.
    Build(site::BuildArgs),
    /// Start Azurite and the server, print the dashboard's URL; Ctrl-C stops everything.
    Demo(demo::DemoArgs),
    /// Run every check: formatting, clippy, Rust unit and integration tests, browser tests.
    Test(test::TestArgs),
    /// Run the benchmarks (release builds, private Azurite) and save the figures.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => site::build(&args).map(|_| ()),
        Command::Demo(args) => demo::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
