"""What scripts/cluster.sh asks of a running test cluster, from inside its network namespace.

    probe.py ports N                       N distinct free TCP ports on 127.0.0.1, one line
    probe.py s3 ENDPOINT BUCKET SECONDS [NAME=PID...]
                                           waits until a signed HEAD of BUCKET answers 200
    probe.py ray ADDRESS NODES SECONDS [NAME=PID...]
                                           waits until the head and worker nodes NODES
                                           (comma-separated node names) are alive

Both give up early when one of the processes NAME=PID has exited (it will not come up).
    probe.py status ADDRESS                one line per node as Ray sees it

The s3 probe signs with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION from the
environment (Signature Version 4, standard library only), so it also checks the identity
the cluster was started with. Failures go to stderr, with exit code 1.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def free_ports(count: int) -> list[int]:
    """Distinct ports the kernel calls free now (all sockets held open until all are bound)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_request(method: str, url: str, body: bytes = b"", extra: dict[str, str] | None = None) -> urllib.request.Request:
    """An S3 request signed with Signature Version 4 from the AWS_* environment, with body and
    the headers extra (lower-case names; signed too)."""
    key = os.environ["AWS_ACCESS_KEY_ID"]
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    region = os.environ.get("AWS_REGION", "us-east-1")
    parts = urllib.parse.urlsplit(url)
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": parts.netloc, "x-amz-content-sha256": payload, "x-amz-date": stamp, **(extra or {})}
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            names,
            payload,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signing_key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), region), "s3"), "aws4_request")
    signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body or None, method=method)
    for name, value in headers.items():
        if name != "host":
            request.add_header(name, value)
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={names}, Signature={signature}",
    )
    return request


def exited(processes: dict[str, int]) -> str | None:
    """The name of the first of processes (name: pid) that is no longer running, if any."""
    for name, pid in processes.items():
        try:
            state = open(f"/proc/{pid}/stat", encoding="utf-8").read().rsplit(") ", 1)[1].split()[0]
        except (OSError, IndexError):
            state = "gone"
        if state in ("gone", "Z"):
            return name
    return None


def wait_s3(endpoint: str, bucket: str, seconds: float, processes: dict[str, int]) -> int:
    """Waits until a signed HEAD of the bucket answers 200; says what it last got if not."""
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        if name := exited(processes):
            print(f"S3 at {endpoint}: {name} exited", file=sys.stderr)
            return 1
        try:
            with urllib.request.urlopen(signed_request("HEAD", f"{endpoint}/{bucket}"), timeout=2):
                return 0
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code} for HEAD /{bucket}"
            if e.code == 403:
                last += " (the credentials were refused)"
        except OSError as e:
            last = str(e)
        time.sleep(0.2)
    print(f"S3 at {endpoint} did not become ready in {seconds:.0f} s: {last}", file=sys.stderr)
    return 1


def _ray_nodes(address: str, seconds: float, processes: dict[str, int]) -> list[dict] | None:
    """Connects to the Ray cluster at address (retrying until seconds pass, or one of
    processes exits) and lists its nodes."""
    import ray

    deadline = time.monotonic() + seconds
    while True:
        if name := exited(processes):
            print(f"Ray at {address}: {name} exited", file=sys.stderr)
            return None
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
            return ray.nodes()
        except Exception as e:  # Ray raises ConnectionError and others while the GCS starts.
            if time.monotonic() >= deadline:
                print(f"cannot connect to Ray at {address}: {e}", file=sys.stderr)
                return None
            time.sleep(0.5)


def wait_ray(address: str, names: list[str], seconds: float, processes: dict[str, int]) -> int:
    """Waits until every node named in names is alive in the cluster at address."""
    import ray

    deadline = time.monotonic() + seconds
    nodes = _ray_nodes(address, seconds, processes)
    if nodes is None:
        return 1
    while True:
        if name := exited(processes):
            print(f"Ray at {address}: {name} exited", file=sys.stderr)
            return 1
        alive = {n["NodeName"] for n in nodes if n["Alive"]}
        missing = [name for name in names if name not in alive]
        if not missing:
            return 0
        if time.monotonic() >= deadline:
            print(
                f"Ray at {address}: nodes {', '.join(missing)} not alive after {seconds:.0f} s "
                f"(alive: {', '.join(sorted(alive)) or 'none'})",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.2)
        nodes = ray.nodes()


def status(address: str) -> int:
    """Prints each node's name, state and address as Ray sees it."""
    nodes = _ray_nodes(address, 5, {})
    if nodes is None:
        return 1
    for n in sorted(nodes, key=lambda n: (n["NodeName"], not n["Alive"])):
        state = "alive" if n["Alive"] else "dead"
        print(f"  {n['NodeName']:<8} {state:<5} {n['NodeManagerAddress']}:{n['NodeManagerPort']}")
    return 0


def _processes(args: list[str]) -> dict[str, int]:
    """NAME=PID arguments as a dict."""
    return {name: int(pid) for name, _, pid in (a.partition("=") for a in args)}


def main(argv: list[str]) -> int:
    """Runs the probe named by argv[0]."""
    match argv:
        case ["ports", count]:
            print(" ".join(map(str, free_ports(int(count)))))
            return 0
        case ["s3", endpoint, bucket, seconds, *processes]:
            return wait_s3(endpoint, bucket, float(seconds), _processes(processes))
        case ["ray", address, names, seconds, *processes]:
            return wait_ray(address, names.split(","), float(seconds), _processes(processes))
        case ["status", address]:
            return status(address)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
