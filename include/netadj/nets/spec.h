#pragma once
// Architectures as specs (ir/ir.h): the family registry, the resolution a network is built for, and the FLOPs,
// params and dFLOPs/dc of a spec, counted by asking each op's definition (ir/op.h).
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "netadj/config/config.h"
#include "netadj/ir/ir.h"

namespace netadj {

OpCost op_cost(const ArchSpec& s, const Op& op);
int64_t spec_flops(const ArchSpec& s);
int64_t spec_params(const ArchSpec& s);
/// Exact dFLOPs/dc_l for every slot (the FLOPs polynomial's partial derivatives; see Width).
std::vector<int64_t> spec_dflops(const ArchSpec& s);

/// The FLOPs (MACs) and params of one channel vector.
struct SpecCount {
  int64_t flops = 0;
  int64_t params = 0;
};
using SpecCounter = std::function<SpecCount(const std::vector<int64_t>& channels)>;

/// Registry entry of an architecture family.
struct ArchInfo {
  std::string name;
  std::string summary;
  int default_resolution = 32;
  int typical_depth = 20;  ///< a valid model.depth for this family (examples and registry-driven tests)
  /// Builds the spec for a channel vector (empty: the family's default widths, declared slot by slot in
  /// the same walk). Throws ConfigError when depth/options or the vector's length do not fit the family.
  std::function<ArchSpec(const ModelOptions&, const std::vector<int64_t>&, int resolution)> build;
  /// The resolution the network is designed for when the options decide it (a network file's input); empty:
  /// default_resolution.
  std::function<int(const ModelOptions&)> design_resolution = nullptr;
  /// Builds a counter of FLOPs and params per channel vector for the options (a network file parsed once, since
  /// the rescaling counts thousands of vectors); empty: build_spec per vector.
  std::function<SpecCounter(const ModelOptions&, int resolution)> counter = nullptr;
  /// model.depth picks the network (a family); false where the options name the network otherwise.
  bool has_depth = true;
  /// Networks `netadj import` writes: trained weights come as a netadj-weights file (docs/graph-format.md).
  bool imported = false;
};

const std::vector<ArchInfo>& arch_registry();
const ArchInfo& find_arch(const std::string& name);  ///< "unknown model 'x'; known: ..."
/// The architectures that read a network file (`imported`), for messages: "\"graph\" or \"imported\"".
std::string imported_arch_names();

/// The resolution an architecture is designed for: the family's, or a network file's input resolution.
int design_resolution(const ModelOptions& m);
/// Resolution the spec is built for: model.resolution, else `data_resolution` if > 0, else the family's.
int resolve_resolution(const ModelOptions& m, int data_resolution = 0);
/// True when `resolution` is under half or over twice the family's design resolution (an ImageNet
/// network counted at 32x32 has ~1/50 of its FLOPs); warn_if_far_from_design logs a warning then.
bool far_from_design(const ModelOptions& m, int resolution);
void warn_if_far_from_design(const ModelOptions& m, int resolution);
/// Builds the spec for model.channels (or the defaults), validating the vector's length and entries.
/// Bounds that keep a spec in memory and every count in 64 bits (with kMaxChannels and kMaxResolution,
/// ir/ir.h); build_spec and validation refuse more.
constexpr int kMaxDepth = 2000;
/// ConfigError naming model.depth or model.resolution when it is beyond those bounds (the families check
/// the rest of the depth: 6n+2 and so on).
void check_model_size(const ModelOptions& m, int resolution);
ArchSpec build_spec(const ModelOptions& m, int resolution);
/// Same options, another channel vector (used by the search: thousands of calls).
ArchSpec build_spec(const ModelOptions& m, int resolution, const std::vector<int64_t>& channels);
std::vector<int64_t> default_channels(const ModelOptions& m);
/// FLOPs and params per channel vector for fixed options: the family's counter, else build_spec per vector.
SpecCounter spec_counter(const ModelOptions& m, int resolution);

}  // namespace netadj
