"""The on-disk compilation cache: programs compiled in one process are stored for the next."""
import subprocess
import sys
import textwrap

import pytest

import mtlcomb_jax as mc


def test_compiled_programs_are_written_to_the_cache_directory(tmp_path):
    # A fresh process: JAX reads the setting when it first compiles.
    script = textwrap.dedent(f"""
        import numpy as np
        import mtlcomb_jax as mc
        assert str(mc.enable_compilation_cache({str(tmp_path)!r}, min_compile_seconds=0)) == {str(tmp_path)!r}
        rng = np.random.default_rng(0)
        X = rng.normal(size=(30, 50))
        data = mc.MultiTaskData.from_outcomes(X, X[:, :2] @ np.ones((2, 2)), ["regression"] * 2)
        mc.fit_path(data, n_lambdas=3)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    assert any(tmp_path.iterdir())


def test_a_negative_threshold_is_refused(tmp_path):
    with pytest.raises(ValueError, match="min_compile_seconds"):
        mc.enable_compilation_cache(tmp_path, min_compile_seconds=-1)


def test_a_file_is_refused_as_the_cache_directory(tmp_path):
    existing_file = tmp_path / "not_a_directory"
    existing_file.write_text("")
    with pytest.raises(ValueError, match="directory=.*is a file"):
        mc.enable_compilation_cache(existing_file)
