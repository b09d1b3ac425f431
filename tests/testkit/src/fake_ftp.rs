//! A scripted FTP server for the failures real servers do not produce on demand:
//! 421 at greeting, a data connection closed early, a transfer that stalls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the fake server behaves.
#[derive(Clone, Debug)]
pub struct Script {
    /// The greeting line; a 421 greeting closes the connection right after.
    pub greeting: &'static str,
    /// Bytes sent on the data connection for any RETR.
    pub payload: Vec<u8>,
    /// The reply after the data connection closed (e.g. "226 ok", "426 aborted").
    /// `None`: stall forever with the data connection open.
    pub final_reply: Option<&'static str>,
    /// Announce EPSV in FEAT (and then refuse it with 502, as broken servers do).
    pub announce_epsv: bool,
}

/// A running fake server; counts the connections it accepted.
pub struct FakeFtp {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for FakeFtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeFtp {
    pub async fn start(script: Script) -> FakeFtp {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake server");
        let port = listener
            .local_addr()
            .expect("the fake server's address")
            .port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(session(socket, script.clone()));
            }
        });
        FakeFtp {
            port,
            connections,
            task,
        }
    }
}

async fn session(socket: TcpStream, script: Script) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write
        .write_all(format!("{}\r\n", script.greeting).as_bytes())
        .await;
    if script.greeting.starts_with("421") {
        return;
    }
    let mut data: Option<TcpListener> = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply: String = match verb.as_str() {
            "USER" => "331 password please".into(),
            "PASS" => "230 logged in".into(),
            "FEAT" if script.announce_epsv => "211-Features:\r\n SIZE\r\n EPSV\r\n211 End".into(),
            "FEAT" => "211-Features:\r\n SIZE\r\n211 End".into(),
            "TYPE" | "NOOP" | "OPTS" => "200 ok".into(),
            "PWD" => "257 \"/\" is current".into(),
            "SIZE" => format!("213 {}", script.payload.len()),
            "PASV" => {
                let listener = TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind a passive data port");
                let port = listener
                    .local_addr()
                    .expect("the passive port's address")
                    .port();
                data = Some(listener);
                format!(
                    "227 Entering Passive Mode (127,0,0,1,{},{})",
                    port / 256,
                    port % 256
                )
            }
            "RETR" => {
                let Some(listener) = data.take() else {
                    let _ = write.write_all(b"425 no PASV\r\n").await;
                    continue;
                };
                let (mut stream, _) = listener.accept().await.expect("accept the data connection");
                let _ = write.write_all(b"150 sending\r\n").await;
                let _ = stream.write_all(&script.payload).await;
                match script.final_reply {
                    Some(reply) => {
                        let _ = stream.shutdown().await;
                        drop(stream);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        reply.into()
                    }
                    None => {
                        // Stall: keep everything open and say nothing.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                }
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => "502 not implemented".into(),
        };
        if write
            .write_all(format!("{reply}\r\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}
