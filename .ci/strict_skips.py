"""A pytest plugin that ``.ci/run`` loads (``-p strict_skips``): a test skipped for a missing package fails.

In CI's fresh virtual environment the README's test command has installed everything the default suite
imports, so a skip because a package is not installed means an install step is missing: a green CI must
not hide it. ``pytest.importorskip`` fails instead of skipping, and so does any skip whose reason says a
package is not installed (the benchmark peers' ``build_or_skip``). Other skips (no GPU, not Linux) stay.
"""

from __future__ import annotations

import re

import pytest

MISSING = re.compile(r"could not import|no module named|is not installed", re.I)
HINT = "the README's test command must install it (add it to the [test] extra in pyproject.toml)"


def pytest_configure(config: pytest.Config) -> None:
    real = pytest.importorskip

    def importorskip(modname: str, *args, **kwargs):
        try:
            return real(modname, *args, **kwargs)
        except pytest.skip.Exception as err:
            pytest.fail(f"CI: importorskip({modname!r}) skipped ({err}); {HINT}", pytrace=False)

    pytest.importorskip = importorskip


def _fail_if_missing(report) -> None:
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return
    reason = str(report.longrepr[2])
    if MISSING.search(reason):
        report.outcome = "failed"
        report.longrepr = f"CI: skipped for a missing package ({reason}); {HINT}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_if_missing(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_if_missing(outcome.get_result())
