"""Update rules against test vectors computed from their formulas (not from nndl_lab)."""

import math
import re

import numpy as np
import pytest

from nndl_lab import optim
from nndl_lab.gradient_check import rel_error

N, D = 4, 5


def homework_inputs():
    """The homework's inputs: w, dw and a state array, each a linspace over N*D entries."""
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    state = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    return w, dw, state


def test_sgd_formula():
    w, dw, _ = homework_inputs()
    next_w, _ = optim.sgd(w, dw, {"learning_rate": 1e-3})
    assert rel_error(next_w, w - 1e-3 * dw) < 1e-7


def test_sgd_momentum_formula():
    w, dw, v = homework_inputs()
    next_w, config = optim.sgd_momentum(w, dw, {"learning_rate": 1e-3, "velocity": v})
    expected_v = 0.9 * v - 1e-3 * dw
    assert rel_error(config["velocity"], expected_v) < 1e-7
    assert rel_error(next_w, w + expected_v) < 1e-7
    # The homework printed 0.406 here; the formula gives 0.1406 for entry (0, 0).
    assert next_w[0, 0] == pytest.approx(0.1406, abs=1e-12)


def test_sgd_nesterov_momentum_formula():
    w, dw, v = homework_inputs()
    next_w, config = optim.sgd_nesterov_momentum(w, dw, {"learning_rate": 1e-3, "velocity": v})
    expected_v = 0.9 * v - 1e-3 * dw
    expected_w = w + expected_v + 0.9 * (expected_v - v)
    assert rel_error(config["velocity"], expected_v) < 1e-7
    assert rel_error(next_w, expected_w) < 1e-7


def test_rmsprop_formula():
    w, dw, a = homework_inputs()
    next_w, config = optim.rmsprop(w, dw, {"learning_rate": 1e-2, "a": a})
    expected_a = 0.99 * a + 0.01 * dw**2
    expected_w = w - 1e-2 * dw / (np.sqrt(expected_a) + 1e-8)
    assert rel_error(config["a"], expected_a) < 1e-7
    assert rel_error(next_w, expected_w) < 1e-7


def test_adam_formula_with_t_incremented_before_use():
    w, dw, m = homework_inputs()
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    next_w, config = optim.adam(w, dw, {"learning_rate": 1e-2, "v": m, "a": v, "t": 5})
    t = 6
    expected_m = 0.9 * m + 0.1 * dw
    expected_v = 0.999 * v + 0.001 * dw**2
    m_hat = expected_m / (1 - 0.9**t)
    v_hat = expected_v / (1 - 0.999**t)
    expected_w = w - 1e-2 * m_hat / (np.sqrt(v_hat) + 1e-8)
    assert config["t"] == 6
    assert rel_error(config["v"], expected_m) < 1e-7
    assert rel_error(config["a"], expected_v) < 1e-7
    assert rel_error(next_w, expected_w) < 1e-7


def test_adam_first_step_is_sign_step():
    # With zero state, bias correction makes the first step lr * dw / (|dw| + eps').
    w, dw, _ = homework_inputs()
    next_w, _ = optim.adam(w, dw, {"learning_rate": 1e-3})
    np.testing.assert_allclose(next_w, w - 1e-3 * np.sign(dw), rtol=0, atol=1e-9)


def test_momentum_zero_reduces_to_sgd():
    w, dw, _ = homework_inputs()
    config = {"learning_rate": 0.05, "momentum": 0.0}
    sgd_config = {"learning_rate": 0.05}
    w_momentum, w_sgd = w, w
    for _ in range(3):
        w_momentum, config = optim.sgd_momentum(w_momentum, dw, config)
        w_sgd, sgd_config = optim.sgd(w_sgd, dw, sgd_config)
    np.testing.assert_allclose(w_momentum, w_sgd, rtol=1e-12, atol=0)


def test_nesterov_momentum_zero_reduces_to_sgd():
    w, dw, _ = homework_inputs()
    next_w, _ = optim.sgd_nesterov_momentum(w, dw, {"learning_rate": 0.05, "momentum": 0.0})
    np.testing.assert_allclose(next_w, w - 0.05 * dw, rtol=1e-12, atol=0)


def test_adam_beta1_zero_is_bias_corrected_rmsprop_step():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 4))
    config = {"learning_rate": 1e-2, "beta1": 0.0, "beta2": 0.9}
    mean_square = np.zeros_like(w)
    for t in range(1, 6):
        dw = rng.standard_normal(w.shape)
        mean_square = 0.9 * mean_square + 0.1 * dw**2
        expected = w - 1e-2 * dw / (np.sqrt(mean_square / (1 - 0.9**t)) + 1e-8)
        w, config = optim.adam(w, dw, config)
        assert rel_error(w, expected) < 1e-9


