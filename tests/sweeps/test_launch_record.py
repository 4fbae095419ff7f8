"""Job directory names: the keys a sweep gives several values (they name job directories even when excluded from
them), each name one path component."""

from tradeoffs.sweeps.launch_record import swept_keys
from tradeoffs.sweeps.lease import job_dirname


def test_swept_keys_are_those_given_several_values():
    overrides = ["experiment=demo,smoke", "seed=range(3)", "+model.sampler.eta=0,1", "model.adv_weight=0.1", "a=[1,2]"]
    assert swept_keys(overrides) == {"experiment", "seed", "model.sampler.eta"}


def test_a_job_directory_name_is_one_path_component():
    assert job_dirname("+model.sampler.eta=0.5,seed=1") == "model.sampler.eta=0.5,seed=1"
    assert job_dirname("ckpt_path=../logs/a/last.ckpt,seed=0") == "ckpt_path=.._logs_a_last.ckpt,seed=0"
