#pragma once
// Human and JSON views of a spec's FLOPs, and channel files.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "netadj/nets/spec.h"

namespace netadj {

/// {"arch", "channels", "flops", "params", "dflops", "layers": [{name, kind, in, out, kernel, stride,
/// res, flops, params, slot, dflops?}]} with exact integers.
nlohmann::json spec_to_json(const ArchSpec& s);
/// Per-layer table with totals; says that FLOPs are multiply-accumulates.
std::string spec_table(const ArchSpec& s);
/// "40.56M" / "1.81G" style.
std::string human_count(double v);

/// Reads a channel file: {"arch", "depth", "channels": [...]}, a bare array, or the reference code's
/// dict form {"c0": 16, "c1": 16, ...}. When the file names an arch/depth, they must match `m`.
std::vector<int64_t> read_channel_file(const std::string& path, const ModelOptions& m);
/// read_channel_file, then the vector checked against the family at `resolution` (build_spec): a
/// ConfigError names the file and what is wrong with its vector.
std::vector<int64_t> read_channel_vector(const std::string& path, const ModelOptions& m, int resolution);
nlohmann::json channel_file_json(const ModelOptions& m, const std::vector<int64_t>& c);

}  // namespace netadj
