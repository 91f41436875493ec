#pragma once
// Export of a trained network to ONNX (TensorRT, ONNX Runtime, OpenVINO), without Python or the onnx library:
// the graph is generated from the ArchSpec op by op, as the TorchScript export's forward is, over the same
// (optionally BatchNorm-folded) parameters, and the ModelProto is written in protobuf's wire format by hand.
#include <string>

#include "netadj/backends/model.h"

namespace netadj {

/// The opset the models use (ONNX 1.12, ONNX Runtime 1.12 and later; HardSwish needs 14).
constexpr int kOnnxOpset = 17;

/// A serialized ONNX ModelProto computing `net`'s eval-mode output: input "input" [N, C, R, R] float, output
/// "logits" [N, num_classes], N dynamic. fold_bn as for to_torchscript. A model of 2 GiB or more (protobuf's
/// limit; ONNX's external data files are not written) is a ConfigError.
std::string to_onnx(GraphNetImpl& net, bool fold_bn);

}  // namespace netadj
