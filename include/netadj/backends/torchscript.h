#pragma once
// TorchScript of a network, loadable with torch.jit.load in Python and LibTorch without netadj. The module's
// forward is generated from the ArchSpec (one line per op, the same walk as GraphNet::forward), so every
// registered architecture exports with no code of its own.
#include <torch/torch.h>

#include <string>

#include "netadj/backends/model.h"

namespace torch::jit {
struct Module;
}

namespace netadj {

/// TorchScript source of the eval-mode forward of `spec` (no channel drop). Parameters are read as
/// attributes named `a<op>_<role>` (roles: w, b; bn_w, bn_b, bn_rm, bn_rv; pre_*; pre_s, pre_t once folded;
/// se_rw, se_rb, se_ew, se_eb), which to_torchscript registers.
std::string torchscript_source(const ArchSpec& spec, bool fold_bn);

/// A TorchScript module computing `net`'s eval-mode output (weights copied to the CPU). fold_bn folds every
/// BatchNorm that follows a convolution into its weight and bias, and turns pre-activation BatchNorm
/// (DenseNet, the pre-pool BN) into a per-channel scale and shift.
torch::jit::Module to_torchscript(GraphNetImpl& net, bool fold_bn);

/// TorchScript source that fits `x` (a tensor of `have` channels) to `want` channels as GraphNet's sums do: itself,
/// its first `want` channels, or zero channels appended.
std::string fit_channels_source(const std::string& x, int64_t have, int64_t want);

}  // namespace netadj
