// FUR estimation (Sec. 3.3): drop channels of one layer at a time, at the rate that removes the same
// expected FLOPs from every layer, and measure the loss increase (or accuracy drop) on held-out data.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "netadj/distributed/distributed.h"
#include "netadj/search/search.h"
#include "netadj/train/autocast.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;

namespace {

// FUR's prefix cache (fur.cache_mb): for a dropout at layer l the activations before l's drop point are
// the same in every repeat, so they are computed once per validation batch and each repeat runs only the
// network after l. Batches beyond the cap are evaluated in full, after the cached ones and in the same
// order, so the masks drawn are exactly those of evaluate().
class PrefixCache {
 public:
  PrefixCache(GraphNet& net, BatchSource& val, const torch::Device& dev, AmpMode amp, int64_t cap_bytes)
      : net_(net), val_(val), dev_(dev), amp_(amp), cap_(cap_bytes) {}

  // Builds the prefixes of layer l's drop point (nothing when l's are held already or the cache is off).
  void prepare(int l) {
    if (l == slot_) return;
    entries_.clear();
    slot_ = l;
    op_ = cap_ > 0 ? net_->drop_op(l) : -1;
    complete_ = false;
    if (op_ < 0) return;
    c10::InferenceMode no_autograd;
    net_->eval();
    val_.start_epoch(0);
    int64_t used = 0;
    while (auto b = val_.next()) {
      std::vector<torch::Tensor> v;
      {
        AutocastGuard ac(dev_, amp_);
        v = net_->forward_prefix(b->x, op_);
      }
      int64_t bytes = b->y.nbytes();
      for (const auto& t : v)
        if (t.defined()) bytes += int64_t(t.nbytes());
      if (used + bytes > cap_) return;  // the rest is evaluated in full
      used += bytes;
      entries_.push_back({std::move(v), b->y});
    }
    complete_ = true;
  }

  // evaluate() of the network with its current drop rates (only at the prepared layer).
  EvalResult evaluate() {
    c10::InferenceMode no_autograd;
    net_->eval();
    EvalSums sums(dev_);
    for (const Entry& e : entries_) {
      torch::Tensor logits;
      {
        AutocastGuard ac(dev_, amp_);
        logits = net_->forward_suffix(e.val, op_);
      }
      sums.add(logits, e.y);
    }
    if (!complete_) {
      val_.start_epoch(0);
      size_t skip = entries_.size();
      while (auto b = val_.next()) {
        if (skip > 0) {
          --skip;
          continue;
        }
        torch::Tensor logits;
        {
          AutocastGuard ac(dev_, amp_);
          logits = net_->forward(b->x);
        }
        sums.add(logits, b->y);
      }
    }
    return sums.result();
  }

 private:
  struct Entry {
    std::vector<torch::Tensor> val;
    torch::Tensor y;
  };
  GraphNet& net_;
  BatchSource& val_;
  const torch::Device dev_;
  const AmpMode amp_;
  const int64_t cap_;
  int slot_ = -1, op_ = -1;
  bool complete_ = false;
  std::vector<Entry> entries_;
};

// Mean and standard error of one layer's repeats.
std::pair<double, double> mean_stderr(const std::vector<double>& vals) {
  double mean = std::accumulate(vals.begin(), vals.end(), 0.0) / double(vals.size());
  double ss = 0;
  for (double v : vals) ss += (v - mean) * (v - mean);
  double se = vals.size() > 1 ? std::sqrt(ss / double(vals.size() - 1) / double(vals.size())) : 0.0;
  return {mean, se};
}

std::vector<int> ranks_descending(const std::vector<double>& v) {
  std::vector<int> order(v.size(), 0);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[size_t(a)] > v[size_t(b)]; });
  std::vector<int> rank(v.size(), 0);
  for (size_t i = 0; i < order.size(); ++i) rank[size_t(order[i])] = static_cast<int>(i);
  return rank;
}

}  // namespace

std::vector<int> layers_to_refine(const std::vector<std::vector<double>>& values, const FurRefine& r) {
  const size_t L = values.size();
  std::vector<double> fur(L), se(L);
  for (size_t l = 0; l < L; ++l) {
    if (values[l].empty()) return {};
    std::tie(fur[l], se[l]) = mean_stderr(values[l]);
  }
  Moves m = choose_moves(fur, se, r.k, /*gate=*/true, r.z);
  std::vector<bool> need(L, false);
  auto mark = [&](const std::vector<int>& candidates, const std::vector<int>& moved, int boundary) {
    for (int l : candidates)
      if (std::find(moved.begin(), moved.end(), l) == moved.end()) need[size_t(l)] = need[size_t(boundary)] = true;
  };
  mark(m.top, m.moved_top, m.boundary_top);
  mark(m.bottom, m.moved_bottom, m.boundary_bottom);
  std::vector<int> out;
  for (size_t l = 0; l < L; ++l)
    if (need[l] && int(values[l].size()) < r.max_repeats) out.push_back(int(l));
  return out;
}

