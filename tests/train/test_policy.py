"""Precision policies round exactly where they say, in the formats they name."""

import numpy as np
import pytest

from odyssey_lessons.formats import FORMATS, custom_format, quantize
from odyssey_lessons.train._policy import POLICIES, PrecisionPolicy, get_policy


@pytest.mark.parametrize("name", list(POLICIES))
def test_policy_rounds_each_tensor_kind_to_its_format(name, rng):
    policy = POLICIES[name]
    x = (rng.standard_normal(1000) * 10.0 ** rng.uniform(-8, 3, 1000)).astype(np.float32)
    for method, fmt in [
        ("round_weights", policy.weights),
        ("round_activations", policy.activations),
        ("round_gradients", policy.gradients),
    ]:
        np.testing.assert_array_equal(getattr(policy, method)(x), quantize(x, fmt))


def test_fp32_policy_is_the_identity(rng):
    x = rng.standard_normal(10).astype(np.float32)
    assert POLICIES["fp32"].is_fp32 and POLICIES["fp32"].round_activations(x) is x
    assert not POLICIES["bf16"].is_fp32


def test_fp8_hybrid_uses_e4m3_forward_and_e5m2_backward():
    p = POLICIES["fp8_hybrid"]
    assert (p.weights, p.activations, p.gradients) == (FORMATS["e4m3fn"], FORMATS["e4m3fn"], FORMATS["e5m2"])


def test_store_weights_without_master_rounds_with_the_chosen_mode(rng):
    x = rng.standard_normal(5000).astype(np.float32)
    keep = PrecisionPolicy("m", "bf16", "bf16", "bf16", master_weights=True)
    assert keep.store_weights(x, seed=0) is x
    near = PrecisionPolicy("n", "bf16", "bf16", "bf16", master_weights=False)
    np.testing.assert_array_equal(near.store_weights(x, seed=0), quantize(x, "bf16"))
    sto = PrecisionPolicy("s", "bf16", "bf16", "bf16", master_weights=False, update_rounding="stochastic")
    np.testing.assert_array_equal(sto.store_weights(x, seed=3), quantize(x, "bf16", rounding="stochastic", seed=3))


def test_custom_policy_from_any_format():
    p = PrecisionPolicy("e3m2", custom_format(3, 2), "fp16", "e5m2")
    assert p.weights.name == "e3m2" and p.activations == FORMATS["fp16"]


def test_bad_policies_raise():
    with pytest.raises(ValueError, match="known policies"):
        get_policy("fp12")
    with pytest.raises(ValueError, match="unknown format"):
        PrecisionPolicy("x", "fp7", "fp16", "fp16")
    with pytest.raises(ValueError, match="update_rounding"):
        PrecisionPolicy("x", "fp16", "fp16", "fp16", update_rounding="up")
    with pytest.raises(TypeError, match="policy"):
        get_policy(3)


def test_caster_refuses_a_recipe_it_does_not_know():
    """A policy whose scaling was changed behind its validation fails loudly instead of running as "delayed"."""
    import dataclasses

    import numpy as np
    import pytest

    from odyssey_lessons.train import POLICIES, Caster

    policy = POLICIES["fp8_delayed"]
    broken = dataclasses.replace(policy)
    object.__setattr__(broken, "scaling", "per-block")
    with pytest.raises(ValueError, match="unknown scaling recipe 'per-block'"):
        Caster(broken).activations("x", np.ones(4, np.float32))


def test_caster_has_a_recipe_for_every_scaling_a_policy_accepts():
    from odyssey_lessons.train._cast import RECIPES
    from odyssey_lessons.train._policy import SCALINGS

    assert tuple(RECIPES) == SCALINGS
