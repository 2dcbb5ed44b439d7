"""Tests of scripts/cluster.sh itself, on a cluster of one worker node: what `up` prints and
refuses, `status`, `kill-worker` of a node that is not there, the S3 store's credentials and
its conditional puts (first writer wins, as Sandmill's commits on S3 need), and a second
cluster running beside the first.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import unittest

from harness import ROOT, Cluster, ClusterTest, measured

#: Run inside the namespace: signed S3 requests made with scripts/cluster/probe.py, printed
#: as one JSON list of [status, body] pairs.
S3_REQUESTS = """
import json, sys, urllib.error, urllib.request
sys.path.insert(0, sys.argv[1])
from probe import signed_request
answers = []
for method, path, body, headers in json.loads(sys.argv[2]):
    request = signed_request(method, sys.argv[3] + path, body.encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            answers.append([r.status, r.read().decode()])
    except urllib.error.HTTPError as e:
        answers.append([e.code, e.read().decode()])
print(json.dumps(answers))
"""


class ClusterScriptTest(ClusterTest):
    """scripts/cluster.sh's contract."""

    workers = 1

    def s3(self, requests: list[tuple[str, str, str, dict[str, str]]], **env: str) -> list[tuple[int, str]]:
        """Makes the signed requests (method, path, body, headers) in the namespace, with the
        cluster's AWS_* environment changed by env; returns each answer's status and body."""
        out = subprocess.run(
            ["ip", "netns", "exec", self.cluster.netns, self.cluster.env["SANDMILL_PYTHON"], "-c", S3_REQUESTS,
             str(ROOT / "scripts" / "cluster"), json.dumps(requests), self.cluster.env["AWS_ENDPOINT_URL"]],
            env={**os.environ, **self.cluster.env, **env}, capture_output=True, text=True, check=True, timeout=60,
        ).stdout
        return [(status, body) for status, body in json.loads(out)]

    def test_up_prints_exports_only_and_env_prints_them_again(self) -> None:
        names = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ALLOW_HTTP",
                 "RAY_ADDRESS", "NETNS", "SANDMILL_PYTHON", "SANDMILL_CLUSTER_DIR"}
        self.assertEqual(set(self.cluster.env), names)
        self.assertEqual(self.cluster.env["SANDMILL_CLUSTER_DIR"], self.cluster.dir)
        self.assertTrue(self.cluster.env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:"))
        self.assertTrue(self.cluster.env["RAY_ADDRESS"].startswith("127.0.0.1:"))
        again = self.cluster.script("env")
        self.assertEqual(again.returncode, 0, again.stderr)
        printed = dict(shlex.split(line)[1].split("=", 1) for line in again.stdout.splitlines())
        self.assertEqual(printed, self.cluster.env)

    def test_second_up_is_refused_and_status_shows_the_nodes(self) -> None:
        again = self.cluster.script("up")
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("already up", again.stderr)
        self.assertIn(f"SANDMILL_CLUSTER_DIR={self.cluster.dir}", again.stderr)
        self.assertEqual(again.stdout, "")
        status = self.cluster.script("status")
        self.assertEqual(status.returncode, 0, status.stderr)
        for node in ("head", "node-1"):
            self.assertRegex(status.stdout, rf"\n  {node} +alive ")
        self.assertRegex(status.stdout, r"\n  node-1 \d+: running, ")

    def test_kill_worker_of_a_node_that_is_not_there_fails(self) -> None:
        for n in ("2", "0", "x"):
            with self.subTest(n):
                kill = self.cluster.script("kill-worker", n)
                self.assertEqual(kill.returncode, 1)
                self.assertIn("error:", kill.stderr)

    def test_s3_takes_the_exported_credentials_and_no_others(self) -> None:
        head: list[tuple[str, str, str, dict[str, str]]] = [("HEAD", "/sandmill", "", {})]
        self.assertEqual(self.s3(head)[0][0], 200)
        self.assertEqual(self.s3(head, AWS_SECRET_ACCESS_KEY="wrong")[0][0], 403)
        self.assertEqual(self.s3(head, AWS_ACCESS_KEY_ID="SOMEONEELSE")[0][0], 403)

    def test_s3_put_if_none_match_is_first_writer_wins(self) -> None:
        key = "/sandmill/tests/commit-record"
        create = {"if-none-match": "*"}
        answers = self.s3([("PUT", key, "first", create), ("PUT", key, "second", create), ("GET", key, "", {})])
        self.assertEqual([status for status, _ in answers], [200, 412, 200])
        self.assertEqual(answers[2][1], "first")

    def test_a_second_cluster_runs_beside_the_first(self) -> None:
        other = Cluster(1)
        try:
            measured(f"a second cluster.sh up --workers 1 beside the first: {other.up_seconds:.1f} s")
            self.assertNotEqual(other.netns, self.cluster.netns)
            code, lines, stderr = other.driver({"tasks": []})
            self.assertEqual((code, lines), (0, [{"done": True}]), stderr)
        finally:
            left = other.down()
        self.assertEqual(left, [])
        self.assertEqual(self.cluster.driver({"tasks": []})[:2], (0, [{"done": True}]))


if __name__ == "__main__":
    unittest.main()
