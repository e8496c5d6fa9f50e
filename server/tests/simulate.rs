//! `scaleboard simulate`: a queue trace through the scaling rules, CSV out.

use std::process::Command;

fn simulate(trace: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.csv");
    std::fs::write(&path, trace).unwrap();
    Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .arg("simulate")
        .arg("--trace")
        .arg(&path)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_trace_becomes_one_row_per_second_with_the_documented_columns() {
    let output = simulate(
        "seconds,queue_length\n0,0\n10,400\n120,0\n600,0\n",
        &[
            "--profile",
            "aks",
            "--polling-interval",
            "5",
            "--cooldown-period",
            "30",
            "--max-replicas",
            "20",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = String::from_utf8(output.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for column in [
        "seconds",
        "desired_replicas",
        "pods_running",
        "pods_pending",
        "nodes_ready",
    ] {
        assert!(
            header.contains(&column),
            "missing column {column}: {header:?}"
        );
    }
    let rows: Vec<Vec<u64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 601, "one row per second from 0 to 600");
    let desired = header
        .iter()
        .position(|c| *c == "desired_replicas")
        .unwrap();
    let peak = rows.iter().map(|r| r[desired]).max().unwrap();
    // 400 messages / target 5 = 80, clamped to --max-replicas 20.
    assert_eq!(peak, 20);
    // The queue is empty from 120 s: after the cooldown (30 s) and the HPA's stabilization
    // window the replicas are back to zero by the end.
    assert_eq!(rows.last().unwrap()[desired], 0);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("node-hours:"), "{stderr}");
}

#[test]
fn a_bad_trace_is_rejected_with_its_line_number() {
    let output = simulate("0,5\n10,x\n", &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2"), "{stderr}");
    let output = simulate("0,5\n", &["--min-replicas", "5", "--max-replicas", "2"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("scaling policy"));
}
