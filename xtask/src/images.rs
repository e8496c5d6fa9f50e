//! `cargo xtask images`: the server and worker container images, built on this machine with
//! podman, then run by the smoke test.
//!
//! No base image can be pulled here (only package registries are reachable), so the images are
//! not built from `deploy/docker/*.Dockerfile` (multi-stage recipes over `rust:` and distroless
//! images, for `docker build` and `az acr build`) but from `deploy/docker/*.local.Dockerfile`:
//! `FROM scratch` with static musl binaries, the hydrated site and Debian's CA bundle, with the
//! same user, entrypoint, ports, environment and paths (the tests below compare them).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{ensure, Context, Result};

use crate::dockerfile::{self, FinalStage};
use crate::site::{self, BuildArgs};
use crate::{paths, podman, process, smoke, tools};

/// The static target: binaries that need nothing from the image.
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
/// The cargo profile of the binaries in the images (see `[profile.image]` in Cargo.toml).
pub const PROFILE: &str = "image";

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Build the images without running the smoke test.
    #[arg(long)]
    pub no_smoke: bool,
}

/// One of the two images.
#[derive(Clone, Copy, Debug)]
pub struct Image {
    /// The image's name, as in the registry recipes (`scaleboard-server`, `scaleboard-worker`).
    pub name: &'static str,
    /// The registry recipe under deploy/docker.
    pub dockerfile: &'static str,
    /// The recipe for images built here from prebuilt files.
    pub local_dockerfile: &'static str,
    pub package: &'static str,
    pub binary: &'static str,
    /// Whether the context carries the site.
    pub site: bool,
}

pub const SERVER: Image = Image {
    name: "scaleboard-server",
    dockerfile: "deploy/docker/server.Dockerfile",
    local_dockerfile: "deploy/docker/server.local.Dockerfile",
    package: "server",
    binary: "scaleboard",
    site: true,
};

pub const WORKER: Image = Image {
    name: "scaleboard-worker",
    dockerfile: "deploy/docker/worker.Dockerfile",
    local_dockerfile: "deploy/docker/worker.local.Dockerfile",
    package: "worker",
    binary: "scaleboard-worker",
    site: false,
};

impl Image {
    /// The local reference, tagged with the workspace's version.
    pub fn reference(&self) -> String {
        format!("localhost/{}:{}", self.name, env!("CARGO_PKG_VERSION"))
    }
}

pub fn run(args: &ImagesArgs) -> Result<()> {
    let started = Instant::now();
    let site = site::build_site(&BuildArgs::default())?;
    build(&site)?;
    if !args.no_smoke {
        smoke::run()?;
    }
    eprintln!("━━ images done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Installs what is missing, builds the static binaries and both images (with `site` in the
/// server's), and prints their sizes.
pub fn build(site: &Path) -> Result<()> {
    for image in [SERVER, WORKER] {
        check_agreement(image)?;
    }
    podman::ensure()?;
    tools::ensure_target(MUSL_TARGET)?;
    let started = Instant::now();
    let mut cargo = Command::new(paths::cargo());
    cargo.args([
        "build",
        "--locked",
        "--profile",
        PROFILE,
        "--target",
        MUSL_TARGET,
    ]);
    for image in [SERVER, WORKER] {
        cargo.args(["--package", image.package, "--bin", image.binary]);
    }
    process::run(cargo.current_dir(paths::root()))?;
    eprintln!(
        "» static binaries built in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let target = paths::target_dir()?;
    let binaries = target.join(MUSL_TARGET).join(PROFILE);
    for image in [SERVER, WORKER] {
        let started = Instant::now();
        let context = stage(&target, &binaries, image, site)?;
        process::run(
            podman::command()
                .args(["build", "--quiet", "--file"])
                .arg(paths::root().join(image.local_dockerfile))
                .args(["--tag", &image.reference()])
                .arg(&context),
        )?;
        eprintln!(
            "» {} built in {:.1} s",
            image.reference(),
            started.elapsed().as_secs_f64()
        );
    }
    let list = podman::output(podman::command().args([
        "image",
        "ls",
        "--filter",
        "reference=localhost/scaleboard-*",
        "--format",
        "{{.Repository}}:{{.Tag}}  {{.Size}}",
    ]))?;
    eprintln!("» images:\n{}", list.trim_end());
    Ok(())
}

/// Fills `<target>/images/<name>` with what the local Dockerfile copies.
fn stage(target: &Path, binaries: &Path, image: Image, site: &Path) -> Result<PathBuf> {
    let context = target.join("images").join(image.name);
    if context.exists() {
        fs::remove_dir_all(&context).with_context(|| format!("clearing {}", context.display()))?;
    }
    fs::create_dir_all(&context).with_context(|| format!("creating {}", context.display()))?;
    let binary = binaries.join(image.binary);
    fs::copy(&binary, context.join(image.binary))
        .with_context(|| format!("copying {}", binary.display()))?;
    fs::copy(podman::CA_BUNDLE, context.join("ca-certificates.crt"))
        .with_context(|| format!("copying {}", podman::CA_BUNDLE))?;
    if image.site {
        copy_dir(site, &context.join("site"))?;
    }
    Ok(context)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&path, &dest)?;
        } else {
            fs::copy(&path, &dest).with_context(|| format!("copying {}", path.display()))?;
        }
    }
    Ok(())
}

