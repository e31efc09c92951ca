//! channels_last: NCHW tensors whose memory is ordered NHWC, which oneDNN (CPU) and cuDNN
//! (with bf16) convolve faster. tch has no memory-format API, so the strides come from
//! permute -> contiguous -> permute back, which keeps the logical NCHW shape.
use crate::error::Result;
use tch::nn::VarStore;
use tch::Tensor;

/// `tensor` (4-D) with channels_last strides; other ranks are returned as they are.
pub fn channels_last(tensor: &Tensor) -> Result<Tensor> {
    if tensor.dim() != 4 {
        return Ok(tensor.shallow_clone());
    }
    Ok(tensor.f_permute([0, 2, 3, 1])?.f_contiguous()?.f_permute([0, 3, 1, 2])?)
}

/// Whether a 4-D tensor is laid out channels_last (channel stride 1).
pub fn is_channels_last(tensor: &Tensor) -> bool {
    tensor.dim() == 4 && tensor.stride()[1] == 1 && tensor.size()[1] > 1
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
