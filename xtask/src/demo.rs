//! `cargo xtask demo`: Azurite and the server, until Ctrl-C; with `--replay FILE`, the server
//! replaying a recording instead (no Azurite, no cluster).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use azurite::{Azurite, Ports};
use clap::builder::TypedValueParser as _;

use crate::site::{self, BuildArgs};
use crate::{paths, process, tools};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address of the dashboard.
    #[arg(long, env = "SCALEBOARD_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// First of Azurite's three ports (blob, queue, table); 0 picks free ports.
    #[arg(long, env = "SCALEBOARD_AZURITE_PORT_BASE", default_value_t = 10000)]
    pub azurite_port_base: u16,
    /// Use what the last build produced instead of building.
    #[arg(long)]
    pub no_build: bool,
    /// Replay this recording (`scaleboard replay FILE`) instead of running a live system: no
    /// Azurite, no cluster. `docs/recordings/seed-demo-500.json.gz` is one.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// The replay's speed: 1, 2, 5 or 10 times the recorded pace.
    #[arg(long, default_value_t = 1, requires = "replay",
          value_parser = clap::builder::PossibleValuesParser::new(["1", "2", "5", "10"])
              .map(|s| s.parse::<u32>().expect("a listed speed is a number")))]
    pub speed: u32,
    #[command(flatten)]
    pub build: BuildArgs,
}

/// A running Azurite and server. Dropping it stops both.
pub struct Stack {
    pub azurite: Azurite,
    pub server: Child,
    pub url: String,
}

impl Drop for Stack {
    fn drop(&mut self) {
        process::stop(&mut self.server, Duration::from_secs(10));
        self.azurite.stop();
    }
}

/// Where the stack keeps its data, and on which ports.
pub struct StackOptions<'a> {
    pub server_bin: &'a Path,
    pub site: &'a Path,
    pub addr: SocketAddr,
    pub azurite_ports: Ports,
    /// Azurite's data folder; a temporary one when `None`.
    pub data_dir: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    /// More environment for the server (`SCALEBOARD_CLUSTER=none`, an operator key, …).
    pub server_env: &'a [(&'a str, &'a str)],
}

/// Starts Azurite, then the server against it, and waits until the server answers.
pub fn start_stack(options: &StackOptions) -> Result<Stack> {
    if !options.server_bin.exists() {
        bail!(
            "{} does not exist: run `cargo xtask build` first",
            options.server_bin.display()
        );
    }
    let tools_dir = tools::ensure_tools()?;
    let azurite = Azurite::start(&azurite::Options {
        ports: options.azurite_ports,
        data_dir: options.data_dir.clone(),
        tools_dir,
        log_file: options.log_file.clone(),
        start_timeout: Duration::from_secs(60),
    })
    .context("starting Azurite")?;
    let ports = azurite.ports();
    let mut command = Command::new(options.server_bin);
    command
        .env("SCALEBOARD_ADDR", options.addr.to_string())
        .env("LEPTOS_SITE_ROOT", options.site)
        .env(
            "SCALEBOARD_AZURITE_BLOB",
            format!("127.0.0.1:{}", ports.blob),
        )
        .env(
            "SCALEBOARD_AZURITE_QUEUE",
            format!("127.0.0.1:{}", ports.queue),
        )
        // The local demo always uses its own Azurite, whatever the shell has configured.
        .env_remove("AZURE_STORAGE_CONNECTION_STRING")
        .env_remove("AZURE_STORAGE_ACCOUNT")
        .envs(options.server_env.iter().copied());
    process::die_with_parent(&mut command);
    let server = command
        .spawn()
        .with_context(|| format!("starting {}", options.server_bin.display()))?;
    let mut stack = Stack {
        azurite,
        server,
        url: format!("http://{}", options.addr),
    };
    wait_until_healthy(&mut stack.server, options.addr)?;
    Ok(stack)
}

