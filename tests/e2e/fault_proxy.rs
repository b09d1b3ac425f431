//! A test-only TCP fault proxy: it listens on 127.0.0.1, forwards
//! each connection to a target, and misbehaves on the test's command, set at
//! run time: cut a connection after N bytes (or before a byte pattern) in
//! either direction, stall it for a while, delay every chunk, or answer the
//! connection itself (a `421` greeting) without reaching the target.
//!
//! In HTTP mode (in front of moto) it reads each request of a keep-alive
//! connection (head, and a `Content-Length` body, or none when the head has
//! neither `Content-Length` nor `Transfer-Encoding`; a chunked body or an
//! oversized one makes it pipe the rest of that connection raw), and may
//! answer a matching request with an AWS error instead of forwarding it (S3
//! `503 SlowDown`, DynamoDB throttling, SNS `InternalError`), forward it and
//! then lose the answer, or drop the connection. Requests are matched by
//! `X-Amz-Target`, method, path and query, or body.
//!
//! For FTP ([`FaultProxy::ftp`]) it listens on 127.0.0.1 on the control port
//! and on every passive port, forwarding to the same ports of the server on
//! 127.0.0.2: the client connects passive data connections to the control
//! connection's host, so data connections go through the proxy too (lane
//! [`DATA`]; the control connection is lane [`CONTROL`]).
//!
//! Every injected fault is counted under the rule's name, so a test can assert
//! that the fault really happened. Dropping the proxy stops every task.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The lane of a plain TCP listener ([`FaultProxy::tcp`]).
pub const TCP: &str = "tcp";
/// The lane of an FTP control connection.
pub const CONTROL: &str = "control";
/// The lane of FTP data connections (the passive ports).
pub const DATA: &str = "data";
/// The lane of HTTP connections.
pub const HTTP: &str = "http";

/// How long the proxy waits to connect to its target.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head the HTTP mode parses (else: raw pipe).
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body the HTTP mode buffers (else: raw pipe).
const MAX_BODY: usize = 128 * 1024 * 1024;

/// A direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Client → target.
    Up,
    /// Target → client.
    Down,
}

/// Where in a direction's byte stream a fault fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// After this many bytes were forwarded.
    Bytes(u64),
    /// Just before the first occurrence of these bytes (within one read).
    Pattern(Vec<u8>),
}

/// What happens to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer these bytes to the client and close, never reaching the target
    /// (an FTP server's `421 Too many users`).
    Refuse(Vec<u8>),
    /// Forward `dir` up to `at`, then close both sides.
    Cut { dir: Dir, at: At },
    /// Forward `dir` up to `at`, hold it for `pause`, then go on.
    Stall { dir: Dir, at: At, pause: Duration },
    /// Wait `per_chunk` before forwarding each chunk, both ways.
    #[expect(
        dead_code,
        reason = "kept for scenarios to come; no test slows a connection yet"
    )]
    Delay { per_chunk: Duration },
}

/// One HTTP request as the proxy read it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path, without the query.
    #[expect(
        dead_code,
        reason = "kept for matchers to come; no rule matches on the path yet"
    )]
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// Whether the query has a parameter named `name`.
    pub fn query_has(&self, name: &str) -> bool {
        self.target
            .split_once('?')
            .is_some_and(|(_, q)| q.split('&').any(|p| p.split('=').next() == Some(name)))
    }

    /// Whether the body holds `needle`.
    pub fn body_contains(&self, needle: &str) -> bool {
        find(&self.body, needle.as_bytes()).is_some()
    }
}

/// Which requests a rule applies to.
#[derive(Clone)]
pub struct Match(Arc<dyn Fn(&HttpRequest) -> bool + Send + Sync>);

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Match(..)")
    }
}

impl Match {
    /// Requests for which `f` says yes.
    pub fn new(f: impl Fn(&HttpRequest) -> bool + Send + Sync + 'static) -> Self {
        Match(Arc::new(f))
    }

