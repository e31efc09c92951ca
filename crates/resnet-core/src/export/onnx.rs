//! The network as a standard ONNX graph (opset 17) for ONNX Runtime, TensorRT, OpenVINO and
//! the like: Conv, BatchNormalization (inference), Relu, MaxPool, Add, GlobalAveragePool,
//! Flatten and Gemm, with the weights as initializers named like torchvision's `state_dict`.
//! Input `input` is float `[batch, 3, imageSize, imageSize]` (batch is dynamic), prepared as
//! `model.json`'s `preprocess` says; output `logits` is `[batch, classes]`. The model.json
//! text travels in the file's metadata, so a deployment knows the classes and preprocessing.
use super::onnx_proto::*;
use crate::error::{Error, Result};
use crate::fsutil::write_atomically;
use crate::model::blocks::{BlockKind, BATCH_NORM_EPSILON};
use crate::model::resnet::layout;
use crate::model::saved::SavedModel;
use prost::Message;
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// Operator set 17 (ONNX 1.12, 2022): read by every current runtime.
pub const OPSET: i64 = 17;
/// IR version 8 goes with opset 17.
const IR_VERSION: i64 = 8;
pub const INPUT_NAME: &str = "input";
pub const OUTPUT_NAME: &str = "logits";
/// Metadata key holding the model's model.json.
pub const META_KEY: &str = "resnet-napi/model.json";

/// Writes `model` as an ONNX file at `path`, atomically.
pub fn export_onnx(model: &SavedModel, path: &Path) -> Result<()> {
    let bytes = onnx_bytes(model)?;
    write_atomically(path, |temporary| std::fs::write(temporary, &bytes).map_err(|error| Error::io("write", temporary, error)))
}

/// The encoded `ModelProto` of `model`.
pub fn onnx_bytes(model: &SavedModel) -> Result<Vec<u8>> {
    let weights: HashMap<String, Tensor> = model.vs.variables();
    let mut graph = GraphBuilder { weights: &weights, nodes: Vec::new(), initializers: Vec::new() };
    let logits = graph.resnet(model)?;
    let side = i64::from(model.meta.image_size);
    let classes = model.meta.classes.len() as i64;
    let proto = ModelProto {
        ir_version: IR_VERSION,
        producer_name: "resnet-napi".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("{} classifier; input prepared as metadata {META_KEY} says", model.meta.arch.name()),
        graph: Some(GraphProto {
            node: graph.nodes,
            name: model.meta.arch.name().into(),
            initializer: graph.initializers,
            input: vec![value_info(INPUT_NAME, vec![named_dim("batch"), dim(3), dim(side), dim(side)])],
            output: vec![value_info(&logits, vec![named_dim("batch"), dim(classes)])],
        }),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        metadata_props: vec![StringStringEntryProto { key: META_KEY.into(), value: model.meta.to_json() }],
    };
    Ok(proto.encode_to_vec())
}

