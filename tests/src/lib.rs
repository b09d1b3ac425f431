//! End-to-end tests of tributary across its functions live in this package's
//! test targets (`ingest_path.rs`, `sla_monitor.rs`); the library is empty.
//! They start a moto server (and, for the ingest path, a real FTP server
//! process, pyftpdlib) with the helpers of the testkit (`tests/testkit/`).
