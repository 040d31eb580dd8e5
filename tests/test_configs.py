"""fnnet.configs: every registered layer round-trips through JSON; bad configs name where they fail."""

import json

import pytest
from registry import CASES

import fnnet as fn
from fnnet.configs import ConfigError, diff, from_config, to_config

# The registry's cases that wrap a function of the test files in a Lambda: user code, not storable.
USER_CODE = {"lambda_reshape", "autoencoder_reshaping"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_registered_layer_round_trips_through_json(case):
    if case.name in USER_CODE:
        with pytest.raises(ConfigError, match=r"is user code, which a file cannot hold.*register"):
            to_config(case.layer)
        return
    config = json.loads(json.dumps(to_config(case.layer)))
    assert from_config(config) == case.layer


def test_a_non_finite_field_round_trips():
    layer = fn.layers.Dropout(0.5)
    config = to_config(fn.Sequential(layer, fn.Lambda(fn.activations.relu)))
    assert from_config(json.loads(json.dumps(config))) == fn.Sequential(layer, fn.Lambda(fn.activations.relu))


def test_diff_names_the_first_field_that_differs():
    a = to_config(fn.Sequential(fn.Dense(4), fn.activations.relu, fn.Dropout(0.2)))
    b = to_config(fn.Sequential(fn.Dense(4), fn.activations.tanh, fn.Dropout(0.2)))
    c = to_config(fn.Sequential(fn.Dense(4), fn.activations.relu, fn.Dropout(0.5)))
    assert diff(a, a) is None
    assert diff(a, b) == "model.layers[1].fn: 'relu' vs 'tanh'"
    assert diff(a, c) == "model.layers[2].rate: 0.2 vs 0.5"
    assert diff(a, to_config(fn.Sequential(fn.Dense(4)))) == "model.layers: 3 vs 1 entries"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "Dense", "fields": {"features": 3, "colour": 1}}, r"model: Dense has no field 'colour'"),
        ({"type": "Dense", "fields": {"features": -3}}, r"model: Dense refuses these fields"),
        ({"type": "Sequential", "fields": {"layers": [{"function": "os.system"}]}}, "unknown function"),
        ({"type": "Dense"}, r"model: a config entry must be \{'type', 'fields'\}"),
        ({"type": ["Dense"], "fields": {}}, r"model: unknown type"),
        (b"bytes", r"model: unexpected bytes"),
    ],
)  # fmt: skip
def test_a_bad_config_raises_config_error_naming_where(config, message):
    with pytest.raises(ConfigError, match=message):
        from_config(config)


def test_configs_is_part_of_the_top_level():
    assert fn.configs.to_config is to_config
