"""Where fnnet looks for the data sets: ``data_dir`` / ``--data-dir``, then ``$FNNET_DATA_DIR``, then the
default (the checkout's ``../shared/data``, or the user cache ``~/.cache/fnnet`` for an installed fnnet);
a missing data set names every place in that chain."""

import pathlib
import re

import pytest

from fnnet import cli
from fnnet.data import default_data_dir, idx, load_mnist, load_series, load_text

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("FNNET_DATA_DIR", raising=False)


def test_from_a_checkout_the_default_is_shared_data_beside_it(no_env):
    assert default_data_dir() == ROOT.parent / "shared" / "data"


def test_the_environment_variable_comes_before_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("FNNET_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path


def test_an_installed_fnnet_defaults_to_the_user_cache(no_env, monkeypatch, tmp_path):
    monkeypatch.setattr(idx, "_checkout_root", lambda: None)  # as from site-packages
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "fnnet"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "fnnet"


def test_the_checkout_is_told_apart_from_site_packages():
    assert idx._checkout_root() == ROOT
    assert (ROOT / "pyproject.toml").is_file()  # what it looks for; site-packages has none


def test_missing_mnist_with_nothing_set_names_the_default_and_the_unset_places(no_env, monkeypatch, tmp_path):
    monkeypatch.setattr(idx, "_checkout_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(idx.IdxError) as err:
        load_mnist("mnist")
    message = str(err.value)
    assert f"{tmp_path}/fnnet/mnist/train-images-idx3-ubyte.gz: file not found" in message
    assert "the user cache" in message
    assert "no data_dir (--data-dir) given" in message and "$FNNET_DATA_DIR is not set" in message


def test_missing_mnist_names_the_environment_variable_it_came_from(monkeypatch, tmp_path):
    monkeypatch.setenv("FNNET_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(idx.IdxError, match=r"env/mnist/train-images.*from \$FNNET_DATA_DIR"):
        load_mnist("mnist")


def test_missing_mnist_in_a_given_folder_says_it_was_given(monkeypatch, tmp_path):
    monkeypatch.setenv("FNNET_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(idx.IdxError) as err:
        load_mnist("mnist", tmp_path / "given")
    message = str(err.value)
    assert "given/mnist/train-images" in message and "given as data_dir (--data-dir)" in message
    assert "env" not in message.replace("given", "")  # the environment was not consulted


def test_missing_series_and_text_name_the_places_too(no_env, monkeypatch, tmp_path):
    monkeypatch.setattr(idx, "_checkout_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"fnnet/timeseries/airline-passengers\.csv.*user cache"):
        load_series("airline-passengers")
    with pytest.raises(FileNotFoundError, match=r"\$FNNET_DATA_DIR is not set"):
        load_text()


def test_cli_run_without_the_data_names_the_places(no_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(idx, "_checkout_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    argv = ["run", "mnist", "--epochs", "1", "--out-dir", str(tmp_path / "out"), "--quiet"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(r"cache/fnnet/mnist/\S+: file not found.*\$FNNET_DATA_DIR is not set", err), err
    assert cli.main([*argv, "--data-dir", str(tmp_path / "mine")]) == 1
    assert "mine/mnist/" in capsys.readouterr().err


def test_cli_help_documents_the_data_folder_chain(capsys):
    assert cli.main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "$FNNET_DATA_DIR" in text and "../shared/data" in text and "~/.cache/fnnet" in text
