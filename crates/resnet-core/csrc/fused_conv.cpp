// oneDNN convolutions for CPU inference as PyTorch's inductor emits them (torch.compile with
// freezing): the weight reordered once into oneDNN's blocked layout instead of on every call,
// and the ReLU, or the residual sum and its ReLU, computed in the convolution's own pass over
// its output. The operators are registered in the dispatcher (namespace mkldnn) but ATen's
// headers declare no C++ function for them, so they are called boxed, by schema. A libtorch
// built without oneDNN lacks them; `resnet_fused_conv_available` says so.
// Every entry point is noexcept: a C++ exception becomes -1 with its message.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <string>
#include <vector>

#include "guarded.h"

namespace {

c10::OperatorHandle operator_handle(const char* name, const char* overload) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
}

std::vector<int64_t> pair(int64_t value) { return {value, value}; }

// A square convolution's geometry after its weight and bias, as every operator here takes it.
void push_geometry(torch::jit::Stack& stack, int64_t stride, int64_t padding) {
  stack.emplace_back(pair(padding));
  stack.emplace_back(pair(stride));
  stack.emplace_back(pair(1));     // dilation
  stack.emplace_back(int64_t{1});  // groups
}

at::Tensor call(const c10::OperatorHandle& op, torch::jit::Stack& stack) {
  op.callBoxed(stack);
  return stack.back().toTensor();
}

}  // namespace

extern "C" {

// 1 when this libtorch has oneDNN and the operators below, else 0.
int resnet_fused_conv_available() noexcept {
  try {
    auto& dispatcher = c10::Dispatcher::singleton();
    bool found = dispatcher.findSchema({"mkldnn::_reorder_convolution_weight", ""}).has_value() &&
                 dispatcher.findSchema({"mkldnn::_convolution_pointwise", ""}).has_value() &&
                 dispatcher.findSchema({"mkldnn::_convolution_pointwise_", "binary"}).has_value();
    return at::hasMKLDNN() && found ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

// `*weight` (float32, [out, in, k, k]) reordered for the convolutions below with `stride` and
// `padding` on inputs of `input_size` (NCHW, `input_dims` numbers; oneDNN may choose another
// layout for a batch of one than for larger ones), in `*out`: an opaque oneDNN tensor only
// they can read.
int resnet_fused_conv_pack(const at::Tensor* weight, int64_t stride, int64_t padding, const int64_t* input_size, size_t input_dims,
                           at::Tensor** out, char* error, size_t error_len) noexcept {
  return resnet::guarded(error, error_len, [&] {
    static const c10::OperatorHandle op = operator_handle("mkldnn::_reorder_convolution_weight", "");
    torch::jit::Stack stack;
    stack.emplace_back(*weight);
    push_geometry(stack, stride, padding);
    stack.emplace_back(std::vector<int64_t>(input_size, input_size + input_dims));
    *out = new at::Tensor(call(op, stack));
  });
}

// conv(*input, *weight) + *bias, then ReLU when `relu`, in `*out` (a new tensor).
int resnet_fused_conv(const at::Tensor* input, const at::Tensor* weight, const at::Tensor* bias, int64_t stride, int64_t padding, int relu,
                      at::Tensor** out, char* error, size_t error_len) noexcept {
  return resnet::guarded(error, error_len, [&] {
    static const c10::OperatorHandle op = operator_handle("mkldnn::_convolution_pointwise", "");
    torch::jit::Stack stack;
    stack.emplace_back(*input);
    stack.emplace_back(*weight);
    stack.emplace_back(*bias);
    push_geometry(stack, stride, padding);
    stack.emplace_back(std::string(relu ? "relu" : "none"));
    stack.emplace_back(c10::List<std::optional<at::Scalar>>());  // the unary op's scalars: none
    stack.emplace_back();                                        // its algorithm: none
    *out = new at::Tensor(call(op, stack));
  });
}

// ReLU(*residual + conv(*input, *weight) + *bias), computed into *residual's memory (the
// caller must not need it afterwards) and returned in `*out`: a residual block's last
// convolution, its sum and its ReLU in one pass.
int resnet_fused_conv_add_relu(const at::Tensor* residual, const at::Tensor* input, const at::Tensor* weight, const at::Tensor* bias,
                               int64_t stride, int64_t padding, at::Tensor** out, char* error, size_t error_len) noexcept {
  return resnet::guarded(error, error_len, [&] {
    static const c10::OperatorHandle op = operator_handle("mkldnn::_convolution_pointwise_", "binary");
    torch::jit::Stack stack;
    stack.emplace_back(*residual);
    stack.emplace_back(*input);
    stack.emplace_back(*weight);
    stack.emplace_back(*bias);
    push_geometry(stack, stride, padding);
    stack.emplace_back(std::string("add"));  // ("sum" is refused by this operator)
    stack.emplace_back(at::Scalar(1.0));     // alpha
    stack.emplace_back(std::string("relu"));
    stack.emplace_back(c10::List<std::optional<at::Scalar>>());
    stack.emplace_back();
    *out = new at::Tensor(call(op, stack));
  });
}
}
