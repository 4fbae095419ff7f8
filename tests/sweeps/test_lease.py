"""The device lease with fake device ids, across real processes."""

import multiprocessing as mp
import time

import pytest

from tradeoffs.core.errors import ConfigError
from tradeoffs.sweeps.lease import DeviceLease, device_assignment


def hold(lock_dir: str, slots: list[int], seconds: float, queue, together) -> None:
    """Take a lease, then hold it for `seconds`, or until all jobs hold one when `together` (a barrier) is given."""
    with DeviceLease(slots, lock_dir, poll_seconds=0.02) as slot:
        queue.put(("got", slot, time.monotonic()))
        together.wait(timeout=30) if together is not None else time.sleep(seconds)
        queue.put(("released", slot, time.monotonic()))


def want_two_gpus(lock_dir: str) -> None:
    with device_assignment(2, 1, lock_dir, gpus_per_job=2):
        pass


def run_jobs(lock_dir, slots, n, seconds=0.3, overlap=False):
    """n processes leasing from `slots`; with `overlap` they hold their leases until all n have one (so a process
    that starts late cannot find the others already gone), else each holds for `seconds`."""
    ctx = mp.get_context("spawn")
    queue, together = ctx.Queue(), ctx.Barrier(n) if overlap else None
    jobs = [ctx.Process(target=hold, args=(str(lock_dir), slots, seconds, queue, together)) for _ in range(n)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
    return [queue.get(timeout=5) for _ in range(2 * n)]


def test_concurrent_jobs_get_distinct_devices(tmp_path):
    events = run_jobs(tmp_path, [3, 7], n=2, overlap=True)
    got = sorted(slot for kind, slot, _ in events if kind == "got")
    assert got == [3, 7]


def test_a_job_waits_until_a_device_is_released(tmp_path):
    events = sorted(run_jobs(tmp_path, [5], n=2), key=lambda e: e[2])
    kinds = [kind for kind, _, _ in events]
    assert kinds == ["got", "released", "got", "released"]  # never two holders of device 5 at once


def test_the_lease_is_released_on_failure(tmp_path):
    with pytest.raises(RuntimeError):
        with DeviceLease([0], tmp_path):
            raise RuntimeError("training crashed")
    with DeviceLease([0], tmp_path) as slot:  # free again at once
        assert slot == 0


def test_a_crashed_process_never_blocks_a_device(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    job = ctx.Process(target=hold, args=(str(tmp_path), [0], 60.0, queue, None))
    job.start()
    try:
        assert queue.get(timeout=30)[:2] == ("got", 0)  # the live child holds device 0 ...
        assert DeviceLease([0], tmp_path).try_acquire() is None  # ... so nobody else gets it
    finally:
        job.kill()
        job.join()
    assert job.exitcode == -9  # killed while holding the lease, not ended by itself
    lease = DeviceLease([0], tmp_path)
    assert lease.try_acquire() == 0  # the kernel dropped the dead process's lock


def test_cpu_slots_split_the_cores(tmp_path, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    with device_assignment(0, 4, tmp_path) as first, device_assignment(0, 4, tmp_path) as second:
        assert first.gpus == () and first.cpu_threads == second.cpu_threads == 2
    with device_assignment(2, 2, tmp_path) as gpu:
        assert gpu.gpus == (0,) and gpu.cpu_threads is None


def test_multi_gpu_jobs_take_disjoint_sets_all_at_once(tmp_path):
    with device_assignment(4, 2, tmp_path, gpus_per_job=2) as first, device_assignment(4, 2, tmp_path, 2) as second:
        assert first.gpus == (0, 1) and second.gpus == (2, 3)
    with DeviceLease([1], tmp_path):  # GPU 1 busy: a 3-GPU job takes 0, 2, 3, not a partial set
        with device_assignment(4, 1, tmp_path, gpus_per_job=3) as three:
            assert three.gpus == (0, 2, 3)
        assert DeviceLease([0], tmp_path).try_acquire() == 0  # all three released on exit


def test_a_job_never_holds_part_of_its_gpus_while_it_waits(tmp_path):
    """With 1 of 2 GPUs taken, a 2-GPU job waits holding nothing, so the other GPU stays free for others."""
    with DeviceLease([0], tmp_path):
        waiting = mp.get_context("spawn").Process(target=want_two_gpus, args=(str(tmp_path),))
        waiting.start()
        try:
            time.sleep(3)  # the job has started and polled
            assert waiting.is_alive()  # still waiting for a full set
            free = 0
            for _ in range(40):  # over 2 s (two of the job's polls), GPU 1 is free but for the job's brief tries
                lease = DeviceLease([1], tmp_path)
                free += lease.try_acquire() == 1
                lease.__exit__()
                time.sleep(0.05)
            assert free >= 36
        finally:
            waiting.kill()
            waiting.join()


def test_more_gpus_per_job_than_the_machine_has_is_named(tmp_path):
    with pytest.raises(ConfigError, match="lease.gpus_per_job=3: this machine has 2 GPU"):
        with device_assignment(2, 1, tmp_path, gpus_per_job=3):
            pass
