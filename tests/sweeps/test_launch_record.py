"""Which keys a sweep sweeps (they name job directories even when excluded from them)."""

from tradeoffs.sweeps.launch_record import swept_keys


def test_swept_keys_are_those_given_several_values():
    overrides = ["experiment=demo,smoke", "seed=range(3)", "+model.sampler.eta=0,1", "model.adv_weight=0.1", "a=[1,2]"]
    assert swept_keys(overrides) == {"experiment", "seed", "model.sampler.eta"}
