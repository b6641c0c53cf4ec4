//! The benchmark harness runs every scenario at a tiny size, so it never rots. Correctness only:
//! no timing assertions (speed is measured by `hookgate bench`, not by tests).

use std::process::Command;

/// Runs `hookgate bench ARGS --out FILE` in a fresh directory, fails the test if it fails, and
/// gives its stdout and the JSON it wrote.
fn bench(args: &[&str]) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench.json");
    let run = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .arg("bench")
        .args(args)
        .arg("--out")
        .arg(&out)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    (stdout, v)
}

#[test]
fn every_scenario_runs_and_reports() {
    let (_, v) = bench(&[
        "--seconds",
        "0.3",
        "--rate",
        "200",
        "--endpoints",
        "3",
        "--concurrency",
        "8",
        "--backlog",
        "2000",
    ]);
    let rows = v["results"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["baseline", "ingest", "e2e", "fanout", "latency", "backlog", "faults"]
    );
    for r in rows {
        if r["scenario"] == "backlog" {
            assert_eq!(r["drained"], true, "{r}");
            assert_eq!(r["deliveries"], 2000, "{r}");
            assert!(r["restart_s"].as_f64().unwrap() > 0.0);
            continue;
        }
        if r["scenario"] == "faults" {
            assert_eq!(
                r["all_delivered"], true,
                "retries delivered every event: {r}"
            );
            assert!(
                r["receiver_requests"].as_u64() > r["requests_ok"].as_u64(),
                "faults forced retries: {r}"
            );
            continue;
        }
        assert!(r["requests_ok"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["requests_failed"], 0, "{r}");
        if !r["e2e"].is_null() {
            assert_eq!(
                r["e2e"]["deliveries"], r["e2e"]["expected"],
                "every published event was delivered: {r}"
            );
        }
    }
}

#[test]
fn repeated_rounds_are_all_kept_and_summarised() {
    let (stdout, v) = bench(&[
        "ingest",
        "e2e",
        "--repeat",
        "2",
        "--seconds",
        "0.2",
        "--concurrency",
        "4",
    ]);
    assert!(stdout.contains("medians over 2 rounds"), "{stdout}");
    let rows: Vec<(String, u64)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["scenario"].as_str().unwrap().to_string(),
                r["round"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [("ingest", 1), ("e2e", 1), ("ingest", 2), ("e2e", 2)]
        .iter()
        .map(|(s, r)| (s.to_string(), *r))
        .collect();
    assert_eq!(rows, expected);
    let zero = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["bench", "e2e", "--repeat", "0"])
        .output()
        .unwrap();
    assert!(!zero.status.success(), "--repeat 0 is refused");
}

/// `endpoints` is run only when named, so it gets its own tiny run: each count gives a row per
/// fan-out, and every delivery arrives.
#[test]
fn the_endpoints_scenario_runs_each_count_and_fan_out() {
    let (_, v) = bench(&[
        "endpoints",
        "--endpoint-counts",
        "1,5",
        "--deliveries",
        "20",
    ]);
    let rows: Vec<(u64, String, bool)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["endpoints"].as_u64().unwrap(),
                r["fanout"].as_str().unwrap().to_string(),
                r["complete"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(u64, String, bool)> = [(1, "1"), (1, "all"), (5, "1"), (5, "all")]
        .iter()
        .map(|(n, f)| (*n, f.to_string(), true))
        .collect();
    assert_eq!(rows, expected);
}

/// The cluster scenario starts its own PostgreSQL from the machine's server binaries, so it runs
/// here as in a benchmark: redb once, then each node count on the shared database.
#[test]
fn the_cluster_scenario_runs_redb_and_each_node_count() {
    let (stdout, v) = bench(&[
        "cluster",
        "--seconds",
        "0.5",
        "--concurrency",
        "8",
        "--node-counts",
        "1,2",
    ]);
    let rows = v["results"].as_array().unwrap();
    let shape: Vec<(&str, u64)> = rows
        .iter()
        .map(|r| (r["backend"].as_str().unwrap(), r["nodes"].as_u64().unwrap()))
        .collect();
    assert_eq!(shape, [("redb", 1), ("postgres", 1), ("postgres", 2)]);
    for r in rows {
        assert_eq!(
            r["deliveries"], r["requests_ok"],
            "every publish delivered: {r}"
        );
        assert!(r["requests_ok"].as_u64().unwrap() > 0, "{r}");
        assert!(r["cpu_us_per_delivery"].as_f64().unwrap() > 0.0, "{r}");
    }
    let pg = &rows[1];
    assert!(
        pg["postgres_cpu_us_per_delivery"].as_f64().unwrap() > 0.0,
        "{pg}"
    );
    assert!(stdout.contains("× 1 node"), "{stdout}");
}
