// Latency benchmarks: the table (`bench lut`), the model against measurement (`bench latency-model`) and a
// search's vectors timed side by side (`bench latency --search`).
#include <fmt/format.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "netadj/backends/timing.h"
#include "netadj/bench/bench.h"
#include "netadj/cost/latency.h"
#include "netadj/data/data.h"
#include "netadj/records/records.h"
#include "netadj/search/search.h"
#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"
#include "netadj/util/stats.h"

namespace netadj {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

int config_resolution(const Config& cfg) { return resolve_resolution(cfg.model, nominal_resolution(cfg.data)); }

}  // namespace

json bench_lut(const Config& cfg, const std::string& out, int batch, int threads, int reps, int points) {
  const torch::Device dev = setup_device(cfg.runtime);
  const ArchSpec spec = build_spec(cfg.model, config_resolution(cfg));
  if (threads > 0) torch::set_num_threads(threads);
  LatencyTable t;
  if (file_exists(out)) {
    t = read_latency_table(out);
    if (t.batch != batch || t.threads != torch::get_num_threads())
      throw ConfigError(
          fmt::format("{}: holds a table for batch {} and {} threads, not batch {} and {}; another --out "
                      "starts a new one",
                      out, t.batch, t.threads, batch, torch::get_num_threads()));
    check_latency_table(t, spec, batch, 0, false, out == "" ? "--out" : out);
    logger()->info("{}: resuming the measurement", out);
  } else {
    t = new_latency_table(spec, dev, batch, threads, cfg.search.min_channels, points);
    t.reps = reps;
  }
  size_t pairs = 0;
  for (const auto& e : t.entries) pairs += e.ms.size() * e.out.size();
  logger()->info("latency table of {} on {}: {} layers, {} width pairs, batch {}, {} threads", spec.arch, t.device,
                 t.entries.size(), pairs, t.batch, t.threads);
  const auto t0 = Clock::now();
  const std::vector<ArchSpec> calibration =
      latency_calibration_specs(cfg.model, spec, cfg.search, uint64_t(cfg.runtime.seed));
  measure_latency_table(t, spec, calibration, dev, [&](const LatencyTable& done, const LutProgress& p) {
    write_latency_table(out, done);
    logger()->info("lut: {}/{} layers ({}), {}/{} width pairs, {:.0f} s", p.entry, p.entries, p.name, p.points_done,
                   p.points, std::chrono::duration<double>(Clock::now() - t0).count());
  });
  return {{"table", out},
          {"device", t.device},
          {"arch", spec.arch},
          {"layers", t.entries.size()},
          {"width_pairs", pairs},
          {"batch", t.batch},
          {"threads", t.threads},
          {"network_ms", t.network_ms},
          {"rest_ms", *t.rest_ms},
          {"ms_per_mparam", t.ms_per_mparam},
          {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}};
}

namespace {

// within_10pct, median and max of absolute relative errors (the random vectors only).
json error_summary(std::vector<double> errors) {
  std::sort(errors.begin(), errors.end());
  const auto within = std::count_if(errors.begin(), errors.end(), [](double e) { return e <= 0.10; });
  return {{"within_10pct", within},
          {"median_abs_rel_error", median(errors)},
          {"max_abs_rel_error", errors.empty() ? 0.0 : errors.back()}};
}

// Predicted against measured for every spec (specs[0] the original): the errors as they are, and relative to the
// original (predicted / predicted original against measured / measured original), which is what a budget held
// relative to the original needs and what a device that runs faster or slower than when its table was measured
// leaves intact.
json model_errors(const std::vector<ArchSpec>& specs, const LatencyModel& model, const std::vector<double>& measured) {
  json rows = json::array();
  int outside = 0;
  std::vector<double> errors, relative;
  const double p0 = model.predict(specs[0]).total_ms;
  for (size_t k = 0; k < specs.size(); ++k) {
    const LatencyPrediction p = model.predict(specs[k]);
    const double e = (p.total_ms - measured[k]) / measured[k];
    const double r = (p.total_ms / p0) / (measured[k] / measured[0]) - 1;
    if (k > 0) {
      errors.push_back(std::abs(e));
      relative.push_back(std::abs(r));
      outside += !p.outside.empty();
    }
    rows.push_back({{"channels", specs[k].channels},
                    {"flops", spec_flops(specs[k])},
                    {"predicted_ms", p.total_ms},
                    {"measured_ms", measured[k]},
                    {"rel_error", e},
                    {"rel_error_vs_original", r},
                    {"outside_grid", p.outside.size()}});
  }
  json out = error_summary(errors);
  out["relative_to_original"] = error_summary(relative);
  out["outside_grid"] = outside;
  out["original"] = rows[0];
  out["random"] = json(std::vector<json>(rows.begin() + 1, rows.end()));
  return out;
}

}  // namespace

