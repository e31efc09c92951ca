//! What the optimiser takes from libtorch through csrc/optimizer.cpp, since tch lacks them:
//! the fused Adam and AdamW kernels and the fused gradient clipping (tch has no binding for
//! operators over lists of tensors), and unsetting gradients. One fused call updates a group of parameters sharing a learning
//! rate and weight decay, in one pass over each parameter (the update written with tensor
//! operations makes several parameter-sized temporaries: a quarter of the speed).
use crate::error::{Error, Result};
use std::os::raw::{c_char, c_int};
use tch::Tensor;

extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn resnet_fused_adam(
        params: *const *const torch_sys::C_tensor,
        grads: *const *const torch_sys::C_tensor,
        exp_avgs: *const *const torch_sys::C_tensor,
        exp_avg_sqs: *const *const torch_sys::C_tensor,
        steps: *const f64,
        count: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        decoupled: c_int,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
    fn resnet_clear_grads(tensors: *const *const torch_sys::C_tensor, count: usize) -> c_int;
    fn resnet_clip_grad_norm(
        grads: *const *const torch_sys::C_tensor,
        count: usize,
        max_norm: f64,
        error: *mut c_char,
        error_len: usize,
    ) -> c_int;
}

/// The hyper-parameters one fused call shares.
#[derive(Debug, Clone, Copy)]
pub struct AdamRule {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW's decoupled weight decay, else Adam's L2 term in the gradient.
    pub decoupled: bool,
}

/// The tensors of one parameter's update: the parameter, its gradient, its two moments,
/// and its update count including this update (for the bias correction).
pub struct AdamSlot<'a> {
    pub param: &'a Tensor,
    pub grad: &'a Tensor,
    pub first: &'a Tensor,
    pub second: &'a Tensor,
    pub step: i64,
}

/// Updates every slot in place with `rule`, as `torch.optim.Adam(W)(fused=True)` would.
pub fn fused_adam_step(slots: &[AdamSlot], rule: AdamRule) -> Result<()> {
    if slots.is_empty() {
        return Ok(());
    }
    let params: Vec<_> = slots.iter().map(|slot| slot.param.as_ptr()).collect();
    let grads: Vec<_> = slots.iter().map(|slot| slot.grad.as_ptr()).collect();
    let firsts: Vec<_> = slots.iter().map(|slot| slot.first.as_ptr()).collect();
    let seconds: Vec<_> = slots.iter().map(|slot| slot.second.as_ptr()).collect();
    let steps: Vec<f64> = slots.iter().map(|slot| slot.step as f64).collect();
    let mut message = [0 as c_char; 512];
    // SAFETY: every array holds `slots.len()` elements that outlive the call; the pointers are
    // live tensors borrowed from `slots`. The C++ side copies tensor handles (updating their
    // shared storage in place), writes at most `message.len()` bytes into `message`, and is
    // noexcept.
    let status = unsafe {
        resnet_fused_adam(
            params.as_ptr(),
            grads.as_ptr(),
            firsts.as_ptr(),
            seconds.as_ptr(),
            steps.as_ptr(),
            slots.len(),
            rule.lr,
            rule.betas.0,
            rule.betas.1,
            rule.weight_decay,
            rule.eps,
            c_int::from(rule.decoupled),
            message.as_mut_ptr(),
            message.len(),
        )
    };
    check(status, &message, "fused Adam update")
}

/// Scales `grads` (on one device, of one dtype) in place so that their joint L2 norm is at
/// most `max_norm`, as `torch.nn.utils.clip_grad_norm_`; the norm never leaves the device.
pub fn clip_grad_norm(grads: &[Tensor], max_norm: f64) -> Result<()> {
    let pointers: Vec<_> = grads.iter().map(|grad| grad.as_ptr()).collect();
    let mut message = [0 as c_char; 512];
    // SAFETY: as in `fused_adam_step`: live tensors borrowed for the call, a bounded message
    // buffer, a noexcept C++ function.
    let status = unsafe { resnet_clip_grad_norm(pointers.as_ptr(), pointers.len(), max_norm, message.as_mut_ptr(), message.len()) };
    check(status, &message, "gradient clipping")
}

/// The outcome of a call that reports failure as a non-zero status and a message.
fn check(status: c_int, message: &[c_char], what: &str) -> Result<()> {
    if status != 0 {
        // SAFETY: the C++ side leaves `message` NUL-terminated (zeroed here beforehand).
        let text = unsafe { std::ffi::CStr::from_ptr(message.as_ptr()) }.to_string_lossy().into_owned();
        return Err(Error::Libtorch(format!("{what} failed: {text}")));
    }
    Ok(())
}

/// Unsets the gradients of `tensors` (`zero_grad(set_to_none=True)`): the next backward pass
/// stores its gradients instead of adding them to zeroed ones.
pub fn clear_grads(tensors: &[&Tensor]) -> Result<()> {
    let pointers: Vec<_> = tensors.iter().map(|tensor| tensor.as_ptr()).collect();
    // SAFETY: `pointers` holds live tensors borrowed for the call; the C++ side is noexcept.
    if unsafe { resnet_clear_grads(pointers.as_ptr(), pointers.len()) } != 0 {
        return Err(Error::Libtorch("cannot unset the gradients".into()));
    }
    Ok(())
}
