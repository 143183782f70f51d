"""The documentation's Python examples run as they stand, and its relative links resolve.

Every ```python block of README.md and docs/*.md runs in a fresh process in an empty
folder (the non-interactive matplotlib backend), so an example that drifts from the code
fails here."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _blocks():
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            if match.group(1) == "python":
                line = text[:match.start()].count("\n") + 1
                yield pytest.param(match.group(2), id=f"{page.relative_to(ROOT)}:{line}")


@pytest.mark.slow
@pytest.mark.parametrize("code", list(_blocks()))
def test_every_python_example_runs(code, tmp_path):
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ, MPLBACKEND="Agg"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target, _ in LINK.findall(page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken
    assert len(PAGES) > 5                   # the docs pages are found
