"""The `ray` executor: each job is a Ray actor on a cluster, answering the same calls.

`MNIST_RAY_ADDRESS` says which cluster: `auto` (the one running on this machine, started with
`ray start --head`), `ray://host:10001` (a remote one, through Ray Client), or `local` (start
one inside the app, with this machine's CPUs). An actor reserves the CPUs its job trains with
(`TrainConfig.threads`, else the job manager's threads per job) and, for a job that asks for
CUDA, one GPU where the cluster has them. Actors are kept warm and reused like the process
executor's children; the MNIST tensors go to the cluster's object store once (`ray.put`).

A lost worker, actor or node makes the next call raise: the job fails with `WorkerLost`
("the worker running this job was lost: ...") and the app keeps serving.

Ray is imported only here, and only when this executor is chosen.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from mnist_core.data.mnist import MnistRaw
from mnist_core.errors import MnistError
from mnist_core.jobs.executors.base import Placement, RemoteExecutor, Worker
from mnist_core.jobs.failures import WorkerLost
from mnist_core.train.config import TrainConfig

__all__ = ["RayExecutor", "RayUnavailable", "connect"]

_CONNECT_TIMEOUT_S = 5.0
_START_TIMEOUT_S = 300.0  # a new actor on a busy cluster may wait for a node


class RayUnavailable(MnistError):
    """Ray is not installed, or the cluster at the address could not be reached."""


def connect(address: str, num_cpus: int | None = None) -> None:
    """Join (or, for "local", start) the Ray cluster at `address`; RayUnavailable if not."""
    try:
        import ray
    except ImportError as e:
        raise RayUnavailable(
            "Ray is not installed (pip install 'ray==2.60.0'), so jobs cannot train on a "
            "Ray cluster."
        ) from e
    _check_reachable(address)
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address == "local":
        kwargs["num_cpus"] = num_cpus
    else:
        kwargs = {"address": address, "log_to_driver": False}
    # A local cluster's services are started with PR_SET_PDEATHSIG: they die with the *thread*
    # that started them. Streamlit runs each page in a thread that ends with the run, so the
    # services are started from a thread of their own that lives as long as the process.
    done = threading.Event()
    failure: list[BaseException] = []

    def start() -> None:
        try:
            ray.init(**kwargs)
        except BaseException as e:
            failure.append(e)
            done.set()
            return
        done.set()
        threading.Event().wait()  # forever: the services' parent thread

    threading.Thread(target=start, name="mnist-ray-services", daemon=True).start()
    done.wait()
    if failure:
        e = failure[0]
        raise RayUnavailable(
            f"Could not reach the Ray cluster at {address!r}: {type(e).__name__}: {e}"
        ) from e


def _check_reachable(address: str) -> None:
    """Fail in seconds for a host:port nobody answers on (ray.init would wait minutes)."""
    if address in ("auto", "local"):
        return
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as e:
        raise RayUnavailable(
            f"Could not reach the Ray cluster at {address!r}: nothing answers on {hostport} "
            f"({e.__class__.__name__}: {e})."
        ) from e


def _resources(config: TrainConfig | None, threads: int) -> tuple[float, float]:
    """(CPUs, GPUs) an actor for `config` reserves."""
    if config is None:
        return float(max(1, threads)), 0.0
    cpus = float(config.threads or max(1, threads))
    gpus = 1.0 if config.device == "cuda" else 0.0
    return cpus, gpus


class _ActorWorker(Worker):
    def __init__(self, actor_class: Any, cpus: float, gpus: float) -> None:
        import ray

        self._ray = ray
        self.cpus, self.gpus = cpus, gpus
        self.actor = actor_class.options(
            num_cpus=cpus, num_gpus=gpus, max_concurrency=4, max_restarts=0
        ).remote()
        self._lock = threading.Lock()
        self.where = "a Ray actor"
        self.where = self.call("ping", timeout=_START_TIMEOUT_S)

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        ray = self._ray
        try:
            return ray.get(self.actor.call.remote(method, *args), timeout=timeout)
        except ray.exceptions.RayTaskError as e:  # the method itself raised
            raise RuntimeError(f"The Ray actor could not {method}: {e.cause!r}") from e
        except ray.exceptions.GetTimeoutError as e:
            raise WorkerLost(f"{self.where} did not answer within {timeout:.0f} s") from e
        except ray.exceptions.RayError as e:
            raise WorkerLost(f"{self.where} is gone ({type(e).__name__})") from e

    def alive(self) -> bool:
        try:
            self.call("ping", timeout=10.0)
        except (WorkerLost, RuntimeError):
            return False
        return True

    def close(self) -> None:
        self._ray.kill(self.actor, no_restart=True)


class RayExecutor(RemoteExecutor):
    """Jobs as Ray actors; `warm` actors of the default size kept started."""

    kind = "ray"

    def __init__(self, address: str = "local", *, warm: int = 1, threads: int = 1) -> None:
        connect(address, None)
        import ray

        from mnist_core.jobs.executors.remote import RemoteRun

        class _RayRemoteRun(RemoteRun):
            def ping(self) -> str:
                ctx = ray.get_runtime_context()
                node = ctx.get_node_id()[:8]
                return f"Ray actor {ctx.get_actor_id()[:8]} on node {node}"

        self._ray = ray
        self.address = address
        self.threads = max(1, int(threads))
        self._actor_class = ray.remote(_RayRemoteRun)
        self._refs: dict[str, Any] = {}  # data key -> ObjectRef (kept: the data stay put)
        super().__init__(warm=warm)

    def _new_worker(self, config: TrainConfig | None) -> Worker:
        cpus, gpus = _resources(config, self.threads)
        return _ActorWorker(self._actor_class, cpus, gpus)

    def _fits(self, worker: Worker, config: TrainConfig) -> bool:
        assert isinstance(worker, _ActorWorker)
        return (worker.cpus, worker.gpus) == _resources(config, self.threads)

    def _room_for_warm(self) -> bool:
        """An idle actor holds its CPUs: start one only where the cluster has them free."""
        try:
            return self._ray.available_resources().get("CPU", 0.0) >= self.threads
        except Exception:
            return False

    def _data_ref(self, key: str, raw: MnistRaw) -> Any:
        with self._lock:
            ref = self._refs.get(key)
            if ref is None:
                ref = self._refs[key] = self._ray.put(raw)
        return ref

    def default_slots(self) -> int | None:
        """One job per `threads` CPUs of the cluster, at least one."""
        cpus = self._ray.cluster_resources().get("CPU", 1.0)
        return max(1, int(cpus // self.threads))

    def placement(self) -> Placement:
        ray = self._ray
        try:
            nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
            total = ray.cluster_resources()
        except Exception as e:  # the cluster went away: say so, keep serving
            return Placement("ray", f"the Ray cluster at {self.address}, unreachable now ({e})")
        with self._lock:
            busy = len(self._busy)
        cpus, gpus = float(total.get("CPU", 0)), float(total.get("GPU", 0))
        summary = (
            f"the Ray cluster: {nodes} node{'s' * (nodes != 1)}, {cpus:g} CPUs, {gpus:g} GPUs, "
            f"{busy} job{'s' * (busy != 1)} running"
        )
        return Placement("ray", summary, nodes=nodes, cpus=cpus, gpus=gpus, note=self.note)

    def shutdown(self) -> None:
        super().shutdown()
        with self._lock:
            self._refs.clear()
