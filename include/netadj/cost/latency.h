#pragma once
// Latency tables (docs/latency-table.md) and the latency model built on them. A table holds, for each op whose
// cost grows with its widths (a conv with its folded BatchNorm and ReLU, a linear layer, a squeeze-excitation, a
// residual sum with its zero-padding), forward times measured on one device over a grid of input and output widths,
// plus the time of everything else (`rest_ms`). The model predicts a channel vector's latency as the sum of each op's
// time interpolated on its grid, plus the rest.
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netadj/nets/spec.h"

namespace netadj {

constexpr const char* kLatencyTableFormat = "netadj-latency-table";
constexpr int kLatencyTableVersion = 2;  ///< 2 adds the weight term (ms_per_mparam) and its calibration; 1 is read
/// Random width vectors (besides the network's own) whose whole-network times calibrate a table's rest and weight
/// term.
constexpr int kLatencyCalibrationVectors = 16;

/// One timed op: its shape (everything the architecture fixes) and its grid. A 1-D entry (a depthwise conv,
/// a squeeze-excitation: input width = output width) has an empty `in` grid and one row of times.
struct LatencyEntry {
  std::string name;
  std::string kind;  ///< "conv", "dwconv", "linear", "se" or "add"
  int kernel = 1, stride = 1, pad = 0, dilation = 1;
  int64_t groups = 1;            ///< grouped conv (not depthwise)
  int res_in = 1, res_out = 1;   ///< input and output height (= width)
  bool bias = false;             ///< the conv's bias, or its folded BatchNorm's
  bool relu = false;             ///< ReLU after the conv
  bool preact = false;           ///< scale, shift and ReLU on the input (DenseNet's folded pre-activation BN)
  int64_t se_width = 0;          ///< squeeze-excitation's reduced width
  std::string padding;           ///< a sum ("add", axes: its two inputs' widths): "max" or "local" (the second's)
  std::vector<int64_t> in, out;  ///< grid widths, ascending
  std::vector<std::vector<double>> ms;  ///< ms[i][j]: milliseconds at in[i] (row 0 for 1-D), out[j]; NaN = not measured
  /// True when `o` has the same shape (grids and times aside).
  bool same_shape(const LatencyEntry& o) const;
  /// What differs from `o`'s shape, in words ("" when the same).
  std::string shape_difference(const LatencyEntry& o) const;
  bool one_d() const { return in.empty(); }
  bool complete() const;
};

struct LatencyTable {
  std::string device;  ///< where it was measured ("cpu: <model name>", "cuda:0: <name>")
  std::string torch_version;
  int batch = 1;
  int threads = 1;  ///< CPU threads it was measured with
  int warmup = 3, reps = 15;
  std::string arch;  ///< informational: the network it was measured for
  int resolution = 0;
  std::optional<double> rest_ms;  ///< the network's time not in any entry nor the weight term (measured last)
  /// Milliseconds per million parameters that the whole network costs beyond its ops timed one by one: an op
  /// timed alone finds its weights in the cache, in a network whose weights outgrow the caches it streams them
  /// from memory. Fitted with rest_ms to the calibration; 0 in version 1 tables.
  double ms_per_mparam = 0;
  double network_ms = 0;          ///< the whole network at its widths when rest_ms was measured
  std::vector<int64_t> channels;  ///< those widths
  /// Whole networks timed to fit rest_ms and ms_per_mparam: `channels` first, then random vectors.
  struct Calibration {
    std::vector<int64_t> channels;
    int64_t params = 0;
    double ms = 0;      ///< measured (median over instances)
    double ops_ms = 0;  ///< the sum of the entries' times at those widths
  };
  std::vector<Calibration> calibration;
  std::vector<LatencyEntry> entries;
  bool complete() const;
};

nlohmann::json latency_table_json(const LatencyTable& t);
/// DataError naming `origin` and the field when the document is not a valid table.
LatencyTable latency_table_from_json(const nlohmann::json& j, const std::string& origin);
LatencyTable read_latency_table(const std::string& path);
void write_latency_table(const std::string& path, const LatencyTable& t);  ///< atomically

/// The timed ops of `spec` (every conv, linear, squeeze-excitation and two-input sum), in op order, with grids
/// spanning [least width, twice the spec's width] on each axis (`points` widths, the spec's own among them). No
/// times.
std::vector<LatencyEntry> latency_entries(const ArchSpec& spec, int min_channels, int points = 8);

/// Refuses (ConfigError naming `origin`) a table measured for another batch size, thread count (unless
/// `threads` is 0) or other layer shapes than `spec`'s, or an incomplete one; with `force` only warns.
void check_latency_table(const LatencyTable& t, const ArchSpec& spec, int batch, int threads, bool force,
                         const std::string& origin);

/// Predicted latency of a spec, per timed op (entry order) and in total (sum + rest_ms).
struct LatencyPrediction {
  std::vector<double> entry_ms;
  std::vector<int> ops;      ///< the spec's op of each entry
  std::vector<int> outside;  ///< entries whose widths lie outside their grid (extrapolated)
  double rest_ms = 0;
  double weights_ms = 0;  ///< the weight term: ms_per_mparam x the spec's parameters in millions
  double total_ms = 0;
};

class LatencyModel {
 public:
  /// A complete table (check_latency_table first). Times are made non-decreasing along each axis (a wider op
  /// is never faster), so the prediction grows with every width and the rescaling's bisection holds.
  explicit LatencyModel(LatencyTable t);
  /// `spec`'s timed ops are matched to the entries in order; a spec with another number of them is an error. The
  /// table's own widths (`channels`) are predicted as measured (`network_ms`): their rest is their own.
  LatencyPrediction predict(const ArchSpec& spec) const;
  double predict_ms(const ArchSpec& spec) const { return predict(spec).total_ms; }
  const LatencyTable& table() const { return table_; }

