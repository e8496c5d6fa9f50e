//! A private Azurite (the official Azure Storage emulator) for the demo and for tests.
//!
//! Azurite is installed from npm into the project's `tools/` folder (pinned, with a lockfile);
//! this crate starts it on loopback with its data in a folder of its own, waits until every
//! service accepts connections, and stops it when the handle is dropped. The processes are
//! started with `PR_SET_PDEATHSIG`, so even a parent killed with SIGKILL leaves no Azurite behind.
//!
//! The blob and queue services run as two processes (the package's `azurite-blob` and
//! `azurite-queue`), as Azure serves them from separate front ends. One Node process serving
//! both is single-threaded: every fan-out item (an input blob, then a message) and every worker
//! item (reads and writes on both) would queue behind the other service's requests on one core.
//! The table service is not started; Scaleboard does not use it.
//!
//! Disk persistence is used on purpose: with `--inMemoryPersistence` Azurite froze for tens of
//! seconds after a few thousand messages.
//!
//! # Layout
//! - [`Azurite`]: the running processes and their endpoints.
//! - [`Options`]: ports, data folder, where the npm package lives.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The well-known development account every Azurite accepts.
pub const ACCOUNT: &str = "devstoreaccount1";
/// The development account's well-known key (public, documented by Microsoft; not a secret).
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Ports of the two services Scaleboard uses; `0` asks for a free port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub blob: u16,
    pub queue: u16,
}

impl Ports {
    /// Azurite's own defaults, what tools such as Storage Explorer expect.
    pub const DEFAULT: Ports = Ports {
        blob: 10000,
        queue: 10001,
    };
    /// Free ports chosen by the operating system.
    pub const ANY: Ports = Ports { blob: 0, queue: 0 };

    /// `base` and `base + 1`, or free ports when `base` is 0.
    pub fn from_base(base: u16) -> Ports {
        if base == 0 {
            Ports::ANY
        } else {
            Ports {
                blob: base,
                queue: base.saturating_add(1),
            }
        }
    }
}

/// One of Azurite's services, each run as its own process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Blob,
    Queue,
}

impl Service {
    pub const ALL: [Service; 2] = [Service::Blob, Service::Queue];

    pub fn name(self) -> &'static str {
        match self {
            Service::Blob => "blob",
            Service::Queue => "queue",
        }
    }

    /// The package's entry point for this service alone (`azurite-blob`, `azurite-queue`).
    fn entry(self, tools_dir: &Path) -> PathBuf {
        tools_dir
            .join("node_modules/azurite/dist/src")
            .join(self.name())
            .join("main.js")
    }

    fn port(self, ports: Ports) -> u16 {
        match self {
            Service::Blob => ports.blob,
            Service::Queue => ports.queue,
        }
    }
}

/// How to start Azurite.
#[derive(Clone, Debug)]
pub struct Options {
    pub ports: Ports,
    /// Where Azurite keeps its data; a fresh temporary folder (removed on drop) when `None`.
    pub data_dir: Option<PathBuf>,
    /// The folder whose `node_modules` holds the `azurite` package.
    pub tools_dir: PathBuf,
    /// Where Azurite's own output goes (both services); discarded when `None`.
    pub log_file: Option<PathBuf>,
    /// How long to wait for the services to accept connections.
    pub start_timeout: Duration,
}

impl Options {
    /// Free ports, a temporary data folder, and the workspace's `tools/` folder.
    pub fn for_tests() -> Options {
        Options {
            ports: Ports::ANY,
            data_dir: None,
            tools_dir: tools_dir(),
            log_file: None,
            start_timeout: Duration::from_secs(60),
        }
    }
}

