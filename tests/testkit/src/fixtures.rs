//! The directory tree every server serves in the FTP tests, and test bytes:
//! deterministic pseudo-random data and SHA-256 digests.

use std::path::Path;

/// Names with spaces and non-ASCII characters, in `in/`.
pub const SMALL_FILES: [&str; 4] = [
    "plain.csv",
    "with space.csv",
    "données été.csv",
    "日本語 データ.txt",
];
/// A 5 MiB file in `in/`.
pub const BIG_FILE: &str = "big.bin";
/// Its size.
pub const BIG_SIZE: usize = 5 * 1024 * 1024;

/// Deterministic pseudo-random bytes (xorshift), so hashes are reproducible.
pub fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// SHA-256 of `data`, lowercase hex (as the ledger and S3 metadata hold it).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Creates `in/` (small files + the big one), `archive/` holding a file that
/// clashes with `in/plain.csv`, and returns the big file's SHA-256.
pub fn populate(root: &Path) -> String {
    let dir = root.join("in");
    std::fs::create_dir_all(&dir).expect("create in/");
    for (i, name) in SMALL_FILES.iter().enumerate() {
        std::fs::write(dir.join(name), format!("id,name\n{i},{name}\n"))
            .expect("write a small file");
    }
    let big = pseudo_random(BIG_SIZE, 0x5eed);
    std::fs::write(dir.join(BIG_FILE), &big).expect("write the big file");
    std::fs::create_dir_all(root.join("archive")).expect("create archive/");
    std::fs::write(root.join("archive/plain.csv"), "older copy\n")
        .expect("write archive/plain.csv");
    sha256_hex(&big)
}

/// Creates `many/` with `count` empty files.
pub fn populate_many(root: &Path, count: usize) {
    let dir = root.join("many");
    std::fs::create_dir_all(&dir).expect("create many/");
    for i in 0..count {
        std::fs::write(dir.join(format!("file-{i:05}.csv")), b"").expect("write an empty file");
    }
}
