//! ONNX export: the file decodes as a ModelProto whose graph is topologically ordered, holds
//! every weight of the network under its torchvision name with its exact values, and passes
//! the reference checker of the ONNX spec (Python `onnx`, full check with strict shape
//! inference; its PYTHONPATH comes from RESNET_NAPI_TEST_ONNX_PYTHONPATH, which
//! scripts/test.sh sets from scripts/setup-onnx-python.sh). That onnxruntime gives the same
//! logits is tested from JavaScript (__test__/onnx.spec.mjs).
use crate::common;
use prost::Message;
use resnet_core::export::onnx::{export_onnx, onnx_bytes, INPUT_NAME, META_KEY, OPSET, OUTPUT_NAME};
use resnet_core::export::onnx_proto::ModelProto;
use resnet_core::model::saved::SavedModel;
use resnet_core::{Arch, Preprocess};
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use tch::{Device, Kind};

const OPS: [&str; 8] = ["Add", "BatchNormalization", "Conv", "Flatten", "Gemm", "GlobalAveragePool", "MaxPool", "Relu"];

fn model(arch: Arch, classes: usize) -> SavedModel {
    let names = (0..classes).map(|i| format!("class{i}")).collect();
    SavedModel::new_seeded(5, arch, names, 32, Preprocess::notebook(), None, Device::Cpu).unwrap()
}

fn decoded(model: &SavedModel) -> ModelProto {
    ModelProto::decode(onnx_bytes(model).unwrap().as_slice()).unwrap()
}

#[test]
fn the_graph_holds_every_weight_exactly_and_is_topologically_ordered() {
    let _alone = common::alone();
    for (arch, convolutions) in [(Arch::Resnet18, 20), (Arch::Resnet50, 53)] {
        let model = model(arch, 4);
        let proto = decoded(&model);
        assert_eq!(proto.ir_version, 8);
        assert_eq!(proto.opset_import.iter().map(|o| o.version).collect::<Vec<_>>(), vec![OPSET]);
        assert_eq!(proto.metadata_props[0].key, META_KEY);
        assert_eq!(proto.metadata_props[0].value, model.meta.to_json());
        let graph = proto.graph.unwrap();

        let variables = model.vs.variables();
        let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let names: HashSet<&str> = variables.keys().map(String::as_str).collect();
        assert_eq!(initializers, names, "{}: initializers are exactly the state_dict", arch.name());
        for tensor in &graph.initializer {
            let variable = &variables[&tensor.name];
            assert_eq!(tensor.dims, variable.size(), "{}", tensor.name);
            let values = Vec::<f32>::try_from(variable.to_kind(Kind::Float).flatten(0, -1)).unwrap();
            let expected: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert!(tensor.raw_data == expected, "{}: raw data differs", tensor.name);
        }

        let mut available: HashSet<String> = initializers.iter().map(|s| s.to_string()).collect();
        available.insert(INPUT_NAME.to_string());
        for node in &graph.node {
            assert!(OPS.contains(&node.op_type.as_str()), "unexpected op {}", node.op_type);
            for input in &node.input {
                assert!(available.contains(input), "{} reads {input} before it is produced", node.name);
            }
            for output in &node.output {
                assert!(available.insert(output.clone()), "{output} is produced twice");
            }
        }
        assert_eq!(graph.node.iter().filter(|n| n.op_type == "Conv").count(), convolutions, "{}", arch.name());
        assert_eq!(graph.node.last().unwrap().output, vec![OUTPUT_NAME.to_string()]);
        assert_eq!(graph.input.len(), 1);
        assert_eq!(graph.input[0].name, INPUT_NAME);
        let input_dims = &graph.input[0].r#type.as_ref().unwrap().tensor_type.as_ref().unwrap().shape.as_ref().unwrap().dim;
        assert_eq!(input_dims[0].dim_param.as_deref(), Some("batch"));
        assert_eq!(input_dims[1..].iter().map(|d| d.dim_value.unwrap()).collect::<Vec<_>>(), vec![3, 32, 32]);
    }
}

fn check_with_onnx(file: &Path) -> serde_json::Value {
    let pythonpath = std::env::var("RESNET_NAPI_TEST_ONNX_PYTHONPATH")
        .expect("RESNET_NAPI_TEST_ONNX_PYTHONPATH must name the onnx package: run through scripts/test.sh");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/export/check_onnx.py");
    let output = Command::new("python3").arg(script).arg(file).env("PYTHONPATH", pythonpath).output().expect("python3 runs");
    assert!(output.status.success(), "the onnx checker rejected {}: {}", file.display(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_file_passes_the_reference_onnx_checker() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    for (arch, classes) in [(Arch::Resnet18, 3), (Arch::Resnet50, 7)] {
        let file = dir.path().join(format!("{}.onnx", arch.name()));
        export_onnx(&model(arch, classes), &file).unwrap();
        let report = check_with_onnx(&file);
        assert_eq!(report["opset"], serde_json::json!([OPSET]));
        assert_eq!(report["output"], OUTPUT_NAME);
        assert_eq!(report["dims"], serde_json::json!(["batch", classes]));
        assert_eq!(report["ops"], serde_json::json!(OPS));
    }
}

#[test]
fn export_writes_atomically_and_reports_an_unwritable_path() {
    let _alone = common::alone();
    let dir = tempfile::tempdir().unwrap();
    let model = model(Arch::Resnet18, 2);
    let file = dir.path().join("model.onnx");
    std::fs::write(&file, b"old").unwrap();
    export_onnx(&model, &file).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), onnx_bytes(&model).unwrap());
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("model.onnx")], "no temporary file is left");

    let error = export_onnx(&model, &dir.path().join("missing").join("model.onnx")).unwrap_err();
    assert_eq!(error.code(), "ERR_IO");
    assert!(error.to_string().contains("missing"), "{error}");
}
