#pragma once
// Imported weights (netadj import, scripts/import_torch.py): the netadj-weights file, read without Python, and
// its tensors copied into a network built from the imported network file.
#include <torch/torch.h>

#include <map>
#include <string>

#include "netadj/backends/model.h"

namespace netadj {

/// Reads a netadj-weights file (docs/graph-format.md): "NETADJW1", a little-endian uint64 header length, a JSON
/// header {"format": "netadj-weights", "version": 1, "tensors": {name: {"dtype": "float32", "shape", "offset"}}},
/// then the data. DataError (exit 3) naming the file and what is wrong when it is missing, truncated or malformed.
std::map<std::string, torch::Tensor> read_weights(const std::string& path);

/// Copies `weights` into a network file's module: per op name, a conv2d's "weight" and "bias", a batch_norm's
/// "weight", "bias", "running_mean" and "running_var", a linear's "weight" and "bias". Every parameter and
/// BatchNorm statistic of `net` must be given with its shape; a tensor no op takes is an error too. DataError
/// naming `where` and the tensor otherwise.
void load_weights(GraphNetImpl& net, const std::map<std::string, torch::Tensor>& weights, const std::string& where);

}  // namespace netadj
