#!/usr/bin/env python3
"""Issue 8 (performance), goal 3: FTP -> S3 end to end, tributary against rclone.

N plain CSV files of mixed sizes (default 1 GiB down to 1 MiB, about 1.5 GiB in
all) are put on one local FTP server (pyftpdlib) and copied to one local
S3-compatible server (`s3s-fs`, a Rust S3 server over a directory) by

  s3-ceiling  `rclone copy` of the same files from the local disk to s3s-fs: the
              S3 side's ceiling (a plain upload of the same bytes);
  ftp-ceiling `rclone copy` from the FTP server to the local disk: the FTP side's;
  rclone      `rclone copy` from the FTP server to s3s-fs (the plain copy a team
              would run instead of tributary);
  tributary   the release poller and ingester bootstraps (as in lambda_harness.py):
              one poll enqueues the files, then `--transfers` ingester processes
              (like that many concurrent Lambda instances) take one message per
              invocation, largest first, and each file is streamed, SHA-256 hashed,
              its rows counted against its rule, and landed on s3s-fs; the ledger,
              queues and topic are on moto (`AWS_ENDPOINT_URL`), S3 is s3s-fs
              (`AWS_ENDPOINT_URL_S3`).

rclone and tributary run with the same number of files in flight (`--transfers`,
rclone's default 4). Every landed object is checked (size and SHA-256 of the
bytes s3s-fs stored; for tributary also the ledger's state, rows and SHA-256).
Each run does every case once, in turn; the figures are medians over the runs,
the ratio is tributary's median throughput over rclone's.

    PY=/root/.cache/tributary/venv/bin/python
    $PY benches/ftp_to_s3.py [--sizes 1024,256,64,...] [--runs 3] [--transfers 4] [--json]

Needs: rclone (`apt-get install rclone`), s3s-fs (`cargo install s3s-fs@0.14.1
--features binary --locked`; 0.14 is the last release for rustc 1.95), the test
venv (moto, pyftpdlib, boto3) and the release binaries (see lambda_harness.py).
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lambda_harness as h  # noqa: E402

DEFAULT_SIZES = "1024,256,64,64,16,16,16,16,1,1,1,1"


def check_tools():
    missing = h.check_tools()
    if not shutil.which("rclone"):
        missing.append("rclone: apt-get install rclone")
    if not h.find_s3s_fs():
        missing.append(h.S3S_FS_HINT)
    return missing


def make_files(sizes, outgoing):
    """Plain CSVs from gen_csv.py (distinct seeds); returns name -> size, sha256, rows."""
    files = {}
    for i, mib in enumerate(sizes):
        name = f"sales_{i:02d}_{mib}mib.csv"
        path = os.path.join(outgoing, name)
        gen = subprocess.Popen([sys.executable, os.path.join(h.REPO, "scripts", "fixtures", "gen_csv.py"),
                                "--mib", str(mib), "--seed", str(i + 1)], stdout=subprocess.PIPE)
        digest, lines, size, last = hashlib.sha256(), 0, 0, b""
        with open(path, "wb") as out:
            for chunk in iter(lambda: gen.stdout.read(1 << 20), b""):
                digest.update(chunk)
                lines += chunk.count(b"\n")
                size += len(chunk)
                last = chunk[-1:]
                out.write(chunk)
        if gen.wait(timeout=60) != 0:
            raise h.HarnessError(f"gen_csv.py failed for {name}")
        old = time.time() - 3600
        os.utime(path, (old, old))
        records = lines + (1 if last and last != b"\n" else 0)
        files[name] = {"bytes": size, "sha256": digest.hexdigest(), "rows": records - 1}
    return files


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def landed(root, files):
    """Checks that `root` (a directory of s3s-fs's, or rclone's local copy) holds
    each file once, under any prefix, with its bytes; returns the problems."""
    found = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            if n in files:
                found.setdefault(n, []).append(os.path.join(dirpath, n))
    problems = []
    for name, want in files.items():
        paths = found.get(name, [])
        if len(paths) != 1:
            problems.append(f"{name}: {len(paths)} copies")
            continue
        if os.path.getsize(paths[0]) != want["bytes"]:
            problems.append(f"{name}: {os.path.getsize(paths[0])} bytes, want {want['bytes']}")
        elif sha256_file(paths[0]) != want["sha256"]:
            problems.append(f"{name}: SHA-256 differs")
    return problems


def empty(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rclone(args, src, dst, *extra):
    """Runs `rclone copy src dst` with the shared settings (and `extra` flags);
    returns seconds and rclone's CPU seconds."""
    env = dict(os.environ)
    env.pop("AWS_CA_BUNDLE", None)  # rclone refuses a CA bundle on its plain-HTTP transport
    argv = ["rclone", "copy", src, dst, "--transfers", str(args.transfers), "--config", os.devnull,
            "--log-level", "ERROR",
            # Files over 250 MiB going to a local disk are read by rclone in 4 ranged
            # streams; each stream closes its data connection early, pyftpdlib answers
            # 426 and rclone 1.60 fails the copy. One stream per file, as in the S3 cases.
            "--multi-thread-streams", "0", *extra]
    cpu, t = children_cpu(), time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=args.timeout)
    secs = time.perf_counter() - t
    if out.returncode != 0:
        raise h.HarnessError(f"rclone copy {src} {dst} failed ({out.returncode}): {out.stderr[-2000:]}")
    return secs, children_cpu() - cpu


