"""Independent TUF clients for the test suite.

These helpers run real TUF client implementations against a directory of
metadata, to prove that what ``ceremony`` writes is accepted by clients that
we did not write:

* :func:`python_tuf_refresh` uses python-tuf's ``tuf.ngclient.Updater``;
* :func:`tufjs_refresh` runs ``tests/js/refresh.mjs`` (the npm package
  ``tuf-js``) under Node.  It needs ``npm ci`` to have been run in
  ``tests/js``.

Both serve the metadata directory over HTTP on 127.0.0.1, start from a fresh
client cache that trusts only the given root file, use the real clock, and
return the same shape of result::

    {"ok": True, "root_version": 1, "timestamp_version": 1,
     "snapshot_version": 1, "targets_version": 1,
     "targets": {"path/asked/for": True}}
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

TUFJS_DIR = Path(__file__).resolve().parent / "js"
TUFJS_TIMEOUT = 60  # seconds


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_directory(path: Path | str) -> Iterator[str]:
    """Serve ``path`` over HTTP on 127.0.0.1 (ephemeral port); yield the base URL.

    The URL ends with "/". The server runs in a background thread and is shut
    down when the context exits.
    """
    directory = Path(path).resolve()
    if not directory.is_dir():
        raise FileNotFoundError(f"not a directory: {directory}")
    with _serve(functools.partial(_QuietHandler, directory=str(directory))) as url:
        yield url + "/"


@contextlib.contextmanager
def _serve(handler: Any) -> Iterator[str]:
    """An HTTP server for ``handler`` on 127.0.0.1 (ephemeral port) in a background thread; its URL (no "/")."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="tuf-test-http", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _RepositoryHandler(_QuietHandler):
    """A published repository as a Sigstore instance's TUF mirror serves it: metadata at the URL's root,
    target files under ``targets/`` (both read from the workspace's two directories, nothing else)."""

    workspace: Path

    def translate_path(self, path: str) -> str:
        base = "targets" if path.startswith("/targets/") else "metadata"
        self.directory = str(self.workspace / base)
        return super().translate_path(path.removeprefix("/targets") if base == "targets" else path)


@contextlib.contextmanager
def serve_repository(workspace: Path) -> Iterator[str]:
    """Serve WORKSPACE's metadata/ at the URL's root and targets/ under URL/targets/; yield the URL (no "/")."""
    with _serve(type("Handler", (_RepositoryHandler,), {"workspace": Path(workspace).resolve()})) as url:
        yield url


_SIGSTORE_PYTHON = r"""
import json, sys
from pathlib import Path
from urllib.parse import quote
from sigstore.models import ClientTrustConfig

url, data, cache = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
config = ClientTrustConfig.from_tuf(url)  # a cached client: what trust-instance (or the last run) trusted
trusted, signing = config.trusted_root, config.signing_config  # these run sigstore-python's own checks
mirror = quote(url, safe="")
root = json.loads((data / "sigstore-python" / "tuf" / mirror / "root.json").read_bytes())
# The target files from_tuf downloaded and verified just now.
loaded = json.loads((cache / "sigstore-python" / "tuf" / mirror / "trusted_root.json").read_bytes())
print(json.dumps({
    "root_version": root["signed"]["version"],
    "tlogs": [t["baseUrl"] for t in loaded["tlogs"]],
    "ctlogs": [t["baseUrl"] for t in loaded["ctlogs"]],
    "fulcio": signing.get_fulcio().url,
}))
"""