json bench_latency_model(const Config& cfg, const std::string& table, int vectors, int reps, bool force) {
  const torch::Device dev = setup_device(cfg.runtime);
  const int res = config_resolution(cfg);
  const ArchSpec spec0 = build_spec(cfg.model, res);
  LatencyTable t = read_latency_table(table);
  check_latency_table(t, spec0, t.batch, t.threads, force, table);
  torch::set_num_threads(t.threads);
  auto model = std::make_shared<const LatencyModel>(t);
  const CostFn cost = BudgetCost::cost_fn(make_budget(cfg.model, res, cfg.search.budget, model));
  const int64_t target = cost(spec0.channels);
  const ChannelGrid grid = channel_grid(cfg.search, spec0);
  std::vector<ArchSpec> specs{spec0};
  for (int k = 1; k <= vectors; ++k)
    specs.push_back(build_spec(
        cfg.model, res,
        random_control(spec0.channels, cost, target, cfg.search,
                       derive_seed(uint64_t(cfg.runtime.seed), "latency-model", k), kRandomControlSigma, grid)));
  const std::vector<double> measured = interleaved_latency(specs, dev, t.batch, 3, reps);
  json out = model_errors(specs, *model, measured);
  json head = {{"arch", spec0.arch},
               {"resolution", res},
               {"table", table},
               {"table_device", t.device},
               {"device", device_description(dev)},
               {"batch", t.batch},
               {"threads", t.threads},
               {"budget", enum_name(cfg.search.budget)},
               {"vectors", vectors},
               {"reps", reps}};
  out.update(head);
  return out;
}

json bench_latency_search(const Config& cfg, const std::string& search_dir, int batch, int reps) {
  const std::string file = search_dir + "/search.json";
  const SearchRecord r = read_record_as<SearchRecord>(file);
  if (r.iterations.empty()) throw DataError(file + ": no iteration recorded yet");
  const torch::Device dev = setup_device(cfg.runtime);
  const int res = r.resolution > 0 ? r.resolution : config_resolution(cfg);
  std::vector<std::string> labels{"original"};
  std::vector<ArchSpec> specs{build_spec(cfg.model, res, r.init_channels)};
  for (const IterationRecord& it : r.iterations) {
    labels.push_back("iter_" + std::to_string(it.iteration));
    specs.push_back(build_spec(cfg.model, res, it.channels));
  }
  labels.push_back("next");
  specs.push_back(build_spec(cfg.model, res, r.iterations.back().next_channels));
  const std::vector<double> ms = interleaved_latency(specs, dev, batch, 3, reps);
  json rows = json::array();
  double max_drift = 0;
  for (size_t k = 0; k < specs.size(); ++k) {
    const double ratio = ms[k] / ms[0];
    max_drift = std::max(max_drift, std::abs(ratio - 1));
    rows.push_back({{"vector", labels[k]},
                    {"channels", specs[k].channels},
                    {"flops", spec_flops(specs[k])},
                    {"median_ms", ms[k]},
                    {"ratio", ratio}});
  }
  return {{"search", search_dir},
          {"budget", r.budget},
          {"device", device_description(dev)},
          {"batch", batch},
          {"threads", torch::get_num_threads()},
          {"reps", reps},
          {"max_abs_drift", max_drift},
          {"vectors", rows}};
}

}  // namespace netadj
