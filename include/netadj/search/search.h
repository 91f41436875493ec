#pragma once
// Network Adjustment (Algorithm 1): FUR estimation by per-layer SpatialDropout that removes the same
// expected FLOPs from every layer (Sec. 3.3), top/bottom-k adjustment with decaying rates (Sec. 3.4),
// bisection rescaling to the starting FLOPs, and the resumable loop that ties one iteration together.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netadj/backends/model.h"
#include "netadj/config/config.h"
#include "netadj/cost/budget.h"
#include "netadj/cost/latency.h"
#include "netadj/data/data.h"
#include "netadj/distributed/distributed.h"
#include "netadj/records/records.h"
#include "netadj/run/run_dir.h"
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
/// p_l = base * mean(f) / f_l with f_l = c_l * slope_l (slope: d resource / d c_l, FLOPs in the paper), clamped to
/// max_rate (layers with f_l = 0 get max_rate): every layer's drop removes the same expected resource.
DropPlan drop_plan(const std::vector<int64_t>& c, const std::vector<double>& slope, double base, double max_rate);
DropPlan drop_plan(const std::vector<int64_t>& c, const std::vector<int64_t>& dflops, double base, double max_rate);

/// Adaptive FUR precision (fur.max_repeats): the gate's boundaries at k with interval half-width z.
struct FurRefine {
  int k = 0;
  double z = 1.0;
  int max_repeats = 0;
};
/// Layers whose repeats should double: every top (bottom) candidate that does not pass the gate, with
/// the boundary layer it is not separated from; only layers with fewer than max_repeats values.
std::vector<int> layers_to_refine(const std::vector<std::vector<double>>& values, const FurRefine& r);
/// Doubles the repeats of layers_to_refine (capped at max_repeats) until it is empty, one round at a time.
/// measure(l, i) gives repeat i of layer l. `pending` holds the layers of the round in flight still to
/// double (empty between rounds; a resumed refinement finishes it first, so that a kill at any point gives
/// the same result); after_layer() is called once a layer's new values are in `values` and it has left
/// `pending`.
void refine_fur(std::vector<std::vector<double>>& values, const FurRefine& r, std::vector<int>& pending,
                const std::function<double(int, int)>& measure, const std::function<void()>& after_layer);
/// Measures (layer, repeat) pairs, in any grouping; returns their values in order.
using MeasurePairs = std::function<std::vector<double>(const std::vector<std::pair<int, int>>&)>;
/// The same, a round of up to `layers_per_round` pending layers at a time (one per data-parallel rank);
/// after_layer() is called after each round.
void refine_fur(std::vector<std::vector<double>>& values, const FurRefine& r, std::vector<int>& pending,
                const MeasurePairs& measure, int layers_per_round, const std::function<void()>& after_layer);

struct FurResult {
  EvalResult base;
  DropPlan plan;
  std::vector<double> fur, stderr_;
  std::vector<int> rank;     ///< rank[l] = 0 for the largest FUR
  std::vector<int> repeats;  ///< values measured per layer
};

/// Per-layer FUR on `val`. `progress` (may be empty) holds what was already measured (resume, the record of
/// fur_partial.json); `on_progress` is called with it updated after the base evaluation and after each round of
/// layers. Stops with Interrupted after the round in flight when SIGINT/SIGTERM arrived (its result is saved).
/// DataError when `progress` names a layer the network does not have.
FurResult estimate_fur(GraphNet& net, BatchSource& val, const FurOptions& o, const torch::Device& dev, AmpMode amp,
                       uint64_t seed, FurProgress progress = {},
                       const std::function<void(const FurProgress&)>& on_progress = nullptr,
                       const std::optional<FurRefine>& refine = std::nullopt,
                       const dist::World& world = dist::single_process(),
                       const std::vector<double>& slope = {});  ///< drop_plan's; empty: spec_dflops (the paper's)
FurRecord fur_record(const FurResult& r, const ArchSpec& s);
/// FUR values (and standard errors, when the file has "fur_stderr") for `layers` layers.
struct FurValues {
  std::vector<double> fur, stderr_;  ///< stderr_ empty when the file has none
};
/// Reads a JSON array of FUR values or `netadj fur --json` output (DataError naming the file).
FurValues read_fur_file(const std::string& path, size_t layers);

/// Layers chosen by FUR in one iteration. `top` and `bottom` are the candidates (the k largest and k
/// smallest FUR, rank order, ties by layer index); `moved_*` are those that pass the gate (all of them
/// when gating is off).
struct Moves {
  int k = 0;
  std::vector<int> top, bottom, moved_top, moved_bottom;
  int boundary_top = -1, boundary_bottom = -1;  ///< first layer outside the top / bottom k (k > 0)
};
/// With `gate`: a top layer l moves only if FUR_l - z*se_l > FUR_bt + z*se_bt, where bt is the first
/// layer outside the top k; a bottom layer only if FUR_l + z*se_l < FUR_bb - z*se_bb, where bb is the
/// first layer outside the bottom k (in ascending order). `se` may be empty (zeros).
Moves choose_moves(const std::vector<double>& fur, const std::vector<double>& se, int k, bool gate, double z);

