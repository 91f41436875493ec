// The TensorBoard view of the run directory's records (see tensorboard.h).
#include "netadj/records/tensorboard.h"

namespace netadj {

namespace {

void add_eval(std::vector<Scalar>& v, const std::string& split, const EvalResult& e) {
  v.push_back({split + "/loss", e.loss});
  v.push_back({split + "/top1", 100 * e.top1});
  v.push_back({split + "/top5", 100 * e.top5});
}

}  // namespace

ScalarStep epoch_scalars(const EpochRecord& r, bool has_val) {
  ScalarStep s{r.epoch + 1, {}};
  auto& v = s.values;
  v.push_back({"train/loss", r.train_loss});
  v.push_back({"train/top1", 100 * r.train_acc});
  v.push_back({"lr", r.lr});
  v.push_back({"images_per_s", r.images_per_s});
  v.push_back({"epoch_seconds", r.seconds});
  if (has_val) add_eval(v, "val", r.val);
  if (r.test) add_eval(v, "test", *r.test);
  return s;
}

ScalarStep iteration_scalars(const IterationRecord& r, const std::vector<std::string>& layer_names) {
  ScalarStep s{r.iteration, {}};
  auto& v = s.values;
  v.push_back({"flops", double(r.flops)});
  v.push_back({"params", double(r.params)});
  if (r.latency_ms) v.push_back({"latency_ms", *r.latency_ms});
  if (r.predicted_latency_ms) v.push_back({"latency_ms/predicted", *r.predicted_latency_ms});
  if (r.measured_latency_ms) v.push_back({"latency_ms/measured", *r.measured_latency_ms});
  add_eval(v, "val", r.val);
  if (r.test) add_eval(v, "test", *r.test);
  if (r.elapsed_s) v.push_back({"time/elapsed_h", *r.elapsed_s / 3600});
  if (r.eta_s) v.push_back({"time/eta_h", *r.eta_s / 3600});
  for (size_t l = 0; l < r.channels.size(); ++l) {
    const std::string name = l < layer_names.size() ? layer_names[l] : "layer" + std::to_string(l);
    v.push_back({"width/" + name, double(r.channels[l])});
    if (l < r.fur.size()) v.push_back({"fur/" + name, r.fur[l]});
    if (l < r.fur_stderr.size()) v.push_back({"fur_stderr/" + name, r.fur_stderr[l]});
  }
  return s;
}

std::vector<ScalarStep> search_scalars(const SearchRecord& doc) {
  std::vector<ScalarStep> out;
  for (const auto& it : doc.iterations) out.push_back(iteration_scalars(it, doc.layer_names));
  return out;
}

}  // namespace netadj
