#pragma once
// Archive helpers shared by saved models and training checkpoints.
#include <torch/torch.h>

#include <string>

#include "netadj/arch/spec.h"
#include "netadj/config/config.h"

namespace netadj {

/// Saves an archive atomically (temp file, fsync, rename); IoError naming the file on failure.
void save_archive(torch::serialize::OutputArchive& ar, const std::string& path);
/// Records the model options (with the spec's channels and resolution) that rebuild the network.
void write_model_options(torch::serialize::OutputArchive& ar, const ModelOptions& m, const ArchSpec& spec);

}  // namespace netadj