@pytest.mark.parametrize("rule", list(optim.UPDATE_RULES))
def test_rule_never_modifies_its_inputs(rule):
    w, dw, _ = homework_inputs()
    config = {}
    next_w, config = optim.UPDATE_RULES[rule](w.copy(), dw.copy(), config)
    state_before = {k: v.copy() for k, v in config.items() if isinstance(v, np.ndarray)}
    held = {k: v for k, v in config.items() if isinstance(v, np.ndarray)}
    w2, dw2 = next_w.copy(), dw.copy()
    next_w2, config = optim.UPDATE_RULES[rule](w2, dw2, config)
    np.testing.assert_array_equal(w2, next_w)
    np.testing.assert_array_equal(dw2, dw)
    assert next_w2 is not w2
    for key, array in held.items():
        # The arrays a learner kept from the previous step are not changed behind their back.
        np.testing.assert_array_equal(array, state_before[key])
        assert config[key] is not array


@pytest.mark.parametrize("rule", list(optim.UPDATE_RULES))
def test_rule_uses_defaults_without_config(rule):
    w, dw, _ = homework_inputs()
    next_w, config = optim.UPDATE_RULES[rule](w, dw)
    assert next_w.shape == w.shape
    assert config["learning_rate"] > 0


def test_unknown_config_key_names_accepted_keys():
    w, dw, _ = homework_inputs()
    with pytest.raises(
        ValueError, match=r"unknown config key\(s\) \['print_every'\].*learning_rate"
    ):
        optim.sgd_momentum(w, dw, {"learning_rate": 1e-2, "print_every": 10})


@pytest.mark.parametrize(
    "rule, config, match",
    [
        ("sgd", {"learning_rate": -1.0}, "learning_rate"),
        ("sgd_momentum", {"momentum": 1.5}, "momentum"),
        ("rmsprop", {"decay_rate": 1.0}, "decay_rate"),
        ("adam", {"beta2": -0.1}, "beta2"),
        ("adam", {"epsilon": 0.0}, "epsilon"),
        ("adam", {"t": -1}, "t"),
        ("sgd", {"learning_rate": float("nan")}, "learning_rate"),
    ],
)
def test_bad_hyperparameters(rule, config, match):
    w, dw, _ = homework_inputs()
    with pytest.raises(ValueError, match=match):
        optim.UPDATE_RULES[rule](w, dw, config)


def test_shape_mismatch_is_a_clear_error():
    w, dw, _ = homework_inputs()
    with pytest.raises(ValueError, match="dw has shape"):
        optim.adam(w, dw[:, :3])
    with pytest.raises(ValueError, match="velocity"):
        optim.sgd_momentum(w, dw, {"velocity": np.zeros(3)})
    with pytest.raises(TypeError, match="config must be a dict"):
        optim.sgd(w, dw, [("learning_rate", 1e-3)])


@pytest.mark.parametrize("rule", list(optim.UPDATE_RULES))
def test_inplace_step_computes_what_the_rule_computes(rule):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 7)).astype(np.float32)
    fast_w = w.copy()
    config = optim.prepare_config(rule, {}, w)
    fast_config = optim.prepare_config(rule, {}, fast_w)
    step = optim.inplace_step(rule)
    for _ in range(4):
        dw = rng.standard_normal(w.shape).astype(np.float32)
        w, config = optim.UPDATE_RULES[rule](w, dw, config)
        step(fast_w, dw, fast_config)
    np.testing.assert_array_equal(w, fast_w)
    assert w.dtype == np.float32


# -- the registry -----------------------------------------------------------------------------


def test_registry_names_every_public_rule_once():
    assert list(optim.UPDATE_RULES) == list(optim.RULES)
    for name, rule in optim.RULES.items():
        assert rule.name == name
        assert optim.UPDATE_RULES[name] is rule.function
        assert optim.inplace_step(name) is rule.step
        assert rule.label and rule.chapter
        assert rule.hyperparameters[0].name == "learning_rate"
        assert set(rule.keys) == {*rule.defaults, *rule.state}


@pytest.mark.parametrize("rule", list(optim.RULES))
def test_registry_defaults_are_what_a_rule_uses_without_config(rule):
    w, dw, _ = homework_inputs()
    _, config = optim.UPDATE_RULES[rule](w, dw)
    spec = optim.RULES[rule]
    for key, default in spec.defaults.items():
        expected = default + 1 if key == "t" else default
        assert config[key] == expected, key
    for key in spec.state:
        assert config[key].shape == w.shape


