#!/usr/bin/env bash
# CI: the built wheel with its core dependencies only (no extras) in a fresh virtual
# environment: the command line's demo runs, and an optional feature that is missing
# (scikit-learn's estimators) names the extra that brings it.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" .
python -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/mtlcomb_jax-*.whl
cd "$work"
"$work/venv/bin/mtlcomb-jax" demo --quick --no-plots --out "$work/demo"
"$work/venv/bin/python" - <<'PY'
import mtlcomb_jax as mc
try:
    mc.MTLComb
except ImportError as err:
    assert "pip install 'mtlcomb-jax[sklearn]'" in str(err), err
    print("core install: mc.MTLComb names its extra:", err)
else:
    raise SystemExit("scikit-learn is importable in the core-only environment")
PY
