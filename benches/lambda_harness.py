#!/usr/bin/env python3
"""Issue 8 (performance): runs the REAL release Lambda bootstraps of functions/*
against local servers and measures

  cold-start     size of each bootstrap, and the time from process spawn to its
                 first `GET /2018-06-01/runtime/invocation/next` on a Lambda Runtime
                 API stub (median and min of N runs); the AWS calls each makes
                 before that (through a counting proxy in front of moto) and, when
                 strace is installed, every connect() it makes before that.
  ingest-memory  peak RSS (VmHWM, read just before it is stopped) of the ingester bootstrap taking a gzip
                 CSV of N MiB (decoded) from pyftpdlib to S3 on moto: registry pushed
                 with the release CLI, file discovered by the release poller, its
                 FileDiscovered message handed to the ingester as an SQS event; the
                 object is verified (the body's size and SHA-256; rows and the received
                 bytes' SHA-256 in the ledger).
  poller-scale   time of one poll of a source with N small files (event delivered →
                 response) and the DynamoDB / SQS calls it makes, by operation,
                 counted by a proxy between the bootstrap and moto, with the time
                 spent waiting on each; then a second poll of the same files (all
                 known). `--latency-ms` makes the proxy add a region's round trip
                 to every call, so calls made one after another show.

Run it with the test venv's python (moto, pyftpdlib and boto3 are there):

    PY=/root/.cache/tributary/venv/bin/python
    $PY benches/lambda_harness.py cold-start [--runs 10] [--json]
    $PY benches/lambda_harness.py ingest-memory [--sizes 10,200,1024] [--s3 moto|s3s-fs] [--json]
    $PY benches/lambda_harness.py poller-scale [--files 1000,10000] [--latency-ms 10] [--json]

Binaries: `CARGO_TARGET_DIR=/root/.cache/tributary/target cargo build --release --locked
-p tributary-poller -p tributary-ingester -p tributary-catalog-trigger
-p tributary-sla-monitor -p tributary-dlq-redrive -p tributary-cli` (or --bin-dir DIR).
Every server listens on 127.0.0.1 on an ephemeral port and is stopped at the end.
With --json the figures go to stdout as one JSON document, progress to stderr.
"""

import argparse
import collections
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("TRIBUTARY_CACHE_DIR", os.path.expanduser("~/.cache/tributary"))
DEFAULT_BIN_DIR = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(CACHE, "target")), "release")
BUILD_HINT = (
    "build them with: cd {repo} && CARGO_TARGET_DIR={cache}/target cargo build --release --locked "
    "-p tributary-poller -p tributary-ingester -p tributary-catalog-trigger -p tributary-sla-monitor "
    "-p tributary-dlq-redrive -p tributary-cli   (or pass --bin-dir)"
).format(repo=REPO, cache=CACHE)

# function name -> (bootstrap binary, MemorySize in sam/template.yaml)
FUNCTIONS = {
    "poller": ("poller", 256),
    "ingester": ("ingester", 1024),
    "catalog-trigger": ("catalog-trigger", 256),
    "sla-monitor": ("sla-monitor", 256),
    "dlq-redrive": ("dlq-redrive", 256),
}
REGION = "us-east-1"
TABLE, BUCKET, TOPIC = "tributary-ledger", "tributary-raw", "tributary-alerts"
QUEUES = [
    ("TRIBUTARY_POLL_QUEUE_URL", "tributary-poll"),
    ("TRIBUTARY_POLL_DLQ_URL", "tributary-poll-dlq"),
    ("TRIBUTARY_INGEST_QUEUE_URL", "tributary-ingest"),
    ("TRIBUTARY_INGEST_DLQ_URL", "tributary-ingest-dlq"),
    ("TRIBUTARY_CATALOG_QUEUE_URL", "tributary-catalog"),
    ("TRIBUTARY_CATALOG_DLQ_URL", "tributary-catalog-dlq"),
]
FTP_USER, FTP_PASSWORD = "bench", "bench-password"
RUNTIME_NEXT = "/2018-06-01/runtime/invocation/next"


class HarnessError(Exception):
    pass


def log(*parts):
    print("lambda_harness:", *parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, probe, proc=None, seconds=30, log_path=None):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if probe():
                return
        except Exception:
            pass
        if proc is not None and proc.poll() is not None:
            raise HarnessError(f"{what} exited (status {proc.returncode}) before answering{tail(log_path)}")
        if time.monotonic() > deadline:
            raise HarnessError(f"{what} did not answer within {seconds}s{tail(log_path)}")
        time.sleep(0.05)


def tail(path, lines=30):
    if not path or not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        text = f.readlines()[-lines:]
    return f"; last lines of {path}:\n" + "".join(text)


def tcp_open(port):
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


# --------------------------------------------------------------------------------------
# Processes: every one started in its own session; stopped by its own pid at the end.


