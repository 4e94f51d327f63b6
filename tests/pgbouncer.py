"""PgBouncer of the test's own, in transaction pooling mode, in front of the suite's
PostgreSQL: Debian's ``pgbouncer`` on a free port of loopback, configured in a temporary
directory, stopped at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.parse
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg

from tests import processes
from tests.processes import free_port

# Debian installs it in /usr/sbin, which is not on every user's PATH.
BINARY = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin")


class PgBouncer:
    """``pool_size`` server connections per database, shared by every client: fewer than the
    test's processes open, so transactions of different clients take turns on them."""

    def __init__(self, directory: Path, database_url: str, *, pool_size: int = 4) -> None:
        self.dir = directory
        self.server = urllib.parse.urlparse(database_url)
        self.user = urllib.parse.unquote(self.server.username or "postgres")
        self.pool_size = pool_size
        self.port = free_port()
        self.log = directory / "pgbouncer.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def url_for(self, name: str) -> str:
        """A DATABASE_URL for database ``name`` through this PgBouncer (no password: its
        clients are trusted on loopback; it logs in to PostgreSQL with the suite's own)."""
        return f"postgres://{urllib.parse.quote(self.user)}@127.0.0.1:{self.port}/{name}"

    def _write_config(self) -> Path:
        password = urllib.parse.unquote(self.server.password or "")
        users = self.dir / "userlist.txt"
        users.write_text(f'"{self.user}" "{password}"\n', encoding="utf-8")
        users.chmod(0o600)
        # Run as root (CI), PgBouncer refuses to start unless told whom to become; it has read
        # its files by then.
        become = "user = postgres\n" if os.geteuid() == 0 else ""
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={self.server.hostname or '127.0.0.1'} port={self.server.port or 5432}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            f"admin_users = {self.user}\n"
            f"{become}",
            encoding="utf-8",
        )
        return ini

    def start(self) -> PgBouncer:
        assert BINARY, "pgbouncer is not installed"
        self.proc = subprocess.Popen(
            [BINARY, str(self._write_config())],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log.read_text()[-2000:]}")
            with suppress(psycopg.OperationalError):
                self.show("VERSION")
                return self
            time.sleep(0.1)  # not listening yet; bounded by the deadline
        raise TimeoutError(f"pgbouncer not ready: {self.log.read_text()[-2000:]}")

    def show(self, what: str) -> list[dict[str, Any]]:
        """``SHOW <what>`` on the admin console, as rows of column → value. The console speaks
        only the simple query protocol: sent with PQexec."""
        with psycopg.connect(
            self.url_for("pgbouncer"), autocommit=True, prepare_threshold=None, connect_timeout=2
        ) as conn:
            result = conn.pgconn.exec_(f"SHOW {what}".encode())
            columns = [(result.fname(i) or b"").decode() for i in range(result.nfields)]
            return [
                {
                    column: (result.get_value(row, i) or b"").decode()
                    for i, column in enumerate(columns)
                }
                for row in range(result.ntuples)
            ]

    def transactions(self, database: str) -> int:
        """Transactions PgBouncer has carried to ``database`` so far."""
        rows = [r for r in self.show("STATS") if r["database"] == database]
        return sum(int(r["total_xact_count"]) for r in rows)

    def stop(self) -> None:
        processes.stop(self.proc)
