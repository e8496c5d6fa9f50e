//! Podman as it works on this kind of machine: Debian's `podman` with the `runc` runtime and
//! cgroupfs (crun fails with "cgroups in hybrid mode not supported"), run as root, and no default
//! ulimits for containers (podman's defaults fail with "setrlimit … Operation not permitted").
//! Everything is installed from Debian's packages when missing.

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};

use crate::{process, tools};

/// The engine's settings file; only its `[containers] default_ulimits` key is ever written.
pub const CONTAINERS_CONF: &str = "/etc/containers/containers.conf";

/// What the images need from Debian: the engine, its runtime, the musl C toolchain for the
/// static binaries (aws-lc and ring compile C), and the CA bundle copied into the images.
const PACKAGES: &[(&str, &str)] = &[
    ("podman", "/usr/bin/podman"),
    ("runc", "/usr/sbin/runc"),
    ("musl-tools", "/usr/bin/musl-gcc"),
    ("ca-certificates", CA_BUNDLE),
];

/// Debian's CA bundle (package `ca-certificates`), copied to the same path in the images, where
/// rustls-native-certs (through openssl-probe) finds it without any setting.
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Installs podman, runc, musl-tools and ca-certificates when missing, and sets
/// `default_ulimits = []` in containers.conf unless it is already so.
pub fn ensure() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    tools::apt_install(&missing)?;
    ensure_no_default_ulimits(Path::new(CONTAINERS_CONF))
}

/// A `podman` command with the runtime and cgroup manager that work here.
pub fn command() -> Command {
    let mut command = Command::new("podman");
    command.args(["--runtime", "runc", "--cgroup-manager=cgroupfs"]);
    command
}

/// Runs a podman command and returns its standard output; fails with its standard error.
pub fn output(command: &mut Command) -> Result<String> {
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .output()
        .with_context(|| format!("starting `{}`", process::describe(command)))?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}): {}",
            process::describe(command),
            String::from_utf8_lossy(&stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

fn ensure_no_default_ulimits(conf: &Path) -> Result<()> {
    let current = match std::fs::read_to_string(conf) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", conf.display())),
    };
    let Some(updated) = with_no_default_ulimits(&current) else {
        return Ok(());
    };
    if !tools::is_root() {
        bail!(
            "podman needs `default_ulimits = []` under [containers] in {}: run as root, or add it",
            conf.display()
        );
    }
    if let Some(dir) = conf.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    eprintln!("» setting default_ulimits = [] in {}", conf.display());
    std::fs::write(conf, updated).with_context(|| format!("writing {}", conf.display()))
}

/// `text` with `default_ulimits = []` in its `[containers]` table, or `None` when it is so
/// already. Only that key changes: an existing value (even one spread over several lines) is
/// replaced, a missing key goes right under the table's header, a missing table at the end.
pub fn with_no_default_ulimits(text: &str) -> Option<String> {
    const KEY: &str = "default_ulimits";
    const SETTING: &str = "default_ulimits = []";
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| is_table(l, "containers"));
    let Some(header) = header else {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("[containers]\n");
        out.push_str(SETTING);
        out.push('\n');
        return Some(out);
    };
    let end = lines[header + 1..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map_or(lines.len(), |i| header + 1 + i);
    let key_line = (header + 1..end).find(|&i| {
        lines[i]
            .trim_start()
            .strip_prefix(KEY)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + 1);
    match key_line {
        Some(first) => {
            // The value runs until its brackets balance.
            let mut depth = 0i32;
            let mut last = first;
            for (i, line) in lines.iter().enumerate().take(end).skip(first) {
                let value = line.split('#').next().unwrap_or_default();
                depth += value.matches('[').count() as i32 - value.matches(']').count() as i32;
                last = i;
                if depth <= 0 {
                    break;
                }
            }
            let value: String = lines[first..=last].join("\n");
            let compact: String = value
                .split('#')
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if compact == "default_ulimits=[]" {
                return None;
            }
            out.extend(lines[..first].iter().map(|l| l.to_string()));
            out.push(SETTING.to_owned());
            out.extend(lines[last + 1..].iter().map(|l| l.to_string()));
        }
        None => {
            out.extend(lines[..=header].iter().map(|l| l.to_string()));
            out.push(SETTING.to_owned());
            out.extend(lines[header + 1..].iter().map(|l| l.to_string()));
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    Some(text)
}

fn is_table(line: &str, name: &str) -> bool {
    let line = line.split('#').next().unwrap_or_default().trim();
    line.strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .is_some_and(|l| l.trim() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_missing_file_gets_the_table() {
        assert_eq!(
            with_no_default_ulimits("").unwrap(),
            "[containers]\ndefault_ulimits = []\n"
        );
        assert_eq!(
            with_no_default_ulimits("[engine]\nx = 1").unwrap(),
            "[engine]\nx = 1\n\n[containers]\ndefault_ulimits = []\n"
        );
    }

    #[test]
    fn the_key_goes_under_an_existing_table_and_nothing_else_changes() {
        let text = "# settings\n[containers]\nlog_size_max = -1\n\n[engine]\n# default_ulimits = [\"a\"]\n";
        assert_eq!(
            with_no_default_ulimits(text).unwrap(),
            "# settings\n[containers]\ndefault_ulimits = []\nlog_size_max = -1\n\n[engine]\n# default_ulimits = [\"a\"]\n"
        );
    }

    #[test]
    fn an_existing_value_is_replaced_even_over_several_lines() {
        let text =
            "[containers]\ndefault_ulimits = [\n  \"nofile=1280:2560\",\n]\nx = 2\n[network]\n";
        assert_eq!(
            with_no_default_ulimits(text).unwrap(),
            "[containers]\ndefault_ulimits = []\nx = 2\n[network]\n"
        );
    }

    #[test]
    fn the_setting_in_place_is_left_alone() {
        for text in [
            "[containers]\ndefault_ulimits = []\n",
            "[containers]\n  default_ulimits=[ ]  # none\n[engine]\n",
        ] {
            assert_eq!(with_no_default_ulimits(text), None, "{text}");
        }
        // Once written, a second pass changes nothing.
        let once = with_no_default_ulimits("[containers]\nx = 1\n").unwrap();
        assert_eq!(with_no_default_ulimits(&once), None);
    }

    #[test]
    fn a_key_in_another_table_does_not_count() {
        let text = "[engine]\ndefault_ulimits = []\n";
        assert_eq!(
            with_no_default_ulimits(text).unwrap(),
            "[engine]\ndefault_ulimits = []\n\n[containers]\ndefault_ulimits = []\n"
        );
    }
}
