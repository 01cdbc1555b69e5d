"""The int8 Kokoro model's integer convolutions, computed by onnxruntime's float kernels.

The Kokoro model (``kokoro-v1.0.int8.onnx``) is dynamically quantized: each convolution is a
``ConvInteger`` of uint8 activations and weights (with zero points), and onnxruntime's CPU kernel is slow
(85% of a take's time here, one thread). :func:`float_convolutions` replaces each one by the same
sum of integer products done in float32, ``Round(Conv(float(x) - x_zero, float(w) - w_zero))``, cast
back to int32. Every product and partial sum is an integer, at most 255 times a kernel's summed
absolute weights: 8.5 million for this model whatever its input, under float32's exact-integer
limit 2**24, so the graph after it sees the same int32 tensor. The audio is the same bytes
(tests/data_tools/test_neural_tts.py checks it), 1.6x faster for a sentence and about 2.6x for a
short phrase (`python -m bench.synth`, docs/BENCHMARKS.md section 5).
"""

from __future__ import annotations

import numpy as np

__all__ = ["float_convolutions"]


def float_convolutions(model):
    """``model`` (an ``onnx.ModelProto``, changed in place and returned) with every ``ConvInteger``
    node replaced by float ops giving the same int32 output."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type != "ConvInteger":
            nodes.append(node)
            continue
        x, w, x_zero, w_zero = [*node.input, "", ""][:4]
        kernel = numpy_helper.to_array(weights[w]).astype(np.float32)
        if w_zero:  # a scalar: onnxruntime's ConvInteger takes no other
            kernel -= numpy_helper.to_array(weights[w_zero]).astype(np.float32).reshape(())
        at = (node.name or node.output[0]) + "/"  # names of the new tensors
        graph.initializer.append(numpy_helper.from_array(kernel, at + "float_kernel"))
        nodes.append(helper.make_node("Cast", [x], [at + "x_float"], to=TensorProto.FLOAT))
        x = at + "x_float"
        if x_zero:
            nodes.append(helper.make_node("Cast", [x_zero], [at + "x_zero"], to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Sub", [x, at + "x_zero"], [at + "x_centred"]))
            x = at + "x_centred"
        conv = helper.make_node("Conv", [x, at + "float_kernel"], [at + "sum"], name=at + "float")
        conv.attribute.extend(node.attribute)
        nodes.append(conv)
        nodes.append(helper.make_node("Round", [at + "sum"], [at + "sum_rounded"]))
        nodes.append(helper.make_node("Cast", [at + "sum_rounded"], node.output, to=TensorProto.INT32))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model
