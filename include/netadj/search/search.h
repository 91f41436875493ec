#pragma once
// Network Adjustment (Algorithm 1): FUR estimation by per-layer SpatialDropout that removes the same
// expected FLOPs from every layer (Sec. 3.3), top/bottom-k adjustment with decaying rates (Sec. 3.4),
// bisection rescaling to the starting FLOPs, and the resumable loop that ties one iteration together.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "netadj/arch/model.h"
#include "netadj/config/config.h"
#include "netadj/data/data.h"
#include "netadj/run/records.h"
#include "netadj/run/session.h"
#include "netadj/train/train.h"

namespace netadj {

/// Round half to even (the rounding used everywhere in the adjustment).
double round_even(double x);

struct DropPlan {
  std::vector<double> p;     ///< per-layer drop probability
  std::vector<double> f;     ///< f_l = c_l * dFLOPs/dc_l
  std::vector<int> clamped;  ///< layers whose p hit max_drop_rate
};
/// p_l = base * mean(f) / f_l, clamped to max_rate (layers with f_l = 0 get max_rate).
DropPlan drop_plan(const std::vector<int64_t>& c, const std::vector<int64_t>& dflops, double base, double max_rate);

struct FurResult {
  EvalResult base;
  DropPlan plan;
  std::vector<double> fur, stderr_;
  std::vector<int> rank;  ///< rank[l] = 0 for the largest FUR
};

/// Per-layer FUR on `val`. `partial` (may be empty) holds per-layer results already measured (resume):
/// {"base": {...}, "layers": {"<l>": [v_1..v_R]}}; `on_layer` is called after each layer with it updated.
/// Stops with Interrupted after the layer in flight when SIGINT/SIGTERM arrived (its result is saved).
FurResult estimate_fur(GraphNet& net, BatchSource& val, const FurOptions& o, const torch::Device& dev, AmpMode amp,
                       uint64_t seed, nlohmann::json partial = nullptr,
                       const std::function<void(const nlohmann::json&)>& on_layer = nullptr);
FurRecord fur_record(const FurResult& r, const ArchSpec& s);
/// FUR values for `layers` layers from a JSON array or `netadj fur --json` output (DataError naming the file).
std::vector<double> read_fur_file(const std::string& path, size_t layers);

struct Adjustment {
  std::vector<int64_t> channels;  ///< after adjustment and rescaling
  std::vector<int64_t> adjusted;  ///< after adjustment, before rescaling
  std::vector<int> top, bottom;   ///< widened / narrowed layers, in rank order
  int k = 0;
  double scale = 1.0;
  int64_t flops_adjusted = 0, flops = 0;
};

using FlopsFn = std::function<int64_t(const std::vector<int64_t>&)>;

/// k_t = max(round(update_num - t*decay), 0), at most floor(L/2) so widened and narrowed sets are disjoint.
int update_count(const SearchOptions& s, int t, int layers);
/// One adjustment (top-k widened, bottom-k narrowed) plus rescaling to F0.
Adjustment adjust_channels(const std::vector<int64_t>& c, const std::vector<int64_t>& c_init,
                           const std::vector<double>& fur, int t, const SearchOptions& s, const FlopsFn& flops,
                           int64_t f0);
/// The reference implementation's bisection on one global factor s; returns (channels, s).
std::pair<std::vector<int64_t>, double> rescale(const std::vector<int64_t>& c, const FlopsFn& flops, int64_t f0,
                                                double tol);

/// Runs or resumes a search in `run_dir` (which holds config.json). Returns the best iteration's index.
int run_search(const RunSession& session, const std::string& run_dir, bool resume);

}  // namespace netadj
