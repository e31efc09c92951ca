//! oneDNN's fused convolutions for inference on the CPU (csrc/fused_conv.cpp), as PyTorch's
//! inductor uses them: each weight reordered once into oneDNN's blocked layout, and the ReLU,
//! or a residual block's sum and ReLU, computed in the convolution's own pass. In float32 a
//! batch-1 forward pass of resnet18-50 takes 12-22% less time than on plain folded
//! convolutions (2-core Xeon); in bfloat16, on weights rounded once instead of by autocast on
//! every pass, where the processor has native bf16 (docs/NOTES.md, "Serving").
use super::layout::channels_last;
use crate::error::{Error, Result};
use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;
use tch::{Kind, Tensor};

extern "C" {
    fn resnet_fused_conv_available() -> c_int;
    fn resnet_fused_conv_pack(
        weight: *const torch_sys::C_tensor,
        stride: i64,
        padding: i64,
        input_size: *const i64,
        input_dims: usize,
        out: *mut *mut torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn resnet_fused_conv(
        input: *const torch_sys::C_tensor,
        weight: *const torch_sys::C_tensor,
        bias: *const torch_sys::C_tensor,
        stride: i64,
        padding: i64,
        relu: c_int,
        out: *mut *mut torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn resnet_fused_conv_add_relu(
        residual: *const torch_sys::C_tensor,
        input: *const torch_sys::C_tensor,
        weight: *const torch_sys::C_tensor,
        bias: *const torch_sys::C_tensor,
        stride: i64,
        padding: i64,
        out: *mut *mut torch_sys::C_tensor,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
}

/// Turns the fused convolutions off when set to `0` (for measuring what they change).
pub const FUSED_CONV_VAR: &str = "RESNET_NAPI_FUSED_CONV";

/// Whether CPU inference in `kind` (float32 or bfloat16) uses the fused convolutions: this
/// libtorch has them (it was built with oneDNN), they run in that kind (a build may declare
/// the operators without a CPU kernel for them) and compute what they should, the processor
/// has bf16 instructions for bfloat16 (`device::cpu_has_native_bf16`), and
/// `RESNET_NAPI_FUSED_CONV` is not `0`. Decided once per process and kind.
pub fn enabled(kind: Kind) -> bool {
    static FLOAT: OnceLock<bool> = OnceLock::new();
    static BFLOAT16: OnceLock<bool> = OnceLock::new();
    let decided = match kind {
        Kind::Float => &FLOAT,
        // Elsewhere oneDNN would emulate it, far slower than float32.
        Kind::BFloat16 if crate::device::cpu_has_native_bf16() => &BFLOAT16,
        _ => return false,
    };
    *decided.get_or_init(|| {
        let wanted = std::env::var(FUSED_CONV_VAR).map_or(true, |value| value.trim() != "0");
        // SAFETY: a call without arguments; the C++ side catches every exception.
        wanted && unsafe { resnet_fused_conv_available() } == 1 && runs(kind).is_ok()
    })
}

/// Whether the fused convolutions in `kind` need channels_last activations: in bfloat16 over
/// standard-order ones, libtorch 2.11 takes the residual sum outside oneDNN, where add_relu has
/// no bfloat16 kernel ("Unsupported datatype for add_relu").
pub fn needs_channels_last(kind: Kind) -> bool {
    kind == Kind::BFloat16
}

/// `enabled` for float32 and for bfloat16, for callers that do not use tch (the binding).
pub fn enabled_in_float32() -> bool {
    enabled(Kind::Float)
}

pub fn enabled_in_bfloat16() -> bool {
    enabled(Kind::BFloat16)
}

/// Packs a 3x3 convolution and runs both fused forms once on a tiny input in `kind` (constant
/// tensors: libtorch's random generator is left alone, so seeded runs stay as they were), in
/// the layout that kind needs (`needs_channels_last`).
fn runs(kind: Kind) -> Result<()> {
    let _guard = tch::no_grad_guard();
    let options = (kind, tch::Device::Cpu);
    let laid_out = |tensor: Tensor| if needs_channels_last(kind) { channels_last(&tensor) } else { Ok(tensor) };
    let geometry = Geometry { stride: 1, padding: 1 };
    let weight = pack(&Tensor::f_ones([4, 4, 3, 3], options)?, geometry, [1, 4, 5, 5])?;
    let (input, bias) = (laid_out(Tensor::f_ones([1, 4, 5, 5], options)?)?, Tensor::f_zeros([4], options)?);
    let inner = conv(&input, &weight, &bias, geometry, true)?;
    let summed = conv_add_relu(laid_out(Tensor::f_ones([1, 4, 5, 5], options)?)?, &inner, &weight, &bias, geometry)?;
    // An all-ones 3x3 convolution of 4 channels over ones gives 36 away from the border; the
    // second one over those gives 4 * 9 * 36 = 1296 at the centre, plus the residual's 1
    // (bfloat16 keeps 8 significant bits: 1297 rounds to 1296 there).
    const EXPECTED: f64 = 4.0 * 9.0 * 36.0 + 1.0;
    let tolerance = if kind == Kind::BFloat16 { EXPECTED / 128.0 } else { 0.0 };
    match summed.f_double_value(&[0, 0, 2, 2])? {
        value if (value - EXPECTED).abs() <= tolerance => Ok(()),
        value => Err(Error::Libtorch(format!("the fused convolutions computed {value} where {EXPECTED} was expected"))),
    }
}

/// The geometry of one convolution: a square kernel, the same stride and padding both ways.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub stride: i64,
    pub padding: i64,
}

/// `weight` (float32 or bfloat16, on the CPU) reordered for `conv` and `conv_add_relu` on
/// inputs of `input_size` (NCHW); they read nothing else.
pub fn pack(weight: &Tensor, geometry: Geometry, input_size: [i64; 4]) -> Result<Tensor> {
    let weight = weight.f_contiguous()?;
    made_by("packing a convolution weight", |out, error, error_len| {
        // SAFETY: `weight` and `input_size` outlive the call; the C++ side is noexcept.
        unsafe { resnet_fused_conv_pack(weight.as_ptr(), geometry.stride, geometry.padding, input_size.as_ptr(), input_size.len(), out, error, error_len) }
    })
}

/// `conv(input, weight) + bias`, then ReLU when `relu`. `weight` comes from `pack`.
pub fn conv(input: &Tensor, weight: &Tensor, bias: &Tensor, geometry: Geometry, relu: bool) -> Result<Tensor> {
    made_by("a fused convolution", |out, error, error_len| {
        // SAFETY: live tensors borrowed for the call; the C++ side is noexcept.
        unsafe { resnet_fused_conv(input.as_ptr(), weight.as_ptr(), bias.as_ptr(), geometry.stride, geometry.padding, c_int::from(relu), out, error, error_len) }
    })
}

/// `ReLU(residual + conv(input, weight) + bias)`, written over `residual`'s memory (which the
/// caller gives up) and returned: a residual block's last convolution, sum and ReLU.
pub fn conv_add_relu(residual: Tensor, input: &Tensor, weight: &Tensor, bias: &Tensor, geometry: Geometry) -> Result<Tensor> {
    made_by("a fused convolution with its residual sum", |out, error, error_len| {
        // SAFETY: live tensors borrowed for the call; the C++ side is noexcept.
        unsafe { resnet_fused_conv_add_relu(residual.as_ptr(), input.as_ptr(), weight.as_ptr(), bias.as_ptr(), geometry.stride, geometry.padding, out, error, error_len) }
    })
}

/// The tensor a csrc/fused_conv.cpp function stores in its out-pointer (a new heap tensor
/// whose ownership passes to us), or its C++ exception's message as an error.
fn made_by(what: &str, call: impl FnOnce(*mut *mut torch_sys::C_tensor, *mut c_char, usize) -> c_int) -> Result<Tensor> {
    let mut made: *mut torch_sys::C_tensor = std::ptr::null_mut();
    let mut message = [0 as c_char; 512];
    let status = call(&mut made, message.as_mut_ptr(), message.len());
    if status != 0 || made.is_null() {
        // SAFETY: the C++ side leaves `message` NUL-terminated (zeroed here beforehand).
        let text = unsafe { std::ffi::CStr::from_ptr(message.as_ptr()) }.to_string_lossy();
        return Err(Error::Libtorch(format!("{what} failed: {}", crate::error::first_line(&text))));
    }
    // SAFETY: `made` is the tensor the C++ side allocated for us, owned by nothing else.
    Ok(unsafe { Tensor::from_ptr(made) })
}
