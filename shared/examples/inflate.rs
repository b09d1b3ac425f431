//! Bare gzip decoding of a file and nothing else: the floor `benches/contract.py`
//! sets `tributary check` beside. The same decoder as the engine (flate2's
//! `MultiGzDecoder` on zlib-rs, this crate's build of it) and the same 256 KiB
//! reads as the criterion baseline in `benches/engine.rs`; the output is
//! counted and dropped. Prints `{"decoded_bytes": N}` so the bench can check
//! the whole file was decoded.
//!
//!     cargo build --locked --profile bench -p tributary --example inflate
//!     $CARGO_TARGET_DIR/release/examples/inflate FILE.gz

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::process::ExitCode;

use flate2::read::MultiGzDecoder;

const READ_SIZE: usize = 256 * 1024;

fn inflate(path: &Path) -> io::Result<u64> {
    // MultiGzDecoder buffers its input itself (32 KiB reads of the file).
    let mut decoder = MultiGzDecoder::new(File::open(path)?);
    let mut buf = vec![0u8; READ_SIZE];
    let mut decoded = 0u64;
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => return Ok(decoded),
            Ok(n) => decoded += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: inflate FILE.gz");
        return ExitCode::from(2);
    };
    match inflate(Path::new(&path)) {
        Ok(decoded) => {
            println!("{{\"decoded_bytes\": {decoded}}}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("inflate: {}: {e}", Path::new(&path).display());
            ExitCode::FAILURE
        }
    }
}