/// Why Azurite could not be started.
#[derive(Debug)]
pub enum Error {
    /// The npm package is not installed where it was looked for.
    NotInstalled { entry: PathBuf },
    /// A requested port is taken by another process.
    PortInUse { port: u16, service: &'static str },
    /// `node` could not be run, or another I/O failure.
    Io { what: String, source: io::Error },
    /// A service exited before it was ready.
    Exited {
        service: &'static str,
        status: String,
        log_hint: String,
    },
    /// Azurite did not open its ports in time.
    Timeout { waited: Duration },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotInstalled { entry } => write!(
                f,
                "Azurite is not installed ({} is missing); run `cargo xtask demo` or `npm ci --prefix tools` to install it",
                entry.display()
            ),
            Error::PortInUse { port, service } => write!(
                f,
                "port {port} for Azurite's {service} service is already in use on 127.0.0.1 (another Azurite? stop it or choose other ports)"
            ),
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Exited {
                service,
                status,
                log_hint,
            } => {
                write!(
                    f,
                    "Azurite's {service} service exited before it was ready ({status}){log_hint}"
                )
            }
            Error::Timeout { waited } => {
                write!(f, "Azurite did not accept connections within {waited:?}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A running Azurite: one process per service. Dropping it stops the processes and removes a
/// temporary data folder.
#[derive(Debug)]
pub struct Azurite {
    children: Vec<(Service, Child)>,
    ports: Ports,
    _temp: Option<tempfile::TempDir>,
}

/// The workspace's `tools/` folder, found from this crate's location at build time or from
/// `SCALEBOARD_TOOLS_DIR`.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SCALEBOARD_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the azurite crate lives inside the workspace")
        .join("tools")
}

impl Azurite {
    /// Starts the blob and queue services and waits until both accept connections.
    pub fn start(options: &Options) -> Result<Azurite, Error> {
        for service in Service::ALL {
            let entry = service.entry(&options.tools_dir);
            if !entry.is_file() {
                return Err(Error::NotInstalled { entry });
            }
        }
        let ports = resolve_ports(options.ports)?;
        let (data_dir, temp) = match &options.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                    what: format!("creating Azurite's data folder {}", dir.display()),
                    source,
                })?;
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("azurite-")
                    .tempdir()
                    .map_err(|source| Error::Io {
                        what: "creating a temporary data folder for Azurite".into(),
                        source,
                    })?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let log = match &options.log_file {
            Some(path) => Some(std::fs::File::create(path).map_err(|source| Error::Io {
                what: format!("creating Azurite's log file {}", path.display()),
                source,
            })?),
            None => None,
        };

        let mut azurite = Azurite {
            children: Vec::with_capacity(Service::ALL.len()),
            ports,
            _temp: temp,
        };
        for service in Service::ALL {
            let child = spawn(options, service, ports, &data_dir, log.as_ref())?;
            azurite.children.push((service, child));
        }
        azurite.wait_ready(options)?;
        Ok(azurite)
    }

    fn wait_ready(&mut self, options: &Options) -> Result<(), Error> {
        let started = Instant::now();
        let addrs = Service::ALL.map(|s| SocketAddr::from(([127, 0, 0, 1], s.port(self.ports))));
        loop {
            for (service, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    let log_hint = options
                        .log_file
                        .as_ref()
                        .map(|p| format!("; see {}", p.display()))
                        .unwrap_or_default();
                    return Err(Error::Exited {
                        service: service.name(),
                        status: status.to_string(),
                        log_hint,
                    });
                }
            }
            let ready = addrs
                .iter()
                .all(|addr| TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok());
            if ready {
                return Ok(());
            }
            if started.elapsed() > options.start_timeout {
                return Err(Error::Timeout {
                    waited: started.elapsed(),
                });
            }
            // Polling a port is the only readiness signal Azurite offers.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// The operating system's ids of the service processes still running.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|(_, child)| child.id()).collect()
    }

    /// `http://127.0.0.1:{port}/devstoreaccount1`
    pub fn blob_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.ports.blob)
    }

    /// `http://127.0.0.1:{port}/devstoreaccount1`
    pub fn queue_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.ports.queue)
    }

    /// A connection string for the development account on this instance's ports.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};BlobEndpoint={};QueueEndpoint={};",
            self.blob_endpoint(),
            self.queue_endpoint()
        )
    }

    /// Stops the services: SIGTERM, then SIGKILL for any still running after a few seconds.
    pub fn stop(&mut self) {
        for (_, child) in &self.children {
            terminate(child);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.children.is_empty() && Instant::now() < deadline {
            self.children
                .retain_mut(|(_, child)| matches!(child.try_wait(), Ok(None)));
            if !self.children.is_empty() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        for (_, mut child) in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.stop();
    }
}

fn resolve_ports(requested: Ports) -> Result<Ports, Error> {
    // Free ports are found by binding port 0 and releasing it; the listeners are held until both
    // are chosen so the same port is not handed out twice.
    let mut held = Vec::new();
    let mut pick = |port: u16, service: &'static str| -> Result<u16, Error> {
        let listener =
            TcpListener::bind(("127.0.0.1", port)).map_err(|source| match source.kind() {
                io::ErrorKind::AddrInUse => Error::PortInUse { port, service },
                _ => Error::Io {
                    what: format!("checking port {port} for Azurite's {service} service"),
                    source,
                },
            })?;
        let chosen = listener
            .local_addr()
            .map_err(|source| Error::Io {
                what: "reading a bound port".into(),
                source,
            })?
            .port();
        held.push(listener);
        Ok(chosen)
    };
    let ports = Ports {
        blob: pick(requested.blob, "blob")?,
        queue: pick(requested.queue, "queue")?,
    };
    drop(held);
    Ok(ports)
}