 private:
  LatencyTable table_;
  std::vector<std::vector<std::vector<double>>> mono_;
};

/// A human table: each timed layer's widths, MACs and predicted milliseconds (* = outside the grid), the rest and
/// the total; warns when a layer is extrapolated.
std::string latency_text(const LatencyModel& model, const ArchSpec& spec);

/// Piecewise-linear interpolation of an entry's (monotone) times at (cin, cout); exact on grid points, linear
/// extrapolation beyond the grid (`outside` set true).
double interpolate(const LatencyEntry& e, const std::vector<std::vector<double>>& ms, int64_t cin, int64_t cout,
                   bool* outside = nullptr);

/// What `measure_latency_table` reports after each entry.
struct LutProgress {
  size_t entry = 0, entries = 0, points_done = 0, points = 0;
  std::string name;
};

/// Measures `t`'s missing times (and rest_ms) on `dev` with `t.batch`, the ops run as the TorchScript export
/// runs them (BatchNorm folded), medians of t.reps timed calls after t.warmup; identical shapes and widths are
/// timed once. `save` is called with the table after each entry (resume: start from what it saved).
/// Then `spec` (the table's network) and the `calibration` networks are timed whole, interleaved, and
/// calibrate_latency_table fits the rest and the weight term to them. Stops with Interrupted after an entry when
/// SIGINT/SIGTERM arrived.
void measure_latency_table(LatencyTable& t, const ArchSpec& spec, const std::vector<ArchSpec>& calibration,
                           const torch::Device& dev,
                           const std::function<void(const LatencyTable&, const LutProgress&)>& save);

/// Fits `t.rest_ms` and `t.ms_per_mparam` to whole-network times: measured_ms[k] = rest + sum of specs[k]'s entry
/// times + slope x its parameters (millions), least squares over specs[1..] (random networks; the slope at least
/// 0). specs[0] is the table's network: its time becomes network_ms (and channels), which the model predicts for
/// it as measured. `t`'s entries must be complete.
void calibrate_latency_table(LatencyTable& t, const std::vector<ArchSpec>& specs,
                             const std::vector<double>& measured_ms);

/// A new table for `spec`, measured with `batch`, and `threads` CPU threads (0: as set), `points` widths per
/// axis (latency_entries), not yet timed.
LatencyTable new_latency_table(const ArchSpec& spec, const torch::Device& dev, int batch, int threads, int min_channels,
                               int points = 8);

/// "cpu: <model name>" or "cuda:N: <device name>".
std::string device_description(const torch::Device& dev);

}  // namespace netadj
