//! Scaleboard's project commands, run as `cargo xtask <command>`.
//!
//! `demo` starts everything on a fresh machine, `test` runs every check CI runs, `build` builds
//! the server and the hydrated site without cargo-leptos (which takes half an hour to install
//! here), `images` builds the container images with podman and runs them. Each installs what it
//! needs when missing: the wasm and musl targets with rustup, Azurite and wasm-opt from npm
//! (pinned, with a lockfile, in `tools/`), Playwright from npm in `end2end/`, and Chromium,
//! podman, runc and musl-tools from Debian's packages.
//!
//! # Layout
//! - `paths`: the workspace, the target folder, the site folder.
//! - `tools`: finds or installs the wasm target, npm packages and Chromium.
//! - `site`: builds the server and the wasm site (wasm-bindgen, wasm-opt, CSS).
//! - `demo`: Azurite + server until Ctrl-C.
//! - `test`: format, lints, Rust tests, the images, browser tests.
//! - `images`: static binaries and the two container images, built with podman; `smoke` runs
//!   them against Azurite; `podman` installs and drives the engine; `dockerfile` reads the
//!   recipes so the local ones can be checked against the registry ones; `http` is the smoke
//!   test's small HTTP client.
//! - `bench`: the benchmarks, with figures saved to `<target>/bench/report.txt`.
//! - `process`: child processes that are stopped on Ctrl-C and never orphaned.

mod bench;
mod demo;
mod dockerfile;
mod http;
mod images;
mod paths;
mod podman;
mod process;
mod site;
mod smoke;
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
    /// Build the server and worker container images with podman (static binaries, no base
    /// image to pull) and run them against Azurite.
    Images(images::ImagesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Tests and benches find Azurite through this (see `azurite::tools_dir`): set here, it names
    // this clone's tools even when their binaries were built from another clone's sources.
    if std::env::var_os("SCALEBOARD_TOOLS_DIR").is_none() {
        std::env::set_var("SCALEBOARD_TOOLS_DIR", paths::root().join("tools"));
    }
    let result = match cli.command {
        Command::Build(args) => site::build(&args).map(|_| ()),
        Command::Demo(args) => demo::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Images(args) => images::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
