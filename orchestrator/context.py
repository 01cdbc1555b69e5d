"""TFF execution contexts over workers this process owns (or explicitly given remote workers)."""

from __future__ import annotations

from collections.abc import Sequence

from wakeword.errors import WakewordError

__all__ = ["WorkerLostError", "answers", "async_context", "install_context", "sync_context"]


class WorkerLostError(WakewordError):
    """A TFF worker stopped answering (TFF itself would retry forever)."""

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(f"TFF worker {target} stopped answering")


_STUB_METHODS = ("get_executor", "create_value", "create_struct", "create_call", "create_selection",
                 "compute", "dispose", "dispose_executor")  # fmt: skip
_STUB_CLASS = None


def _stub_class():
    """TFF's gRPC stub, failing fast when its worker is gone.

    TFF retries an unavailable worker forever (waiting up to 30 s between tries), so a dead worker
    would hang the run. This stub checks, on a retryable error, whether the worker still accepts
    connections; if not, it raises :class:`WorkerLostError` (not retryable) naming it.
    """
    global _STUB_CLASS
    if _STUB_CLASS is not None:
        return _STUB_CLASS
    import tensorflow_federated as tff
    from tensorflow_federated.python.core.impl.executors import executors_errors

    def guarded(name):
        method = getattr(tff.framework.RemoteExecutorGrpcStub, name)

        def call(self, request):
            try:
                return method(self, request)
            except executors_errors.RetryableError:
                if not answers(self.target, timeout=LOST_AFTER_S):
                    raise WorkerLostError(self.target) from None
                raise

        return call

    _STUB_CLASS = type(
        "FailFastStub",
        (tff.framework.RemoteExecutorGrpcStub,),
        {name: guarded(name) for name in _STUB_METHODS},
    )
    return _STUB_CLASS


LOST_AFTER_S = 5.0  # a worker refusing connections for this long is gone


def answers(target: str, timeout: float = 2.0) -> bool:
    """Whether a gRPC server accepts connections at ``target`` within ``timeout`` seconds."""
    import grpc

    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
        return True
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()


def _factory(target: str):
    import grpc
    import tensorflow_federated as tff

    from orchestrator.worker import GRPC_OPTIONS

    stub = _stub_class()(grpc.insecure_channel(target, GRPC_OPTIONS))
    stub.target = target

    def stack_fn(cardinalities):
        if cardinalities.get(tff.CLIENTS) is None:  # computations without client values
            cardinalities[tff.CLIENTS] = 0
        executor = tff.framework.RemoteExecutor(stub)
        executor.set_cardinalities(cardinalities)
        return executor

    return tff.framework.ResourceManagingExecutorFactory(executor_stack_fn=stack_fn)


def _context(kind: str, target: str):
    import tensorflow_federated as tff

    cls = tff.framework.SyncExecutionContext if kind == "sync" else tff.framework.AsyncExecutionContext
    return cls(
        executor_fn=_factory(target),
        compiler_fn=tff.backends.native.desugar_and_transform_to_native,
        transform_args=tff.tensorflow.transform_args,
        transform_result=tff.tensorflow.transform_result,
    )


def sync_context(target: str):
    """A synchronous TFF context executing on the worker at ``target`` (host:port)."""
    return _context("sync", target)


def async_context(target: str):
    """An asynchronous TFF context executing on the worker at ``target`` (for mergeable contexts)."""
    return _context("async", target)


def install_context(targets: Sequence[str]) -> None:
    """Make TFF run computations on ``targets``: one worker directly, several through TFF's
    mergeable context (each runs its share of the clients up to the aggregation)."""
    import tensorflow_federated as tff

    if len(targets) == 1:
        tff.framework.get_context_stack().set_default_context(sync_context(targets[0]))
    else:
        tff.backends.native.set_mergeable_comp_execution_context([async_context(t) for t in targets])
