//! Every file of each target's committed corpus (`fuzz/corpus/<target>/`),
//! replayed through the target's function: the inputs the fuzzer kept for their
//! coverage, run on every `cargo test`, so a target that stops compiling or a
//! change that makes one of them panic fails the suite, not the next fuzzing
//! session. A corpus that is empty or missing fails too, rather than passing
//! with nothing replayed.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Instant;

/// The targets replayed below, one `#[test]` each.
const TARGETS: [&str; 9] = [
    "layer_chain",
    "count_csv",
    "count_jsonl",
    "count_xml",
    "list_parser",
    "registry_parser",
    "event_parser",
    "contract_value",
    "contract_rows",
];

/// Files listed by name in a failure, at most (the count is always given).
const LISTED: usize = 20;

thread_local! {
    /// Whether this thread is running a target on a corpus file.
    static REPLAYING: Cell<bool> = const { Cell::new(false) };
    /// The last panic a target raised on this thread, with its location.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic hook that, while a target runs, keeps the panic's message for the
/// failure report instead of printing it (and a backtrace) once per file;
/// every other panic, such as a test's own failure, goes to the default hook.
fn quiet_target_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if REPLAYING.get() {
                CAUGHT.set(Some(info.to_string()));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `target` on every file of `fuzz/corpus/<name>/`; fails naming each
/// file that panicked, with the panic's message and location.
fn replay(name: &str, target: fn(&[u8])) {
    quiet_target_panics();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(name);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{name}: cannot read its corpus {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("{name}: {}: {e}", dir.display())))
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.path())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "{name}: no corpus file in {}",
        dir.display()
    );
    let started = Instant::now();
    let mut panicked = Vec::new();
    for file in &files {
        let data = std::fs::read(file)
            .unwrap_or_else(|e| panic!("{name}: cannot read {}: {e}", file.display()));
        REPLAYING.set(true);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| target(&data)));
        REPLAYING.set(false);
        if outcome.is_err() {
            let message = CAUGHT.take().unwrap_or_default();
            let file_name = file.file_name().unwrap_or_default().to_string_lossy();
            panicked.push(format!("fuzz/corpus/{name}/{file_name}: {message}"));
        }
    }
    let more = panicked.len().saturating_sub(LISTED);
    assert!(
        panicked.is_empty(),
        "{name}: {} of {} corpus files panicked:\n{}{}",
        panicked.len(),
        files.len(),
        panicked[..panicked.len().min(LISTED)].join("\n"),
        if more > 0 {
            format!("\n... and {more} more")
        } else {
            String::new()
        }
    );
    eprintln!(
        "{name}: {} corpus files replayed in {:.2?}",
        files.len(),
        started.elapsed()
    );
}

#[test]
fn layer_chain() {
    replay("layer_chain", tributary_fuzz_targets::layer_chain);
}

#[test]
fn count_csv() {
    replay("count_csv", tributary_fuzz_targets::count_csv);
}

#[test]
fn count_jsonl() {
    replay("count_jsonl", tributary_fuzz_targets::count_jsonl);
}

#[test]
fn count_xml() {
    replay("count_xml", tributary_fuzz_targets::count_xml);
}

#[test]
fn list_parser() {
    replay("list_parser", tributary_fuzz_targets::list_parser);
}

#[test]
fn registry_parser() {
    replay("registry_parser", tributary_fuzz_targets::registry_parser);
}

#[test]
fn event_parser() {
    replay("event_parser", tributary_fuzz_targets::event_parser);
}

#[test]
fn contract_value() {
    replay("contract_value", tributary_fuzz_targets::contract_value);
}

#[test]
fn contract_rows() {
    replay("contract_rows", tributary_fuzz_targets::contract_rows);
}

/// A target added to `fuzz/fuzz_targets/` (or a corpus to `fuzz/corpus/`)
/// without its replay above fails here.
#[test]
fn every_target_and_corpus_is_replayed() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let names = |dir: &str, suffix: &str| {
        let mut names: Vec<String> = std::fs::read_dir(fuzz.join(dir))
            .unwrap_or_else(|e| panic!("cannot read fuzz/{dir}: {e}"))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.strip_suffix(suffix).map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    let mut replayed: Vec<String> = TARGETS.iter().map(|&t| t.to_owned()).collect();
    replayed.sort();
    assert_eq!(names("fuzz_targets", ".rs"), replayed, "fuzz/fuzz_targets/");
    assert_eq!(names("corpus", ""), replayed, "fuzz/corpus/");
}