def sigstore_python_trust(url: str, home: Path, bootstrap: Path | None = None) -> dict[str, Any]:
    """sigstore-python (PyPI ``sigstore``) loads the instance at ``url`` through its TUF client.

    ``home`` holds the client's XDG data and cache directories, so a second call with the same ``home`` is a
    cached client following the repository. With ``bootstrap``, ``sigstore --instance URL trust-instance
    ROOT`` runs first, as an operator of a private instance types it. Returns the root version the client
    trusts and the logs and Fulcio URL it loaded; raises ``AssertionError`` with sigstore-python's error.
    """
    env = {**os.environ, "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache")}
    if bootstrap is not None:
        cli = Path(sys.executable).with_name("sigstore")
        trusted = subprocess.run(
            [cli, "--instance", url, "trust-instance", bootstrap], env=env, capture_output=True, text=True, timeout=120
        )
        if trusted.returncode != 0:
            raise AssertionError(f"sigstore trust-instance refused: {trusted.stderr.strip()[-2000:]}")
    proc = subprocess.run(
        [sys.executable, "-c", _SIGSTORE_PYTHON, url, home / "data", home / "cache"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise AssertionError(f"sigstore-python refused: {proc.stderr.strip()[-2000:]}")
    return dict(json.loads(proc.stdout))


def sigstore_js_trust(url: str, root: Path, cache: Path) -> dict[str, Any]:
    """sigstore-js (npm ``@sigstore/tuf``) fetches the instance's trusted root (``tests/js/sigstore-trust.mjs``).

    ``cache`` is the client's cache directory: a second call with it is a cached client (``root`` is then
    not read again). Raises ``AssertionError`` with sigstore-js's error.
    """
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("`node` not found on PATH; Node >= 20.17 is required")
    proc = subprocess.run(
        [node, TUFJS_DIR / "sigstore-trust.mjs", "--mirror", url, "--root", root, "--cache", cache],
        cwd=TUFJS_DIR,
        capture_output=True,
        text=True,
        timeout=TUFJS_TIMEOUT,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else {"error": proc.stderr}
    if proc.returncode != 0 or not result.get("ok"):
        raise AssertionError(f"sigstore-js refused: {result.get('error', result)}")
    return dict(result)


def _signed_version(path: Path) -> int:
    return json.loads(path.read_bytes())["signed"]["version"]


def python_tuf_refresh(metadata_dir: Path, trusted_root: Path, targets: Sequence[str] = ()) -> dict[str, Any]:
    """Refresh with python-tuf's ngclient, trusting ``trusted_root``.

    Looks up every path in ``targets`` (walking delegations). Returns the
    versions of the trusted top-level metadata and which targets were found.
    python-tuf's exceptions propagate unchanged on failure.
    """
    from tuf.ngclient import Updater

    root_bytes = Path(trusted_root).read_bytes()
    with (
        serve_directory(metadata_dir) as url,
        tempfile.TemporaryDirectory(prefix="ceremony-python-tuf-") as cache,
    ):
        updater = Updater(
            metadata_dir=cache,
            metadata_base_url=url,
            target_dir=str(Path(cache) / "targets"),
            target_base_url=url + "targets/",
            bootstrap=root_bytes,
        )
        updater.refresh()
        found = {path: updater.get_targetinfo(path) is not None for path in targets}
        # The updater persists metadata only after verifying it, so the
        # cache holds the trusted set (root.json links to the newest root).
        cache_dir = Path(cache)
        return {
            "ok": True,
            "root_version": _signed_version(cache_dir / "root.json"),
            "timestamp_version": _signed_version(cache_dir / "timestamp.json"),
            "snapshot_version": _signed_version(cache_dir / "snapshot.json"),
            "targets_version": _signed_version(cache_dir / "targets.json"),
            "targets": found,
        }


def tufjs_download(workspace: Path, trusted_root: Path, targets: Sequence[str]) -> dict[str, str]:
    """tuf-js refreshes from WORKSPACE/metadata and downloads each target from WORKSPACE/targets/.

    Returns target path -> SHA-256 (hex) of the bytes tuf-js accepted (it checks length and hashes itself);
    a target it does not find is missing from the result. Raises ``AssertionError`` with tuf-js's error when
    it refuses the repository or a target file.
    """
    with serve_directory(workspace) as url:
        result = _run_tufjs(
            url + "metadata/", Path(trusted_root), targets, ["--targets-url", url + "targets/", "--download"]
        )
    return dict(result["downloaded"])


def tufjs_refresh(metadata_dir: Path, trusted_root: Path, targets: Sequence[str] = ()) -> dict[str, Any]:
    """Refresh with tuf-js (``node tests/js/refresh.mjs``), trusting ``trusted_root``.

    Returns the script's JSON result. Raises ``AssertionError`` carrying
    tuf-js's error text when the client rejects the repository, and
    ``RuntimeError`` when Node or the npm dependencies are missing.
    """
    with serve_directory(metadata_dir) as url:
        return _run_tufjs(url, Path(trusted_root), targets, [])


def _run_tufjs(url: str, trusted_root: Path, targets: Sequence[str], extra: list[str]) -> dict[str, Any]:
    """Run tests/js/refresh.mjs against the metadata at ``url``; its JSON result, or AssertionError."""
    script = TUFJS_DIR / "refresh.mjs"
    if not (TUFJS_DIR / "node_modules" / "tuf-js" / "package.json").is_file():
        raise RuntimeError(
            f"tuf-js is not installed in {TUFJS_DIR}: run `npm ci` in "
            f"{TUFJS_DIR} (needs Node >= 20.17) before running these tests"
        )
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("`node` not found on PATH; Node >= 20.17 is required")

    target_args = [arg for path in targets for arg in ("--target", path)]
    root = str(Path(trusted_root).resolve())
    proc = subprocess.run(
        [node, str(script), "--metadata-url", url, "--root", root, *target_args, *extra],
        cwd=TUFJS_DIR,
        capture_output=True,
        text=True,
        timeout=TUFJS_TIMEOUT,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise AssertionError(
            f"tuf-js produced no JSON result (exit {proc.returncode}):\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        ) from None
    if proc.returncode != 0 or not result.get("ok"):
        raise AssertionError(f"tuf-js rejected the repository: {result.get('error', result)}")
    return result
