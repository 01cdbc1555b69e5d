"""TFF execution contexts over workers this process owns (or explicitly given remote workers)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["async_context", "install_context", "sync_context"]


def _factory(target: str):
    import grpc
    import tensorflow_federated as tff

    from orchestrator.worker import GRPC_OPTIONS

    stub = tff.framework.RemoteExecutorGrpcStub(grpc.insecure_channel(target, GRPC_OPTIONS))

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
