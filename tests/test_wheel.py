"""The built wheel works outside the checkout: ``python -m build --wheel``, installed into a fresh virtual
environment, runs ``fnnet list``, ``fnnet summary mlp`` and every course experiment that needs no downloaded
data from a temporary directory, and looks for data sets in the user cache, not inside site-packages.

The virtual environment gets only the wheel (``--no-deps``); a ``.pth`` file lets it see the running
interpreter's site-packages for jax and the other dependencies (so nothing is downloaded), after checking
that the checkout itself is not reachable that way."""

import os
import pathlib
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What the wheel is built from: the packaged folders and the files pyproject.toml names.
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "fnnet", "experiments"]
# The course experiments that need no downloaded data (experiments.run_all's main job), with quick settings.
COURSE = {
    "surfing_node": [],
    "concert_perceptron": ["--epochs", "50"],
    "xor": ["--epochs", "200"],
    "gradient_descent": [],
    "network_sizing": ["--epochs", "2"],
    "playground": ["--epochs", "2", "--widths", "4"],
    "vanishing_gradient": ["--epochs", "1"],
    "design_quizzes": ["--epochs", "2"],
}


def _run(cmd, cwd, env, timeout=300):
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built by ``python -m build --wheel`` from a copy of the sources (not in the checkout)."""
    pytest.importorskip("build", reason="build is in the [test] extra")
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", work / "dist", src], work, _clean_env(), 600)
    (path,) = (work / "dist").glob("fnnet-*.whl")
    return path


def _clean_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "FNNET_DATA_DIR", "FNNET_EXPERIMENTS_DIR")
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A fresh venv holding the wheel, seeing this interpreter's dependencies but not the checkout."""
    home = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", home / "venv"], home, _clean_env())
    python = home / "venv" / "bin" / "python"
    deps = {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}
    if site.ENABLE_USER_SITE:
        deps.add(site.getusersitepackages())
    deps = sorted(pathlib.Path(p) for p in deps if pathlib.Path(p).is_dir())
    assert ROOT.resolve() not in [p.resolve() for p in deps]  # the checkout is not on that path
    purelib = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], home, _clean_env()
    )
    (pathlib.Path(purelib.stdout.strip()) / "_deps_of_the_test_env.pth").write_text(
        "\n".join(map(str, deps)) + "\n"
    )
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel]
    _run(pip, home, _clean_env())
    return home / "venv"


def test_the_wheel_holds_both_packages_the_license_and_the_metadata(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "fnnet/__init__.py" in names and "fnnet/cli.py" in names
    assert {f"experiments/{p.name}" for p in (ROOT / "experiments").glob("*.py")} <= set(names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    if (ROOT / "fnnet" / "py.typed").exists():
        assert "fnnet/py.typed" in names
    (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "License-Expression: MIT" in text and "Requires-Dist: tqdm" in text
    assert "chex" not in text


def test_the_installed_packages_come_from_the_venv_not_the_checkout(venv, tmp_path):
    code = "import fnnet, experiments; print(fnnet.__file__); print(experiments.__file__)"
    out = _run([venv / "bin" / "python", "-c", code], tmp_path, _clean_env()).stdout.split()
    assert len(out) == 2 and all(pathlib.Path(p).resolve().is_relative_to(venv.resolve()) for p in out), out


def test_fnnet_list_and_summary_work_from_any_directory(venv, tmp_path):
    listing = _run([venv / "bin" / "fnnet", "list"], tmp_path, _clean_env()).stdout
    names = [line.split()[0] for line in listing.splitlines()]
    assert set(COURSE) | {"mnist", "char_lstm", "forecast"} <= set(names), listing
    summary = _run([venv / "bin" / "fnnet", "summary", "mlp"], tmp_path, _clean_env()).stdout
    assert f"{784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10:,}" in summary


@pytest.mark.parametrize("name", COURSE)
def test_each_course_experiment_runs_from_the_installed_wheel(venv, tmp_path, name):
    out = tmp_path / "out"
    cmd = [venv / "bin" / "fnnet", "run", name, "--out-dir", out, *COURSE[name]]
    proc = _run(cmd, tmp_path, _clean_env(MPLBACKEND="Agg"))
    assert f"{name}: results" in proc.stdout
    assert (out / name / "metrics.json").is_file()
    assert list((out / name).glob("*.png"))


def test_a_missing_data_set_names_the_user_cache_not_site_packages(venv, tmp_path):
    env = _clean_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    cmd = [venv / "bin" / "fnnet", "run", "mnist", "--epochs", "1", "--out-dir", tmp_path / "out"]
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{tmp_path}/cache/fnnet/mnist/" in proc.stderr and "the user cache" in proc.stderr, proc.stderr
    assert "$FNNET_DATA_DIR is not set" in proc.stderr and "site-packages" not in proc.stderr