    /// A DynamoDB operation (`PutItem`, `UpdateItem`…), by `X-Amz-Target`.
    pub fn dynamodb(operation: &str) -> Self {
        let target = format!("DynamoDB_20120810.{operation}");
        Match::new(move |r| r.header("x-amz-target") == Some(target.as_str()))
    }

    /// S3 `UploadPart`: `PUT …?partNumber=…&uploadId=…`.
    pub fn s3_upload_part() -> Self {
        Match::new(|r| r.method == "PUT" && r.query_has("partNumber") && r.query_has("uploadId"))
    }

    /// S3 `CompleteMultipartUpload`: `POST …?uploadId=…`.
    pub fn s3_complete_upload() -> Self {
        Match::new(|r| r.method == "POST" && r.query_has("uploadId"))
    }

    /// SNS `Publish` (query protocol `Action=Publish`, or a JSON target).
    pub fn sns_publish() -> Self {
        Match::new(|r| {
            r.body_contains("Action=Publish")
                || r.header("x-amz-target").is_some_and(|t| {
                    t.starts_with("AmazonSimpleNotificationService") && t.ends_with(".Publish")
                })
        })
    }

    /// This match, and the body holds `needle`.
    pub fn and_body_contains(self, needle: &str) -> Self {
        let needle = needle.to_owned();
        Match::new(move |r| (self.0)(r) && r.body_contains(&needle))
    }

    /// Whether `request` matches (for a test composing its own matchers).
    pub fn accepts(&self, request: &HttpRequest) -> bool {
        self.matches(request)
    }

    fn matches(&self, request: &HttpRequest) -> bool {
        (self.0)(request)
    }
}

/// An HTTP answer the proxy gives instead of the target's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned {
    pub status: u16,
    pub reason: &'static str,
    pub content_type: &'static str,
    pub body: String,
}

impl Canned {
    /// S3 throttling: `503 SlowDown`.
    pub fn s3_slow_down() -> Self {
        Canned {
            status: 503,
            reason: "Slow Down",
            content_type: "application/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                   <Message>Please reduce your request rate.</Message>\
                   <RequestId>FAULTPROXY</RequestId><HostId>fault-proxy</HostId></Error>"
                .to_owned(),
        }
    }

    /// DynamoDB throttling: `400 ThrottlingException`.
    pub fn dynamodb_throttling() -> Self {
        Self::dynamodb_error(
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        )
    }

    /// DynamoDB `400 ProvisionedThroughputExceededException`.
    pub fn dynamodb_throughput_exceeded() -> Self {
        Self::dynamodb_error(
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        )
    }

    fn dynamodb_error(code: &str, message: &str) -> Self {
        Canned {
            status: 400,
            reason: "Bad Request",
            content_type: "application/x-amz-json-1.0",
            body: serde_json::json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
                "message": message,
            })
            .to_string(),
        }
    }

    /// SNS (query protocol) `500 InternalError`.
    pub fn sns_internal_error() -> Self {
        Canned {
            status: 500,
            reason: "Internal Server Error",
            content_type: "text/xml",
            body: "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error>\
                   <Type>Receiver</Type><Code>InternalError</Code>\
                   <Message>The request processing has failed (fault proxy).</Message>\
                   </Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
                .to_owned(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             x-amz-request-id: FAULTPROXY\r\nx-amzn-RequestId: FAULTPROXY\r\n\r\n{}",
            self.status,
            self.reason,
            self.content_type,
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

/// What happens to a matching HTTP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFault {
    /// Answer this instead of forwarding: the request never takes effect.
    Answer(Canned),
    /// Forward the request (it takes effect), then answer this instead of the
    /// target's answer: an answer lost on the way back.
    ForwardThenAnswer(Canned),
    /// Close the connection without answering (and without forwarding).
    #[expect(
        dead_code,
        reason = "kept for scenarios to come; no test drops a request yet"
    )]
    Drop,
}

/// Decides, for each new connection a rule could apply to, whether it does
/// (a seeded coin, for random faults).
#[derive(Clone)]
pub struct When(Arc<dyn Fn() -> bool + Send + Sync>);

