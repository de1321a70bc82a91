"""Screenshots of what a researcher opens in the MLflow UI after a run: the runs grouped by cell, and Compare.

Serves a results folder's own store (``results/<name>/mlflow/mlflow.db``) with ``mlflow server`` on
127.0.0.1, opens the shared view the summary step stored on the experiment (``ems-cells``: runs
grouped by ``ems.cell_short``) and the Compare page of the grid's training runs in headless
Chromium (Playwright driving Debian's ``/usr/bin/chromium``), and writes
``docs/figures/mlflow_runs_by_cell.png`` and ``docs/figures/mlflow_compare_runs.png``. Stops the
server it started. Needs ``pip install playwright`` and ``apt-get install chromium``.

    .venv/bin/snakemake --cores 2 --configfile config/smoke.yaml   # a fresh smoke run
    .venv/bin/python docs/figures/mlflow_views.py results/smoke
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

OUT = Path(__file__).resolve().parent
VIEW_KEY = "ems-cells"  # ems.ablation.mlflow_summary.CELLS_VIEW_KEY


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(uri: str, port: int) -> subprocess.Popen:
    """``mlflow server`` on 127.0.0.1:port over ``uri``; returns once it answers (or raises)."""
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", uri, "--workers", "1"],
                              env=dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(180):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            time.sleep(1)
    server.terminate()
    raise RuntimeError(f"mlflow server on port {port} did not answer in 180 s")


def close_assistant(page) -> None:  # type: ignore[no-untyped-def]
    """The MLflow Assistant side panel covers a third of the page: close it when it is open."""
    panel = page.get_by_text("MLflow Assistant")
    if panel.count():
        buttons = page.locator("button[aria-label='Close']")
        if buttons.count():
            buttons.last.click()
            page.wait_for_timeout(500)


def main() -> None:
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "results/smoke").resolve()
    parent = json.loads((results / "tracking" / "parent.json").read_text())
    uri = f"sqlite:///{results / 'mlflow' / 'mlflow.db'}"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = parent["experiment_id"]
    train = client.search_runs([exp], filter_string="tags.`ems.role` = 'train'", order_by=["attributes.run_name"])
    port = free_port()
    server = serve(uri, port)
    try:
        from playwright.sync_api import sync_playwright

        base = f"http://127.0.0.1:{port}/#/experiments/{exp}"
        compare = (f"http://127.0.0.1:{port}/#/compare-runs?runs="
                   + urllib.parse.quote(json.dumps([r.info.run_id for r in train]))
                   + "&experiments=" + urllib.parse.quote(json.dumps([exp])))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 760})
            for url, name in ((f"{base}/runs?viewStateShareKey={VIEW_KEY}", "mlflow_runs_by_cell.png"),
                              (compare, "mlflow_compare_runs.png")):
                page.goto(url, wait_until="load")
                page.wait_for_timeout(8000)  # the UI polls the server: "network idle" never comes
                close_assistant(page)
                page.screenshot(path=str(OUT / name), full_page=name.startswith("mlflow_compare"))
                print(OUT / name)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