/// Appends nodes and initializers while walking the network in torchvision's order.
struct GraphBuilder<'a> {
    weights: &'a HashMap<String, Tensor>,
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder<'_> {
    /// The whole network; returns the name of its output (`logits`).
    fn resnet(&mut self, model: &SavedModel) -> Result<String> {
        let x = self.conv_bn(INPUT_NAME, "conv1", "bn1", 2)?;
        let x = self.relu(&x, "relu");
        let mut x = self.node(
            "MaxPool",
            "maxpool",
            vec![x],
            vec![ints("kernel_shape", &[3, 3]), ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1])],
        );
        let (kind, depths) = layout(model.meta.arch);
        for (stage, &depth) in depths.iter().enumerate() {
            for block in 0..depth {
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                x = self.block(&x, &format!("layer{}.{block}", stage + 1), kind, stride)?;
            }
        }
        let pooled = self.node("GlobalAveragePool", "avgpool", vec![x], vec![]);
        let flat = self.node("Flatten", "flatten", vec![pooled], vec![int("axis", 1)]);
        let weight = self.initializer("fc.weight")?;
        let bias = self.initializer("fc.bias")?;
        // Gemm computes flat · fc.weightᵀ + fc.bias, as nn.Linear; its output is the graph's.
        self.nodes.push(NodeProto {
            input: vec![flat, weight, bias],
            output: vec![OUTPUT_NAME.into()],
            name: "fc".into(),
            op_type: "Gemm".into(),
            attribute: vec![int("transB", 1)],
        });
        Ok(OUTPUT_NAME.into())
    }

    /// One residual block: the convolution branch plus the identity or the projection.
    fn block(&mut self, input: &str, prefix: &str, kind: BlockKind, stride: i64) -> Result<String> {
        let layers: &[(&str, &str, i64)] = match kind {
            BlockKind::Basic => &[("conv1", "bn1", stride), ("conv2", "bn2", 1)],
            // torchvision (v1.5) strides on the 3x3 convolution.
            BlockKind::Bottleneck => &[("conv1", "bn1", 1), ("conv2", "bn2", stride), ("conv3", "bn3", 1)],
        };
        let mut branch = input.to_string();
        for (index, (conv, bn, conv_stride)) in layers.iter().enumerate() {
            branch = self.conv_bn(&branch, &format!("{prefix}.{conv}"), &format!("{prefix}.{bn}"), *conv_stride)?;
            if index + 1 < layers.len() {
                branch = self.relu(&branch, &format!("{prefix}.relu{}", index + 1));
            }
        }
        let shortcut = if self.weights.contains_key(&format!("{prefix}.downsample.0.weight")) {
            self.conv_bn(input, &format!("{prefix}.downsample.0"), &format!("{prefix}.downsample.1"), stride)?
        } else {
            input.to_string()
        };
        let sum = self.node("Add", &format!("{prefix}.add"), vec![branch, shortcut], vec![]);
        Ok(self.relu(&sum, &format!("{prefix}.relu")))
    }

    /// A bias-free convolution (padding k/2, as torchvision's) followed by inference batch norm.
    fn conv_bn(&mut self, input: &str, conv: &str, bn: &str, stride: i64) -> Result<String> {
        let weight_name = format!("{conv}.weight");
        let kernel = self.weight(&weight_name)?.size();
        let (height, width) = match kernel.as_slice() {
            [_, _, height, width] => (*height, *width),
            other => return Err(Error::Libtorch(format!("expected {weight_name} with 4 dimensions, found {other:?}"))),
        };
        let weight = self.initializer(&weight_name)?;
        let attributes = vec![
            ints("kernel_shape", &[height, width]),
            ints("strides", &[stride, stride]),
            ints("pads", &[height / 2, width / 2, height / 2, width / 2]),
        ];
        let convolved = self.node("Conv", conv, vec![input.to_string(), weight], attributes);
        let inputs = ["weight", "bias", "running_mean", "running_var"]
            .iter()
            .map(|part| self.initializer(&format!("{bn}.{part}")))
            .collect::<Result<Vec<_>>>()?;
        let mut all = vec![convolved];
        all.extend(inputs);
        Ok(self.node("BatchNormalization", bn, all, vec![float("epsilon", BATCH_NORM_EPSILON as f32)]))
    }

    fn relu(&mut self, input: &str, name: &str) -> String {
        self.node("Relu", name, vec![input.to_string()], vec![])
    }

    /// Appends a node whose single output is named after the node; returns that name.
    fn node(&mut self, op_type: &str, name: &str, input: Vec<String>, attribute: Vec<AttributeProto>) -> String {
        self.nodes.push(NodeProto { input, output: vec![name.to_string()], name: name.to_string(), op_type: op_type.into(), attribute });
        name.to_string()
    }

    fn weight(&self, name: &str) -> Result<&Tensor> {
        self.weights
            .get(name)
            .ok_or_else(|| Error::Libtorch(format!("expected a parameter named {name:?} in the network, found none")))
    }

    /// Adds the parameter `name` as a float32 initializer of the same name; returns the name.
    fn initializer(&mut self, name: &str) -> Result<String> {
        let tensor = self.weight(name)?.f_to_device(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?;
        let values = Vec::<f32>::try_from(tensor.f_flatten(0, -1)?)?;
        let raw_data = values.iter().flat_map(|value| value.to_le_bytes()).collect();
        self.initializers.push(TensorProto { dims: tensor.size(), data_type: DATA_TYPE_FLOAT, name: name.into(), raw_data });
        Ok(name.to_string())
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i: value, r#type: ATTRIBUTE_INT, ..Default::default() }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: values.to_vec(), r#type: ATTRIBUTE_INTS, ..Default::default() }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f: value, r#type: ATTRIBUTE_FLOAT, ..Default::default() }
}

fn dim(size: i64) -> Dimension {
    Dimension { dim_value: Some(size), dim_param: None }
}

fn named_dim(name: &str) -> Dimension {
    Dimension { dim_value: None, dim_param: Some(name.into()) }
}

fn value_info(name: &str, dims: Vec<Dimension>) -> ValueInfoProto {
    let tensor_type = TensorTypeProto { elem_type: DATA_TYPE_FLOAT, shape: Some(TensorShapeProto { dim: dims }) };
    ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(tensor_type) }) }
}