impl std::fmt::Debug for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("When(..)")
    }
}

#[derive(Debug)]
struct ConnRule {
    name: String,
    lane: Option<&'static str>,
    fault: Fault,
    times: u32,
    /// None: every connection on the lane (while `times` lasts).
    when: Option<When>,
}

#[derive(Debug)]
struct HttpRule {
    name: String,
    matcher: Match,
    fault: HttpFault,
    times: u32,
}

#[derive(Debug, Default)]
struct State {
    conn_rules: Vec<ConnRule>,
    http_rules: Vec<HttpRule>,
    injected: BTreeMap<String, u32>,
    connections: BTreeMap<&'static str, u32>,
    requests: u32,
    raw_fallbacks: u32,
    /// The heads of the requests that made a connection fall back.
    raw_heads: Vec<String>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn track(&self, handle: AbortHandle) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    fn count(&self, name: &str) {
        *self.lock().injected.entry(name.to_owned()).or_default() += 1;
    }

    /// Takes the first rule for a new connection on `lane`.
    fn conn_fault(&self, lane: &'static str) -> Option<(String, Fault)> {
        let mut state = self.lock();
        let rule = state.conn_rules.iter_mut().find(|r| {
            r.times > 0
                && r.lane.is_none_or(|l| l == lane)
                && r.when.as_ref().is_none_or(|w| (w.0)())
        })?;
        rule.times -= 1;
        Some((rule.name.clone(), rule.fault.clone()))
    }

    fn http_fault(&self, request: &HttpRequest) -> Option<(String, HttpFault)> {
        let mut state = self.lock();
        state.requests += 1;
        let rule = state
            .http_rules
            .iter_mut()
            .find(|r| r.times > 0 && r.matcher.matches(request))?;
        rule.times -= 1;
        Some((rule.name.clone(), rule.fault.clone()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tcp,
    Http,
}

/// The proxy; see the module docs. Stops every task when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    shared: Arc<Shared>,
    addrs: Vec<SocketAddr>,
}

impl FaultProxy {
    /// A raw TCP proxy on 127.0.0.1 (ephemeral port) to `target` (lane [`TCP`]).
    pub async fn tcp(target: SocketAddr) -> FaultProxy {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start(vec![(TCP, listen, target, Mode::Tcp)]).await
    }

    /// An HTTP proxy on 127.0.0.1 (ephemeral port) to `target` (lane [`HTTP`]).
    pub async fn http(target: SocketAddr) -> FaultProxy {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start(vec![(HTTP, listen, target, Mode::Http)]).await
    }

    /// An FTP proxy: 127.0.0.1:`port` and every port of `passive` on
    /// 127.0.0.1, each forwarding to the same port of `server_ip`; an error
    /// when one of the ports is taken (choose others and try again).
    pub async fn ftp(
        server_ip: [u8; 4],
        port: u16,
        passive: RangeInclusive<u16>,
    ) -> std::io::Result<FaultProxy> {
        let mut listeners = vec![(
            CONTROL,
            SocketAddr::from(([127, 0, 0, 1], port)),
            SocketAddr::from((server_ip, port)),
            Mode::Tcp,
        )];
        for p in passive {
            listeners.push((
                DATA,
                SocketAddr::from(([127, 0, 0, 1], p)),
                SocketAddr::from((server_ip, p)),
                Mode::Tcp,
            ));
        }
        Self::try_start(listeners).await
    }

    async fn start(listeners: Vec<(&'static str, SocketAddr, SocketAddr, Mode)>) -> FaultProxy {
        Self::try_start(listeners)
            .await
            .unwrap_or_else(|e| panic!("the fault proxy cannot listen: {e}"))
    }

    async fn try_start(
        listeners: Vec<(&'static str, SocketAddr, SocketAddr, Mode)>,
    ) -> std::io::Result<FaultProxy> {
        // Bind every listener first: a port taken fails before any task runs.
        let mut bound = Vec::new();
        for (lane, listen, target, mode) in listeners {
            let listener = TcpListener::bind(listen).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}"))
            })?;
            bound.push((lane, listener, target, mode));
        }
        let shared = Arc::new(Shared::default());
        let mut addrs = Vec::new();
        for (lane, listener, target, mode) in bound {
            addrs.push(listener.local_addr()?);
            let task_shared = Arc::clone(&shared);
            let task = tokio::spawn(accept(listener, lane, target, mode, task_shared));
            shared.track(task.abort_handle());
        }
        Ok(FaultProxy { shared, addrs })
    }

    /// The (first) address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// `http://ADDR`, for an SDK endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The next `times` new connections on `lane` (any lane: `None`) get
    /// `fault`, counted under `name` when it fires. Rules apply in the order
    /// they were added; a connection gets at most one.
    pub fn on_connection(&self, name: &str, lane: Option<&'static str>, fault: Fault, times: u32) {
        self.shared.lock().conn_rules.push(ConnRule {
            name: name.to_owned(),
            lane,
            fault,
            times,
            when: None,
        });
    }

    /// Like [`Self::on_connection`], but a new connection on `lane` gets
    /// `fault` only when `when` says so (asked once per connection the rule
    /// could apply to, in rule order): a random subset of connections, with a
    /// seeded coin. `times` bounds how many connections get it.
    pub fn on_connection_when(
        &self,
        name: &str,
        lane: Option<&'static str>,
        fault: Fault,
        times: u32,
        when: impl Fn() -> bool + Send + Sync + 'static,
    ) {
        self.shared.lock().conn_rules.push(ConnRule {
            name: name.to_owned(),
            lane,
            fault,
            times,
            when: Some(When(Arc::new(when))),
        });
    }

    /// The next `times` HTTP requests that `matcher` accepts get `fault`,
    /// counted under `name`.
    pub fn on_request(&self, name: &str, matcher: Match, fault: HttpFault, times: u32) {
        self.shared.lock().http_rules.push(HttpRule {
            name: name.to_owned(),
            matcher,
            fault,
            times,
        });
    }

    /// Removes every rule (counts stay).
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.conn_rules.clear();
        state.http_rules.clear();
    }

