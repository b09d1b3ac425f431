//! The committed hostile-input corpus (`tests/corpus/hostile/`, made by
//! `scripts/fixtures/hostile_corpus.py`), each file through `tributary check`
//! as a user runs it: the verdict and message `cases.json` expects, no crash
//! (exit 0 accepted, 1 rejected, never a signal or a panic), and peak memory
//! under GNU time bounded whatever the file claims to expand to (4 GiB of
//! zeros, a 1 GiB line, nested entities).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The most any case may take: the engine's buffers, the whole-file AEAD's
/// 32 MiB bound not reached by these small files, and the process itself.
const MAX_RSS_KIB: u64 = 64 * 1024;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/hostile")
}

fn gnu_time() -> &'static str {
    let path = "/usr/bin/time";
    assert!(
        Path::new(path).is_file(),
        "GNU time measures the peak memory here: `apt-get install time` (scripts/test.sh does)"
    );
    path
}

#[test]
fn every_hostile_file_gets_its_verdict_and_reason_in_bounded_memory() {
    let dir = corpus();
    let cases: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 20, "the corpus is there: {}", cases.len());
    let binary = assert_cmd::cargo::cargo_bin("tributary");
    let mut worst = (0, String::new());
    for (name, case) in &cases {
        let measured =
            std::env::temp_dir().join(format!("tributary-rss-{}-{name}", std::process::id()));
        let mut command = Command::new(gnu_time());
        command.arg("-f").arg("%M").arg("-o").arg(&measured);
        command.arg(&binary).arg("check").arg(dir.join(name));
        let args = &case["args"];
        if let Some(format) = args["format"].as_str() {
            command.args(["--format", format]);
        }
        if let Some(element) = args["record_element"].as_str() {
            command.args(["--record-element", element]);
        }
        if let Some(key) = args["key"].as_str() {
            command.arg("--key-file").arg(dir.join(key));
        }
        if args["require_utf8"].as_bool() == Some(true) {
            command.arg("--require-utf8");
        }
        if args["parse_json"].as_bool() == Some(true) {
            command.arg("--parse-json");
        }
        let out = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = case["verdict"].as_str().unwrap();
        let code = out.status.code();
        assert_eq!(
            code,
            Some(if expected == "accepted" { 0 } else { 1 }),
            "{name}: exit {code:?}\n{stdout}\n{stderr}"
        );
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{name}: no JSON report ({e}): {stdout}\n{stderr}"));
        assert_eq!(report["verdict"], expected, "{name}: {report:#}");
        let reasons = report["reasons"].to_string();
        let reason = case["reason"].as_str().unwrap();
        assert!(
            reasons.to_lowercase().contains(&reason.to_lowercase()),
            "{name}: expected a reason mentioning {reason:?}, got {reasons}"
        );
        if expected == "rejected" {
            assert!(
                report["reasons"].as_array().is_some_and(|r| !r.is_empty()),
                "{name}"
            );
        }
        let rss: u64 = std::fs::read_to_string(&measured)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(&measured);
        assert!(rss <= MAX_RSS_KIB, "{name}: peak RSS {rss} KiB");
        if rss > worst.0 {
            worst = (rss, name.clone());
        }
    }
    println!("worst peak RSS: {} KiB ({})", worst.0, worst.1);
}
