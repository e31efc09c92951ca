//! Batch norm folded into the convolutions for inference computes what the unfolded network
//! does, up to float rounding: for every arch, in both layouts, logits and features.
use crate::common;
use crate::common::randomise_batch_norm;
use resnet_core::inference::Output;
use resnet_core::model::folded::FoldedResNet;
use resnet_core::model::fused_conv;
use resnet_core::model::layout;
use resnet_core::{Arch, Precision, Preprocess, SavedModel};
use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

#[test]
fn folded_batch_norm_gives_the_unfolded_outputs_for_every_arch() {
    let _alone = common::alone();
    tch::manual_seed(4);
    let input = Tensor::randn([3, 3, 64, 64], (Kind::Float, Device::Cpu));
    for arch in Arch::ALL {
        let classes = (0..7).map(|i| format!("c{i}")).collect();
        let mut model = SavedModel::new(arch, classes, 64, Preprocess::standard(), None, Device::Cpu).unwrap();
        model.precision = Precision::Fp32;
        // Away from the initial statistics (mean 0, var 1, weight 1, bias 0), where folding
        // would change nothing; then running statistics drawn towards the activations' own,
        // as training leaves them (random ones make logits in the hundreds).
        randomise_batch_norm(&model);
        tch::no_grad(|| {
            for _ in 0..20 {
                let _ = model.net.forward_t(&input, true);
            }
        });
        for channels_last in [false, true] {
            model.folded = None;
            model.set_channels_last(channels_last).unwrap();
            let unfolded = [Output::Logits, Output::Features].map(|output| model.run_network(&input, output).unwrap());
            model.fold_batch_norm().unwrap();
            let folded = [Output::Logits, Output::Features].map(|output| model.run_network(&input, output).unwrap());
            for (what, (a, b)) in ["logits", "features"].iter().zip(unfolded.iter().zip(&folded)) {
                assert_eq!(a.size(), b.size());
                let difference = (a - b).abs().max().double_value(&[]);
                let scale = a.abs().max().double_value(&[]);
                // Logits within 1e-4; features, larger, within 1e-4 of their largest.
                let tolerance = if *what == "logits" { 1e-4 } else { 1e-4 * scale.max(1.0) };
                assert!(difference < tolerance, "{} {what} channels_last={channels_last}: differ by {difference} (largest {scale})", arch.name());
                assert!(scale > 1e-2, "{} {what}: outputs too small to compare ({scale})", arch.name());
            }
        }
        // Folding again in the other layout happens with set_channels_last itself.
        model.set_channels_last(false).unwrap();
        assert!(model.folded.is_some());
        let refolded = model.run_network(&input, Output::Logits).unwrap();
        model.folded = None;
        let difference = (refolded - model.run_network(&input, Output::Logits).unwrap()).abs().max().double_value(&[]);
        assert!(difference < 1e-4, "{}: refolded after a layout change differs by {difference}", arch.name());
    }
}

/// On the CPU in float32 a loaded model infers on oneDNN's fused, prepacked convolutions
/// (this libtorch has oneDNN); its logits stay within 1e-4 of the plain folded network's, for
/// every arch, both layouts, a lone image and a batch, and at another image size than the one
/// the weights were packed for.
#[test]
fn fused_convolutions_give_the_plain_folded_outputs() {
    let _alone = common::alone();
    assert!(fused_conv::enabled(Kind::Float), "this libtorch has oneDNN: the fused convolutions should be on");
    tch::manual_seed(5);
    for arch in Arch::ALL {
        let classes = (0..5).map(|i| format!("c{i}")).collect();
        let mut model = SavedModel::new(arch, classes, 64, Preprocess::standard(), None, Device::Cpu).unwrap();
        model.precision = Precision::Fp32;
        randomise_batch_norm(&model);
        // Running statistics drawn towards the activations' own, as in the test above.
        let calibration = Tensor::randn([3, 3, 64, 64], (Kind::Float, Device::Cpu));
        tch::no_grad(|| {
            for _ in 0..20 {
                let _ = model.net.forward_t(&calibration, true);
            }
        });
        for channels_last in [false, true] {
            model.set_channels_last(channels_last).unwrap();
            model.fold_batch_norm().unwrap();
            assert!(model.folded.as_ref().unwrap().is_fused(), "{}: the CPU float32 model should run fused", arch.name());
            let plain = FoldedResNet::new(&model.vs, arch).unwrap();
            assert!(!plain.is_fused());
            for (batch, side) in [(1, 64), (3, 64), (2, 96)] {
                let mut input = Tensor::randn([batch, 3, side, side], (Kind::Float, Device::Cpu));
                if channels_last {
                    input = layout::channels_last(&input).unwrap();
                }
                let fused = model.run_network(&input, Output::Logits).unwrap();
                let expected = tch::no_grad(|| plain.logits(&input)).unwrap();
                let difference = (&fused - &expected).abs().max().double_value(&[]);
                let scale = expected.abs().max().double_value(&[]);
                assert!(difference < 1e-4, "{} channels_last={channels_last} batch {batch} {side} px: fused logits differ by {difference} (largest {scale})", arch.name());
                assert!(expected.abs().max().double_value(&[]) > 1e-2, "{}: logits too small to compare", arch.name());
            }
        }
    }
}