@pytest.mark.parametrize(
    ("rule", "key"),
    [(r, h.name) for r, spec in optim.RULES.items() for h in spec.hyperparameters],
)
def test_registry_ranges_are_enforced_at_both_ends(rule, key):
    w, dw, _ = homework_inputs()
    h = optim.RULES[rule].hyperparameter(key)
    assert h.check(rule, h.default) == h.default
    outside = [h.low - 1.0 if not h.low_open else h.low]
    if math.isfinite(h.high):
        outside.append(h.high if h.high_open else h.high + 1.0)
    for value in outside:
        with pytest.raises(ValueError, match=re.escape(h.accepted)):
            optim.UPDATE_RULES[rule](w, dw, {key: value})


def test_accepted_ranges_in_words():
    assert optim.RULES["sgd"].hyperparameter("learning_rate").accepted == ">= 0"
    assert optim.RULES["adam"].hyperparameter("epsilon").accepted == "> 0"
    assert optim.RULES["adam"].hyperparameter("beta2").accepted == "in [0, 1)"
    assert optim.RULES["adam"].hyperparameter("t").accepted == "an integer >= 0"


@pytest.mark.parametrize("rule", list(optim.RULES))
def test_stacked_rows_with_array_hyperparameters_are_the_single_updates(rule):
    """Rows of a (K, P) buffer with a (K, 1) float64 learning rate: bit for bit the update of
    each row alone with a Python-number learning rate (what the batched trainer relies on)."""
    rng = np.random.default_rng(3)
    rates = np.array([1e-3, 3e-2, 7e-4])
    stacked = rng.standard_normal((3, optim._BLOCK // 2 + 7)).astype(np.float32)  # two blocks
    rows = [row.copy() for row in stacked]
    stacked_config = optim.prepare_config(rule, {}, stacked)
    stacked_config["learning_rate"] = rates[:, None]
    row_configs = [
        optim.prepare_config(rule, {"learning_rate": float(lr)}, rows[k])
        for k, lr in enumerate(rates)
    ]
    step = optim.inplace_step(rule)
    for _ in range(3):
        dw = rng.standard_normal(stacked.shape).astype(np.float32)
        step(stacked, dw, stacked_config)
        for k in range(3):
            step(rows[k], dw[k], row_configs[k])
    for k in range(3):
        np.testing.assert_array_equal(stacked[k], rows[k])


def test_adam_on_a_large_array_follows_the_formula():
    # Larger than one block of the in-place step: the blocked path must give the formula.
    rng = np.random.default_rng(4)
    w = rng.standard_normal((2 * optim._BLOCK // 130 + 3, 130))  # three blocks
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    config = {"learning_rate": 1e-2}
    for t in range(1, 4):
        dw = rng.standard_normal(w.shape)
        m = 0.9 * m + 0.1 * dw
        v = 0.999 * v + 0.001 * dw**2
        expected = w - 1e-2 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        w, config = optim.adam(w, dw, config)
        assert rel_error(w, expected) < 1e-9


def test_parameter_configs_apply_overrides_by_pattern():
    names = ["W1", "b1", "gamma1", "beta1", "W2", "b2"]
    configs = optim.parameter_configs(
        "adam",
        {"learning_rate": 1e-3},
        names,
        {optim.BIAS_AND_NORMALIZATION: {"learning_rate": 0.0}, "W2": {"beta1": 0.5}},
    )
    assert configs["W1"] == {"learning_rate": 1e-3}
    assert configs["W2"] == {"learning_rate": 1e-3, "beta1": 0.5}
    for name in ("b1", "gamma1", "beta1", "b2"):
        assert configs[name] == {"learning_rate": 0.0}


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"b*": {"beta1": 2.0}}, ValueError, ["optim_overrides['b*']", "beta1", "[0, 1)"]),
        ({"b*": {"lr": 1.0}}, ValueError, ["lr", "accepted keys"]),
        ({"b*": {"v": np.zeros(3)}}, ValueError, ["state"]),
        ({3: {"beta1": 0.5}}, TypeError, ["pattern"]),
        (["b*"], TypeError, ["optim_overrides"]),
    ],
)
def test_bad_overrides_are_named(overrides, error, words):
    with pytest.raises(error) as info:
        optim.parameter_configs("adam", None, ["W1", "b1"], overrides)
    for word in words:
        assert word in str(info.value)