/// Checks that the image built here runs like the one a registry builds from `image.dockerfile`:
/// same user, entrypoint, ports, environment, labels and working folder, with the binary, the
/// CA bundle and (for the server) the site where those point.
pub fn check_agreement(image: Image) -> Result<()> {
    let read = |path: &str| -> Result<FinalStage> {
        let path = paths::root().join(path);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        dockerfile::parse(&text).with_context(|| format!("reading {}", path.display()))
    };
    let registry = read(image.dockerfile)?;
    let local = read(image.local_dockerfile)?;
    let differs = |what: &str| {
        format!(
            "{} and {} differ in {what}",
            image.local_dockerfile, image.dockerfile
        )
    };
    ensure!(
        local.from == "scratch",
        "{} is not FROM scratch",
        image.local_dockerfile
    );
    ensure!(local.user == registry.user, differs("USER"));
    ensure!(
        local.entrypoint == registry.entrypoint,
        differs("ENTRYPOINT")
    );
    ensure!(local.expose == registry.expose, differs("EXPOSE"));
    ensure!(local.env == registry.env, differs("ENV"));
    ensure!(local.labels == registry.labels, differs("LABEL"));
    ensure!(local.workdir == registry.workdir, differs("WORKDIR"));
    let binary = format!("/app/{}", image.binary);
    ensure!(
        local.entrypoint == [binary.clone()],
        "{}: the entrypoint is not {binary}",
        image.local_dockerfile
    );
    ensure!(
        local.copies_to(&binary) && local.copies_to(podman::CA_BUNDLE),
        "{}: nothing copies {binary} and {}",
        image.local_dockerfile,
        podman::CA_BUNDLE
    );
    ensure!(
        local.copies.iter().all(|c| c.from.is_none()),
        "{}: copies from another stage, but it only has prebuilt files",
        image.local_dockerfile
    );
    // The registry recipe installs its outputs under /out/ and copies them to /app/ (or the
    // binary straight to its place).
    ensure!(
        registry
            .copies
            .iter()
            .any(|c| c.from.as_deref() == Some("builder")
                && (c.dest == binary || (c.dest == "/app/" && c.sources == ["/out/"]))),
        "{}: its binary does not land at {binary}",
        image.dockerfile
    );
    if image.site {
        let site_root = registry
            .env
            .get("LEPTOS_SITE_ROOT")
            .with_context(|| format!("{}: no LEPTOS_SITE_ROOT", image.dockerfile))?;
        ensure!(
            local.copies_to(site_root),
            "{}: nothing copies the site to {site_root}",
            image.local_dockerfile
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_recipes_agree_with_the_registry_recipes() {
        for image in [SERVER, WORKER] {
            check_agreement(image).unwrap_or_else(|e| panic!("{e:#}"));
        }
    }

    #[test]
    fn a_drift_is_caught() {
        let drifted = Image {
            dockerfile: WORKER.dockerfile,
            ..SERVER
        };
        let error = check_agreement(drifted).unwrap_err().to_string();
        assert!(error.contains("differ in"), "{error}");
    }

    /// What the smoke test and the manifests rely on: user 65532, the ports, the site.
    #[test]
    fn the_images_run_as_65532_on_their_ports() {
        for (image, port, key) in [
            (SERVER, "3000", "SCALEBOARD_ADDR"),
            (WORKER, "8080", "SCALEBOARD_WORKER_HEALTH_ADDR"),
        ] {
            let text = fs::read_to_string(paths::root().join(image.local_dockerfile)).unwrap();
            let stage = dockerfile::parse(&text).unwrap();
            assert_eq!(stage.user.as_deref(), Some("65532:65532"));
            assert_eq!(stage.expose, [port]);
            assert!(stage.env[key].ends_with(&format!(":{port}")), "{key}");
        }
    }
}
