"""The reference ONNX checker on an exported file: full check (strict shape inference) and
the inferred output shape. Usage: check_onnx.py MODEL.onnx; prints one JSON line."""
import json
import sys

import onnx

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
output = inferred.graph.output[0]
dims = [d.dim_param or d.dim_value for d in output.type.tensor_type.shape.dim]
print(json.dumps({
    "opset": [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")],
    "output": output.name,
    "dims": dims,
    "ops": sorted({n.op_type for n in model.graph.node}),
}))
