"""A Redis Sentinel deployment of the test's own: a master, a replica and three sentinels, each
a Debian ``redis-server`` on a free port of loopback (sentinels run as ``redis-server
--sentinel``, which is what Debian's ``redis-sentinel`` starts)."""

from __future__ import annotations

import subprocess
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import redis

from tests.processes import free_port

MASTER_NAME = "mymaster"


def wait(what: str, check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        with suppress(redis.RedisError, OSError):
            last = check()
            if last:
                return last
        time.sleep(0.1)  # the servers are starting or electing; bounded by the deadline
    raise TimeoutError(f"not within {seconds} s: {what} (last seen: {last!r})")


def _state(sentinel: redis.Redis) -> dict[str, str]:
    """SENTINEL MASTER as a dict (read raw: redis-py's parser of it breaks on a plain client)."""
    flat = sentinel.execute_command("SENTINEL", "MASTER", MASTER_NAME, NEVER_DECODE=True)
    text = [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    return dict(zip(text[::2], text[1::2], strict=True))


class Topology:
    def __init__(self, directory: Path, *, down_after_ms: int = 1000) -> None:
        self.dir = directory
        self.down_after_ms = down_after_ms
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", p) for p in self.sentinel_ports]

    @property
    def sentinels_env(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)

    def _server(self, port: int, *args: str) -> None:
        data = self.dir / f"redis-{port}"
        data.mkdir()
        self.procs[port] = subprocess.Popen(
            [
                "redis-server",
                *args,
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)),
                *("--save", "", "--appendonly", "no", "--logfile", str(data / "log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> Topology:
        try:
            return self._start()
        except BaseException:
            self.stop()  # nothing left running when the set-up itself fails
            raise

    def _start(self) -> Topology:
        self._server(self.master_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        for port in self.sentinel_ports:
            conf = self.dir / f"sentinel-{port}.conf"  # sentinels rewrite their own file
            conf.write_text(
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self._server(port, str(conf), "--sentinel")
        replica = redis.Redis(port=self.replica_port, socket_timeout=1)
        wait(
            "the replica in sync with the master",
            lambda: replica.info("replication").get("master_link_status") == "up",
        )
        for port in self.sentinel_ports:
            sentinel = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
            wait(
                f"sentinel {port} knowing the replica and the two other sentinels",
                lambda s=sentinel: (
                    (m := _state(s))["num-slaves"] == "1" and m["num-other-sentinels"] == "2"
                ),
            )
        return self

    def master_port_now(self) -> int:
        """The master the sentinels name now (the first one that answers)."""
        for port in self.sentinel_ports:
            with suppress(redis.RedisError):
                s = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
                return int(s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)[1])
        raise RuntimeError("no sentinel answers")

    def replicated(self) -> bool:
        """Every write the master has taken is on the replica (replication is asynchronous:
        a write acknowledged by a master that dies before this holds may be lost)."""
        master = redis.Redis(port=self.master_port, socket_timeout=1).info("replication")
        replica = redis.Redis(port=self.replica_port, socket_timeout=1).info("replication")
        return replica.get("slave_repl_offset", -1) >= master["master_repl_offset"]

    def kill_master(self) -> None:
        proc = self.procs[self.master_port]
        proc.kill()
        proc.wait(10)

    def wait_for_failover(self, seconds: float = 30) -> int:
        """Until the sentinels name the replica and it acts as master; its port."""

        def promoted() -> bool:
            if self.master_port_now() != self.replica_port:
                return False
            role = redis.Redis(port=self.replica_port, socket_timeout=1).info("replication")
            return role["role"] == "master"

        wait("the sentinels promoting the replica", promoted, seconds)
        return self.replica_port

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            with suppress(subprocess.TimeoutExpired):
                proc.wait(10)