/// Result of rescaling a vector to a budget.
struct Rescaled {
  std::vector<int64_t> channels;
  double scale = 1.0;    ///< the bisection's global factor
  int64_t cost = 0;      ///< budget of `channels`
  double rel_error = 0;  ///< (cost - target) / target
  bool reached = true;   ///< |rel_error| <= tolerance
  int corrections = 0;   ///< one-step corrections after the bisection (exact)
};

/// Smallest width the grid allows: a multiple of `multiple`, at least `multiple` and `min_channels`.
int64_t min_width(int min_channels, int multiple);
/// The widths each layer may take: multiples of multiple[l], at least min[l] (and at most kMaxChannels).
struct ChannelGrid {
  std::vector<int64_t> multiple, min;
  /// Every one of `layers` on search.channel_multiple's grid, at least search.min_channels.
  static ChannelGrid uniform(size_t layers, int multiple, int min_channels);
};
/// search.channel_multiple and search.min_channels combined with each slot's own multiple and least width (a
/// network file's grouped convs and min_channels).
ChannelGrid channel_grid(const SearchOptions& s, const ArchSpec& spec);
/// The exact rescaling: bisection on one global factor s (widths snapped to multiples of `multiple`, at
/// least min_width), then greedy corrections of one step (+-multiple) at a time on the layer whose
/// change best closes the remaining gap (then, if no single step helps, one widen-one-narrow pairs),
/// never narrowing a layer with direction[l] > 0 nor widening one with direction[l] < 0, until
/// |cost - target| / target <= tol or no step helps. Returns the closest vector found.
Rescaled rescale_exact(const std::vector<int64_t>& c, const CostFn& cost, int64_t target, double tol, int multiple,
                       int min_channels, const std::vector<int>& direction = {});
/// The same on a per-layer grid.
Rescaled rescale_exact(const std::vector<int64_t>& c, const CostFn& cost, int64_t target, double tol,
                       const ChannelGrid& grid, const std::vector<int>& direction = {});
/// The reference implementation's bisection on one global factor s (20 steps, then rounding); it may
/// stop outside the tolerance. Returns (channels, s).
std::pair<std::vector<int64_t>, double> rescale(const std::vector<int64_t>& c, const CostFn& cost, int64_t target,
                                                double tol);

struct Adjustment {
  std::vector<int64_t> channels;  ///< after adjustment and rescaling
  std::vector<int64_t> adjusted;  ///< after adjustment, before rescaling
  Moves moves;
  double scale = 1.0;
  int64_t cost_adjusted = 0;  ///< budget of `adjusted`
  Rescaled rescaled;          ///< budget of `channels`, its error against the target
};

/// k_t = max(round(update_num - t*decay), 0), at most floor(L/2) so widened and narrowed sets are disjoint.
int update_count(const SearchOptions& s, int t, int layers);
/// One adjustment (the moved top layers widened, the moved bottom layers narrowed by their rank's rate
/// times c_init, on the grid) plus rescaling to `target` (search.rescale).
Adjustment adjust_channels(const std::vector<int64_t>& c, const std::vector<int64_t>& c_init,
                           const std::vector<double>& fur, const std::vector<double>& fur_se, int t,
                           const SearchOptions& s, const CostFn& cost, int64_t target,
                           const ChannelGrid& grid = {});  ///< empty: ChannelGrid::uniform from `s`

/// The original scaled by one width factor to the budget (exact rescaling, search.channel_multiple).
/// `grid`: the widths each layer may take (channel_grid); empty: search.channel_multiple's for every layer.
std::vector<int64_t> uniform_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                     const SearchOptions& s, const ChannelGrid& grid = {});
/// Every width of the original times exp(sigma * N(0, 1)) (seeded), then rescaled to the budget.
constexpr double kRandomControlSigma = 0.3;
std::vector<int64_t> random_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                    const SearchOptions& s, uint64_t seed, double sigma = kRandomControlSigma,
                                    const ChannelGrid& grid = {});

/// The networks that calibrate a latency table (measure_latency_table): kLatencyCalibrationVectors random controls
/// of `spec` at its FLOPs (seeded by `seed`; other draws than `bench latency-model`'s).
std::vector<ArchSpec> latency_calibration_specs(const ModelOptions& m, const ArchSpec& spec, const SearchOptions& s,
                                                uint64_t seed);

/// The checks of a new search that need more than its config (search.budget = latency: the table named in
/// search.latency_table fits the network and its batch and threads, or the table can be measured in this run);
/// ConfigError / DataError before a run directory exists.
void check_search_start(const RunSession& session);
/// Runs or resumes a search in `dir` (which holds config.json); only the process that writes the directory
/// (rank 0) writes. Returns the best iteration's index.
int run_search(const RunSession& session, const RunDir& dir, bool resume);

}  // namespace netadj
