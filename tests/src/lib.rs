//! End-to-end tests of tributary across its functions live in this package's
//! test targets (`ingest_path.rs`); the library is empty. They start a real FTP
//! server process (pyftpdlib) and a moto server, and reuse the server helpers
//! of `shared/tests/support/`.