class Processes:
    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []

    def start(self, name, argv, env=None, stdout_path=None):
        path = stdout_path or os.path.join(self.workdir, f"{name}.log")
        out = open(path, "ab")
        try:
            proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
        proc.log_path = path
        self.procs.append(proc)
        return proc

    def stop(self, proc, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` s; returns wait4's rusage (or None)."""
        rusage = None
        if proc.returncode is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    rusage = usage
                    break
                if time.monotonic() > deadline:
                    try:
                        os.kill(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    _, status, usage = os.wait4(proc.pid, 0)
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    rusage = usage
                    break
                time.sleep(0.02)
        if proc in self.procs:
            self.procs.remove(proc)
        return rusage

    def stop_all(self):
        for proc in list(self.procs):
            try:
                self.stop(proc, grace=3.0)
            except ChildProcessError:
                pass


# --------------------------------------------------------------------------------------
# The Lambda Runtime API stub (one per bootstrap process).


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


class RuntimeStub:
    """Serves /next (blocking until an event is queued), takes /response, /error and
    /init/error. Records when the first /next arrived."""

    def __init__(self, deadline_secs=900):
        self.deadline_secs = deadline_secs
        self.first_next = None
        self.events = collections.deque()
        self.results = {}  # request id -> (kind, body bytes, perf_counter)
        self.delivered = {}  # request id -> perf_counter once the /next answer was written
        self.init_error = None
        self.cond = threading.Condition()
        self.closing = False
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out in two writes: without this, Nagle + delayed
                # ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self):
                if self.path != RUNTIME_NEXT:
                    return self._reply(404, b'{"errorMessage":"unknown path"}')
                now = time.perf_counter()
                with stub.cond:
                    if stub.first_next is None:
                        stub.first_next = now
                        stub.cond.notify_all()
                    while not stub.events and not stub.closing:
                        stub.cond.wait(0.5)
                    if stub.closing:
                        return
                    rid, payload = stub.events.popleft()
                deadline_ms = int((time.time() + stub.deadline_secs) * 1000)
                self._reply(200, payload, [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", rid),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn",
                     "arn:aws:lambda:us-east-1:123456789012:function:bench"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ])
                with stub.cond:
                    stub.delivered[rid] = time.perf_counter()
                    stub.cond.notify_all()

            def do_POST(self):
                body = self._body()
                now = time.perf_counter()
                m = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
                with stub.cond:
                    if m:
                        stub.results[m.group(1)] = (m.group(2), body, now)
                    elif self.path == "/2018-06-01/runtime/init/error":
                        stub.init_error = body
                    stub.cond.notify_all()
                self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def wait_first_next(self, proc, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.first_next is None:
                if proc.poll() is not None:
                    raise HarnessError(f"the bootstrap exited (status {proc.returncode}) before its first "
                                       f"/next{tail(proc.log_path)}")
                if time.monotonic() > deadline:
                    raise HarnessError(f"no /next from the bootstrap within {timeout}s{tail(proc.log_path)}")
                self.cond.wait(0.05)
            return self.first_next

    def invoke(self, payload, proc, timeout):
        """Queues `payload`; returns (kind, parsed body, seconds from delivery to answer)."""
        rid = str(uuid.uuid4())
        data = json.dumps(payload).encode()
        deadline = time.monotonic() + timeout
        with self.cond:
            self.events.append((rid, data))
            self.cond.notify_all()
            while rid not in self.results:
                if proc.poll() is not None:
                    raise HarnessError(f"the bootstrap exited (status {proc.returncode}) during the "
                                       f"invocation{tail(proc.log_path)}")
                if time.monotonic() > deadline:
                    raise HarnessError(f"no answer to the invocation within {timeout}s{tail(proc.log_path)}")
                self.cond.wait(0.1)
            kind, body, done = self.results[rid]
            delivered = self.delivered.get(rid, done)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode(errors="replace")
        return kind, parsed, done - delivered

    def close(self):
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------
# A counting HTTP proxy between a bootstrap and moto.


class CountingProxy:
    """Forwards every request to moto and counts it by (service, operation):
    the service from the SigV4 credential scope, the operation from X-Amz-Target
    (DynamoDB, SQS JSON) or the form's Action= (SQS/SNS query), else method + path."""

    def __init__(self, upstream_port, latency=0.0):
        self.upstream_port = upstream_port
        # Added before each request is forwarded (requests in flight together
        # wait together): a region's round trip, which moto on loopback lacks.
        self.latency = latency
        self.lock = threading.Lock()
        self.log = []  # [perf_counter, service, operation, seconds until moto answered]
        proxy = self
        local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out in two writes: without this, Nagle + delayed
                # ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def _forward(self):
                t = time.perf_counter()
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service, operation = classify(self.command, self.path, self.headers, body)
                entry = [t, service, operation, None]
                with proxy.lock:
                    proxy.log.append(entry)
                if proxy.latency:
                    time.sleep(proxy.latency)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "keep-alive", "transfer-encoding",
                                                "content-length", "proxy-connection")}
                if body or self.command in ("POST", "PUT"):
                    headers["Content-Length"] = str(len(body))
                for attempt in range(2):
                    conn = getattr(local, "conn", None)
                    if conn is None:
                        conn = local.conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port,
                                                                       timeout=300)
                        conn.connect()
                        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    try:
                        conn.request(self.command, self.path, body=body or None, headers=headers)
                        resp = conn.getresponse()
                        data = resp.read()
                        entry[3] = time.perf_counter() - t
                        break
                    except (http.client.HTTPException, OSError):
                        conn.close()
                        local.conn = None
                        if attempt:
                            raise
                self.send_response(resp.status, resp.reason)
                length = None
                for k, v in resp.getheaders():
                    if k.lower() in ("connection", "keep-alive", "transfer-encoding", "date", "server"):
                        continue
                    if k.lower() == "content-length":
                        length = v
                        continue
                    self.send_header(k, v)
                if self.command == "HEAD":
                    self.send_header("Content-Length", length or "0")
                    self.end_headers()
                else:
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                self.wfile.flush()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def mark(self):
        with self.lock:
            return len(self.log)

    def counts(self, since=0, until=None):
        with self.lock:
            entries = self.log[since:until]
        counts = collections.Counter(f"{s}:{o}" for _, s, o, _ in entries)
        return dict(sorted(counts.items()))

    def waited(self, since=0, until=None):
        """Seconds from each request's arrival to moto's answer, summed by operation."""
        with self.lock:
            entries = self.log[since:until]
        waited = collections.defaultdict(float)
        for _, s, o, secs in entries:
            waited[f"{s}:{o}"] += secs or 0.0
        return {k: round(v, 3) for k, v in sorted(waited.items())}

    def entries_before(self, t):
        with self.lock:
            return [(s, o) for ts, s, o, _ in self.log if ts <= t]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def classify(method, path, headers, body):
    auth = headers.get("Authorization", "")
    m = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/aws4_request", auth)
    service = m.group(1) if m else "unknown"
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    ctype = headers.get("Content-Type", "")
    if "x-www-form-urlencoded" in ctype and body:
        action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action")
        if action:
            return service, action[0]
    query = urllib.parse.urlsplit(path).query
    keys = sorted(k for k in urllib.parse.parse_qs(query, keep_blank_values=True) if k in
                  ("uploads", "uploadId", "partNumber", "list-type", "tagging"))
    return service, f"{method}{'?' + '&'.join(keys) if keys else ''}"


# --------------------------------------------------------------------------------------
# Tools, moto, FTP, resources.


def check_tools(need_pigz=False, need_cli=False, functions=()):
    missing = []
    try:
        import boto3  # noqa: F401
        import moto  # noqa: F401
    except ImportError as e:
        missing.append(f"{e.name}: run this with the test venv's python ({CACHE}/venv/bin/python), or "
                       f"python3 -m venv {CACHE}/venv && {CACHE}/venv/bin/pip install -r "
                       f"scripts/requirements-test.txt")
    try:
        import pyftpdlib  # noqa: F401
    except ImportError:
        missing.append(f"pyftpdlib: {sys.executable} -m pip install pyftpdlib")
    moto_server = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.access(moto_server, os.X_OK):
        missing.append(f"moto_server not next to {sys.executable}: {sys.executable} -m pip install 'moto[server]'")
    if need_pigz and not shutil.which("pigz"):
        missing.append("pigz: apt-get install pigz")
    return missing


def check_binaries(bin_dir, names):
    missing = [n for n in names if not os.access(os.path.join(bin_dir, n), os.X_OK)]
    if missing:
        return [f"release binaries missing in {bin_dir}: {', '.join(missing)}; {BUILD_HINT}"]
    return []


def require(problems):
    if problems:
        raise HarnessError("missing tools:\n  - " + "\n  - ".join(problems))


def start_moto(procs):
    port = free_port()
    moto_server = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = procs.start(f"moto-{port}", [moto_server, "-H", "127.0.0.1", "-p", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_for("moto_server", lambda: urllib.request.urlopen(url + "/moto-api/", timeout=2).status == 200,
             proc, 60, proc.log_path)
    return proc, port, url


def boto(service, endpoint):
    import boto3
    from botocore.config import Config
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                                      read_timeout=300))


def create_resources(moto_url):
    """The table (same schema as DynamoLedger::create_table), bucket, queues, topic:
    returns the TRIBUTARY_* variables naming them."""
    ddb = boto("dynamodb", moto_url)
    ddb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("pk", "sk", "tenant_state", "updated")],
        GlobalSecondaryIndexes=[{
            "IndexName": "by_tenant_state",
            "KeySchema": [{"AttributeName": "tenant_state", "KeyType": "HASH"},
                          {"AttributeName": "updated", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}])
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"AttributeName": "expires_at",
                                                                       "Enabled": True})
    boto("s3", moto_url).create_bucket(Bucket=BUCKET)
    sqs = boto("sqs", moto_url)
    env = {"TRIBUTARY_TABLE": TABLE, "TRIBUTARY_BUCKET": BUCKET}
    for var, name in QUEUES:
        env[var] = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "960"})["QueueUrl"]
    env["TRIBUTARY_TOPIC_ARN"] = boto("sns", moto_url).create_topic(Name=TOPIC)["TopicArn"]
    return env


def function_env(resources, endpoint, runtime_port, name, extra=None):
    """What Lambda gives the bootstrap, plus the TRIBUTARY_* variables; nothing of
    the caller's AWS_* / TRIBUTARY_* environment."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(FUNCTIONS[name][1]),
        "RUST_LOG": "info",
        "TRIBUTARY_S3_PATH_STYLE": "true",
        "TRIBUTARY_BENCH_FTP_PASSWORD": FTP_PASSWORD,
    }
    env.update(resources)
    env.update(extra or {})
    return env


def start_ftp(procs, root):
    port = free_port()
    proc = procs.start(f"ftp-{port}", [sys.executable, "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", str(port),
                                       "-d", root, "-u", FTP_USER, "-P", FTP_PASSWORD])
    wait_for("pyftpdlib", lambda: tcp_open(port), proc, 30, proc.log_path)
    return proc, port


def find_s3s_fs():
    """The s3s-fs binary: $S3S_FS, on PATH, or where the bench README installs it."""
    for candidate in (os.environ.get("S3S_FS"), shutil.which("s3s-fs"),
                      os.path.join(CACHE, "tools", "bin", "s3s-fs")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


S3S_FS_HINT = (f"s3s-fs: cargo install s3s-fs@0.14.1 --features binary --locked --root {CACHE}/tools "
               "(0.14 is the last release for rustc 1.95), or set S3S_FS")


class S3Peer:
    """s3s-fs (a Rust S3 server over a directory, objects stored as files) on
    127.0.0.1, for what moto cannot hold: moto keeps every object and part in memory."""

    ACCESS, SECRET = "testing", "testing"

    def __init__(self, procs, workdir):
        self.root = os.path.join(workdir, "s3")
        os.makedirs(self.root)
        self.port = free_port()
        self.proc = procs.start(f"s3s-fs-{self.port}", [
            find_s3s_fs(), "--host", "127.0.0.1", "--port", str(self.port),
            "--access-key", self.ACCESS, "--secret-key", self.SECRET, self.root])
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for("s3s-fs", lambda: tcp_open(self.port), self.proc, 30, self.proc.log_path)

    def bucket(self, name):
        """Creates bucket `name`; returns its directory (one file per object)."""
        boto("s3", self.url).create_bucket(Bucket=name)
        return os.path.join(self.root, name)


def registry_yaml(ftp_port, glob):
    return f"""version: 1
tenants:
  - id: bench
    sources:
      - id: bench-ftp
        host: 127.0.0.1
        port: {ftp_port}
        protocol: ftp
        username: {FTP_USER}
        password: {{env: TRIBUTARY_BENCH_FTP_PASSWORD}}
        directories: [/outgoing]
        poll_schedule: "*/5 * * * *"
        connect_timeout_secs: 10
        rules:
          - id: bench-rule
            match: {{glob: "{glob}"}}
            dataset: bench
            format: csv
            stability:
              require_unchanged: false   # one look is enough: the files are an hour old
              min_age_secs: 60
"""


def push_registry(bin_dir, workdir, text, resources, moto_url):
    path = os.path.join(workdir, "registry.yaml")
    with open(path, "w") as f:
        f.write(text)
    env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": moto_url, "AWS_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "HOME": workdir}
    env.update(resources)
    out = subprocess.run([os.path.join(bin_dir, "tributary"), "registry", "push", path], env=env,
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise HarnessError(f"tributary registry push failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    log(last)


class Bootstrap:
    """One bootstrap process attached to its own runtime stub."""

    def __init__(self, procs, bin_dir, name, resources, endpoint, extra_env=None, deadline_secs=900):
        self.procs = procs
        self.stub = RuntimeStub(deadline_secs)
        env = function_env(resources, endpoint, self.stub.port, name, extra_env)
        self.t_spawn = time.perf_counter()
        self.proc = procs.start(f"{name}-{self.stub.port}", [os.path.join(bin_dir, FUNCTIONS[name][0])], env)

    def ready(self, timeout=30):
        return self.stub.wait_first_next(self.proc, timeout) - self.t_spawn

    def invoke(self, payload, timeout):
        return self.stub.invoke(payload, self.proc, timeout)

    def vm_hwm_kib(self):
        """Peak RSS of the bootstrap itself (VmHWM of its post-exec address space).
        wait4's ru_maxrss is not used as the figure: Linux carries the forking
        parent's RSS (this Python, ~80 MiB) across exec into the child's maxrss."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self):
        self.hwm_kib = self.vm_hwm_kib()
        try:
            return self.procs.stop(self.proc)
        finally:
            self.stub.close()


def cpu_seconds(pid):
    """User + system CPU time a process has used so far (/proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(xs):
    return statistics.median(xs) if xs else None


# --------------------------------------------------------------------------------------
# 1. Cold start


def is_stripped(path):
    if not shutil.which("file"):
        return None
    out = subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout
    return "not stripped" not in out and "stripped" in out


def strace_connects(bin_dir, name, resources, endpoint, workdir, procs):
    """One more start under strace: the connect() calls made before the first /next."""
    stub = RuntimeStub()
    env = function_env(resources, endpoint, stub.port, name)
    out = os.path.join(workdir, f"strace-{name}.txt")
    proc = procs.start(f"strace-{name}", ["strace", "-f", "-qq", "-e", "trace=connect", "-o", out,
                                          os.path.join(bin_dir, FUNCTIONS[name][0])], env)
    try:
        stub.wait_first_next(proc, 60)
        time.sleep(0.2)
    finally:
        procs.stop(proc)
        stub.close()
    targets = collections.Counter()
    with open(out, errors="replace") as f:
        for line in f:
            m = re.search(r"connect\(\d+, \{sa_family=(\w+), (?:sin6?_port=htons\((\d+)\), )?"
                          r"(?:sin_addr=inet_addr\(\"([^\"]+)\"\)|inet_pton\(AF_INET6, \"([^\"]+)\"|"
                          r"sun_path=\"([^\"]+)\")?", line)
            if not m:
                continue
            family, port, v4, v6, unix = m.groups()
            if family == "AF_UNIX":
                target = f"unix:{unix}"
            else:
                target = f"{v4 or v6}:{port}"
            if port and int(port) == stub.port:
                target = "runtime-api"
            elif port and endpoint.endswith(f":{port}"):
                target = "aws-endpoint (proxy to moto)"
            targets[target] += 1
    return dict(targets)


def cmd_cold_start(args):
    names = list(FUNCTIONS)
    require(check_tools() + check_binaries(args.bin_dir, [FUNCTIONS[n][0] for n in names]))
    workdir = tempfile.mkdtemp(prefix="lambda-harness-")
    procs = Processes(workdir)
    proxy = None
    results = {}
    try:
        _, _, moto_url = start_moto(procs)
        resources = create_resources(moto_url)
        proxy = CountingProxy(int(moto_url.rsplit(":", 1)[1]))
        for name in names:
            path = os.path.realpath(os.path.join(args.bin_dir, FUNCTIONS[name][0]))
            times, startup_calls = [], collections.Counter()
            for run in range(args.runs):
                mark = proxy.mark()
                b = Bootstrap(procs, args.bin_dir, name, resources, proxy.url)
                try:
                    times.append(b.ready(timeout=30) * 1000)
                    first_next = b.stub.first_next
                finally:
                    b.stop()
                with proxy.lock:
                    calls = [(s, o) for t, s, o, _ in proxy.log[mark:] if t <= first_next]
                startup_calls.update(f"{s}:{o}" for s, o in calls)
            connects = None
            if args.strace and shutil.which("strace"):
                connects = strace_connects(args.bin_dir, name, resources, proxy.url, workdir, procs)
            results[name] = {
                "binary": path,
                "size_bytes": os.path.getsize(path),
                "stripped": is_stripped(path),
                "runs": args.runs,
                "median_ms": round(median(times), 2),
                "min_ms": round(min(times), 2),
                "max_ms": round(max(times), 2),
                "aws_calls_before_first_next_total": dict(startup_calls),
                "aws_calls_before_first_next_per_run": {k: v / args.runs for k, v in startup_calls.items()},
                "connects_before_first_next_strace": connects,
            }
            log(f"{name}: median {results[name]['median_ms']} ms, min {results[name]['min_ms']} ms, "
                f"{results[name]['size_bytes'] / 2**20:.1f} MiB, AWS calls at start-up: {dict(startup_calls) or 0}")
    finally:
        if proxy:
            proxy.close()
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report = {"mode": "cold-start", "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{'function':<16} {'size MiB':>9} {'stripped':>8} {'median ms':>10} {'min ms':>8} {'max ms':>8}  "
              f"AWS calls before first /next (all runs)  connect() before first /next (strace)")
        for name, r in results.items():
            print(f"{name:<16} {r['size_bytes'] / 2**20:>9.2f} {str(r['stripped']):>8} {r['median_ms']:>10.2f} "
                  f"{r['min_ms']:>8.2f} {r['max_ms']:>8.2f}  {r['aws_calls_before_first_next_total'] or 'none'}  "
                  f"{r['connects_before_first_next_strace']}")
    return 0


# --------------------------------------------------------------------------------------
# 2. Ingester peak memory


def make_gzip_csv(mib, dest):
    """gen_csv.py | (hash + count here) | pigz > dest; returns decoded sha256, rows, bytes."""
    gen = subprocess.Popen([sys.executable, os.path.join(REPO, "scripts", "fixtures", "gen_csv.py"),
                            "--mib", str(mib)], stdout=subprocess.PIPE)
    with open(dest, "wb") as out:
        pz = subprocess.Popen(["pigz", "-p", "2", "-c"], stdin=subprocess.PIPE, stdout=out)
        digest, lines, size = hashlib.sha256(), 0, 0
        last = b""
        while True:
            chunk = gen.stdout.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
            lines += chunk.count(b"\n")
            size += len(chunk)
            last = chunk[-1:]
            pz.stdin.write(chunk)
        pz.stdin.close()
        if gen.wait(timeout=60) != 0 or pz.wait(timeout=600) != 0:
            raise HarnessError("generating the CSV failed (gen_csv.py | pigz)")
    records = lines + (1 if last and last != b"\n" else 0)
    received = hashlib.sha256()
    with open(dest, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            received.update(chunk)
    return {"sha256": digest.hexdigest(), "received_sha256": received.hexdigest(), "rows": records - 1,
            "decoded_bytes": size, "gzip_bytes": os.path.getsize(dest)}


def sqs_event_for(messages, queue_arn):
    records = []
    for m in messages:
        attrs = {k: {"stringValue": v.get("StringValue"), "stringListValues": [], "binaryListValues": [],
                     "dataType": v.get("DataType", "String")}
                 for k, v in (m.get("MessageAttributes") or {}).items()}
        records.append({
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": {k: v for k, v in (m.get("Attributes") or {}).items()},
            "messageAttributes": attrs, "md5OfBody": m.get("MD5OfBody", ""),
            "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": REGION})
    return {"Records": records}


def ledger_figures(moto_url, file_name):
    """rows, sha256 and state of the file's ledger record (the item whose `record`
    JSON names the file)."""
    ddb = boto("dynamodb", moto_url)
    found, start = {}, None
    for _ in range(100):
        kw = {"TableName": TABLE}
        if start:
            kw["ExclusiveStartKey"] = start
        out = ddb.scan(**kw)
        for item in out.get("Items", []):
            text = item.get("record", {}).get("S")
            if not text or file_name not in text:
                continue
            try:
                record = json.loads(text)
            except ValueError:
                continue

            def walk(v):
                if isinstance(v, dict):
                    for k, x in v.items():
                        if k in ("rows", "sha256", "state") and not isinstance(x, (dict, list)):
                            found.setdefault(k, x)
                        walk(x)
                elif isinstance(v, list):
                    for x in v:
                        walk(x)
            walk(record)
        start = out.get("LastEvaluatedKey")
        if not start:
            break
    return found


def receive_all(sqs, url, expected, timeout=60):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  AttributeNames=["All"], MessageAttributeNames=["All"])
        got.extend(out.get("Messages", []))
    return got


def cmd_ingest_memory(args):
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    missing = [S3S_FS_HINT] if args.s3 == "s3s-fs" and not find_s3s_fs() else []
    require(check_tools(need_pigz=True) + missing + check_binaries(args.bin_dir, ["poller", "ingester", "tributary"]))
    results = []
    for mib in sizes:
        workdir = tempfile.mkdtemp(prefix="lambda-harness-", dir=args.tmp)
        procs = Processes(workdir)
        try:
            results.append(ingest_one(args, mib, workdir, procs))
        except HarnessError as e:
            log(f"{mib} MiB: FAILED: {e}")
            results.append({"decoded_mib": mib, "error": str(e)})
        finally:
            procs.stop_all()
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    report = {"mode": "ingest-memory", "s3": args.s3, "goal_mib": 64, "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{'decoded':>9} {'gzip':>9} {'ingester peak RSS':>17} {'poller peak RSS':>15} {'ingest s':>9} "
              f"{'verified':>9}  rows")
        for r in results:
            if "error" in r:
                print(f"{r['decoded_mib']:>5} MiB  FAILED: {r['error'][:300]}")
                continue
            print(f"{r['decoded_mib']:>5} MiB {r['gzip_bytes'] / 2**20:>5.1f} MiB {r['ingester_max_rss_kib'] / 1024:>13.1f} MiB "
                  f"{r['poller_max_rss_kib'] / 1024:>11.1f} MiB {r['ingest_seconds']:>9.1f} {str(r['verified']):>9}  "
                  f"{r['rows']}")
    return 0 if all(r.get("verified") for r in results) else 1


def ingest_one(args, mib, workdir, procs):
    root = os.path.join(workdir, "ftp")
    os.makedirs(os.path.join(root, "outgoing"))
    name = f"sales_{mib}mib.csv.gz"
    path = os.path.join(root, "outgoing", name)
    log(f"{mib} MiB: generating {name} (gen_csv.py | pigz)")
    t = time.monotonic()
    expected = make_gzip_csv(mib, path)
    old = time.time() - 3600
    os.utime(path, (old, old))
    log(f"{mib} MiB: {expected['gzip_bytes'] / 2**20:.1f} MiB gzip, {expected['rows']} rows, "
        f"made in {time.monotonic() - t:.1f}s")
    _, _, moto_url = start_moto(procs)
    resources = create_resources(moto_url)
    s3_url, ingester_env, bucket_dir = moto_url, None, None
    if args.s3 == "s3s-fs":
        peer = S3Peer(procs, workdir)
        bucket_dir = peer.bucket(BUCKET)
        s3_url, ingester_env = peer.url, {"AWS_ENDPOINT_URL_S3": peer.url}
    _, ftp_port = start_ftp(procs, root)
    push_registry(args.bin_dir, workdir, registry_yaml(ftp_port, "/outgoing/sales_*.csv.gz"), resources, moto_url)

    poller = Bootstrap(procs, args.bin_dir, "poller", resources, moto_url, deadline_secs=300)
    try:
        poller.ready()
        kind, body, secs = poller.invoke({"source": "bench-ftp"}, timeout=300)
    finally:
        poller_usage = poller.stop()
    if kind != "response" or not isinstance(body, dict) or body.get("sent") != 1:
        raise HarnessError(f"the poller did not send the file: {kind} {body}")
    log(f"{mib} MiB: poller sent 1 file in {secs:.2f}s")

    sqs = boto("sqs", moto_url)
    ingest_url = resources["TRIBUTARY_INGEST_QUEUE_URL"]
    messages = receive_all(sqs, ingest_url, 1)
    if len(messages) != 1:
        raise HarnessError(f"expected 1 FileDiscovered message on the ingest queue, got {len(messages)}")
    arn = sqs.get_queue_attributes(QueueUrl=ingest_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = sqs_event_for(messages, arn)

    ingester = Bootstrap(procs, args.bin_dir, "ingester", resources, moto_url, extra_env=ingester_env,
                         deadline_secs=900)
    try:
        ingester.ready()
        kind, body, ingest_secs = ingester.invoke(event, timeout=args.ingest_timeout)
    finally:
        usage = ingester.stop()
    log(f"{mib} MiB: ingester answered in {ingest_secs:.1f}s: {kind} {body}; peak RSS (VmHWM) "
        f"{(ingester.hwm_kib or 0) / 1024:.1f} MiB")
    if kind != "response" or body != {"batchItemFailures": []}:
        raise HarnessError(f"the ingester failed the message: {kind} {body}{tail(ingester.proc.log_path)}")

    s3 = boto("s3", s3_url)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    if len(keys) != 1:
        raise HarnessError(f"expected 1 object in the bucket, found {keys}")
    head = s3.head_object(Bucket=BUCKET, Key=keys[0])
    meta = head.get("Metadata", {})
    ledger = ledger_figures(moto_url, name)
    checks = {
        # The streamed (multipart) path sets the object's metadata when the upload is
        # created, before rows and sha256 are known: they are checked when present.
        "rows_metadata": meta.get("rows") == str(expected["rows"]) if "rows" in meta else None,
        "sha256_metadata": meta.get("sha256") == expected["received_sha256"] if "sha256" in meta else None,
        "rows_ledger": ledger.get("rows") == expected["rows"],
        # The engine's sha256 is of the bytes as received (the gzip file).
        "received_sha256_ledger": ledger.get("sha256") == expected["received_sha256"],
        "state_ledger": ledger.get("state"),
        "size": head["ContentLength"] == expected["decoded_bytes"],
    }
    if bucket_dir:
        # s3s-fs keeps the object as a file: hashed there, whatever its size.
        digest = hashlib.sha256()
        with open(os.path.join(bucket_dir, keys[0]), "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        checks["decoded_sha256_of_body"] = digest.hexdigest() == expected["sha256"]
    elif args.hash_body_max_mib and mib <= args.hash_body_max_mib:
        digest = hashlib.sha256()
        body_stream = s3.get_object(Bucket=BUCKET, Key=keys[0])["Body"]
        for chunk in iter(lambda: body_stream.read(1 << 20), b""):
            digest.update(chunk)
        checks["decoded_sha256_of_body"] = digest.hexdigest() == expected["sha256"]
    verified = all(v for k, v in checks.items() if v is not None and k != "state_ledger") \
        and checks["state_ledger"] == "ingested"
    if not verified:
        log(f"{mib} MiB: verification failed: {checks}; metadata {meta}")
    return {
        "decoded_mib": mib, "decoded_bytes": expected["decoded_bytes"], "gzip_bytes": expected["gzip_bytes"],
        "rows": expected["rows"], "key": keys[0],
        "ingester_max_rss_kib": ingester.hwm_kib,
        "poller_max_rss_kib": poller.hwm_kib,
        "ingester_wait4_maxrss_kib_includes_parent_fork": usage.ru_maxrss if usage else None,
        "ingest_seconds": round(ingest_secs, 2), "verified": verified, "checks": checks,
        "metadata": {k: meta.get(k) for k in ("rows", "sha256", "received-bytes", "decoded-bytes")},
        "ledger": ledger,
    }


# --------------------------------------------------------------------------------------
# 3. Poller scale


def cmd_poller_scale(args):
    counts = [int(s) for s in args.files.split(",") if s.strip()]
    require(check_tools() + check_binaries(args.bin_dir, ["poller", "tributary"]))
    results = []
    for n in counts:
        workdir = tempfile.mkdtemp(prefix="lambda-harness-", dir=args.tmp)
        procs = Processes(workdir)
        proxy = None
        try:
            root = os.path.join(workdir, "ftp")
            out = os.path.join(root, "outgoing")
            os.makedirs(out)
            old = time.time() - 3600
            for i in range(n):
                p = os.path.join(out, f"part_{i:06d}.csv")
                with open(p, "w") as f:
                    f.write(f"id,value\n{i},{i * 7}\n")
                os.utime(p, (old, old))
            moto_proc, moto_port, moto_url = start_moto(procs)
            ftp_proc, ftp_port = start_ftp(procs, root)
            proxy = CountingProxy(moto_port, args.latency_ms / 1000)
            polls, queued = [], None
            modes = ["proxy"] + (["direct"] if args.direct else [])
            for mode in modes:
                # A fresh moto state for each mode: the first poll finds every file new.
                urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset", method="POST"),
                                       timeout=30).read()
                resources = create_resources(moto_url)
                push_registry(args.bin_dir, workdir, registry_yaml(ftp_port, "/outgoing/part_*.csv"), resources,
                              moto_url)
                endpoint = proxy.url if mode == "proxy" else moto_url
                for label in ("first poll (all new)", "second poll (all known)"):
                    poller = Bootstrap(procs, args.bin_dir, "poller", resources, endpoint, deadline_secs=300)
                    try:
                        poller.ready()
                        mark = proxy.mark()
                        cpu_before = {who: cpu_seconds(p.pid) for who, p in
                                      (("poller", poller.proc), ("moto", moto_proc), ("ftp", ftp_proc))}
                        kind, body, secs = poller.invoke({"source": "bench-ftp"}, timeout=args.poll_timeout)
                        cpu = {who: round(cpu_seconds(p.pid) - cpu_before[who], 3) for who, p in
                               (("poller", poller.proc), ("moto", moto_proc), ("ftp", ftp_proc))}
                        calls = proxy.counts(since=mark) if mode == "proxy" else None
                        waited = proxy.waited(since=mark) if mode == "proxy" else None
                    finally:
                        usage = poller.stop()
                    if kind != "response":
                        raise HarnessError(f"{label}: the poller failed: {body}{tail(poller.proc.log_path)}")
                    polls.append({"poll": label, "endpoint": mode, "seconds": round(secs, 3), "calls": calls,
                                  "moto_seconds": waited,
                                  "calls_total": sum(calls.values()) if calls is not None else None,
                                  "poller_max_rss_kib": poller.hwm_kib,
                                  "cpu_seconds": cpu,
                                  "report": body})
                    log(f"{n} files, {label}, via {mode}: {secs:.2f}s, CPU seconds {cpu}, AWS calls {calls}; report "
                        f"sent={body.get('sent')} known={body.get('known')} complete={body.get('complete')}")
                if mode == "proxy":
                    queued = int(boto("sqs", moto_url).get_queue_attributes(
                        QueueUrl=resources["TRIBUTARY_INGEST_QUEUE_URL"],
                        AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
            results.append({"files": n, "polls": polls, "ingest_queue_messages": queued})
        except HarnessError as e:
            log(f"{n} files: FAILED: {e}")
            results.append({"files": n, "error": str(e)})
        finally:
            if proxy:
                proxy.close()
            procs.stop_all()
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
    report = {"mode": "poller-scale", "goal_seconds_10000": 5, "note": "calls counted through the proxy; 'direct' polls go straight to moto (timing without the proxy's overhead)",
              "results": results}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['files']} files: FAILED: {r['error'][:500]}")
                continue
            print(f"{r['files']} files (ingest queue holds {r['ingest_queue_messages']} messages after both polls)")
            for p in r["polls"]:
                rep = p["report"]
                print(f"  {p['poll']:<24} via {p['endpoint']:<6} {p['seconds']:>8.2f} s  poller max RSS {p['poller_max_rss_kib'] / 1024:.1f} MiB  "
                      f"listed {rep.get('listed')} ready {rep.get('ready')} known {rep.get('known')} "
                      f"sent {rep.get('sent')} complete {rep.get('complete')}")
                print(f"      CPU seconds during the poll: {p['cpu_seconds']}")
                if p["calls"] is None:
                    continue
                print(f"      {'call':<40} {'count':>7} {'s waiting (summed)':>18}")
                for op, c in p["calls"].items():
                    print(f"      {op:<40} {c:>7} {p['moto_seconds'].get(op, 0):>18.3f}")
                waited = sum(p["moto_seconds"].values())
                print(f"      {'total':<40} {p['calls_total']:>7} {waited:>18.3f}")
                print(f"      calls × added latency: {p['calls_total'] * args.latency_ms / 1000:.2f} s (what the "
                      f"added latency alone would cost if the calls went one after another)")
    return 0 if all("error" not in r for r in results) else 1


# --------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=DEFAULT_BIN_DIR, help=f"release binaries (default {DEFAULT_BIN_DIR})")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) for inspection")
    parser.add_argument("--tmp", default=None, help="where work directories go (default: $TMPDIR)")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cold-start")
    c.add_argument("--runs", type=int, default=10)
    c.add_argument("--no-strace", dest="strace", action="store_false",
                   help="skip the extra strace run that lists connect() calls before the first /next")
    m = sub.add_parser("ingest-memory")
    m.add_argument("--sizes", default="10,200,1024", help="decoded CSV sizes in MiB, comma-separated")
    m.add_argument("--ingest-timeout", type=float, default=900)
    m.add_argument("--s3", choices=("moto", "s3s-fs"), default="moto",
                   help="the S3 server the ingester writes to: moto (in memory) or s3s-fs (on disk, for "
                        "objects larger than moto can hold)")
    m.add_argument("--hash-body-max-mib", type=int, default=1024,
                   help="also download and hash the landed object up to this decoded size (0: never)")
    p = sub.add_parser("poller-scale")
    p.add_argument("--files", default="1000,10000", help="file counts, comma-separated")
    p.add_argument("--poll-timeout", type=float, default=300)
    p.add_argument("--latency-ms", type=float, default=0,
                   help="delay the proxy adds to every AWS call (a region's round trip; calls in flight "
                        "together wait together)")
    p.add_argument("--no-direct", dest="direct", action="store_false",
                   help="skip the second pair of polls straight against moto (timing without the proxy)")
    for sp in (c, m, p):  # accept the common options after the sub-command too
        sp.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        sp.add_argument("--keep", action="store_true", default=argparse.SUPPRESS)
        sp.add_argument("--bin-dir", default=argparse.SUPPRESS)
        sp.add_argument("--tmp", default=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        return {"cold-start": cmd_cold_start, "ingest-memory": cmd_ingest_memory,
                "poller-scale": cmd_poller_scale}[args.command](args)
    except HarnessError as e:
        log(f"FAILED: {e}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
