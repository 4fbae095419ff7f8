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


def test_a_job_name_too_long_for_a_file_name_is_shortened_the_same_way_every_time(tmp_path):
    overrides = ",".join(f"model.network.option_{i}=value_{i}" for i in range(12))
    names = {job_dirname(f"{overrides},model.adv_weight={w}") for w in ("0.001", "0.005")}
    assert len(names) == 2 and all(len(n.encode()) <= 255 for n in names)
    assert names == {job_dirname(f"{overrides},model.adv_weight={w}") for w in ("0.001", "0.005")}
    assert all(n.startswith("model.network.option_0=value_0,") and ",sha1=" in n for n in names)
    for name in names:
        (tmp_path / name).mkdir()  # a directory the file system accepts
    accented = job_dirname("x" * 235 + "é" * 30)  # byte 236 falls inside an é: the cut drops it whole
    assert accented.startswith("x" * 235 + ",sha1=") and len(accented.encode()) <= 255
