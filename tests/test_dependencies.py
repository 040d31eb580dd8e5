"""The declared dependencies match what the code imports: the core install covers ``import fnnet`` (progress
bars included), each extra covers its part of the repository, the README's test command installs everything
the suite imports, and nothing is declared that nothing uses."""

import ast
import fnmatch
import importlib.metadata
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Optional parts of the package (never imported by `import fnnet`), the one extra package each may import and
# the extra that installs it: the scikit-learn estimators and their solver modules, the loader of
# scikit-learn's data sets, and the TensorBoard writer of the metric logs.
OPTIONAL = {
    "fnnet/interop/sklearn.py": ("sklearn", "sklearn"),
    "fnnet/interop/_mlp_*.py": ("sklearn", "sklearn"),
}
OPTIONAL |= {"fnnet/data/tabular.py": ("sklearn", "sklearn")}  # imports it inside load_tabular
OPTIONAL |= {"fnnet/training/metric_logs.py": ("tensorboardX", "logs")}  # imports it inside TensorBoardLogger


def _name(requirement: str) -> str:
    """The distribution name of a requirement string, normalised (``dm-haiku>=1`` -> ``dm_haiku``)."""
    return re.sub(r"[-_.]+", "_", re.match(r"[A-Za-z0-9_.-]+", requirement).group()).lower()


def closure(extras: list[str]) -> set[str]:
    """The distribution names that ``pip install fnnet[extras]`` asks for, self-references followed."""
    names, todo, seen = {_name(r) for r in PROJECT["dependencies"]}, list(extras), set()
    while todo:
        extra = todo.pop()
        seen.add(extra)
        for req in PROJECT["optional-dependencies"][extra]:
            inner = re.fullmatch(r"fnnet\[([\w,]+)\]", req)
            if inner:
                todo += [e for e in inner.group(1).split(",") if e not in seen]
            else:
                names.add(_name(req))
    return names


def imports(*folders: str, skip: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """``{top-level module: {file, ...}}`` of the absolute third-party imports under ``folders``."""
    local = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} | {
        p.stem for p in (ROOT / "tests").glob("*.py")
    }
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if any(fnmatch.fnmatch(rel, pattern) for pattern in skip):
                continue
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for top in {n.split(".")[0] for n in names} - local - set(sys.stdlib_module_names):
                    found.setdefault(top, set()).add(rel)
    return found


# Import names that differ from their distribution's, for a module that is not installed here.
KNOWN = {"sklearn": "scikit-learn", "haiku": "dm-haiku", "yaml": "pyyaml", "PIL": "pillow"}


def distributions_of(module: str) -> set[str]:
    """The distributions that provide ``module``: as installed, else by its known or its own name."""
    dists = importlib.metadata.packages_distributions().get(module) or [KNOWN.get(module, module)]
    return {_name(d) for d in dists}


def assert_covered(found: dict[str, set[str]], declared: set[str], what: str) -> None:
    missing = {m: sorted(files) for m, files in found.items() if not distributions_of(m) & declared}
    assert not missing, f"imported but not in {what}: {missing}"


def test_the_core_install_covers_import_fnnet_and_its_progress_bars():
    assert_covered(imports("fnnet", skip=tuple(OPTIONAL)), closure([]), "the core dependencies")
    assert _name("tqdm") in closure([])  # ProgressBar: fit(progress=True) works with the core install


def test_optional_modules_are_covered_by_their_extra():
    core = set(imports("fnnet", skip=tuple(OPTIONAL)))
    for pattern, (module, extra) in OPTIONAL.items():
        found = {m for m, files in imports("fnnet").items() if fnmatch.filter(files, pattern)}
        assert found <= {module, *core}, pattern
        assert distributions_of(module) & closure([extra]), pattern


# Blocks every package that only an extra installs, then uses the core: import, fit with a progress bar.
CORE_ONLY = textwrap.dedent(
    """
    import sys
    for name in ("sklearn", "matplotlib", "torch", "flax", "haiku", "equinox", "pytest"):
        sys.modules[name] = None  # import name -> ImportError, as on a machine without it
    import jax, numpy as np, optax
    import fnnet as fn, fnnet.interop, fnnet.data, fnnet.course, fnnet.unsupervised, fnnet.cli
    from fnnet.training import ProgressBar
    x = np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
    result = fn.fit(fn.Dense(1), fn.losses.mean_squared_error, optax.sgd(0.1), x, 2 * x,
                    key=jax.random.key(0), epochs=2, batch_size=8, callbacks=[ProgressBar()])
    print("ok", len(result.history["loss"]))
    """
)


def test_import_fnnet_and_a_progress_bar_need_only_the_core_install(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", CORE_ONLY], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ok", "2"] and "2/2" in proc.stderr  # the bar drew both epochs


def test_each_part_of_the_repository_is_covered_by_its_extra():
    assert_covered(imports("experiments"), closure(["experiments"]), "[experiments]")
    assert_covered(imports("benchmarks"), closure(["bench"]), "[bench]")


def test_the_readme_test_command_installs_everything_the_suite_imports():
    assert_covered(imports("tests", "fnnet", "experiments", "benchmarks"), closure(["test"]), "[test]")
    assert {"pytest", "ruff", "build"} <= closure(["test"])


def test_every_core_dependency_is_imported_by_fnnet():
    used = set().union(*(distributions_of(m) for m in imports("fnnet")))
    unused = {_name(r) for r in PROJECT["dependencies"]} - used
    assert not unused, f"declared in the core dependencies but imported nowhere in fnnet: {unused}"


def test_each_extra_states_its_purpose():
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    lines = section.strip().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\w+ = \[", line):
            assert i > 0 and lines[i - 1].startswith("#"), f"extra without a comment above it: {line}"


def test_license_is_an_spdx_expression_with_its_file():
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "the fnnet authors" in text
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in requires)
