//! channels_last: NCHW tensors whose memory is ordered NHWC, which oneDNN (CPU) and cuDNN
//! (with bf16) convolve faster. tch has no memory-format API, so the tensor is copied into
//! memory allocated with channels_last's strides, which keeps the logical NCHW shape.
use crate::error::Result;
use tch::nn::VarStore;
use tch::Tensor;

/// `tensor` (4-D) with channels_last strides, size-1 dimensions included (a copy unless it has
/// them already); other ranks are returned as they are.
pub fn channels_last(tensor: &Tensor) -> Result<Tensor> {
    let size = tensor.size();
    let Some(strides) = channels_last_strides(&size) else { return Ok(tensor.shallow_clone()) };
    if is_channels_last(tensor) {
        return Ok(tensor.shallow_clone());
    }
    // (permute -> contiguous -> permute back would keep a contiguous 1x1 weight's strides:
    // contiguous() sees nothing to do where the dimensions it would move have size 1.)
    let mut laid_out = Tensor::f_empty_strided(&size, strides, (tensor.kind(), tensor.device()))?;
    laid_out.f_copy_(tensor)?;
    Ok(laid_out)
}

/// Whether a 4-D tensor has exactly the strides `channels_last` gives it: NHWC order, and for
/// size-1 dimensions the same strides too. A contiguous 1x1 convolution weight has channel
/// stride 1 already but other strides than the gradient libtorch computes for it in
/// channels_last; DDP compares the two strictly and warns ("Grad strides do not match bucket
/// view strides"), so such a weight counts as not yet converted.
pub fn is_channels_last(tensor: &Tensor) -> bool {
    let size = tensor.size();
    channels_last_strides(&size).is_some_and(|strides| size[1] > 1 && tensor.stride() == strides)
}

/// The strides of an NCHW tensor of `size` whose memory is ordered NHWC; none unless 4-D.
fn channels_last_strides(size: &[i64]) -> Option<[i64; 4]> {
    let [_, channels, height, width] = size[..] else { return None };
    Some([height * width * channels, 1, width * channels, channels])
}

/// Re-lays every convolution weight of `vs` channels_last in place: the variables keep
/// their identity (optimiser and checkpoint code hold the same tensors), only their memory
/// order changes. Saving copies them back to the standard order (`snapshot::HostSnapshot`).
pub fn convert_to_channels_last(vs: &VarStore) -> Result<()> {
    let _guard = tch::no_grad_guard();
    for (_, mut variable) in vs.variables() {
        if variable.dim() == 4 && !is_channels_last(&variable) {
            let reordered = channels_last(&variable)?;
            variable.f_set_data(&reordered)?;
        }
    }
    Ok(())
}

/// Lays every 4-D variable of `vs` back out in the standard (contiguous NCHW) order, in place:
/// a trained model then computes exactly as the same model loaded from its files.
pub fn convert_to_standard(vs: &VarStore) -> Result<()> {
    let _guard = tch::no_grad_guard();
    for (_, mut variable) in vs.variables() {
        if variable.dim() == 4 && !variable.is_contiguous() {
            let standard = variable.f_contiguous()?;
            variable.f_set_data(&standard)?;
        }
    }
    Ok(())
}
