"""Run a shared MLflow tracking server: a database backend store and a served artifact destination.

One server per project (or lab) takes the runs of every cluster job: jobs set ``tracking.uri``
to ``http://<host>:<port>``; the server writes runs to the database (PostgreSQL on a cluster)
and artifacts to ``--artifacts-destination`` (a shared folder or an object store), so no job
needs database credentials or a shared artifact folder of its own. It binds to 127.0.0.1 unless
told otherwise: the MLflow server has no authentication. See docs/scale-out.md.

    python -m ems.tracking_server --backend-store-uri postgresql://ems@127.0.0.1/mlflow \\
        --artifacts-destination /shared/ems/mlartifacts --port 5000

The store URI goes to ``mlflow server`` in its environment (``MLFLOW_BACKEND_STORE_URI``), never
on its command line, where ``ps`` would show it. A password belongs in ``~/.pgpass`` (or
``PGPASSWORD``); a URI that holds one is accepted only from ``MLFLOW_BACKEND_STORE_URI``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from ems.redact import redact_uri

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql", "sqlite")


def _scheme(uri: str) -> str:
    return uri.split(":", 1)[0].split("+", 1)[0].lower() if ":" in uri else ""


def artifacts_uri(destination: str) -> str:
    """A local folder as an absolute ``file://`` URI (created); any other URI unchanged."""
    if "://" in destination:
        return destination
    folder = Path(destination).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder.as_uri()


def server_command(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int | None = None,
    allowed_hosts: str | None = None,
) -> list[str]:
    """The ``mlflow server`` command line (this interpreter's MLflow) for a database-backed server; the
    store URI is not in it: run it with :func:`server_env` (``MLFLOW_BACKEND_STORE_URI``)."""
    if _scheme(backend_store_uri) not in DATABASE_SCHEMES:
        raise ValueError(
            f"--backend-store-uri {redact_uri(backend_store_uri)!r}: a database URI is needed "
            f"({', '.join(s + '://' for s in DATABASE_SCHEMES)}); several jobs write to it at once"
        )
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--serve-artifacts", "--artifacts-destination", artifacts_uri(artifacts_destination),
        "--host", host, "--port", str(port),
    ]
    if workers:
        cmd += ["--workers", str(workers)]
    if allowed_hosts:
        cmd += ["--allowed-hosts", allowed_hosts]
    return cmd


def server_env(backend_store_uri: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of ``mlflow server``: ``base`` (default: this process's) plus the store URI."""
    return {**(os.environ if base is None else base), "MLFLOW_BACKEND_STORE_URI": backend_store_uri}


def tracking_uri(host: str, port: int) -> str:
    """What jobs put in ``tracking.uri`` (a server bound to all interfaces is reached by this host's name)."""
    if host in ("0.0.0.0", "::"):
        import socket

        host = socket.getfqdn()
    return f"http://{host}:{port}"


def wait_until_ready(uri: str, timeout: float = 60.0, proc=None) -> None:
    """Poll ``<uri>/health`` until the server answers 200 (raises TimeoutError / RuntimeError)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with code {proc.returncode} before answering on {uri}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"mlflow server did not answer on {uri}/health within {timeout:.0f} s")
        time.sleep(0.5)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ems.tracking_server", description=__doc__.split("\n\n")[0])
    p.add_argument("--backend-store-uri", default=None,
                   help="database URI, e.g. postgresql://user@host:5432/mlflow (default: $MLFLOW_BACKEND_STORE_URI; "
                        "a URI with a password only from there)")
    p.add_argument("--artifacts-destination", required=True,
                   help="folder (shared by the jobs' readers) or object-store URI for artifacts")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--workers", type=int, default=None, help="server worker processes (MLflow's default: 4)")
    p.add_argument("--allowed-hosts", default=None,
                   help="Host headers the server accepts (MLflow's default: localhost and private IPs)")
    p.add_argument("--pid-file", default=None, help="write the server's PID here (stop it with kill <pid>)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Replace this process with ``mlflow server`` (same PID: a PID file or ``kill`` reaches the server)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    store = args.backend_store_uri or os.environ.get("MLFLOW_BACKEND_STORE_URI")
    if not store:
        print("error: --backend-store-uri: no store given (or set MLFLOW_BACKEND_STORE_URI)", file=sys.stderr)
        return 2
    if args.backend_store_uri and redact_uri(args.backend_store_uri) != args.backend_store_uri:
        print(f"error: --backend-store-uri {redact_uri(args.backend_store_uri)}: a password on a command line is "
              "visible to every user (ps); put it in ~/.pgpass or PGPASSWORD, or pass the URI as "
              "MLFLOW_BACKEND_STORE_URI", file=sys.stderr)
        return 2
    try:
        cmd = server_command(store, args.artifacts_destination, args.host, args.port, args.workers,
                             args.allowed_hosts)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("binding to %s: the MLflow server has no authentication; keep it inside the cluster", args.host)
    logger.info("tracking.uri for the jobs: %s", tracking_uri(args.host, args.port))
    if args.pid_file:
        Path(args.pid_file).write_text(f"{os.getpid()}\n", encoding="utf-8")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, server_env(store))
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
