"""``ceremony sigstore set-trust`` end to end, on a workspace made by ``ceremony init --profile sigstore``.

The trust root is Sigstore's own (tests/vectors/sigstore-trust). set-trust checks it, shows what changed in it,
and publishes the two targets through the targets pipeline: ``ceremony targets list`` shows them, the files are
under WS/targets/ with their hashed names (consistent snapshots), and sigstore-python 4.5.1's TUF client
(``ClientTrustConfig.from_tuf(url, bootstrap_root=...)``, its own checks of both files included) loads the
instance from a plain HTTP server of the workspace. A broken file is one line and nothing is written.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.clients import serve_repository
from tests.conftest import PASSPHRASE, CliRunner, _run, one_line_error
from tests.test_changes import ok

VECTORS = Path(__file__).resolve().parent / "vectors" / "sigstore-trust"
TR, SC = "trusted_root.json", "signing_config.v0.2.json"

#: sigstore-python's own TUF client, bootstrapped from the instance's first root, in a process whose XDG data
#: and cache directories are the test's: what a private instance's user runs (``sigstore.models`` API).
_LOAD = r"""
import json, sys
from pathlib import Path
from sigstore.models import ClientTrustConfig
config = ClientTrustConfig.from_tuf(sys.argv[1], bootstrap_root=Path(sys.argv[2]))
trusted, signing = config.trusted_root, config.signing_config  # sigstore-python's media type and service checks
print(json.dumps({
    "fulcio": signing.get_fulcio().url,
    "rekor": [t.url for t in signing.get_tlogs()],
    "fulcio_certs": len(trusted.get_fulcio_certs()),
}))
"""


@pytest.fixture(scope="module")
def sigstore_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("sigstore")
    pf = top / "passphrase"
    pf.write_text(PASSPHRASE + "\n")
    made = _run(
        "init",
        top / "ws",
        "--profile",
        "sigstore",
        "--root-keys",
        "2",
        "--threshold",
        "1",
        "--passphrase-file",
        pf,
        "--yes",
    )
    assert made.returncode == 0, made.stderr
    return top / "ws"


@pytest.fixture
def ws(sigstore_base: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "ws"
    shutil.copytree(sigstore_base, dest)
    return dest


def set_trust(
    cli: CliRunner, ws: Path, root: Path, config: Path | None, *extra: object
) -> subprocess.CompletedProcess[str]:
    return cli(
        "sigstore", "set-trust", ws, "--trusted-root", root, *(["--signing-config", config] if config else []), *extra
    )


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def load_in_sigstore_python(ws: Path, tmp_path: Path) -> dict[str, Any]:
    """What sigstore-python's own TUF client loads of the workspace, served over HTTP, bootstrapped from root 1."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    with serve_repository(ws) as url:
        loaded = subprocess.run(
            [sys.executable, "-c", _LOAD, url, ws / "metadata" / "1.root.json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    return dict(json.loads(loaded.stdout))


def version_of(ws: Path, role: str) -> int:
    return int(json.loads((ws / "metadata" / f"{role}.json").read_bytes())["signed"]["version"])


def test_set_trust_publishes_both_targets_and_sigstore_python_loads_the_instance(
    cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    root, config = VECTORS / "public" / TR, VECTORS / "public" / SC
    published = ok(set_trust(cli, ws, root, config, "--passphrase-file", passphrase_file, "--yes"))
    review = published.stdout
    assert review.index("trust root: new Fulcio CA sigstore (CN=sigstore-intermediate") < review.index(
        "SHA-256 of what"
    )
    assert "trust root: new Rekor key https://log2025-1.rekor.sigstore.dev" in review
    assert "signing config: new caUrls https://fulcio.sigstore.dev (v1)" in review
    assert "+ target trusted_root.json: 6,787 bytes, sha256 6494e21ea73fa7ee" in review and "published" in review
    assert "warning:" not in published.stdout + published.stderr

    listed = ok(cli("targets", "list", ws)).stdout
    assert (
        f"{SC}  1034 bytes  sha256:9711a6d537570695" in listed
        and f"{TR}  6787 bytes  sha256:6494e21ea73fa7ee" in listed
    )
    for source in (root, config):
        data = source.read_bytes()
        assert (ws / "targets" / f"{hashlib.sha256(data).hexdigest()}.{source.name}").read_bytes() == data
    assert sorted(p.name for p in (ws / "targets").iterdir()) == sorted(
        f"{hashlib.sha256(s.read_bytes()).hexdigest()}.{s.name}" for s in (root, config)
    )
    ok(cli("transcript", "verify", ws))

    assert load_in_sigstore_python(ws, tmp_path) == {
        "fulcio": "https://fulcio.sigstore.dev",
        "rekor": ["https://rekor.sigstore.dev/api/v1"],
        "fulcio_certs": 3,
    }
    cached = tmp_path / "cache" / "sigstore-python" / "tuf"
    assert [p.read_bytes() for p in sorted(cached.glob("*/*.json"))] == [config.read_bytes(), root.read_bytes()]


def test_the_review_shows_what_changed_and_warns_without_a_signing_config(
    cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    pf = ["--passphrase-file", passphrase_file, "--yes"]
    first = ok(set_trust(cli, ws, VECTORS / "public" / TR, None, *pf))
    assert (
        "warning: signing_config.v0.2.json: not given and not published: sigstore-python refuses an instance "
        "without it ('no signing config'); sigstore-js reads only the trusted root"
    ) in first.stdout
    ok(set_trust(cli, ws, VECTORS / "public" / TR, VECTORS / "public" / SC, *pf))
    again = one_line_error(set_trust(cli, ws, VECTORS / "public" / TR, None, *pf))
    assert again == "error: targets: already lists these exact files as the instance's trust root; nothing to change"

    doc = json.loads((VECTORS / "public" / TR).read_bytes())
    doc["tlogs"][0]["publicKey"]["validFor"]["end"] = "2030-01-01T00:00:00Z"
    doc["certificateAuthorities"].append(
        json.loads((VECTORS / "staging" / TR).read_bytes())["certificateAuthorities"][0]
    )
    changed = write(tmp_path / "new-root.json", doc)
    review = ok(set_trust(cli, ws, changed, None, *pf)).stdout
    lines = [line.strip() for line in review.splitlines()]
    trust = [line for line in lines if line.startswith(("trust root:", "warning:"))]
    assert trust[:2] == [
        "trust root: new Fulcio CA sigstore (CN=sigstore-intermediate,O=sigstore.dev, sha256 66e08b3881fc3111, "
        "certificate 2022-04-14T21:38:40Z..2032-03-22T16:50:45Z, trusted 2022-04-14T21:38:40Z..open)",
        "trust root: Rekor key https://rekor.sigstore.dev: validFor end set to 2030-01-01T00:00:00Z",
    ]
    assert "warning: signing_config.v0.2.json: not given; the published one stays as it is" in trust
    # The kept signing config is checked against the new trusted root too: staging's Fulcio is not in it.
    staging = ok(set_trust(cli, ws, VECTORS / "staging" / TR, None, *pf)).stdout
    assert (
        "warning: the published signing_config.v0.2.json: caUrls: https://fulcio.sigstore.dev is not in the trusted "
        "root; what clients sign with it will not verify"
    ) in staging
    listed = json.loads(ok(cli("targets", "list", ws, "--json")).stdout)
    assert listed[TR]["hashes"]["sha256"] == hashlib.sha256((VECTORS / "staging" / TR).read_bytes()).hexdigest()
    assert listed[SC]["hashes"]["sha256"] == hashlib.sha256((VECTORS / "public" / SC).read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("name", "field", "value", "expected"),
    [
        (
            TR,
            "tlogs",
            "logId-of-ctlog",
            "error: trusted_root.json: tlogs[0].logId.keyId: does not identify this log's key",
        ),
        (TR, "mediaType", "application/vnd.dev.sigstore.trustedroot.v0.2+json", "error: trusted_root.json: mediaType:"),
        (SC, "caUrls", "https://fulcio.sigstore.dev/api/v2", "error: signing_config.v0.2.json: caUrls[0].url:"),
    ],
)
def test_a_broken_file_is_one_line_and_nothing_is_written(
    cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path, name: str, field: str, value: str, expected: str
) -> None:
    docs = {n: json.loads((VECTORS / "public" / n).read_bytes()) for n in (TR, SC)}
    doc = copy.deepcopy(docs[name])
    if field == "tlogs":
        doc["tlogs"][0]["logId"] = docs[TR]["ctlogs"][1]["logId"]
    elif field == "caUrls":
        doc["caUrls"][0]["url"] = value
    else:
        doc[field] = value
    files = {n: write(tmp_path / n, doc if n == name else docs[n]) for n in (TR, SC)}
    line = one_line_error(set_trust(cli, ws, files[TR], files[SC], "--passphrase-file", passphrase_file, "--yes"))
    assert line.startswith(expected), line
    assert not (ws / "targets").exists() and version_of(ws, "targets") == 1


def computed_part(stdout: str) -> str:
    """What ``ceremony sign`` shows under "computed here" (after the request's unsigned description)."""
    return stdout[stdout.index("What will change: (computed here") :]


def test_set_trust_through_a_sign_request(cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path) -> None:
    """The keyholder's own tool computes the trust-root changes from the files the request carries.

    The request's summary is not signed: a forger's "no change" there must not be all the keyholder sees.
    """
    pf = ["--passphrase-file", passphrase_file, "--yes"]
    ok(set_trust(cli, ws, VECTORS / "public" / TR, VECTORS / "public" / SC, *pf))
    request = tmp_path / "request.json"
    written = ok(set_trust(cli, ws, VECTORS / "staging" / TR, VECTORS / "staging" / SC, "--request", request, "--yes"))
    assert "trust root: new Rekor key https://log2025-alpha3.rekor.sigstage.dev" in written.stdout
    doc = json.loads(request.read_bytes())
    assert any(line.startswith("trust root: new Fulcio CA sigstore") for line in doc["summary"])
    doc["summary"] = ["trust root: no change to CAs, logs or TSAs"]
    request.write_text(json.dumps(doc))
    config = json.loads((ws / "ceremony.json").read_text())
    keys = {role: next(k for k, v in config["keys"].items() if role in v["roles"]) for role in ("targets", "snapshot")}

    def sign(path: Path, role: str) -> subprocess.CompletedProcess[str]:
        return cli("sign", path, "--key", ws / "keys" / f"{keys[role]}.p12", *pf)

    # A copy whose carried trusted root is not the target to be signed is refused; one without the files says so.
    forged = copy.deepcopy(doc)
    forged["trust_files"][TR]["new"] = doc["trust_files"][TR]["current"]
    write(tmp_path / "forged.json", forged)
    assert one_line_error(sign(tmp_path / "forged.json", "targets")).startswith(
        f"error: {tmp_path / 'forged.json'}: its {TR} is not the target targets lists in the metadata to be signed"
    )
    stripped = {k: v for k, v in doc.items() if k != "trust_files"}
    write(tmp_path / "old-format.json", stripped)
    shown = computed_part(ok(sign(tmp_path / "old-format.json", "targets")).stdout)
    assert f"trust root: this request does not carry {TR}: its changes cannot be computed here" in shown

    signed = ok(sign(request, "targets")).stdout
    computed = computed_part(signed)
    assert "no change to CAs" not in computed and "no change to CAs" in signed  # the forger's line, marked unsigned
    assert "trust root: removed Rekor key https://log2025-1.rekor.sigstore.dev" in computed
    assert "trust root: new Rekor key https://log2025-alpha3.rekor.sigstage.dev" in computed
    assert "signing config: new caUrls https://fulcio.sigstage.dev (v1)" in computed
    for role in ("snapshot", "timestamp"):
        keyid = next(k for k, v in config["keys"].items() if role in v["roles"])
        ok(cli("sign", request, "--key", ws / "keys" / f"{keyid}.p12", *pf))
    ok(cli("merge", ws, request))
    listed = json.loads(ok(cli("targets", "list", ws, "--json")).stdout)
    assert sorted(listed) == [SC, TR] and version_of(ws, "targets") == 3
    assert listed[TR]["hashes"]["sha256"] == hashlib.sha256((VECTORS / "staging" / TR).read_bytes()).hexdigest()


def test_a_notary_workspace_is_refused_in_one_line(cli: CliRunner, ws: Path) -> None:
    config = json.loads((ws / "ceremony.json").read_text())
    config["profile"] = "notary"
    (ws / "ceremony.json").write_text(json.dumps(config))
    line = one_line_error(set_trust(cli, ws, VECTORS / "public" / TR, None, "--yes"))
    assert "a Docker Content Trust workspace, and ceremony sigstore set-trust is for TUF workspaces only" in line


def test_a_delegated_role_must_cover_the_names(cli: CliRunner, ws: Path, passphrase_file: Path) -> None:
    pf = ["--passphrase-file", passphrase_file]
    ok(cli("delegate", ws, "sigstore", "--paths", "*.json", "--keys", "1", *pf, "--yes"))
    ok(set_trust(cli, ws, VECTORS / "public" / TR, VECTORS / "public" / SC, "--role", "sigstore", *pf, "--yes"))
    listed = json.loads(ok(cli("targets", "list", ws, "--role", "sigstore", "--json")).stdout)
    assert sorted(listed) == [SC, TR] and json.loads(ok(cli("targets", "list", ws, "--json")).stdout) == {}
    ok(cli("delegate", ws, "other", "--paths", "bins/*", "--keys", "1", *pf, "--yes"))
    line = one_line_error(set_trust(cli, ws, VECTORS / "public" / TR, None, "--role", "other", *pf, "--yes"))
    assert "its delegation does not cover 'trusted_root.json'" in line


@pytest.mark.parametrize(
    ("end", "why"),
    [("0001-01-01T00:00:00+01:00", "before year 1 in UTC"), ("2022-12-31T23:59:59", "no time zone")],
)
def test_a_published_trust_root_with_dates_that_cannot_be_compared_is_compared_with_nothing(
    cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path, end: str, why: str
) -> None:
    """A trusted root published by ``targets add`` (not checked) may carry any date: the diff never crashes on it."""
    pf = ["--passphrase-file", passphrase_file, "--yes"]
    doc = json.loads((VECTORS / "public" / TR).read_bytes())
    doc["certificateAuthorities"][0]["validFor"]["end"] = end
    (tmp_path / "old").mkdir()
    old = write(tmp_path / "old" / TR, doc)
    ok(cli("targets", "add", ws, old, "--name", TR, *pf))
    review = ok(set_trust(cli, ws, VECTORS / "public" / TR, VECTORS / "public" / SC, *pf)).stdout
    assert f"note: the published {TR} is not one these checks read; compared with nothing" in review, why
    assert "trust root: new Fulcio CA sigstore" in review and "validFor start changed" not in review


def test_a_role_earlier_in_the_clients_search_decides_what_is_compared_and_what_is_refused(
    cli: CliRunner, ws: Path, passphrase_file: Path
) -> None:
    """Clients take a target from the first role of their search that lists it (top-level targets first)."""
    pf = ["--passphrase-file", passphrase_file, "--yes"]
    ok(cli("delegate", ws, "sigstore", "--paths", "*.json", "--keys", "1", *pf))
    ok(set_trust(cli, ws, VECTORS / "public" / TR, VECTORS / "public" / SC, "--role", "sigstore", *pf))
    # Top-level targets lists nothing yet: clients get sigstore's files today, and that is the diff's "before".
    review = ok(set_trust(cli, ws, VECTORS / "staging" / TR, VECTORS / "staging" / SC, *pf)).stdout
    assert "trust root: removed Rekor key https://log2025-1.rekor.sigstore.dev" in review
    assert "trust root: new Rekor key https://log2025-alpha3.rekor.sigstage.dev" in review
    # Now top-level targets lists both: a new file in sigstore would never be fetched.
    line = one_line_error(set_trust(cli, ws, VECTORS / "public" / TR, None, "--role", "sigstore", *pf))
    assert line == (
        f"error: sigstore: targets also lists {TR}, and clients find it there first: change it in targets, or "
        "remove it there before publishing it in sigstore"
    )
    assert version_of(ws, "sigstore") == 2


def test_a_private_instance_with_rekor_v2_and_a_tsa_loads_in_sigstore_python(
    cli: CliRunner, ws: Path, passphrase_file: Path, tmp_path: Path
) -> None:
    """What set-trust accepts of a private instance (a lone Fulcio root, Rekor v2 only, a TSA), sigstore-python uses."""
    from tests.core.test_sigstore_trust import private_config, private_root

    root, config = write(tmp_path / TR, private_root()), write(tmp_path / SC, private_config())
    review = ok(set_trust(cli, ws, root, config, "--passphrase-file", passphrase_file, "--yes")).stdout
    assert "warning:" not in review and "trust root: new TSA tsa (CN=tsa,O=example" in review
    assert load_in_sigstore_python(ws, tmp_path) == {
        "fulcio": "https://fulcio.example.com",
        "rekor": ["https://log2026-1.rekor.example.com/api/v2"],
        "fulcio_certs": 1,
    }
