#pragma once
// Archive helpers shared by saved models and training checkpoints.
#include <torch/torch.h>

#include <string>

#include "netadj/config/config.h"
#include "netadj/nets/spec.h"
#include "netadj/util/error.h"

namespace netadj {

/// Saves an archive atomically (temp file, fsync, rename) with a CRC-32 trailer over its bytes; IoError
/// naming the file on failure. keep_previous: the file it replaces stays as previous_checkpoint(path) (a
/// hard link made before the rename, so some complete file is on disk at every instant).
void save_archive(torch::serialize::OutputArchive& ar, const std::string& path, bool keep_previous = false);
/// Loads an archive written by save_archive after checking its trailer: a truncated or corrupted file is a
/// DamagedFile naming it. (Files without a trailer, written before netadj 0.1 kept one, load unchecked.)
void load_archive(torch::serialize::InputArchive& ar, const std::string& path, const torch::Device& device);
/// A file that is truncated, corrupted or not an archive (as opposed to one that cannot be read now).
struct DamagedFile : DataError {
  explicit DamagedFile(const std::string& what) : DataError(what) {}
};
/// Where save_archive(keep_previous = true) keeps the file it replaced: `<path>.prev`.
std::string previous_checkpoint(const std::string& path);
/// The trailer save_archive appends to `bytes`, and the check of it (exposed for tests): "" when `bytes`
/// end in a matching trailer (which is then removed), else what is wrong; `had_trailer` tells which.
std::string checksum_trailer(const std::string& bytes);
std::string strip_checksum(std::string& bytes, bool& had_trailer);
/// Records the model options (with the spec's channels and resolution) that rebuild the network, and the
/// module layout its weights are stored in.
void write_model_options(torch::serialize::OutputArchive& ar, const ModelOptions& m, const ArchSpec& spec);
/// The module layout: 2 since a family's conv, BatchNorm and ReLU are ops of their own (1: fused, unnamed).
inline constexpr int64_t kModuleLayout = 2;
/// DataError (exit 3) naming the layout when the archive at `path` holds a family's weights in another layout.
void check_module_layout(torch::serialize::InputArchive& ar, const std::string& path, const std::string& arch);

}  // namespace netadj
