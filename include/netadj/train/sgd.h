#pragma once
// The optimizer step of the training engine: SGD with momentum, optional Nesterov and L2 weight decay
// (torch.optim.SGD's update rule) applied to all parameters at once, and dynamic fp16 loss scaling
// whose state lives on the device.
//
// Why not torch::optim::SGD: it issues ~4 kernels per parameter tensor (about 250 launches a step for
// ResNet-20), takes the learning rate from the host through its param groups, and gives loss scaling no
// way to skip a step without the host reading a flag. Here the whole update is ATen's fused
// multi-tensor kernel (_fused_sgd_, LibTorch >= 2.4: one pass over every tensor, a handful of launches
// on CUDA), and an fp16 step with overflowing gradients is skipped by that kernel itself, reading
// found_inf on the device. Older LibTorch falls back to _foreach_ ops (same arithmetic, and one host
// read of found_inf per fp16 step).
#include <torch/torch.h>

#include <optional>
#include <vector>

namespace netadj {

struct SgdOptions {
  double momentum = 0.9;      ///< heavy-ball momentum (0 = plain SGD)
  double weight_decay = 0.0;  ///< L2 penalty added to the gradient, as torch.optim.SGD
  bool nesterov = false;      ///< Nesterov momentum
};

/// Whether this LibTorch has ATen's fused SGD kernel for CPU and CUDA.
bool fused_sgd_available();

class Sgd {
 public:
  /// `params` must already be on their training device and in their training memory format; momentum
  /// buffers (none for momentum 0) are allocated like them (zeros: with no dampening, 0*m + g equals the first step's
  /// copy of g exactly, so the step needs no "first step" flag from the host). `fused` = false forces the _foreach_
  /// path (tests compare the two).
  Sgd(std::vector<torch::Tensor> params, SgdOptions options, bool fused = true);

  /// Drops the gradients (set to none, so the next backward writes them instead of adding).
  void zero_grad();
  /// One update with learning rate `lr` for every parameter that has a gradient. If `found_inf` (a
  /// one-element float tensor on the parameters' device) is non-zero, the step changes nothing.
  void step(double lr, const std::optional<torch::Tensor>& found_inf = std::nullopt);

  bool fused() const { return fused_; }
  const std::vector<torch::Tensor>& momentum_buffers() const { return buffers_; }

  /// Momentum buffers into / out of a checkpoint archive (checked against the parameter shapes).
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  std::vector<torch::Tensor> params_, buffers_;
  SgdOptions options_;
  bool fused_;
};

/// Dynamic loss scaling for fp16 training (torch.cuda.amp.GradScaler's policy): multiply the loss by
/// `scale` before backward; unscale the gradients and flag inf/NaN on the device; the optimizer skips a
/// flagged step; the scale halves after an overflow and doubles after `growth_interval` clean steps.
class GradScaler {
 public:
  explicit GradScaler(torch::Device device, double init_scale = 65536.0, double growth_factor = 2.0,
                      double backoff_factor = 0.5, int64_t growth_interval = 2000);
  torch::Tensor scale(const torch::Tensor& loss) const { return loss * scale_; }
  /// Divides every defined gradient of `params` by the scale in place; returns found_inf (1.0 if any
  /// gradient holds an inf or NaN, else 0.0), a tensor on the device, for Sgd::step.
  const torch::Tensor& unscale(const std::vector<torch::Tensor>& params);
  /// Grows or backs off the scale from the last unscale's found_inf, on the device.
  void update();
  /// Current scale (reads the device: for logs and tests only).
  double current_scale() const { return scale_.item<double>(); }

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  torch::Tensor scale_, growth_tracker_, found_inf_;
  double growth_factor_, backoff_factor_;
  int64_t growth_interval_;
};

}  // namespace netadj
