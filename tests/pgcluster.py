"""A throw-away PostgreSQL cluster of our own (never the shared one on 5432) that a fault test can
stop and start: initdb + pg_ctl from /usr/lib/postgresql/*/bin in a temporary directory, run as the
``postgres`` user when we are root (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def pg_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed, or None."""
    found = sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    found = [p for p in found if (p / "initdb").exists() and (p / "pg_ctl").exists()]
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A cluster in ``root`` listening on 127.0.0.1:``port`` (trust auth, database ``faults``)."""

    def __init__(self, binaries: Path, root: Path, port: int) -> None:
        self.bin, self.root, self.port = binaries, root, port
        self.data = root / "data"
        self.user = None if os.geteuid() else "postgres"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/faults"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check,
                              cwd=self.root)

    def init(self) -> None:
        if self.user:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        conf = (f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\n")
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(conf)
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "faults")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as when the server goes away."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def reset(self) -> str:
        """Empty the database (a fresh ``public`` schema); returns its URL."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return self.url

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0


def can_run() -> str | None:
    """Why an own cluster cannot be made here, or None when it can."""
    if pg_bin() is None:
        return f"no PostgreSQL server binaries under {PG_BIN_GLOB}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser"
    return None


@contextmanager
def own_cluster() -> Iterator[Cluster]:
    """A fresh cluster on a free port, removed afterwards."""
    binaries = pg_bin()
    assert binaries is not None, can_run()
    root = Path(tempfile.mkdtemp(prefix="newsdedup-pg-"))
    cluster = Cluster(binaries, root, _free_port())
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

