//! Builds what cargo-leptos would: the server with `ssr`, the `app` crate for wasm with
//! `hydrate`, wasm-bindgen's JavaScript glue, an optimised wasm and the CSS, into
//! `<target>/site/pkg`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::{paths, process, tools};

/// The name of the generated files, as `[[workspace.metadata.leptos]] output-name` says.
pub const OUTPUT_NAME: &str = "scaleboard";

#[derive(Clone, Debug, Default, clap::Args)]
pub struct BuildArgs {
    /// Build the server with the release profile (the wasm is always size-optimised).
    #[arg(long)]
    pub release: bool,
    /// Skip wasm-opt (faster; the wasm is about twice as large).
    #[arg(long)]
    pub no_opt: bool,
}

/// What a build produced.
#[derive(Debug)]
pub struct Built {
    pub server: PathBuf,
    pub site: PathBuf,
}

pub fn build(args: &BuildArgs) -> Result<Built> {
    let started = Instant::now();
    let target = paths::target_dir()?;
    let mut server = Command::new(paths::cargo());
    server.args(["build", "--package", "server", "--bin", "scaleboard"]);
    if args.release {
        server.arg("--release");
    }
    process::run(server.current_dir(paths::root()))?;
    let site = build_site(args)?;
    eprintln!(
        "» server and site built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(Built {
        server: paths::server_bin(&target, args.release),
        site,
    })
}

/// Builds the site alone (wasm, JavaScript glue, CSS, icons) and returns its folder.
pub fn build_site(args: &BuildArgs) -> Result<PathBuf> {
    let started = Instant::now();
    tools::ensure_wasm_target()?;
    let tools_dir = tools::ensure_tools()?;
    let target = paths::target_dir()?;

    process::run(
        Command::new(paths::cargo())
            .args([
                "build",
                "--package",
                "app",
                "--lib",
                "--target",
                tools::WASM_TARGET,
                "--profile",
                "wasm-release",
                "--no-default-features",
                "--features",
                "hydrate",
            ])
            .current_dir(paths::root()),
    )?;

    let site = paths::site_dir(&target);
    let pkg = site.join("pkg");
    fs::create_dir_all(&pkg).with_context(|| format!("creating {}", pkg.display()))?;
    let input = target
        .join(tools::WASM_TARGET)
        .join("wasm-release")
        .join("app.wasm");
    let wasm = pkg.join(format!("{OUTPUT_NAME}_bg.wasm"));
    if newer(&wasm, &input) {
        eprintln!("» site is up to date with {}", input.display());
    } else {
        bindgen(&input, &pkg)?;
        if !args.no_opt {
            optimise(&tools::wasm_opt(&tools_dir), &wasm)?;
        }
    }
    copy_assets(&site, &pkg)?;
    for file in [
        wasm.clone(),
        pkg.join(format!("{OUTPUT_NAME}.js")),
        pkg.join(format!("{OUTPUT_NAME}.css")),
    ] {
        gzip(&file)?;
    }
    let raw = fs::metadata(&wasm)?.len();
    let gz = fs::metadata(gz_path(&wasm))?.len();
    eprintln!(
        "» site built in {:.1} s: wasm {} KB raw, {} KB gzip",
        started.elapsed().as_secs_f64(),
        raw / 1024,
        gz / 1024
    );
    Ok(site)
}

fn bindgen(input: &Path, pkg: &Path) -> Result<()> {
    eprintln!("» wasm-bindgen {} → {}", input.display(), pkg.display());
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(input)
        .out_name(OUTPUT_NAME)
        .web(true)
        .context("configuring wasm-bindgen")?
        .typescript(false)
        .generate(pkg)
        .context("running wasm-bindgen")
}

fn optimise(wasm_opt: &Path, wasm: &Path) -> Result<()> {
    if !wasm_opt.exists() {
        bail!(
            "{} is missing: run `npm ci --prefix tools`",
            wasm_opt.display()
        );
    }
    let optimised = wasm.with_extension("opt.wasm");
    process::run(
        Command::new(wasm_opt)
            .arg("-Oz")
            .args([
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
                "--enable-reference-types",
                "--enable-multivalue",
            ])
            .arg(wasm)
            .arg("-o")
            .arg(&optimised),
    )?;
    fs::rename(&optimised, wasm).with_context(|| format!("replacing {}", wasm.display()))
}

/// CSS into `pkg/`, public files (icons) into the site root.
fn copy_assets(site: &Path, pkg: &Path) -> Result<()> {
    let root = paths::root();
    let css = root.join("style/main.css");
    fs::copy(&css, pkg.join(format!("{OUTPUT_NAME}.css")))
        .with_context(|| format!("copying {}", css.display()))?;
    let public = root.join("public");
    if let Ok(entries) = fs::read_dir(&public) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                fs::copy(entry.path(), site.join(entry.file_name()))
                    .with_context(|| format!("copying {}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}

/// Writes `file.gz` beside `file`; the server sends it to browsers that accept gzip.
fn gzip(file: &Path) -> Result<()> {
    let data = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 3),
        flate2::Compression::best(),
    );
    encoder.write_all(&data)?;
    let compressed = encoder.finish()?;
    fs::write(gz_path(file), compressed).with_context(|| format!("writing {}.gz", file.display()))
}

fn gz_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// Whether `output` exists and is newer than `input`.
fn newer(output: &Path, input: &Path) -> bool {
    let time = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((time(output), time(input)), (Some(o), Some(i)) if o > i)
}