pub fn run(args: &DemoArgs) -> Result<()> {
    ensure_free(args.addr)?;
    let (server_bin, site) = if args.no_build {
        let target = paths::target_dir()?;
        (
            paths::server_bin(&target, args.build.release),
            paths::site_dir(&target),
        )
    } else {
        let built = site::build(&args.build)?;
        (built.server, built.site)
    };

    let (stop_tx, stop_rx) = mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .context("installing the Ctrl-C handler")?;

    if let Some(file) = &args.replay {
        return replay(args, file, &server_bin, &site, &stop_rx);
    }

    let data = paths::data_dir();
    let ports = Ports::from_base(args.azurite_port_base);
    let mut stack = start_stack(&StackOptions {
        server_bin: &server_bin,
        site: &site,
        addr: args.addr,
        azurite_ports: ports,
        data_dir: Some(data.join("azurite")),
        log_file: Some(data.join("azurite.log")),
        server_env: &[],
    })?;
    let azurite_ports = stack.azurite.ports();
    println!(
        "Azurite: blob http://127.0.0.1:{}, queue http://127.0.0.1:{} (pids {}, data in {})",
        azurite_ports.blob,
        azurite_ports.queue,
        stack
            .azurite
            .pids()
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        data.join("azurite").display()
    );
    println!(
        "Scaleboard is running at {}  (Ctrl-C stops everything)",
        stack.url
    );

    loop {
        match stop_rx.recv_timeout(Duration::from_millis(250)) {
            Ok(()) => {
                println!("stopping…");
                drop(stack);
                println!("stopped");
                return Ok(());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = stack.server.try_wait() {
                    drop(stack);
                    bail!("the server stopped on its own ({status})");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("the Ctrl-C handler went away"),
        }
    }
}

/// `scaleboard replay FILE` until Ctrl-C.
fn replay(
    args: &DemoArgs,
    file: &Path,
    server_bin: &Path,
    site: &Path,
    stop_rx: &mpsc::Receiver<()>,
) -> Result<()> {
    let file = file
        .canonicalize()
        .with_context(|| format!("{} cannot be read", file.display()))?;
    let mut command = Command::new(server_bin);
    command
        .arg("replay")
        .arg(&file)
        .args(["--speed", &args.speed.to_string()])
        .env("SCALEBOARD_ADDR", args.addr.to_string())
        .env("LEPTOS_SITE_ROOT", site);
    process::die_with_parent(&mut command);
    let mut server = command
        .spawn()
        .with_context(|| format!("starting {}", server_bin.display()))?;
    if let Err(e) = wait_until_healthy(&mut server, args.addr) {
        process::stop(&mut server, Duration::from_secs(10));
        return Err(e);
    }
    println!(
        "Scaleboard is replaying {} at http://{}  (Ctrl-C stops it)",
        file.display(),
        args.addr
    );
    loop {
        match stop_rx.recv_timeout(Duration::from_millis(250)) {
            Ok(()) => {
                process::stop(&mut server, Duration::from_secs(10));
                println!("stopped");
                return Ok(());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = server.try_wait() {
                    bail!("the replay stopped on its own ({status})");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("the Ctrl-C handler went away"),
        }
    }
}

/// Fails early, before starting Azurite, when the dashboard's address is taken.
fn ensure_free(addr: SocketAddr) -> Result<()> {
    match TcpListener::bind(addr) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "address {addr} is already in use (is another Scaleboard running?); choose another with --addr or SCALEBOARD_ADDR"
        ),
        Err(e) => Err(e).with_context(|| format!("checking that {addr} is free")),
    }
}

/// Polls `/healthz` until it answers 200, failing if the server exits first.
fn wait_until_healthy(server: &mut Child, addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.try_wait().context("checking the server")? {
            bail!("the server exited before it was ready ({status})");
        }
        if http_status(addr, "/healthz").is_ok_and(|code| code == 200) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server did not answer on http://{addr}/healthz within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A minimal HTTP/1.1 GET, enough to read a status code without another dependency.
pub fn http_status(addr: SocketAddr, path: &str) -> Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    let text = String::from_utf8_lossy(&head);
    text.get(9..12)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP response: {text:?}"))
}

/// A free port on loopback.
pub fn free_addr() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}
