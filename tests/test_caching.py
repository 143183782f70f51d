"""The on-disk compilation cache: programs compiled in one process are stored for the next."""
import os
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


def _fresh_process(script, tmp_path, **env):
    """Run ``script`` in a new Python process with XDG_CACHE_HOME in tmp_path (plus ``env``);
    returns its stdout's last line."""
    environment = {k: v for k, v in os.environ.items() if k != "MTLCOMB_JAX_CACHE"}
    environment.update(XDG_CACHE_HOME=str(tmp_path / "xdg"), **env)
    done = subprocess.run([sys.executable, "-W", "error", "-c", textwrap.dedent(script)], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


_REPORT = """
    import jax
    import mtlcomb_jax as mc
    print(jax.config.jax_compilation_cache_dir)
"""


def test_the_cache_is_on_by_default_in_the_users_cache_folder(tmp_path):
    assert _fresh_process(_REPORT, tmp_path) == str(tmp_path / "xdg" / "mtlcomb_jax" / "xla")
    assert (tmp_path / "xdg" / "mtlcomb_jax" / "xla").is_dir()


@pytest.mark.parametrize("value", ["0", "off", "False"])
def test_mtlcomb_jax_cache_0_turns_it_off(tmp_path, value):
    assert _fresh_process(_REPORT, tmp_path, MTLCOMB_JAX_CACHE=value) == "None"
    assert not (tmp_path / "xdg").exists()


def test_an_unwritable_cache_folder_never_fails_a_fit(tmp_path):
    (tmp_path / "xdg").write_text("a file where the cache folder would go")
    script = """
        import numpy as np, jax
        import mtlcomb_jax as mc
        X = np.random.default_rng(0).normal(size=(30, 8))
        data = mc.MultiTaskData.from_outcomes(X, X[:, :2], ["regression"] * 2)
        assert np.all(np.asarray(mc.fit_path(data, n_lambdas=3).converged))
        print(jax.config.jax_compilation_cache_dir)
    """
    # -W error: a warning (a failed cache write, say) would fail the run
    assert _fresh_process(script, tmp_path) == "None"


def test_a_cache_folder_set_in_jax_is_kept(tmp_path):
    script = f"""
        import jax
        jax.config.update("jax_compilation_cache_dir", {str(tmp_path / "mine")!r})
        import mtlcomb_jax as mc
        print(jax.config.jax_compilation_cache_dir)
    """
    assert _fresh_process(script, tmp_path) == str(tmp_path / "mine")
