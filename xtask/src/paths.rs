//! Where things are.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

/// The workspace root (the folder above `xtask/`).
///
/// Read at run time first (`cargo run`, hence `cargo xtask`, sets `CARGO_MANIFEST_DIR`): the
/// value compiled in names the clone that built this binary, and two clones that share a
/// target folder (CI's cache and a working copy, say) may run a binary the other one built.
pub fn root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Cargo's target folder, as cargo itself resolves it (CARGO_TARGET_DIR, config, default).
pub fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return Ok(if dir.is_absolute() {
            dir
        } else {
            root().join(dir)
        });
    }
    let output = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root())
        .output()
        .context("running `cargo metadata`")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let key = "\"target_directory\":\"";
    let start = text
        .find(key)
        .map(|i| i + key.len())
        .context("`cargo metadata` printed no target_directory")?;
    let end = text[start..]
        .find('"')
        .context("`cargo metadata` output is cut short")?;
    Ok(PathBuf::from(
        text[start..start + end].replace("\\\\", "\\"),
    ))
}

/// The built site: `pkg/` with the wasm, JavaScript and CSS.
pub fn site_dir(target: &Path) -> PathBuf {
    target.join("site")
}

/// The server binary for a profile.
pub fn server_bin(target: &Path, release: bool) -> PathBuf {
    target
        .join(if release { "release" } else { "debug" })
        .join("scaleboard")
}

/// The cargo that runs us, so a rustup toolchain override is respected.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Project-local state of the demo: Azurite's data and log.
pub fn data_dir() -> PathBuf {
    std::env::var_os("SCALEBOARD_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".scaleboard"))
}
