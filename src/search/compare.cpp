// Controls and statistics of `netadj compare` (the command itself: src/cli/cmd_compare.cpp).
#include "netadj/search/compare.h"

#include <cmath>
#include <random>

#include "netadj/arch/latency.h"
#include "netadj/data/data.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"
#include "netadj/util/stats.h"

namespace netadj {
using nlohmann::json;

namespace {
std::vector<int64_t> on_budget(const char* what, const std::vector<int64_t>& c, const CostFn& cost, int64_t target,
                               const SearchOptions& s, const ChannelGrid& grid) {
  Rescaled r =
      rescale_exact(c, cost, target, s.flops_tolerance,
                    grid.multiple.empty() ? ChannelGrid::uniform(c.size(), s.channel_multiple, s.min_channels) : grid);
  if (!r.reached)
    logger()->warn("compare: the {} control misses the budget {} by {:+.3f}% (closest reachable)", what, target,
                   100 * r.rel_error);
  return r.channels;
}
}  // namespace

std::vector<int64_t> uniform_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                     const SearchOptions& s, const ChannelGrid& grid) {
  return on_budget("uniform", c0, cost, target, s, grid);
}

std::vector<int64_t> random_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                    const SearchOptions& s, uint64_t seed, double sigma, const ChannelGrid& grid) {
  std::mt19937_64 rng(derive_seed(seed, "random-control"));
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<int64_t> c(c0.size());
  for (size_t i = 0; i < c0.size(); ++i)
    c[i] = std::clamp<int64_t>(std::llround(double(c0[i]) * std::exp(sigma * n(rng))), 1, kMaxChannels);
  return on_budget("random", c, cost, target, s, grid);
}

std::vector<ArchSpec> latency_calibration_specs(const ModelOptions& m, const ArchSpec& spec, const SearchOptions& s,
                                                uint64_t seed) {
  const CostFn flops = budget_fn(m, spec.resolution, Budget::kFlops);
  const ChannelGrid grid = channel_grid(s, spec);
  std::vector<ArchSpec> specs;
  for (int k = 1; k <= kLatencyCalibrationVectors; ++k)
    specs.push_back(build_spec(m, spec.resolution,
                               random_control(spec.channels, flops, flops(spec.channels), s,
                                              derive_seed(seed, "latency-calibration", k), kRandomControlSigma, grid)));
  return specs;
}

void set_statistics(CompareEntry& e, const std::vector<double>* original) {
  const SampleSummary sx = summarize(e.test_top1);
  e.mean = sx.n > 0 ? std::optional<double>(sx.mean) : std::nullopt;
  e.sd = sx.n > 1 ? std::optional<double>(sx.sd) : std::nullopt;
  e.mean_ci95 = mean_ci95(e.test_top1);
  e.diff = e.p = std::nullopt;
  e.ci95 = std::nullopt;
  if (!original) return;
  const SampleSummary so = summarize(*original);
  if (sx.n > 0 && so.n > 0) e.diff = sx.mean - so.mean;
  if (auto w = welch(e.test_top1, *original)) {
    e.ci95 = w->ci95;
    e.p = w->p;
  }
}

}  // namespace netadj
