#pragma once
// TorchScript of a network, loadable with torch.jit.load in Python and LibTorch without netadj. The module's
// forward is generated from the ArchSpec, each op writing its own lines (OpDef::script, ir/lower.h), so every
// registered architecture exports with no code of its own.
#include <torch/torch.h>

#include <string>

#include "netadj/backends/model.h"

namespace torch::jit {
struct Module;
}

namespace netadj {

/// A TorchScript module computing `net`'s eval-mode output (weights copied to the CPU, no channel drop).
/// Parameters are attributes named `a<op>_<role>` (roles: w, b; bn_w, bn_b, bn_rm, bn_rv; pre_*; pre_s, pre_t
/// once folded; se_rw, se_rb, se_ew, se_eb). fold_bn folds every BatchNorm that follows a convolution (the rule
/// of bn_fold_target) into its weight and bias, and turns the others (pre-activation BN: DenseNet, the pre-pool
/// BN) into a per-channel scale and shift.
torch::jit::Module to_torchscript(GraphNetImpl& net, bool fold_bn);

}  // namespace netadj