void refine_fur(std::vector<std::vector<double>>& values, const FurRefine& r, std::vector<int>& pending,
                const std::function<double(int, int)>& measure, const std::function<void()>& after_layer) {
  auto one_by_one = [&](const std::vector<std::pair<int, int>>& pairs) {
    std::vector<double> out;
    for (auto [l, k] : pairs) out.push_back(measure(l, k));
    return out;
  };
  refine_fur(values, r, pending, one_by_one, 1, after_layer);
}

void refine_fur(std::vector<std::vector<double>>& values, const FurRefine& r, std::vector<int>& pending,
                const MeasurePairs& measure, int layers_per_round, const std::function<void()>& after_layer) {
  for (;;) {
    if (pending.empty()) pending = layers_to_refine(values, r);
    if (pending.empty()) return;
    while (!pending.empty()) {
      const size_t take = std::min(pending.size(), size_t(std::max(1, layers_per_round)));
      std::vector<std::pair<int, int>> pairs;
      for (size_t j = 0; j < take; ++j) {
        const int l = pending[j];
        if (l < 0 || size_t(l) >= values.size())
          throw DataError("FUR refinement: layer " + std::to_string(l) + " out of range");
        const int n = int(values[size_t(l)].size()), target = std::min(2 * std::max(n, 1), r.max_repeats);
        for (int i = n; i < target; ++i) pairs.emplace_back(l, i);
      }
      std::vector<double> more = measure(pairs);
      for (size_t i = 0; i < pairs.size(); ++i) values[size_t(pairs[i].first)].push_back(more[i]);
      pending.erase(pending.begin(), pending.begin() + std::ptrdiff_t(take));
      if (after_layer) after_layer();
    }
  }
}

namespace {

// Mean, standard error, count and rank of every layer's repeats.
void summarize(FurResult& r, const std::vector<std::vector<double>>& values, const ArchSpec& s) {
  for (size_t l = 0; l < values.size(); ++l) {
    std::tie(r.fur[l], r.stderr_[l]) = mean_stderr(values[l]);
    r.repeats.push_back(int(values[l].size()));
    logger()->debug("FUR layer {} {} p={:.4f} fur={:.5f} +- {:.5f} ({} repeats)", l, s.layers[l].name, r.plan.p[l],
                    r.fur[l], r.stderr_[l], values[l].size());
  }
  r.rank = ranks_descending(r.fur);
}

// Data-parallel: the j-th distinct layer of `pairs` is measured (all its repeats) by rank j % world on the
// whole validation split, and the values are summed over the ranks (the others contribute zeros). Each
// repeat's masks depend only on (seed, layer, repeat), so the table does not depend on the world.
std::vector<double> measure_on_ranks(const dist::World& w, const std::vector<std::pair<int, int>>& pairs,
                                     const std::function<double(int, int)>& measure) {
  std::vector<int> layers;
  for (auto [l, k] : pairs)
    if (std::find(layers.begin(), layers.end(), l) == layers.end()) layers.push_back(l);
  auto out = torch::zeros({int64_t(pairs.size())}, torch::kDouble);
  for (size_t i = 0; i < pairs.size(); ++i) {
    auto j = std::find(layers.begin(), layers.end(), pairs[i].first) - layers.begin();
    if (int(j % w.size()) == w.rank()) out[int64_t(i)] = measure(pairs[i].first, pairs[i].second);
  }
  w.all_reduce_sum(out);
  return std::vector<double>(out.data_ptr<double>(), out.data_ptr<double>() + out.numel());
}

// The layers that `progress` does not hold yet, one per rank a round; `progress` is saved after each round.
void measure_missing_layers(const dist::World& w, FurProgress& progress, size_t layers, int repeats,
                            const MeasurePairs& measure_pairs,
                            const std::function<void(const FurProgress&)>& on_progress) {
  std::vector<int> missing;
  for (size_t l = 0; l < layers; ++l)
    if (progress.layers.count(int(l)) == 0) missing.push_back(int(l));
  for (size_t first = 0; first < missing.size(); first += size_t(w.size())) {
    dist::throw_if_interrupted(w, "FUR");
    std::vector<std::pair<int, int>> pairs;
    for (size_t j = first; j < std::min(missing.size(), first + size_t(w.size())); ++j)
      for (int k = 0; k < repeats; ++k) pairs.emplace_back(missing[j], k);
    std::vector<double> got = measure_pairs(pairs);
    for (size_t i = 0; i < pairs.size(); ++i) progress.layers[pairs[i].first].push_back(got[i]);
    if (on_progress) on_progress(progress);
  }
}

}  // namespace

