"""CI cannot be fooled by a hand-installed package: ``.ci/run`` makes a fresh virtual environment, runs the
README's own test command (read from the README) inside it, and fails a test skipped for a missing package."""

import importlib.util
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CI = ROOT / ".ci"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"ci_{name}", CI / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


readme_command = _load("readme_command")


def test_the_readme_test_command_installs_the_test_extra_and_runs_the_default_suite():
    command = readme_command.test_command((ROOT / "README.md").read_text())
    assert command == 'python3 -m pip install -e ".[test]" && python3 -m pytest'


def test_the_command_is_the_line_marked_the_test_suite_in_the_first_bash_block():
    readme = textwrap.dedent(
        """\
        # title
        ```bash
        make run    # the experiments
        make check  # the test suite
        ```
        ```bash
        other  # the test suite
        ```
        """
    )
    assert readme_command.test_command(readme) == "make check"
    for broken in ("no block at all", "```bash\nmake check  # the tests\n```\n"):
        with pytest.raises(ValueError, match="bash block"):
            readme_command.test_command(broken)


def test_ci_run_uses_a_fresh_venv_and_the_readme_command_and_installs_nothing_itself():
    script = (CI / "run").read_text()
    assert "python3 -m venv --clear" in script and 'source "$venv/bin/activate"' in script
    assert script.index("venv --clear") < script.index('bash -c "$command"')
    assert "readme_command.py README.md" in script and "-p strict_skips" in script
    assert "pip install" not in script  # only the README's command installs
    assert '"$status" -eq 5' in script  # pytest's "no tests collected" is a failure
    venv = script.split("venv=", 1)[1].split()[0]
    ignored = subprocess.run(["git", "check-ignore", "-q", f"{venv}/x"], cwd=ROOT, timeout=60)
    assert ignored.returncode == 0, f"{venv} is not git-ignored"


SUITE = textwrap.dedent(
    """\
    import pytest

    def test_missing_module():
        pytest.importorskip("no_such_module_for_ci")

    def test_missing_peer():
        pytest.skip("flax: no_such_flax is not installed")

    def test_needs_a_gpu():
        pytest.skip("cuDNN runs only on an NVIDIA GPU")

    def test_passes():
        pass
    """
)


@pytest.mark.parametrize("strict", [False, True])
def test_strict_skips_fails_a_skip_for_a_missing_package_and_keeps_the_others(tmp_path, strict):
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(CI), "PYTEST_ADDOPTS": ""}
    cmd = [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "test_suite.py"]
    cmd += ["-p", "strict_skips"] if strict else []
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    summary = proc.stdout.strip().splitlines()[-1]
    if not strict:
        assert proc.returncode == 0 and "1 passed, 3 skipped" in summary, proc.stdout
        return
    assert proc.returncode == 1 and "2 failed, 1 passed, 1 skipped" in summary, proc.stdout
    assert "FAILED test_suite.py::test_missing_module" in proc.stdout
    assert "FAILED test_suite.py::test_missing_peer" in proc.stdout
    assert "SKIPPED [1] test_suite.py:10: cuDNN runs only on an NVIDIA GPU" in proc.stdout
    assert "add it to the [test] extra" in proc.stdout


def test_strict_skips_fails_a_module_level_importorskip(tmp_path):
    (tmp_path / "test_mod.py").write_text(
        'import pytest\n\npytest.importorskip("no_such_module_for_ci", reason="x is optional")\n\n'
        "def test_x():\n    pass\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(CI), "PYTEST_ADDOPTS": ""}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "strict_skips", "test_mod.py"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout
    assert "ERROR test_mod.py - Failed: CI: importorskip('no_such_module_for_ci')" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].strip("= ").startswith("1 error")