/// Makes `command`'s process receive SIGTERM when this process dies, even by SIGKILL, so no
/// emulator or server outlives the demo or the test that started it. (Also used by `xtask` for
/// the server it starts.)
#[allow(unsafe_code)]
pub fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent; this is the
    // documented way to tie a child's life to its parent on Linux.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[allow(unsafe_code)]
fn terminate(child: &Child) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: sending a signal to our own child, whose pid has not been reaped yet.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

/// Starts one service. Both share the data folder (each keeps its own database files there) and
/// the log file.
fn spawn(
    options: &Options,
    service: Service,
    ports: Ports,
    data_dir: &Path,
    log: Option<&std::fs::File>,
) -> Result<Child, Error> {
    let name = service.name();
    let mut command = Command::new("node");
    command
        .arg(service.entry(&options.tools_dir))
        .args([
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ])
        .arg(format!("--{name}Host"))
        .arg("127.0.0.1")
        .arg(format!("--{name}Port"))
        .arg(service.port(ports).to_string())
        .arg("--location")
        .arg(data_dir)
        .stdin(Stdio::null());
    match log {
        Some(file) => {
            let duplicate = || {
                file.try_clone().map_err(|source| Error::Io {
                    what: "duplicating Azurite's log file handle".into(),
                    source,
                })
            };
            command.stdout(duplicate()?).stderr(duplicate()?);
        }
        None => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    die_with_parent(&mut command);
    command.spawn().map_err(|source| Error::Io {
        what: format!("starting `node` to run Azurite's {name} service (is Node.js installed?)"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_from_base_are_consecutive() {
        assert_eq!(
            Ports::from_base(20000),
            Ports {
                blob: 20000,
                queue: 20001
            }
        );
        assert_eq!(Ports::from_base(0), Ports::ANY);
    }

    #[test]
    fn free_ports_are_distinct() {
        let ports = resolve_ports(Ports::ANY).unwrap();
        assert_ne!(ports.blob, ports.queue);
    }

    #[test]
    fn a_taken_port_is_reported_by_number() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = resolve_ports(Ports {
            blob: port,
            queue: 0,
        })
        .unwrap_err();
        assert!(matches!(err, Error::PortInUse { port: p, service: "blob" } if p == port));
        assert!(err.to_string().contains(&port.to_string()));
    }

    #[test]
    fn missing_package_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            tools_dir: dir.path().to_path_buf(),
            ..Options::for_tests()
        };
        let err = Azurite::start(&options).unwrap_err();
        assert!(matches!(err, Error::NotInstalled { .. }));
        assert!(err.to_string().contains("xtask"));
    }
}