    /// How often the rules named `name` fired.
    pub fn injected(&self, name: &str) -> u32 {
        self.shared.lock().injected.get(name).copied().unwrap_or(0)
    }

    /// How often each rule name fired so far (names that never fired are absent).
    pub fn injected_counts(&self) -> BTreeMap<String, u32> {
        self.shared.lock().injected.clone()
    }

    /// Connections accepted so far on `lane`.
    pub fn connections(&self, lane: &str) -> u32 {
        self.shared
            .lock()
            .connections
            .get(lane)
            .copied()
            .unwrap_or(0)
    }

    /// HTTP requests parsed so far.
    pub fn requests(&self) -> u32 {
        self.shared.lock().requests
    }

    /// HTTP connections piped raw (a chunked or oversized body, an unreadable head).
    pub fn raw_fallbacks(&self) -> u32 {
        self.shared.lock().raw_fallbacks
    }

    /// The heads of the requests that made a connection fall back to raw.
    pub fn raw_heads(&self) -> Vec<String> {
        self.shared.lock().raw_heads.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let tasks =
            std::mem::take(&mut *self.shared.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            task.abort();
        }
    }
}

async fn accept(
    listener: TcpListener,
    lane: &'static str,
    target: SocketAddr,
    mode: Mode,
    shared: Arc<Shared>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors, say: do not spin.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let _ = client.set_nodelay(true);
        *shared.lock().connections.entry(lane).or_default() += 1;
        let conn_shared = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            match mode {
                Mode::Tcp => serve_tcp(&conn_shared, lane, client, target).await,
                Mode::Http => serve_http(&conn_shared, client, target).await,
            }
        });
        shared.track(task.abort_handle());
    }
}

async fn connect(target: SocketAddr) -> Option<TcpStream> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

/// How a pump ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The reader reached EOF (or failed); the writer was shut down.
    Eof,
    /// A cut fired: the whole connection must close.
    Cut,
}

