# Shared set-up for scripts/test and scripts/demo (sourced, not run).
# Creates .venv and installs from the hash-pinned lock files in scripts/lock/,
# so what runs is exactly what was reviewed. Needs Python >= 3.11.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"

_have() { command -v "$1" >/dev/null 2>&1; }

# A machine whose pip configuration (pip config list: /etc/pip.conf, /etc/xdg/pip/pip.conf, PIP_* variables)
# names a local simple index that lacks some projects makes pip warn once per missing project:
#   WARNING: Location 'file:///opt/.../simple/click/' is ignored: it is neither a file nor a directory.
# That is about the machine, not this project, and says nothing is wrong: those lines (only those) are dropped.
_LOCAL_INDEX_NOISE="^WARNING: Location 'file:[^']*/' is ignored: it is neither a file nor a directory\.\$"

# Run pip ("$@") with its stderr through that filter; its stdout as it is. The status is pip's (pipefail, set
# above: the filter itself always succeeds), and the filter has finished when this returns.
_pip() {
  { "$@" 2>&1 1>&3 3>&- | { grep -v -E "$_LOCAL_INDEX_NOISE" >&2 || true; }; } 3>&1
}

# Install Debian packages that are missing, when apt is there and we may use it.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! _have apt-get; then
    echo "setup: missing Debian packages ${missing[*]} and no apt-get here; install them by hand" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Create .venv and install ceremony from a lock file (scripts/lock/requirements*.txt).
venv_install() {
  local lock="$1"
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
  fi
  _pip .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
  # The project itself: built with the pinned setuptools from the lock, no download.
  _pip .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  # Bytecode for ceremony's own modules, as pip writes it for every installed wheel: an editable install has
  # none, and where PYTHONDONTWRITEBYTECODE is set (this kind of machine sets it) Python never writes it, so
  # every command would compile the CLI's sources again first (a fifth of `ceremony --version`).
  .venv/bin/python -m compileall -q ceremony >/dev/null
}

# A venv of its own for a tool the tests run beside ceremony (tuf-on-ci-sign), from its own hash-pinned lock:
# what it pulls in (cloud KMS SDKs) never reaches ceremony's venv.
tool_venv_install() {
  local dir="$1" lock="$2"
  if [ ! -x "$dir/bin/python" ]; then
    "$PYTHON" -m venv "$dir"
  fi
  _pip "$dir/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
}
