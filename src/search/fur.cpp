// FUR estimation (Sec. 3.3): drop channels of one layer at a time, at the rate that removes the same
// expected FLOPs from every layer, and measure the loss increase (or accuracy drop) on held-out data.
#include <cmath>
#include <numeric>

#include "netadj/search/search.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;

namespace {

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

FurResult estimate_fur(GraphNet& net, BatchSource& val, const FurOptions& o, const torch::Device& dev, AmpMode amp,
                       uint64_t seed, json partial, const std::function<void(const json&)>& on_layer) {
  FurResult r;
  const ArchSpec& s = net->spec();
  r.plan = drop_plan(s.channels, spec_dflops(s), o.base_drop_rate, o.max_drop_rate);
  for (int l : r.plan.clamped)
    logger()->warn("FUR: layer {} ({}) drop probability clamped to {}", l, s.layers[size_t(l)].name, o.max_drop_rate);
  if (!partial.is_object()) partial = json::object();
  if (!partial.contains("layers")) partial["layers"] = json::object();
  net->clear_drop();
  if (partial.contains("base")) {
    r.base = partial["base"].get<EvalResult>();
  } else {
    r.base = evaluate(net, val, dev, amp);
    partial["base"] = r.base;
    if (on_layer) on_layer(partial);
  }
  const size_t L = s.channels.size();
  r.fur.assign(L, 0.0);
  r.stderr_.assign(L, 0.0);
  for (size_t l = 0; l < L; ++l) {
    std::string key = std::to_string(l);
    if (!partial["layers"].contains(key)) {
      throw_if_interrupted("FUR");
      std::vector<double> vals;
      net->set_drop_at(int(l), r.plan.p[l], o.drop_type);
      for (int k = 0; k < o.repeats; ++k) {
        // Fresh masks per repeat, reproducible per (seed, layer, repeat) whatever order layers run in.
        torch::manual_seed(derive_seed(seed, "fur", int64_t(l), k));
        EvalResult e = evaluate(net, val, dev, amp);
        vals.push_back(o.metric == FurMetric::kLoss ? e.loss - r.base.loss : r.base.top1 - e.top1);
      }
      net->clear_drop();
      partial["layers"][key] = vals;
      if (on_layer) on_layer(partial);
    }
    std::tie(r.fur[l], r.stderr_[l]) = mean_stderr(partial["layers"][key].get<std::vector<double>>());
    logger()->debug("FUR layer {} {} p={:.4f} fur={:.5f} +- {:.5f}", l, s.layers[l].name, r.plan.p[l], r.fur[l],
                    r.stderr_[l]);
  }
  r.rank = ranks_descending(r.fur);
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
  return f;
}

std::vector<double> read_fur_file(const std::string& path, size_t layers) {
  json fj = read_json(path);
  const json& fa = fj.is_object() && fj.contains("fur") ? fj["fur"] : fj;
  if (!fa.is_array() || fa.size() != layers)
    throw DataError(path + ": expected " + std::to_string(layers) +
                    " FUR values (a JSON array or the fur command's --json output)");
  std::vector<double> fur;
  for (const auto& v : fa) {
    if (!v.is_number()) throw DataError(path + ": FUR value " + v.dump() + " is not a number");
    fur.push_back(v.get<double>());
  }
  return fur;
}

}  // namespace netadj
