"""Root pytest configuration: the notebooks (run by nbmake, top to bottom) count as slow
tests, so the default run stays within 5 minutes on 2 cores; ``pytest -m slow`` runs them."""
import pytest


@pytest.hookimpl(tryfirst=True)     # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
