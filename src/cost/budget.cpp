#include "netadj/cost/budget.h"

#include <algorithm>
#include <cmath>

#include "netadj/util/error.h"

namespace netadj {

const char* BudgetCost::name() const { return enum_name(kind()); }

std::vector<double> BudgetCost::slope(const std::vector<int64_t>& c) const {
  const ArchSpec s = spec(c);
  std::vector<double> g(c.size());
  std::vector<int64_t> v = c;
  for (size_t l = 0; l < c.size(); ++l) {  // steps on each slot's grid (a grouped conv's multiple)
    const int64_t m = std::max<int64_t>(1, s.layers[l].multiple);
    const int64_t h = slope_step(c[l], m);
    const int64_t lo = c[l] - h >= std::max<int64_t>(1, s.layers[l].min) ? c[l] - h : c[l];
    const int64_t hi = c[l] + h <= kMaxChannels ? c[l] + h : c[l];
    v[l] = hi;
    const double up = double(cost(v));
    v[l] = lo;
    const double down = double(cost(v));
    v[l] = c[l];
    g[l] = hi > lo ? (up - down) / double(hi - lo) : 0.0;
  }
  return g;
}

CostFn BudgetCost::cost_fn(std::shared_ptr<const BudgetCost> b) {
  return [b = std::move(b)](const std::vector<int64_t>& c) { return b->cost(c); };
}

namespace {

// FLOPs or params of a vector, from the family's counter (a network file is parsed once).
CostFn count_fn(const ModelOptions& m, int resolution, bool params) {
  return [count = spec_counter(m, resolution), params](const std::vector<int64_t>& c) {
    const SpecCount n = count(c);
    return params ? n.params : n.flops;
  };
}

// FLOPs or params, counted exactly; the FLOPs' slope is their exact derivative.
class CountBudget final : public BudgetCost {
 public:
  CountBudget(const ModelOptions& m, int resolution, Budget kind)
      : BudgetCost(m, resolution), kind_(kind), count_(count_fn(m, resolution, kind == Budget::kParams)) {}
  Budget kind() const override { return kind_; }
  const char* unit() const override { return kind_ == Budget::kFlops ? "FLOPs" : "params"; }
  int64_t cost(const std::vector<int64_t>& c) const override { return count_(c); }
  std::vector<double> slope(const std::vector<int64_t>& c) const override {
    if (kind_ != Budget::kFlops) return BudgetCost::slope(c);
    const std::vector<int64_t> g = spec_dflops(spec(c));
    return {g.begin(), g.end()};
  }
  bool counts_flops() const override { return kind_ == Budget::kFlops; }

 private:
  Budget kind_;
  CostFn count_;
};

// The latency model's prediction for the vector's network, in nanoseconds.
class LatencyBudget final : public BudgetCost {
 public:
  LatencyBudget(const ModelOptions& m, int resolution, std::shared_ptr<const LatencyModel> model)
      : BudgetCost(m, resolution), model_(std::move(model)) {}
  Budget kind() const override { return Budget::kLatency; }
  const char* unit() const override { return "ns"; }
  int64_t cost(const std::vector<int64_t>& c) const override {
    return int64_t(std::llround(1e6 * model_->predict_ms(spec(c))));
  }
  std::shared_ptr<const LatencyModel> latency() const override { return model_; }

 protected:
  int64_t slope_step(int64_t c, int64_t multiple) const override {
    return multiple * std::max<int64_t>(1, c / 8 / multiple);
  }

 private:
  std::shared_ptr<const LatencyModel> model_;
};

}  // namespace

CostFn flops_fn(const ModelOptions& m, int resolution) { return count_fn(m, resolution, false); }

std::shared_ptr<const BudgetCost> make_budget(const ModelOptions& m, int resolution, Budget b,
                                              std::shared_ptr<const LatencyModel> latency) {
  switch (b) {
    case Budget::kFlops:
      return std::make_shared<const CountBudget>(m, resolution, Budget::kFlops);
    case Budget::kParams:
      return std::make_shared<const CountBudget>(m, resolution, Budget::kParams);
    case Budget::kLatency:
      if (!latency) throw ConfigError("search.budget = latency: needs a latency table (search.latency_table)");
      return std::make_shared<const LatencyBudget>(m, resolution, std::move(latency));
  }
  throw ConfigError("search.budget: no such budget");
}

std::shared_ptr<const LatencyModel> load_latency_model(const SearchOptions& s, const ArchSpec& spec) {
  if (s.latency_table.empty()) {
    if (s.budget == Budget::kLatency)
      throw ConfigError("search.budget = latency: search.latency_table is not set (`netadj bench lut` measures one)");
    return nullptr;
  }
  LatencyTable t = read_latency_table(s.latency_table);
  check_latency_table(t, spec, s.latency_batch, s.latency_threads, s.latency_force, s.latency_table);
  return std::make_shared<const LatencyModel>(std::move(t));
}

std::shared_ptr<const BudgetCost> config_budget(const ModelOptions& m, int resolution, const SearchOptions& s) {
  std::shared_ptr<const LatencyModel> latency;
  if (s.budget == Budget::kLatency) latency = load_latency_model(s, build_spec(m, resolution));
  return make_budget(m, resolution, s.budget, latency);
}

}  // namespace netadj