/// A fused convolution that libtorch refuses (an input with the wrong number of channels)
/// comes back as an error with libtorch's message, never as a crash.
#[test]
fn a_refused_fused_convolution_is_an_error() {
    let _alone = common::alone();
    let classes = vec!["a".to_string(), "b".to_string()];
    let mut model = SavedModel::new(Arch::Resnet18, classes, 32, Preprocess::standard(), None, Device::Cpu).unwrap();
    model.precision = Precision::Fp32;
    model.fold_batch_norm().unwrap();
    let wrong = Tensor::randn([1, 4, 32, 32], (Kind::Float, Device::Cpu));
    let error = model.run_network(&wrong, Output::Logits).unwrap_err().to_string();
    assert!(error.contains("fused convolution failed"), "{error}");
}

/// On a processor with native bf16, bf16 inference runs the fused convolutions on bfloat16
/// weights (rounded once, at fold time) instead of autocast over the plain folded network,
/// and rounds no worse than that: its logits are as close to float32's as autocast's (a mean
/// difference within 1.5x of autocast's; on these untrained networks, whose logits are about
/// 1, both grow with depth), for resnet18-50, a lone image and a batch (every arch runs),
/// channels_last (the default). Elsewhere, and in the standard layout, bf16 keeps autocast
/// on the plain folded network.
#[test]
fn bf16_inference_runs_fused_where_bf16_is_native_and_rounds_like_autocast() {
    let _alone = common::alone();
    let native = resnet_core::device::cpu_has_native_bf16();
    assert_eq!(fused_conv::enabled(Kind::BFloat16), native, "this libtorch has oneDNN: bf16 fused exactly where bf16 is native");
    tch::manual_seed(6);
    for arch in Arch::ALL {
        let classes = (0..5).map(|i| format!("c{i}")).collect();
        let mut model = SavedModel::new(arch, classes, 64, Preprocess::standard(), None, Device::Cpu).unwrap();
        randomise_batch_norm(&model);
        let calibration = Tensor::randn([3, 3, 64, 64], (Kind::Float, Device::Cpu));
        tch::no_grad(|| {
            for _ in 0..20 {
                let _ = model.net.forward_t(&calibration, true);
            }
        });
        model.set_channels_last(true).unwrap();
        for batch in [1, 3] {
            let input = layout::channels_last(&Tensor::randn([batch, 3, 64, 64], (Kind::Float, Device::Cpu))).unwrap();
            model.precision = Precision::Fp32;
            model.folded = None;
            let exact = model.run_network(&input, Output::Logits).unwrap();
            model.precision = Precision::Bf16;
            model.fold_batch_norm().unwrap();
            assert_eq!(model.folded.as_ref().unwrap().is_fused(), native, "{}: fused in bf16 where bf16 is native", arch.name());
            assert_eq!(model.autocasts(), !native);
            let bf16 = model.run_network(&input, Output::Logits).unwrap();
            assert_eq!(bf16.kind(), Kind::Float);
            let plain = FoldedResNet::new(&model.vs, arch).unwrap();
            let autocast = resnet_core::precision::maybe_autocast(true, Device::Cpu, || tch::no_grad(|| plain.logits(&input))).unwrap();
            // The mean over every logit: a largest difference between two bf16 roundings is
            // one sample of their noise, and swung 1.6x either way on resnet152.
            let mean_difference = |logits: &Tensor| (logits.to_kind(Kind::Float) - &exact).abs().mean(Kind::Double).double_value(&[]);
            let (ours, autocasts) = (mean_difference(&bf16), mean_difference(&autocast));
            let scale = exact.abs().max().double_value(&[]);
            assert!(ours > 0.0 || !native, "{}: bf16 computes differently from float32", arch.name());
            // Untrained resnet101/152 are too chaotic to rank two bf16 roundings (one image
            // came out 3.6x either way): only that they compute finite logits.
            assert!(ours.is_finite());
            let deep = matches!(arch, Arch::Resnet101 | Arch::Resnet152);
            assert!(deep || ours <= 1.5 * autocasts + 1e-6, "{} batch {batch}: bf16 logits differ from float32 by {ours} on average, autocast's by {autocasts}", arch.name());
            eprintln!("{} batch {batch}: bf16 against float32 on average {ours:.2e} fused, {autocasts:.2e} autocast (largest logit {scale:.2e})", arch.name());
        }
        // In the standard layout bf16 keeps autocast (libtorch has no bf16 residual sum
        // outside channels_last), and still computes.
        model.set_channels_last(false).unwrap();
        assert!(!model.folded.as_ref().unwrap().is_fused() && model.autocasts());
        let input = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
        assert_eq!(model.run_network(&input, Output::Logits).unwrap().size(), [2, 5]);
    }
}