/// What a pump does to its direction.
#[derive(Debug, Clone, Default)]
struct DirPlan {
    name: String,
    trigger: Option<(At, Option<Duration>)>,
    delay: Option<Duration>,
}

async fn serve_tcp(
    shared: &Arc<Shared>,
    lane: &'static str,
    mut client: TcpStream,
    target: SocketAddr,
) {
    let fault = shared.conn_fault(lane);
    if let Some((name, Fault::Refuse(bytes))) = &fault {
        shared.count(name);
        let _ = client.write_all(bytes).await;
        let _ = client.shutdown().await;
        return;
    }
    let Some(upstream) = connect(target).await else {
        return;
    };
    let mut up = DirPlan::default();
    let mut down = DirPlan::default();
    match fault {
        Some((name, Fault::Cut { dir, at })) => {
            let plan = if dir == Dir::Up { &mut up } else { &mut down };
            plan.name = name;
            plan.trigger = Some((at, None));
        }
        Some((name, Fault::Stall { dir, at, pause })) => {
            let plan = if dir == Dir::Up { &mut up } else { &mut down };
            plan.name = name;
            plan.trigger = Some((at, Some(pause)));
        }
        Some((name, Fault::Delay { per_chunk })) => {
            shared.count(&name);
            up.delay = Some(per_chunk);
            down.delay = Some(per_chunk);
        }
        Some((_, Fault::Refuse(_))) | None => {}
    }
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let a = pump(client_read, upstream_write, up, shared);
    let b = pump(upstream_read, client_write, down, shared);
    tokio::pin!(a, b);
    tokio::select! {
        ended = &mut a => if ended == Ended::Eof { let _ = b.await; },
        ended = &mut b => if ended == Ended::Eof { let _ = a.await; },
    }
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut plan: DirPlan,
    shared: &Shared,
) -> Ended {
    let mut buf = vec![0u8; 16 * 1024];
    let mut forwarded: u64 = 0;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return Ended::Eof;
            }
            Ok(n) => n,
        };
        if let Some(delay) = plan.delay {
            tokio::time::sleep(delay).await;
        }
        let mut chunk = &buf[..n];
        if let Some((at, pause)) = plan.trigger.clone() {
            let split = match &at {
                At::Bytes(limit) => {
                    let room = limit.saturating_sub(forwarded);
                    (room <= chunk.len() as u64).then_some(room as usize)
                }
                At::Pattern(pattern) => find(chunk, pattern),
            };
            if let Some(split) = split {
                if to.write_all(&chunk[..split]).await.is_err() {
                    return Ended::Cut;
                }
                forwarded += split as u64;
                chunk = &chunk[split..];
                shared.count(&plan.name);
                plan.trigger = None;
                match pause {
                    None => return Ended::Cut,
                    Some(pause) => tokio::time::sleep(pause).await,
                }
            }
        }
        if to.write_all(chunk).await.is_err() {
            return Ended::Cut;
        }
        forwarded += chunk.len() as u64;
    }
}

/// The index of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Header (name, value) pairs, names in lowercase.
type Headers = Vec<(String, String)>;

/// A parsed head: the start line's words and the headers (names lowercase).
fn parse_head(head: &[u8]) -> Option<(Vec<String>, Headers)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let start: Vec<String> = lines.next()?.splitn(3, ' ').map(str::to_owned).collect();
    if start.len() < 2 {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Some((start, headers))
}

