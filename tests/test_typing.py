"""fnnet is typed: mypy passes on the package at the strictness ``pyproject.toml`` states, a user's call to
``fnnet.fit`` is seen as a ``FitResult`` (not ``Any``), every public function is annotated and ``py.typed``
ships with the package."""

import ast
import pathlib
import textwrap

import pytest

tomllib = pytest.importorskip("tomllib", reason="Python 3.11's TOML reader")
mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the [test] extra")

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fnnet"

USER_CODE = textwrap.dedent(
    """
    import jax
    import jax.numpy as jnp
    import optax

    import fnnet as fn
    from fnnet import losses

    model = fn.Sequential(fn.Dense(3), fn.activations.relu, fn.Dense(1))
    x, y = jnp.zeros((8, 2)), jnp.zeros((8, 1))
    result = fn.fit(model, losses.mean_squared_error, optax.sgd(0.1), x, y, key=jax.random.key(0))
    reveal_type(result)
    reveal_type(result.state)
    reveal_type(result.history)
    reveal_type(model.init(jax.random.key(0), (2,)))
    """
)


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory):
    """One mypy run over the package and a user's script (a fresh cache: nothing stale is trusted)."""
    tmp = tmp_path_factory.mktemp("mypy")
    user = tmp / "user_code.py"
    user.write_text(USER_CODE)
    args = ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp / "cache")]
    out, err, status = mypy_api.run([*args, str(PACKAGE), str(user)])
    return out, err, status


def test_mypy_passes_on_fnnet(mypy_run):
    out, err, status = mypy_run
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert not errors and status == 0, f"mypy (exit {status}):\n{out}\n{err}"


def test_fit_is_seen_as_a_fit_result(mypy_run):
    out, _, _ = mypy_run
    revealed = [
        line.split("Revealed type is ", 1)[1].replace("builtins.", "")
        for line in out.splitlines()
        if "Revealed type" in line
    ]
    assert len(revealed) == 4, out
    assert revealed[0] == '"fnnet.training.fit.FitResult"', out
    assert "fnnet.training.state.TrainState" in revealed[1], out  # a NamedTuple: its fields, then the class
    assert revealed[2] == '"dict[str, list[float]]"', out
    assert revealed[3].startswith('"tuple['), out  # (out_shape, params), not Any


def test_mypy_strictness_is_stated():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["check_untyped_defs"] is True
    assert config["disallow_incomplete_defs"] is True
    assert config.get("ignore_missing_imports") is not True, "only untyped third-party modules are ignored"


def test_py_typed_ships():
    assert (PACKAGE / "py.typed").is_file()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data["fnnet"]


def _public_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if not any(p.startswith("_") and p != "__init__.py" for p in parts):
            yield path


def _unannotated(fn, method):
    args = fn.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    params = [p for p in params if p is not None]
    if method and params and params[0].arg in ("self", "cls"):
        params = params[1:]
    missing = [p.arg for p in params if p.annotation is None]
    if fn.returns is None:
        missing.append("return")
    return missing


def public_functions():
    """(module path, qualified name, what lacks an annotation) for every public function and method of
    fnnet's public modules (methods of a private base class count: its subclasses make them public)."""
    for path in _public_modules():
        rel = path.relative_to(ROOT)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                yield rel, node.name, _unannotated(node, False)
            elif isinstance(node, ast.ClassDef):
                for sub in node.body:
                    if isinstance(sub, ast.FunctionDef) and (
                        not sub.name.startswith("_") or sub.name in ("__init__", "__call__")
                    ):
                        yield rel, f"{node.name}.{sub.name}", _unannotated(sub, True)


def test_every_public_function_is_annotated():
    found = list(public_functions())
    assert len(found) > 250  # the walk found the package
    missing = [f"{rel}: {name} ({', '.join(what)})" for rel, name, what in found if what]
    assert not missing, f"{len(missing)} of {len(found)} public functions lack annotations:\n" + "\n".join(
        missing
    )