def rclone_remotes(ftp_port, s3_url):
    obscured = subprocess.run(["rclone", "obscure", h.FTP_PASSWORD], capture_output=True, text=True,
                              check=True).stdout.strip()
    ftp = f":ftp,host=127.0.0.1,port={ftp_port},user={h.FTP_USER},pass={obscured}:/outgoing"
    s3 = f":s3,provider=Other,endpoint='{s3_url}',access_key_id={h.S3Peer.ACCESS},secret_access_key={h.S3Peer.SECRET}:"
    return ftp, s3


class Tributary:
    """A fresh moto (ledger, queues, topic) and registry, an empty bucket on the
    S3 peer; `run` starts a poller and the ingesters, warm before the clock starts."""

    def __init__(self, args, procs, workdir, ftp_port, s3, n_files):
        self.args, self.procs, self.workdir, self.n_files = args, procs, workdir, n_files
        self.s3 = s3
        self.moto, _, self.moto_url = h.start_moto(procs)
        self.resources = h.create_resources(self.moto_url)
        self.bucket_dir = os.path.join(s3.root, h.BUCKET)
        if not os.path.isdir(self.bucket_dir):
            s3.bucket(h.BUCKET)
        empty(self.bucket_dir)
        h.push_registry(args.bin_dir, workdir, h.registry_yaml(ftp_port, "/outgoing/sales_*.csv"),
                        self.resources, self.moto_url)

    def run(self, files):
        """One poll and ingest of every file; returns seconds from the poll's event to
        the last ingester answer, the CPU seconds of the poller and ingesters and of
        moto in that time, and the problems found checking what landed."""
        args = self.args
        extra = {"AWS_ENDPOINT_URL_S3": self.s3.url}
        poller = h.Bootstrap(self.procs, args.bin_dir, "poller", self.resources, self.moto_url, deadline_secs=300)
        ingesters = [h.Bootstrap(self.procs, args.bin_dir, "ingester", self.resources, self.moto_url,
                                 extra_env=extra, deadline_secs=900) for _ in range(args.transfers)]
        try:
            poller.ready()
            for b in ingesters:
                b.ready()
            sqs = h.boto("sqs", self.moto_url)
            url = self.resources["TRIBUTARY_INGEST_QUEUE_URL"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            moto_cpu = h.cpu_seconds(self.moto.pid)
            ours = [poller, *ingesters]
            our_cpu = sum(h.cpu_seconds(b.proc.pid) for b in ours)
            t = time.perf_counter()
            kind, body, _ = poller.invoke({"source": "bench-ftp"}, timeout=300)
            if kind != "response" or not isinstance(body, dict) or body.get("sent") != self.n_files:
                raise h.HarnessError(f"the poller did not send {self.n_files} files: {kind} {body}")
            messages = h.receive_all(sqs, url, self.n_files)
            if len(messages) != self.n_files:
                raise h.HarnessError(f"expected {self.n_files} messages, received {len(messages)}")

            def size_of(m):
                return next((f["bytes"] for n, f in files.items() if n in m["Body"]), 0)

            pending = sorted(messages, key=size_of, reverse=True)
            lock, failures = threading.Lock(), []

            def work(bootstrap):
                while True:
                    with lock:
                        if not pending or failures:
                            return
                        m = pending.pop(0)
                    try:
                        kind, body, _ = bootstrap.invoke(h.sqs_event_for([m], arn), timeout=args.timeout)
                        if kind != "response" or body != {"batchItemFailures": []}:
                            raise h.HarnessError(f"the ingester failed a message: {kind} {body}"
                                                 f"{h.tail(bootstrap.proc.log_path)}")
                    except h.HarnessError as e:
                        with lock:
                            failures.append(e)

            threads = [threading.Thread(target=work, args=(b,)) for b in ingesters]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            secs = time.perf_counter() - t
            cpu = {"copier": sum(h.cpu_seconds(b.proc.pid) for b in ours) - our_cpu,
                   "moto": h.cpu_seconds(self.moto.pid) - moto_cpu}
            if failures:
                raise failures[0]
        finally:
            poller.stop()
            for b in ingesters:
                b.stop()
        problems = landed(self.bucket_dir, files)
        for name, want in files.items():
            ledger = h.ledger_figures(self.moto_url, name)
            if ledger.get("state") != "ingested" or ledger.get("rows") != want["rows"] \
                    or ledger.get("sha256") != want["sha256"]:
                problems.append(f"{name}: ledger says {ledger}, want ingested, {want['rows']} rows")
        return secs, cpu, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="file sizes in MiB, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transfers", type=int, default=4, help="files in flight, for rclone and tributary")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for one copy")
    parser.add_argument("--bin-dir", default=h.DEFAULT_BIN_DIR)
    parser.add_argument("--tmp", default=None, help="where the work directory goes (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    workdir = tempfile.mkdtemp(prefix="ftp-to-s3-", dir=args.tmp)
    procs = h.Processes(workdir)
    try:
        h.require(check_tools() + h.check_binaries(args.bin_dir, ["poller", "ingester", "tributary"]))
        outgoing = os.path.join(workdir, "ftp", "outgoing")
        os.makedirs(outgoing)
        h.log(f"generating {len(sizes)} files, {sum(sizes)} MiB")
        files = make_files(sizes, outgoing)
        total = sum(f["bytes"] for f in files.values())
        ftp, ftp_port = h.start_ftp(procs, os.path.join(workdir, "ftp"))
        s3 = h.S3Peer(procs, workdir)
        ftp_remote, s3_remote = rclone_remotes(ftp_port, s3.url)
        ceiling_dir, rclone_dir = s3.bucket("ceiling"), s3.bucket("rclone")
        local_copy = os.path.join(workdir, "local-copy")
        cases = {
            # From a local disk rclone would read each file twice (MD5 first, for its
            # metadata, then the upload): a plain upload reads it once.
            "s3-ceiling": lambda: (rclone(args, outgoing, s3_remote + "ceiling", "--s3-disable-checksum",
                                          "--ignore-checksum"),
                                   ceiling_dir),
            "ftp-ceiling": lambda: (rclone(args, ftp_remote, local_copy), local_copy),
            "rclone": lambda: (rclone(args, ftp_remote, s3_remote + "rclone"), rclone_dir),
        }
        seconds = {name: [] for name in (*cases, "tributary")}
        cpu = {name: [] for name in seconds}

        def servers_cpu():
            return {"ftp": h.cpu_seconds(ftp.pid), "s3": h.cpu_seconds(s3.proc.pid)}
        for run in range(args.runs):
            for name, case in cases.items():
                empty(ceiling_dir)
                empty(rclone_dir)
                empty(local_copy)
                before = servers_cpu()
                (secs, copier), where = case()
                after = servers_cpu()
                cpu[name].append({"copier": copier, **{k: after[k] - before[k] for k in after}})
                problems = landed(where, files)
                if problems:
                    raise h.HarnessError(f"{name}: " + "; ".join(problems))
                seconds[name].append(secs)
                h.log(f"run {run + 1}: {name} {secs:.2f}s = {total / secs / 1e6:.1f} MB/s, verified")
            empty(ceiling_dir)
            empty(rclone_dir)
            empty(local_copy)
            # A fresh ledger each run: the last run's records would make every file a duplicate.
            run_dir = os.path.join(workdir, f"tributary-{run + 1}")
            os.makedirs(run_dir)
            run_procs = h.Processes(run_dir)
            try:
                before = servers_cpu()
                secs, used, problems = Tributary(args, run_procs, run_dir, ftp_port, s3, len(files)).run(files)
                after = servers_cpu()
                cpu["tributary"].append({**used, **{k: after[k] - before[k] for k in after}})
            finally:
                run_procs.stop_all()
            if problems:
                raise h.HarnessError("tributary: " + "; ".join(problems))
            seconds["tributary"].append(secs)
            h.log(f"run {run + 1}: tributary {secs:.2f}s = {total / secs / 1e6:.1f} MB/s, verified")
        medians = {k: statistics.median(v) for k, v in seconds.items()}
        report = {
            "mode": "ftp-to-s3", "files": len(files), "bytes": total, "sizes_mib": sizes,
            "transfers": args.transfers, "runs": args.runs, "seconds": seconds, "cpu_seconds": cpu,
            "median_mb_per_s": {k: round(total / s / 1e6, 1) for k, s in medians.items()},
            "tributary_over_rclone": round(medians["rclone"] / medians["tributary"], 2),
            "goal": 1.0,
        }
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(f"{len(files)} files, {total / 2**20:.0f} MiB, {args.transfers} in flight, {args.runs} run(s)")
            for name, secs in medians.items():
                used = {k: statistics.median(c[k] for c in cpu[name]) for k in cpu[name][0]}
                print(f"  {name:<12} median {secs:7.2f} s  {total / secs / 1e6:7.1f} MB/s   "
                      f"runs: {', '.join(f'{s:.2f}' for s in seconds[name])}   median CPU s: "
                      + ", ".join(f"{k} {v:.2f}" for k, v in used.items()))
            print(f"  tributary / rclone: {report['tributary_over_rclone']}x (goal >= 1.0x)")
        return 0
    except h.HarnessError as e:
        h.log(f"FAILED: {e}")
        return 2
    finally:
        procs.stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            h.log(f"kept {workdir}")


if __name__ == "__main__":
    sys.exit(main())
