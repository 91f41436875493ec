#pragma once
// RAII autocast for one device: on for bf16/fp16, a no-op for kOff. LibTorch 2.4 renamed the calls.
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "netadj/config/config.h"

namespace netadj {

struct AutocastGuard {
  bool on = false;
  c10::DeviceType type;
  AutocastGuard(const torch::Device& d, AmpMode amp) : type(d.type()) {
    if (amp == AmpMode::kOff || amp == AmpMode::kAuto) return;
    on = true;
    const auto dtype = amp == AmpMode::kFp16 ? at::kHalf : at::kBFloat16;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::set_autocast_dtype(type, dtype);
#else  // LibTorch 2.0 - 2.3
    if (type == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
  }
  ~AutocastGuard() {
    if (!on) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type, false);
#else
    if (type == c10::DeviceType::CUDA)
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
#endif
    at::autocast::clear_cache();
  }
};

}  // namespace netadj