FurResult estimate_fur(GraphNet& net, BatchSource& val, const FurOptions& o, const torch::Device& dev, AmpMode amp,
                       uint64_t seed, FurProgress progress, const std::function<void(const FurProgress&)>& on_progress,
                       const std::optional<FurRefine>& refine, const dist::World& world,
                       const std::vector<double>& slope) {
  FurResult r;
  const ArchSpec& s = net->spec();
  const size_t L = s.channels.size();
  for (const auto& [l, values] : progress.layers)
    if (l < 0 || size_t(l) >= L || values.empty())
      throw DataError("FUR progress holds layer " + std::to_string(l) + (values.empty() ? " without values" : "") +
                      "; the network has " + std::to_string(L) + " searchable layers");
  if (!slope.empty() && slope.size() != L)
    throw std::logic_error("estimate_fur: " + std::to_string(slope.size()) + " slopes for " + std::to_string(L) +
                           " layers");
  r.plan = slope.empty() ? drop_plan(s.channels, spec_dflops(s), o.base_drop_rate, o.max_drop_rate)
                         : drop_plan(s.channels, slope, o.base_drop_rate, o.max_drop_rate);
  for (int l : r.plan.clamped)
    logger()->warn("FUR: layer {} ({}) drop probability clamped to {}", l, s.layers[size_t(l)].name, o.max_drop_rate);
  net->clear_drop();
  if (progress.base) {
    r.base = *progress.base;
  } else {
    r.base = evaluate(net, val, dev, amp);
    progress.base = r.base;
    if (on_progress) on_progress(progress);
  }
  r.fur.assign(L, 0.0);
  r.stderr_.assign(L, 0.0);
  // Repeat k of layer l: fresh masks, reproducible per (seed, layer, repeat) whatever order layers run in.
  const bool was_training = net->is_training();
  PrefixCache cache(net, val, dev, amp, int64_t(o.cache_mb) << 20);
  auto measure = [&](int l, int k) {
    cache.prepare(l);
    net->set_drop_at(l, r.plan.p[size_t(l)], o.drop_type);
    torch::manual_seed(derive_seed(seed, "fur", int64_t(l), k));
    EvalResult e = cache.evaluate();
    net->clear_drop();
    return o.metric == FurMetric::kLoss ? e.loss - r.base.loss : r.base.top1 - e.top1;
  };
  const dist::World& w = world;
  const MeasurePairs measure_pairs = [&](const std::vector<std::pair<int, int>>& pairs) {
    return measure_on_ranks(w, pairs, measure);
  };
  measure_missing_layers(w, progress, L, o.repeats, measure_pairs, on_progress);
  std::vector<std::vector<double>> values(L);
  for (size_t l = 0; l < L; ++l) values[l] = progress.layers[int(l)];
  if (refine && refine->max_repeats > o.repeats) {
    refine_fur(values, *refine, progress.refine_pending, measure_pairs, w.size(), [&] {
      for (size_t l = 0; l < L; ++l) progress.layers[int(l)] = values[l];
      if (on_progress) on_progress(progress);
      dist::throw_if_interrupted(w, "FUR");
    });
  }
  if (was_training) net->train();
  summarize(r, values, s);
  return r;
}

FurRecord fur_record(const FurResult& r, const ArchSpec& s) {
  FurRecord f;
  f.channels = s.channels;
  for (const auto& l : s.layers) f.layer_names.push_back(l.name);
  f.base = r.base;
  f.drop_p = r.plan.p;
  f.fur = r.fur;
  f.fur_stderr = r.stderr_;
  f.rank = r.rank;
  f.clamped = r.plan.clamped;
  f.repeats = r.repeats;
  return f;
}

FurValues read_fur_file(const std::string& path, size_t layers) {
  json fj = read_json(path);
  auto numbers = [&](const json& a, const char* what) {
    if (!a.is_array() || a.size() != layers)
      throw DataError(path + ": expected " + std::to_string(layers) + " " + what +
                      " (a JSON array or the fur command's --json output)");
    std::vector<double> out;
    for (const auto& v : a) {
      if (!v.is_number()) throw DataError(path + ": " + what + " " + v.dump() + " is not a number");
      out.push_back(v.get<double>());
    }
    return out;
  };
  FurValues r;
  const bool object = fj.is_object() && fj.contains("fur");
  r.fur = numbers(object ? fj["fur"] : fj, "FUR values");
  if (object && fj.contains("fur_stderr")) r.stderr_ = numbers(fj["fur_stderr"], "FUR standard errors");
  return r;
}

}  // namespace netadj
