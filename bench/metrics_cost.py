"""`metrics_cost`: what the hot-path counters cost a message, in prometheus-client's
multiprocess mode (a memory-mapped file per process, as production runs with
PROMETHEUS_MULTIPROC_DIR) and in one process, against a baseline of calling a function that
does nothing, in the same run.

A stored visitor message with its agent online makes three of these calls (stored, the ack's
latency, the live delivery); docs/performance.md puts a message's whole cost at 8-12 ms of
CPU. Each mode runs in a fresh interpreter (the mode is chosen when prometheus_client is
imported). No database or Redis is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CALLS = 200_000

PROBE = """
import sys, time
sys.path.insert(0, {root!r})
from helpdesk.metrics import ACK_SECONDS, MESSAGES_STORED, _child

def nothing(*args):
    return None

stored = _child(MESSAGES_STORED, "web", "visitor")
ack = _child(ACK_SECONDS, "visitor")
cases = {{
    "baseline (a call that does nothing)": lambda: nothing(1),
    "counter inc": stored.inc,
    "histogram observe": lambda: ack.observe(0.012),
    "label lookup + inc (cached child)": lambda: _child(MESSAGES_STORED, "web", "visitor").inc(),
}}
out = {{}}
for name, call in cases.items():
    for _ in range(1000):
        call()
    best = None
    for _ in range(5):
        started = time.perf_counter()
        for _ in range({calls}):
            call()
        took = (time.perf_counter() - started) / {calls} * 1e9
        best = took if best is None else min(best, took)
    out[name] = round(best)
print(__import__("json").dumps(out))
"""


def run(multiprocess: bool) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory() as directory:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = directory
        env.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
        done = subprocess.run(
            [sys.executable, "-c", PROBE.format(root=str(ROOT), calls=CALLS)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    figures = {"one process": run(False), "multiprocess (mmap)": run(True)}
    per_message_ns = (
        2 * figures["multiprocess (mmap)"]["counter inc"]
        + figures["multiprocess (mmap)"]["histogram observe"]
    )
    result = {
        "unit": "nanoseconds per call (best of 5 x 200,000)",
        "figures": figures,
        "per_message_ns_multiprocess": per_message_ns,
        "share_of_8ms_message": round(per_message_ns / 8e6, 5),
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "latest.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data["metrics_cost"] = {"machine": {"cores": os.cpu_count()}, **result}
    path.write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
