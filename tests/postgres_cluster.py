"""A PostgreSQL for tests and benchmarks: the server in TEST_DATABASE_URL, or a throwaway cluster of our own.

The throwaway cluster uses Debian's binaries (/usr/lib/postgresql/*/bin), lives in a temporary directory, listens
on 127.0.0.1 on a free port and trades durability for speed (fsync off): it only ever holds test data.
initdb refuses to run as root, so as root the cluster is created and run as the `postgres` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def postgres_bin() -> Path | None:
    """The newest installed server's bin directory, or None when PostgreSQL is not installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def unavailable_reason() -> str | None:
    """Why no PostgreSQL can be had here (None when one can); the README test command installs it."""
    if os.environ.get("TEST_DATABASE_URL"):
        return None
    if postgres_bin() is None:
        return "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install -y postgresql"
    if os.geteuid() == 0 and not _user_exists("postgres"):
        return ("running as root and there is no 'postgres' user to run initdb as"
                " (apt-get install -y postgresql creates it)")
    return None


@contextmanager
def server() -> Iterator[str]:
    """A superuser URL for a server we may create databases on, valid inside the block."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    with _throwaway_cluster() as url:
        yield url


@dataclass
class Databases:
    """Creates and drops databases on one server; `template` makes each new one a copy of a prepared database."""

    server_url: str
    template: str | None = None

    def create(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if self.template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(self.template))
        self._admin(statement)
        return database_url(self.server_url, name)

    def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composable) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(statement)


def database_url(server_url: str, name: str) -> str:
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


@contextmanager
def _throwaway_cluster() -> Iterator[str]:
    bin_dir = postgres_bin()
    assert bin_dir is not None, unavailable_reason()
    root = Path(tempfile.mkdtemp(prefix="approvals-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    options = " ".join([f"-p {port}", f"-k {root}", *(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())])
    try:
        _run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
              "-E", "UTF8", "--locale=C"])
        _run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"),
              "-w", "start"])
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
