//! The end-to-end tests, one test binary (`e2e`): the functions' handlers
//! driven across real servers the tests start on 127.0.0.1 (a pyftpdlib
//! process, a moto server; see `tests/README.md`). Select a part by its module
//! path, e.g. `cargo test -p tributary-e2e --test e2e chaos`.
//!
//! `world` sets up the servers and the functions as the SAM template wires
//! them; `faulty_world` puts the fault proxies of `fault_proxy` in front of
//! them. The other modules are the scenarios. Server starters, fixtures and
//! compression helpers come from `tributary-testkit`. The binary has one moto
//! server, which every module shares: each isolates itself with unique
//! resource names.

mod fault_proxy;
mod faulty_world;
mod world;

mod catalog_trigger;
mod chaos;
mod faults;
mod ingest_path;
mod races;
mod redrive_path;
mod sla_monitor;
