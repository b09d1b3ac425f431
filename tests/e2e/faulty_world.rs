//! The world of `world.rs` with fault proxies in front of its servers, for the
//! fault scenarios (`faults.rs`) and the chaos run (`chaos.rs`): pyftpdlib
//! listens on 127.0.0.2 and the FTP proxy on 127.0.0.1 at its control port and
//! each passive port, so control and data connections both cross it; the
//! functions' SDK clients reach moto through the HTTP proxy, while the test's
//! own clients talk to moto directly.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::fault_proxy::FaultProxy;
use crate::world::{FtpPlacement, Placement, World, setup_at};
use tributary_testkit::moto::moto;
use tributary_testkit::process::{free_port, free_port_range};

/// Where pyftpdlib listens (still loopback); the proxy takes 127.0.0.1.
pub const SERVER_IP: [u8; 4] = [127, 0, 0, 2];

/// A world and the two proxies in front of its servers.
pub struct Faulty {
    pub world: World,
    pub ftp: FaultProxy,
    pub aws: FaultProxy,
}

/// Starts the proxies, then the world behind them with `registry(port)` pushed
/// (the port is the FTP proxy's) and `files` in the drop folder.
pub async fn faulty_world(registry: fn(u16) -> String, files: BTreeMap<&str, Vec<u8>>) -> Faulty {
    let moto_addr: SocketAddr = moto()
        .endpoint
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let aws = FaultProxy::http(moto_addr).await;
    // Ports free a moment ago may be taken meanwhile (tests run in
    // parallel, and the range overlaps the ephemeral one): choose again.
    let mut attempt = 0;
    let (ftp, port, low, high) = loop {
        attempt += 1;
        let port = free_port();
        let (low, high) = free_port_range(10);
        match FaultProxy::ftp(SERVER_IP, port, low..=high).await {
            Ok(ftp) => break (ftp, port, low, high),
            Err(error) if attempt < 10 => eprintln!("choosing other ports: {error}"),
            Err(error) => panic!("no ports for the FTP proxy: {error}"),
        }
    };
    let placement = Placement {
        ftp: Some(FtpPlacement {
            interface: "127.0.0.2".to_owned(),
            port,
            passive: (low, high),
        }),
        aws_endpoint: Some(aws.url()),
    };
    let world = setup_at(registry, files, placement).await;
    Faulty { world, ftp, aws }
}
