//! Finds, or installs when missing, what the build, the demo and the tests need.
//!
//! Everything comes from a package registry: the wasm target through rustup, npm packages at
//! the versions in the committed lockfiles, Chromium from Debian's packages. Nothing downloads a
//! binary from anywhere else (Debian's `binaryen` is avoided: its wasm-opt output breaks in the
//! browser; npm's `binaryen` works).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::paths;
use crate::process;

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Adds the wasm target with rustup when it is not installed.
pub fn ensure_wasm_target() -> Result<()> {
    ensure_target(WASM_TARGET)
}

/// Adds a Rust target with rustup when it is not installed.
pub fn ensure_target(target: &str) -> Result<()> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .with_context(|| {
            format!("running `rustup` (the {target} build needs a rustup toolchain)")
        })?;
    if String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    process::run(Command::new("rustup").args(["target", "add", target]))
}

/// The project's pinned tools (Azurite, wasm-opt), installed with `npm ci` when missing or
/// older than the lockfile.
pub fn ensure_tools() -> Result<PathBuf> {
    let dir = paths::root().join("tools");
    ensure_npm_packages(&dir)?;
    Ok(dir)
}

/// `npm ci` in `dir` unless its `node_modules` matches the lockfile already.
pub fn ensure_npm_packages(dir: &Path) -> Result<()> {
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let fresh = match (modified(&lock), modified(&installed)) {
        (Some(lock), Some(installed)) => installed >= lock,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    if Command::new("npm").arg("--version").output().is_err() {
        bail!(
            "npm is not installed: install Node.js 20 and npm (e.g. `apt-get install nodejs npm`)"
        );
    }
    process::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir),
    )
}

/// npm's wasm-opt (binaryen), from the project's tools.
pub fn wasm_opt(tools: &Path) -> PathBuf {
    tools.join("node_modules/.bin/wasm-opt")
}

/// Debian's Chromium, installed with apt-get when missing.
pub fn ensure_chromium() -> Result<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.exists() {
        return Ok(path);
    }
    apt_install(&["chromium"])?;
    if !path.exists() {
        bail!("apt-get installed chromium but {CHROMIUM} is still missing");
    }
    Ok(path)
}

/// Whether we run as root (and so may install Debian packages).
pub fn is_root() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    euid == 0
}

/// Installs Debian `packages` with apt-get (as root; otherwise says what to run). Waits for
/// another apt-get holding the lock instead of failing.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let list = packages.join(" ");
    if !is_root() {
        bail!("missing Debian packages: run `sudo apt-get update && sudo apt-get install -y {list}`, then try again");
    }
    process::run(Command::new("apt-get").args(["update", "-q"]))?;
    process::run(
        Command::new("apt-get")
            .args([
                "install",
                "-y",
                "-q",
                "-o",
                "DPkg::Lock::Timeout=600",
                "--no-install-recommends",
            ])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .with_context(|| format!("installing {list}"))
}

/// A Python virtual environment with `requirements` installed (from PyPI, pinned), kept under
/// the target folder and refreshed when the requirements change; returns its interpreter.
pub fn ensure_python_env(requirements: &Path) -> Result<PathBuf> {
    let venv = paths::target_dir()?.join("python-durable-client");
    let python = venv.join("bin").join("python");
    let stamp = venv.join("installed-requirements.txt");
    let wanted = std::fs::read_to_string(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    process::run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )?;
    process::run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(requirements),
    )?;
    std::fs::write(&stamp, wanted).context("recording the installed requirements")?;
    Ok(python)
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
