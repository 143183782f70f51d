"""compact_jit: compiler options at top level, plain jit inside a caller's jit."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mtlcomb_jax import compiling
from mtlcomb_jax.compiling import compact_jit as jit


@jit(static_argnames=("power",))
def _scaled_power(x, scale, *, power):
    return scale * x ** power


def test_top_level_call_compiles_with_the_options_this_xla_accepts():
    x = jnp.arange(4.0)
    np.testing.assert_allclose(_scaled_power(x, 2.0, power=3), 2.0 * np.arange(4.0) ** 3)
    # The options reach the compiler: the lowered program carries them (a JAX-internal
    # attribute, read here only; the jax version this was written against is 0.10.2).
    lowered = _scaled_power.lower(x, 2.0, power=3)
    assert dict(lowered._lowering._compiler_options_kvs) == compiling.program_options()
    assert compiling.program_options() == compiling.PROGRAM_OPTIONS, (
        "this XLA rejects PROGRAM_OPTIONS: programs fall back to XLA's defaults, about 3 x larger "
        "(bench/bench_programs.py); find this XLA's way to keep them small")


def test_call_inside_a_callers_jit_with_tracer_arguments():
    @jax.jit
    def caller(x):
        return _scaled_power(x, 3.0, power=2) + 1.0
    np.testing.assert_allclose(caller(jnp.arange(3.0)), 3.0 * np.arange(3.0) ** 2 + 1.0)


def test_call_inside_a_callers_jit_with_concrete_arguments_only():
    constant = jnp.arange(3.0)

    @jax.jit
    def caller(x):
        # no tracer among the arguments, but still inside the caller's trace
        return _scaled_power(constant, 2.0, power=1) * x
    np.testing.assert_allclose(caller(jnp.float32(2.0)), 4.0 * np.arange(3.0))


def test_gradient_and_vmap_through_the_package_jit():
    grad = jax.grad(lambda s: _scaled_power(jnp.arange(3.0), s, power=2).sum())(1.0)
    np.testing.assert_allclose(grad, 0.0 + 1.0 + 4.0)
    batched = jax.vmap(lambda s: _scaled_power(jnp.arange(3.0), s, power=1))(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(batched, [[0, 1, 2], [0, 2, 4]])


def test_options_this_xla_rejects_are_dropped(monkeypatch):
    monkeypatch.setattr(compiling, "PROGRAM_OPTIONS", {"xla_cpu_no_such_option_for_this_test": True})
    compiling.program_options.cache_clear()
    try:
        assert compiling.program_options() == {}
        fresh = jit(lambda x: x * 2.0)
        np.testing.assert_allclose(fresh(jnp.arange(3.0)), [0.0, 2.0, 4.0])
    finally:
        monkeypatch.undo()
        compiling.program_options.cache_clear()
    assert compiling.program_options() in ({}, compiling.PROGRAM_OPTIONS)


def test_wrapper_keeps_name_docstring_and_jit_attributes():
    assert _scaled_power.__name__ == "_scaled_power"
    _scaled_power(jnp.ones(2), 1.0, power=2)
    assert _scaled_power._cache_size() >= 1
    with pytest.raises(AttributeError):
        _scaled_power.no_such_attribute


def test_cpu_tuned_mechanisms_stay_on_the_cpu(monkeypatch):
    """XLA:CPU's compiler options and the transpose barrier measured on XLA:CPU are not
    applied on another backend (simulated: JAX's default backend reported as 'gpu')."""
    import jax.numpy as jnp

    from mtlcomb_jax import compiling, losses
    product = jnp.ones((3, 5))
    on_cpu = str(jax.make_jaxpr(losses.transposed)(product))
    assert "optimization_barrier" in on_cpu
    compiling.program_options.cache_clear()
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    try:
        assert compiling.program_options() == {}
        # a new function: the trace of the first is cached
        assert "optimization_barrier" not in str(jax.make_jaxpr(lambda x: losses.transposed(x))(product))
    finally:
        compiling.program_options.cache_clear()
