//! Real FTP server processes on 127.0.0.1 and free ports, stopped (by PID) on drop.
//! A missing server binary fails the test with the command that installs it.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    name: String,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `command` (stdout and stderr to `log`) and waits until `port` accepts.
    pub fn start(name: &str, mut command: Command, port: u16, log: &Path) -> ServerProcess {
        let out = std::fs::File::create(log).expect("create the server log");
        let err = out.try_clone().expect("the server log for stderr");
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        let mut server = ServerProcess {
            child,
            name: name.to_owned(),
            log: log.to_owned(),
        };
        server.wait_for_port(port);
        server
    }

    fn wait_for_port(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before listening; its output:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not listen on port {port} within 15 s; its output:\n{}",
            self.name,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// What the server printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// `len` consecutive ports that were free a moment ago (passive ranges).
pub fn free_port_range(len: u16) -> (u16, u16) {
    let mut seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
    for _ in 0..200 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let base = 20_000 + (seed >> 33) as u16 % 20_000;
        let all_free = (base..base + len).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return (base, base + len - 1);
        }
    }
    panic!("no {len} consecutive free ports found");
}

/// The Python interpreter with pyftpdlib: `$TRIBUTARY_PYTHON`, else `python3`.
/// Fails the test, saying how to install, if pyftpdlib or pyOpenSSL is missing.
pub fn python_with_pyftpdlib() -> String {
    let python = std::env::var("TRIBUTARY_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args(["-c", "import pyftpdlib, OpenSSL"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "pyftpdlib with pyOpenSSL is needed by this test: `{python} -m pip install pyftpdlib pyopenssl` \
         (or set TRIBUTARY_PYTHON to a venv's python that has them)"
    );
    python
}

/// The vsftpd binary: `$TRIBUTARY_VSFTPD`, else `/usr/sbin/vsftpd`.
pub fn vsftpd_binary() -> String {
    let path = std::env::var("TRIBUTARY_VSFTPD").unwrap_or_else(|_| "/usr/sbin/vsftpd".to_owned());
    assert!(
        Path::new(&path).is_file(),
        "vsftpd is needed by this test: `apt-get install -y vsftpd` (or set TRIBUTARY_VSFTPD to its binary)"
    );
    path
}

/// The system user vsftpd logs in (`$TRIBUTARY_VSFTPD_USER`, default
/// `tributary-ftp`), its password and uid/gid. Fails with the setup commands if
/// the user does not exist.
pub fn vsftpd_user() -> (String, String, u32, u32) {
    let user =
        std::env::var("TRIBUTARY_VSFTPD_USER").unwrap_or_else(|_| "tributary-ftp".to_owned());
    let password = std::env::var("TRIBUTARY_VSFTPD_PASSWORD")
        .unwrap_or_else(|_| "tributary-ftp-pw".to_owned());
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, &user]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => (user, password, uid, gid),
        _ => panic!(
            "vsftpd tests need the system user `{user}` with a login shell listed in /etc/shells: \
             `useradd --create-home --shell /bin/bash {user} && echo '{user}:{password}' | chpasswd`"
        ),
    }
}

/// `chown -R uid:gid path`.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read a directory to chown") {
            chown_tree(&entry.expect("a directory entry").path(), uid, gid);
        }
    }
}
