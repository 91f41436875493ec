#pragma once
// What a search holds fixed (search.budget): FLOPs, parameters or predicted latency, as a function of the
// channel vector, with its slope (FUR's drop rates equalize the resource removed) and its unit. One
// implementation per Budget value (budget.cpp); the search, its controls, `compare`, `adjust` and the benches
// hold a BudgetCost and never ask which budget it is.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "netadj/config/config.h"
#include "netadj/cost/latency.h"
#include "netadj/nets/spec.h"

namespace netadj {

/// A quantity of the channel vector (FLOPs, params, or a latency in nanoseconds).
using CostFn = std::function<int64_t(const std::vector<int64_t>&)>;

class BudgetCost {
 public:
  virtual ~BudgetCost() = default;
  virtual Budget kind() const = 0;
  /// The value of search.budget, and the budget's name in records (compare.json "budget").
  const char* name() const;
  virtual const char* unit() const = 0;  ///< "FLOPs", "params" or "ns"
  virtual int64_t cost(const std::vector<int64_t>& c) const = 0;
  /// d cost / d c_l at c: FLOPs exactly (spec_dflops), params and latency by central differences on each slot's
  /// grid (a latency step of an eighth of the width, so the slope is the table's, not rounding's).
  virtual std::vector<double> slope(const std::vector<int64_t>& c) const;
  /// True when the slope is the FLOPs' own (FUR's drop rates then need no budget slope: its default rule).
  virtual bool counts_flops() const { return false; }
  /// The latency model behind a latency budget (its predictions are recorded); nullptr for the others.
  virtual std::shared_ptr<const LatencyModel> latency() const { return nullptr; }
  /// cost() as a function the rescaling and the controls call (it keeps this budget alive).
  static CostFn cost_fn(std::shared_ptr<const BudgetCost> b);

 protected:
  BudgetCost(ModelOptions m, int resolution) : model_(std::move(m)), resolution_(resolution) {}
  ArchSpec spec(const std::vector<int64_t>& c) const { return build_spec(model_, resolution_, c); }
  /// The central difference's half step for a slot of width c on a grid of `multiple`.
  virtual int64_t slope_step(int64_t c, int64_t multiple) const { return multiple; }

 private:
  ModelOptions model_;
  int resolution_;
};

/// The budget `b` of `m` at `resolution`. `latency` is required for Budget::kLatency (ConfigError naming
/// search.latency_table otherwise).
std::shared_ptr<const BudgetCost> make_budget(const ModelOptions& m, int resolution, Budget b,
                                              std::shared_ptr<const LatencyModel> latency = nullptr);
/// The budget of search.budget, with search.latency_table's model when it is latency.
std::shared_ptr<const BudgetCost> config_budget(const ModelOptions& m, int resolution, const SearchOptions& s);
/// The FLOPs of `m` at `resolution` as a function of the vector (the budget FLOPs' cost).
CostFn flops_fn(const ModelOptions& m, int resolution);

/// The latency model of search.latency_table, checked against `spec` (search.latency_batch, latency_threads,
/// latency_force); nullptr when no table is named and the budget is not latency (ConfigError when it is).
std::shared_ptr<const LatencyModel> load_latency_model(const SearchOptions& s, const ArchSpec& spec);

}  // namespace netadj
