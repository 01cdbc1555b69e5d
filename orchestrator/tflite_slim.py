"""Rewrites of a converted TFLite flatbuffer that make an int8 file smaller (server side).

The converter leaves the float frontend's constants (the mel filterbank blocks, the analysis
window: about 10 KB) in float32. :func:`float16_constants` stores them as float16, each behind one
DEQUANTIZE op (the op TFLite's own float16 files use), which halves them; the frontend still
computes in float32. Used for int8 files only: their parity check against the float file bounds
the effect (the float16 rounding, < 5e-4 relative, moves log-mel features by < 5e-4).
"""

from __future__ import annotations

import numpy as np

__all__ = ["float16_constants", "int8_state_io"]

MIN_ELEMENTS = 256  # smaller float constants stay float32 (an extra op costs more than they save)


def float16_constants(flatbuffer: bytes, *, min_elements: int = MIN_ELEMENTS) -> bytes:
    """``flatbuffer`` with every float32 constant of at least ``min_elements`` values stored as
    float16 and expanded by a DEQUANTIZE op at the start of the graph."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.python.util import _convert_model_from_object_to_bytearray

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    graph = model.subgraphs[0]
    dequantize = _opcode(model, schema.BuiltinOperator.DEQUANTIZE)
    expand = []
    for index, tensor in enumerate(list(graph.tensors)):
        data = model.buffers[tensor.buffer].data
        if tensor.type != schema.TensorType.FLOAT32 or data is None or len(data) < 4 * min_elements:
            continue
        values = np.frombuffer(bytes(data), dtype=np.float32)
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(values.astype(np.float16).tobytes(), dtype=np.uint8)
        model.buffers.append(buffer)
        half = schema.TensorT()
        half.name, half.type, half.shape = (
            (tensor.name or b"") + b"/float16",
            schema.TensorType.FLOAT16,
            tensor.shape,
        )
        half.buffer = len(model.buffers) - 1
        graph.tensors.append(half)
        model.buffers[tensor.buffer].data = None  # (a buffer of its own: the converter shares none)
        tensor.buffer = 0  # the float32 tensor is now computed: buffer 0 is the empty one
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = dequantize, [len(graph.tensors) - 1], [index]
        expand.append(op)
    graph.operators = expand + graph.operators
    return bytes(_convert_model_from_object_to_bytearray(model))


def _opcode(model, builtin: int) -> int:
    """The index of ``builtin`` among the model's operator codes (added if missing)."""
    from tensorflow.lite.python import schema_py_generated as schema

    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def int8_state_io(flatbuffer: bytes, *, prefix: str = "state_") -> bytes:
    """``flatbuffer`` whose state inputs and outputs (signature names starting with ``prefix``) are
    the int8 tensors inside instead of float32 ones behind QUANTIZE and DEQUANTIZE ops.

    A state output is a slice of the int8 buffer it came from; the state input it becomes on the
    next call takes that output's scale and zero point, so the caller copies the bytes back as they
    are (no rounding between calls). States feeding float ops (the frontend's audio) stay float32.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.python.util import _convert_model_from_object_to_bytearray

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    graph, signature = model.subgraphs[0], model.signatureDefs[0]
    code = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    outputs = {m.name.decode(): m for m in signature.outputs}
    drop = set()
    for entry in signature.inputs:
        name = entry.name.decode()
        users = [i for i, op in enumerate(graph.operators) if entry.tensorIndex in op.inputs]
        out = outputs.get(name)
        if not name.startswith(prefix) or out is None or len(users) != 1:
            continue
        quantize, dequantize = graph.operators[users[0]], _producer(graph, out.tensorIndex)
        if code[quantize.opcodeIndex] != schema.BuiltinOperator.QUANTIZE or dequantize is None:
            continue
        if code[graph.operators[dequantize].opcodeIndex] != schema.BuiltinOperator.DEQUANTIZE:
            continue
        inner_out = graph.operators[dequantize].inputs[0]
        tensor = graph.tensors[entry.tensorIndex]
        tensor.type, tensor.quantization = schema.TensorType.INT8, graph.tensors[inner_out].quantization
        _rename_uses(graph, quantize.outputs[0], entry.tensorIndex)
        graph.outputs = [inner_out if t == out.tensorIndex else t for t in graph.outputs]
        out.tensorIndex = inner_out
        drop |= {users[0], dequantize}
    graph.operators = [op for i, op in enumerate(graph.operators) if i not in drop]
    _drop_unused_tensors(model)
    return bytes(_convert_model_from_object_to_bytearray(model))


def _producer(graph, tensor: int) -> int | None:
    return next((i for i, op in enumerate(graph.operators) if tensor in op.outputs), None)


def _rename_uses(graph, old: int, new: int) -> None:
    for op in graph.operators:
        op.inputs = [new if t == old else t for t in op.inputs]


def _drop_unused_tensors(model) -> None:
    """Remove tensors no op, graph input or output refers to (renumbering every reference)."""
    graph = model.subgraphs[0]
    used = set(graph.inputs) | set(graph.outputs)
    for op in graph.operators:
        used |= {t for t in op.inputs if t >= 0} | set(op.outputs)
    order = sorted(used)
    new = {old: i for i, old in enumerate(order)}
    graph.tensors = [graph.tensors[i] for i in order]
    for op in graph.operators:
        op.inputs = [new[t] if t >= 0 else t for t in op.inputs]
        op.outputs = [new[t] for t in op.outputs]
    graph.inputs, graph.outputs = [new[t] for t in graph.inputs], [new[t] for t in graph.outputs]
    for entry in [*model.signatureDefs[0].inputs, *model.signatureDefs[0].outputs]:
        entry.tensorIndex = new[entry.tensorIndex]