async fn serve_http(shared: &Arc<Shared>, mut client: TcpStream, target: SocketAddr) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        // The head of the next request.
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                return raw_pipe(shared, client, buf, target).await;
            }
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let Some((start, headers)) = parse_head(&buf[..head_end]) else {
            return raw_pipe(shared, client, buf, target).await;
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
        let body_len = match (header("transfer-encoding"), length) {
            (Some(_), _) => return raw_pipe(shared, client, buf, target).await,
            (None, Some(n)) if n <= MAX_BODY => n,
            (None, Some(_)) => return raw_pipe(shared, client, buf, target).await,
            // A request with neither header has no body (RFC 9112, 6.3): the
            // SDK sends CreateMultipartUpload so.
            (None, None) => 0,
        };
        while buf.len() < head_end + body_len {
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let raw: Vec<u8> = buf.drain(..head_end + body_len).collect();
        let request = HttpRequest {
            method: start[0].clone(),
            target: start[1].clone(),
            headers,
            body: raw[head_end..].to_vec(),
        };
        match shared.http_fault(&request) {
            None => {
                if forward(&raw, head_end, &request.method, target, &mut client)
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Some((name, HttpFault::Answer(canned))) => {
                shared.count(&name);
                if client.write_all(&canned.to_bytes()).await.is_err() {
                    return;
                }
            }
            Some((name, HttpFault::ForwardThenAnswer(canned))) => {
                let mut lost = Vec::new();
                if forward(&raw, head_end, &request.method, target, &mut lost)
                    .await
                    .is_err()
                {
                    return;
                }
                shared.count(&name);
                if client.write_all(&canned.to_bytes()).await.is_err() {
                    return;
                }
            }
            Some((name, HttpFault::Drop)) => {
                shared.count(&name);
                return;
            }
        }
    }
}

/// Pipes the rest of the connection raw, starting with what was read already.
async fn raw_pipe(shared: &Shared, mut client: TcpStream, read: Vec<u8>, target: SocketAddr) {
    {
        let mut state = shared.lock();
        state.raw_fallbacks += 1;
        let head_end = find(&read, b"\r\n\r\n").unwrap_or(read.len().min(MAX_HEAD));
        state
            .raw_heads
            .push(String::from_utf8_lossy(&read[..head_end]).into_owned());
    }
    let Some(mut upstream) = connect(target).await else {
        return;
    };
    if upstream.write_all(&read).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Sends one request on a new connection to `target` (asking it to close
/// after answering) and copies the whole answer to `out`.
async fn forward<W: AsyncWrite + Unpin>(
    raw: &[u8],
    head_end: usize,
    method: &str,
    target: SocketAddr,
    out: &mut W,
) -> std::io::Result<()> {
    let gone = || std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "target unreachable");
    let upstream = connect(target).await.ok_or_else(gone)?;
    let head = String::from_utf8_lossy(&raw[..head_end - 4]);
    let mut rewritten = String::with_capacity(head.len() + 32);
    for (i, line) in head.split("\r\n").enumerate() {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if i > 0 && matches!(name.as_str(), "connection" | "keep-alive" | "expect") {
            continue;
        }
        rewritten.push_str(line);
        rewritten.push_str("\r\n");
    }
    rewritten.push_str("Connection: close\r\n\r\n");
    let (read, mut write) = upstream.into_split();
    write.write_all(rewritten.as_bytes()).await?;
    write.write_all(&raw[head_end..]).await?;
    let mut reader = BufReader::new(read);
    copy_response(&mut reader, method, out).await
}

/// Copies one HTTP response (interim 1xx answers included) from `from` to `out`.
async fn copy_response<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    from: &mut BufReader<R>,
    method: &str,
    out: &mut W,
) -> std::io::Result<()> {
    let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            if from.read_until(b'\n', &mut line).await? == 0 {
                return Err(broken("the target closed before answering"));
            }
            head.extend_from_slice(&line);
            if line == b"\r\n" || line == b"\n" {
                break;
            }
            if head.len() > MAX_HEAD {
                return Err(broken("the answer's head is too large"));
            }
        }
        out.write_all(&head).await?;
        let (start, headers) = parse_head(&head).ok_or_else(|| broken("unreadable answer head"))?;
        let status: u16 = start[1].parse().map_err(|_| broken("unreadable status"))?;
        if (100..200).contains(&status) {
            continue;
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if method == "HEAD" || status == 204 || status == 304 {
            return Ok(());
        }
        if header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
            loop {
                let mut line = Vec::new();
                if from.read_until(b'\n', &mut line).await? == 0 {
                    return Err(broken("chunked answer cut"));
                }
                out.write_all(&line).await?;
                let size_text = String::from_utf8_lossy(&line);
                let size_text = size_text
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let size =
                    u64::from_str_radix(&size_text, 16).map_err(|_| broken("bad chunk size"))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    loop {
                        let mut trailer = Vec::new();
                        if from.read_until(b'\n', &mut trailer).await? == 0 {
                            return Ok(());
                        }
                        out.write_all(&trailer).await?;
                        if trailer == b"\r\n" || trailer == b"\n" {
                            return Ok(());
                        }
                    }
                }
                // The data and its CRLF.
                let mut data = (&mut *from).take(size + 2);
                tokio::io::copy(&mut data, out).await?;
            }
        }
        match header("content-length").and_then(|v| v.parse::<u64>().ok()) {
            Some(length) => {
                let mut body = (&mut *from).take(length);
                let copied = tokio::io::copy(&mut body, out).await?;
                if copied != length {
                    return Err(broken("the answer's body was cut"));
                }
            }
            None => {
                tokio::io::copy(from, out).await?;
            }
        }
        return Ok(());
    }
}

