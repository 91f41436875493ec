// Controls and statistics of `netadj compare` (the command itself: src/cli/cmd_compare.cpp).
#include "netadj/search/compare.h"

#include <cmath>
#include <random>

#include "netadj/data/data.h"
#include "netadj/util/error.h"
#include "netadj/util/log.h"
#include "netadj/util/stats.h"

namespace netadj {
using nlohmann::json;

namespace {
std::vector<int64_t> on_budget(const char* what, const std::vector<int64_t>& c, const CostFn& cost, int64_t target,
                               const SearchOptions& s) {
  Rescaled r = rescale_exact(c, cost, target, s.flops_tolerance, s.channel_multiple, s.min_channels);
  if (!r.reached)
    logger()->warn("compare: the {} control misses the budget {} by {:+.3f}% (closest reachable)", what, target,
                   100 * r.rel_error);
  return r.channels;
}
}  // namespace

std::vector<int64_t> uniform_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                     const SearchOptions& s) {
  return on_budget("uniform", c0, cost, target, s);
}

std::vector<int64_t> random_control(const std::vector<int64_t>& c0, const CostFn& cost, int64_t target,
                                    const SearchOptions& s, uint64_t seed, double sigma) {
  std::mt19937_64 rng(derive_seed(seed, "random-control"));
  std::normal_distribution<double> n(0.0, 1.0);
  std::vector<int64_t> c(c0.size());
  for (size_t i = 0; i < c0.size(); ++i)
    c[i] = std::clamp<int64_t>(std::llround(double(c0[i]) * std::exp(sigma * n(rng))), 1, kMaxChannels);
  return on_budget("random", c, cost, target, s);
}

json entry_statistics(const std::vector<double>& x, const std::vector<double>* original) {
  json j;
  SampleSummary sx = summarize(x);
  j["mean"] = sx.n > 0 ? json(sx.mean) : json(nullptr);
  j["sd"] = sx.n > 1 ? json(sx.sd) : json(nullptr);
  auto ci = mean_ci95(x);
  j["mean_ci95"] = ci ? json(*ci) : json(nullptr);
  j["diff"] = j["ci95"] = j["p"] = nullptr;
  if (original) {
    SampleSummary so = summarize(*original);
    if (sx.n > 0 && so.n > 0) j["diff"] = sx.mean - so.mean;
    if (auto w = welch(x, *original)) {
      j["ci95"] = w->ci95;
      j["p"] = w->p;
    }
  }
  return j;
}

json entry_json(const CompareEntry& e, const std::vector<double>* original) {
  json j = {{"name", e.name},
            {"kind", e.kind},
            {"source", e.source ? json(*e.source) : json(nullptr)},
            {"channels", e.channels},
            {"flops", e.flops},
            {"params", e.params},
            {"latency_ms", e.latency_ms},
            {"test_top1", e.test_top1},
            {"runs", e.runs}};
  j.update(entry_statistics(e.test_top1, original));
  return j;
}

CompareEntry entry_from_json(const json& j, const std::string& file) {
  try {
    CompareEntry e;
    e.name = j.at("name").get<std::string>();
    e.kind = j.at("kind").get<std::string>();
    if (!j.at("source").is_null()) e.source = j.at("source").get<std::string>();
    e.channels = j.at("channels").get<std::vector<int64_t>>();
    e.flops = j.at("flops").get<int64_t>();
    e.params = j.at("params").get<int64_t>();
    e.latency_ms = j.at("latency_ms").get<double>();
    e.test_top1 = j.at("test_top1").get<std::vector<double>>();
    e.runs = j.at("runs").get<std::vector<std::string>>();
    return e;
  } catch (const json::exception& ex) {
    throw DataError(file + ": malformed compare entry (" + ex.what() + ")");
  }
}

}  // namespace netadj
