"""A private, throwaway PostgreSQL server for tests and benchmarks, made with the OS packages' initdb and pg_ctl.

    server = PostgresServer.start_new()      # PostgresUnavailable (with the reason) when it cannot be
    url = server.create_database()            # a fresh, empty database: postgresql+psycopg://…
    server.stop()                             # the server and its files are gone

The cluster lives in a temporary folder and listens on 127.0.0.1 at a free port, with `trust` auth for
one superuser. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` OS user
(made by the Debian package) through `runuser`. `make test` installs the package when it is missing.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "socmint"
START_TIMEOUT_S = 60
_PORT_TRIES = 5


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's /usr/lib/postgresql/N/bin, else PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root (None when we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and there is no `postgres` or `nobody` user to run PostgreSQL as")


def _traversable_root(user: pwd.struct_passwd | None) -> Path:
    """A temporary folder the server's account can reach (every parent searchable by others when we are root)."""
    base = Path(tempfile.gettempdir()).resolve()
    if user is not None and not all(os.stat(p).st_mode & 0o001 for p in [base, *base.parents]):
        base = Path("/tmp")
    return Path(tempfile.mkdtemp(prefix="socmint-pg-", dir=base))


class PostgresServer:
    """One running PostgreSQL cluster in a temporary folder, removed again by `stop`."""

    def __init__(self, bindir: Path, root: Path, user: pwd.struct_passwd | None, settings: dict[str, str]) -> None:
        self.bindir = bindir
        self.root = root
        self.user = user
        self.settings = settings
        self.port = 0
        self._names = itertools.count(1)

    @classmethod
    def start_new(cls, **settings: str) -> PostgresServer:
        """Make and start a cluster; `settings` are extra server settings (e.g. synchronous_commit="off")."""
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on "
                                      "PATH); `make test` installs it with apt-get when run as root")
        user = _run_as()
        server = cls(bindir, _traversable_root(user), user, settings)
        try:
            server._init()
            server._start()
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _cmd(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.user.pw_name, "--", *argv] if self.user is not None else list(argv)

    def _call(self, *argv: str) -> None:
        done = subprocess.run(self._cmd(*argv), capture_output=True, text=True, cwd=self.root, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{Path(argv[0]).name} failed ({done.returncode}): "
                                      f"{(done.stderr or done.stdout).strip()[-800:]}")

    def _init(self) -> None:
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._call(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                   "--encoding=UTF8", "--locale=C", "--no-sync")

    def _start(self) -> None:
        options = {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.root),
                   "max_connections": "200", "fsync": "off", "full_page_writes": "off", **self.settings}
        last: PostgresUnavailable | None = None
        for _ in range(_PORT_TRIES):  # another process may take the free port before the server binds it
            self.port = _free_port()
            flags = " ".join(f"-c {k}={v}" for k, v in options.items())
            try:
                self._call(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                           "-w", "-t", str(START_TIMEOUT_S), "-o", f"-p {self.port} {flags}", "start")
                return
            except PostgresUnavailable as exc:
                last = exc
        raise PostgresUnavailable(f"{last}\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        path = self.root / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (named for the test run when no name is given) and return its URL."""
        import psycopg
        from psycopg import sql

        name = name or f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and delete its files."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                                     "stop"), capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
