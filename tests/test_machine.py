"""CPUs from the cgroup quota and the affinity mask (`mnist_core.machine`), on fake cgroup trees.

Streamlit Community Cloud gives an app 0.078-2 CPUs on a many-core host; torch sizes its thread
pool from the host's cores unless told otherwise (issue 26, item 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_core import machine

REPO = Path(__file__).resolve().parents[1]
AFFINITY = len(os.sched_getaffinity(0))


def _tree(tmp_path: Path, self_cgroup: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text + "\n")
    proc = tmp_path / "self_cgroup"
    proc.write_text(self_cgroup)
    return root, proc


V1_SELF = "4:memory:/app\n3:cpu,cpuacct:/app/web\n0::/\n"


def test_v1_quota_of_the_group_and_its_parents_the_smallest_counts(tmp_path):
    root, proc = _tree(
        tmp_path,
        V1_SELF,
        {
            "cpu,cpuacct/app/web/cpu.cfs_quota_us": "-1",  # no quota of its own
            "cpu,cpuacct/app/web/cpu.cfs_period_us": "100000",
            "cpu,cpuacct/app/cpu.cfs_quota_us": "150000",
            "cpu,cpuacct/app/cpu.cfs_period_us": "100000",
            "cpu,cpuacct/cpu.cfs_quota_us": "-1",
            "cpu,cpuacct/cpu.cfs_period_us": "100000",
        },
    )
    assert machine.cgroup_cpu_limit(root, proc) == 1.5
    assert machine.usable_cpus(root, proc) == 1  # rounded down: a second thread would wait


def test_v1_in_a_container_that_sees_its_own_group_as_the_root(tmp_path):
    """Docker-style: /proc/self/cgroup names the host's path, the mount holds only our group."""
    root, proc = _tree(
        tmp_path,
        "1:cpu:/docker/abc123\n",
        {"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"},
    )
    assert machine.cgroup_cpu_limit(root, proc) == 0.5
    assert machine.usable_cpus(root, proc) == 1  # at least one


def test_v2_cpu_max(tmp_path):
    root, proc = _tree(
        tmp_path,
        "0::/user.slice/app\n",
        {"user.slice/app/cpu.max": "200000 100000", "user.slice/cpu.max": "max 100000"},
    )
    assert machine.cgroup_cpu_limit(root, proc) == 2.0
    assert machine.usable_cpus(root, proc) == min(AFFINITY, 2)


def test_no_quota_leaves_the_affinity_mask(tmp_path):
    root, proc = _tree(tmp_path, "0::/\n", {"cpu.max": "max 100000", "cpu/cpu.cfs_quota_us": "-1"})
    assert machine.cgroup_cpu_limit(root, proc) is None
    assert machine.usable_cpus(root, proc) == AFFINITY
    missing = tmp_path / "nowhere"
    assert machine.usable_cpus(missing, missing) == AFFINITY  # no cgroup files at all


def test_the_thread_count_is_said_for_one_and_for_many():
    before = torch_threads()
    try:
        import torch

        torch.set_num_threads(1)
        assert machine.device_name("cpu") == "CPU (1 thread)"
        torch.set_num_threads(2)
        assert machine.device_name("cpu") == "CPU (2 threads)"
    finally:
        import torch

        torch.set_num_threads(before)


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


@pytest.mark.parametrize("quota_us", [100000, 50000])
def test_the_app_server_caps_torch_at_the_quota(tmp_path, quota_us):
    """The server's start-up hook (ui/preload.py, run by app.py's lifespan) caps torch's threads
    at a 1-CPU quota (and at half a CPU: still 1), and the sidebar's device line says so."""
    root, proc = _tree(
        tmp_path,
        "1:cpu:/app\n",
        {"cpu/app/cpu.cfs_quota_us": str(quota_us), "cpu/app/cpu.cfs_period_us": "100000"},
    )
    code = (
        "import torch; torch.set_num_threads(4)\n"
        "from pathlib import Path\n"
        "import mnist_core.machine as m\n"
        f"m.CGROUP_ROOT, m.PROC_SELF_CGROUP = Path({str(root)!r}), Path({str(proc)!r})\n"
        "import ui.preload\n"
        "print(m.device_name('cpu'), torch.get_num_threads())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "CPU (1 thread) 1"


# --- memory: the cgroup limit, and a small container's choice of executor ---------------------

GIB = 1024**3


def test_v1_memory_limit_the_smallest_along_the_path_and_no_limit_is_none(tmp_path):
    root, proc = _tree(
        tmp_path,
        V1_SELF,
        {
            "memory/app/memory.limit_in_bytes": str(GIB),
            "memory/memory.limit_in_bytes": "9223372036854771712",  # v1's "no limit"
        },
    )
    assert machine.cgroup_memory_limit(root, proc) == GIB
    assert machine.small_container(machine.cgroup_memory_limit(root, proc))
    root, proc = _tree(
        tmp_path / "none", V1_SELF, {"memory/app/memory.limit_in_bytes": "9223372036854771712"}
    )
    assert machine.cgroup_memory_limit(root, proc) is None


def test_v2_memory_max(tmp_path):
    root, proc = _tree(
        tmp_path,
        "0::/user.slice/app\n",
        {"user.slice/app/memory.max": "max", "user.slice/memory.max": str(3 * GIB)},
    )
    assert machine.cgroup_memory_limit(root, proc) == 3 * GIB
    assert not machine.small_container(3 * GIB)  # 2.7 GB, Community Cloud's largest: a child fits
    assert machine.small_container(690 * 1000**2)  # its smallest: no room for a second torch


@pytest.mark.parametrize("limit_gib", [1, 4])
def test_auto_trains_in_the_app_process_in_a_small_container(tmp_path, monkeypatch, limit_gib):
    """Under 2 GiB the app trains in its own process: a training child held a second copy of
    torch (961 vs 564 MiB PSS for the app's processes at 1 GiB, python -m bench cloud)."""
    from mnist_core.jobs.executors.choose import create_executor

    root, proc = _tree(
        tmp_path, "0::/app\n", {"app/memory.max": str(limit_gib * GIB), "app/cpu.max": "max"}
    )
    monkeypatch.setattr(machine, "CGROUP_ROOT", root)
    monkeypatch.setattr(machine, "PROC_SELF_CGROUP", proc)
    executor = create_executor("auto", warm=0)
    try:
        where = executor.placement()
        if limit_gib == 1:
            assert where.kind == "thread"
            assert where.summary == (
                "threads of the app's own process (a container with 1.0 GiB of memory)"
            )
        else:
            assert where.kind == "process"
    finally:
        executor.shutdown()


def test_memory_in_use_reads_the_process_and_its_own_group(tmp_path, monkeypatch):
    root, proc = _tree(
        tmp_path,
        "4:memory:/app\n",
        {
            "memory/app/memory.usage_in_bytes": str(543 * 2**20),
            "memory/app/memory.limit_in_bytes": str(GIB),
            "memory/memory.usage_in_bytes": str(9 * GIB),  # the host's: not this container's
        },
    )
    rss, used = machine.memory_in_use(root, proc)
    assert used == 543 * 2**20 and 10 * 2**20 < rss < 8 * GIB
    monkeypatch.setattr(machine, "CGROUP_ROOT", root)
    monkeypatch.setattr(machine, "PROC_SELF_CGROUP", proc)
    assert machine.memory_summary().endswith("; its container 543 MiB of its 1,024 MiB limit")