#[cfg(test)]
mod tests {
    //! The proxy itself, against small servers of its own.
    use super::*;

    /// A server answering every connection's bytes with `bytes`, then EOF.
    async fn sender(bytes: Vec<u8>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let bytes = bytes.clone();
                tokio::spawn(async move {
                    let _ = socket.write_all(&bytes).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        addr
    }

    async fn read_all(addr: SocketAddr) -> Vec<u8> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await;
        got
    }

    #[tokio::test]
    async fn tcp_passes_cuts_refuses_and_stalls() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let proxy = FaultProxy::tcp(sender(payload.clone()).await).await;
        assert_eq!(read_all(proxy.addr()).await, payload);

        proxy.on_connection(
            "cut",
            Some(TCP),
            Fault::Cut {
                dir: Dir::Down,
                at: At::Bytes(1000),
            },
            1,
        );
        assert_eq!(read_all(proxy.addr()).await, payload[..1000]);
        assert_eq!(proxy.injected("cut"), 1);

        proxy.on_connection(
            "refuse",
            None,
            Fault::Refuse(b"421 Too many users\r\n".to_vec()),
            1,
        );
        assert_eq!(read_all(proxy.addr()).await, b"421 Too many users\r\n");
        assert_eq!(proxy.injected("refuse"), 1);

        let pattern = payload[5000..5004].to_vec();
        proxy.on_connection(
            "cut-at",
            None,
            Fault::Cut {
                dir: Dir::Down,
                at: At::Pattern(pattern),
            },
            1,
        );
        let got = read_all(proxy.addr()).await;
        assert!(
            got.len() <= 5000 && payload.starts_with(&got),
            "{}",
            got.len()
        );

        proxy.on_connection(
            "stall",
            None,
            Fault::Stall {
                dir: Dir::Down,
                at: At::Bytes(10),
                pause: Duration::from_millis(600),
            },
            1,
        );
        let started = tokio::time::Instant::now();
        assert_eq!(read_all(proxy.addr()).await, payload);
        assert!(started.elapsed() >= Duration::from_millis(600));
        assert_eq!(proxy.injected("stall"), 1);
        // Rules are used up: the next connection passes.
        assert_eq!(read_all(proxy.addr()).await, payload);
        assert_eq!(proxy.connections(TCP), 6);
    }

    #[tokio::test]
    async fn a_rule_with_a_coin_applies_to_the_connections_it_picks() {
        let payload = b"hello, world".to_vec();
        let proxy = FaultProxy::tcp(sender(payload.clone()).await).await;
        let flips = Mutex::new(vec![false, true, false, true].into_iter());
        proxy.on_connection_when(
            "sometimes",
            Some(TCP),
            Fault::Refuse(b"421 Not now\r\n".to_vec()),
            u32::MAX,
            move || flips.lock().unwrap().next().unwrap_or(false),
        );
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(read_all(proxy.addr()).await);
        }
        let refused = b"421 Not now\r\n".to_vec();
        assert_eq!(
            got,
            [
                payload.clone(),
                refused.clone(),
                payload.clone(),
                refused,
                payload
            ]
        );
        assert_eq!(
            proxy.injected_counts(),
            BTreeMap::from([("sometimes".to_owned(), 2)])
        );
    }

    /// A keep-alive HTTP server: `/chunked` answers chunked, the rest
    /// `ok <method> <target> <body length>` with a Content-Length.
    async fn http_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut reader = BufReader::new(read);
                    loop {
                        let mut head = Vec::new();
                        loop {
                            let mut line = Vec::new();
                            if reader.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            head.extend_from_slice(&line);
                            if line == b"\r\n" {
                                break;
                            }
                        }
                        let (start, headers) = parse_head(&head).unwrap();
                        let length: usize = headers
                            .iter()
                            .find(|(n, _)| n == "content-length")
                            .map_or(0, |(_, v)| v.parse().unwrap());
                        let mut body = vec![0u8; length];
                        reader.read_exact(&mut body).await.unwrap();
                        let answer = if start[1] == "/chunked" {
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                                .to_owned()
                        } else {
                            let text = format!("ok {} {} {length}", start[0], start[1]);
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{text}",
                                text.len()
                            )
                        };
                        if write.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    /// Sends `request` on `stream` and reads one answer (Content-Length or chunked).
    async fn exchange(stream: &mut BufReader<TcpStream>, request: &str) -> (u16, String) {
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut sink = Vec::new();
        copy_response(stream, "GET", &mut sink).await.unwrap();
        let text = String::from_utf8(sink).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }

    #[tokio::test]
    async fn http_keeps_connections_alive_and_answers_matching_requests() {
        let proxy = FaultProxy::http(http_server().await).await;
        proxy.on_request(
            "slow-down",
            Match::s3_upload_part(),
            HttpFault::Answer(Canned::s3_slow_down()),
            2,
        );
        proxy.on_request(
            "throttled",
            Match::dynamodb("PutItem").and_body_contains("discovered#"),
            HttpFault::Answer(Canned::dynamodb_throttling()),
            1,
        );
        let mut stream = BufReader::new(TcpStream::connect(proxy.addr()).await.unwrap());
        let put = "PUT /b/k?partNumber=1&uploadId=x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
        for _ in 0..2 {
            let (status, body) = exchange(&mut stream, put).await;
            assert_eq!(status, 503);
            assert!(body.contains("<Code>SlowDown</Code>"), "{body}");
        }
        // Used up: forwarded, on the same client connection.
        assert_eq!(
            exchange(&mut stream, put).await,
            (200, "ok PUT /b/k?partNumber=1&uploadId=x 5".into())
        );
        let get = "GET /b/k HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(
            exchange(&mut stream, get).await,
            (200, "ok GET /b/k 0".into())
        );
        let chunked = "GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n";
        assert_eq!(
            exchange(&mut stream, chunked).await.1,
            "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        );
        let body = r#"{"Item":{"tenant_state":{"S":"discovered#acme"}}}"#;
        let claim = format!(
            "POST / HTTP/1.1\r\nHost: h\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (status, answer) = exchange(&mut stream, &claim).await;
        assert_eq!(status, 400);
        assert!(answer.contains("#ThrottlingException"), "{answer}");
        assert_eq!(exchange(&mut stream, &claim).await.0, 200);
        assert_eq!(
            (proxy.injected("slow-down"), proxy.injected("throttled")),
            (2, 1)
        );
        assert_eq!(proxy.requests(), 7);
        assert_eq!(proxy.connections(HTTP), 1, "one keep-alive connection");

        // A chunked request body: the rest of the connection is piped raw.
        let chunked_put = "PUT /b/k?partNumber=1&uploadId=x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut raw = TcpStream::connect(proxy.addr()).await.unwrap();
        raw.write_all(chunked_put.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(proxy.raw_fallbacks(), 1);
    }
}
