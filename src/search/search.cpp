#include "netadj/search/search.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <numeric>

#include "netadj/arch/table.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

FurResult estimate_fur(GraphNet& net, BatchSource& val, const FurOptions& o, const torch::Device& dev,
                       const std::string& amp, uint64_t seed, json partial,
                       const std::function<void(const json&)>& on_layer) {
  FurResult r;
  const ArchSpec& s = net->spec();
  r.plan = drop_plan(s.channels, spec_dflops(s), o.base_drop_rate, o.max_drop_rate);
  for (int l : r.plan.clamped)
    logger()->warn("FUR: layer {} ({}) drop probability clamped to {}", l, s.layers[size_t(l)].name, o.max_drop_rate);
  DropType type = parse_drop_type(o.drop_type);
  if (!partial.is_object()) partial = json::object();
  if (!partial.contains("layers")) partial["layers"] = json::object();
  net->clear_drop();
  if (partial.contains("base")) {
    r.base.loss = partial["base"].at("loss").get<double>();
    r.base.top1 = partial["base"].at("top1").get<double>();
    r.base.top5 = partial["base"].at("top5").get<double>();
    r.base.n = partial["base"].at("n").get<int64_t>();
  } else {
    r.base = evaluate(net, val, dev, amp);
    partial["base"] = eval_json(r.base);
    if (on_layer) on_layer(partial);
  }
  const int L = net->num_slots();
  r.fur.assign(size_t(L), 0.0);
  r.stderr_.assign(size_t(L), 0.0);
  for (int l = 0; l < L; ++l) {
    std::string key = std::to_string(l);
    std::vector<double> vals;
    if (partial["layers"].contains(key)) {
      vals = partial["layers"][key].get<std::vector<double>>();
    } else {
      net->set_drop_at(l, r.plan.p[size_t(l)], type);
      for (int k = 0; k < o.repeats; ++k) {
        // Fresh masks per repeat, reproducible per (seed, layer, repeat) whatever order layers run in.
        torch::manual_seed(derive_seed(seed, "fur", l, k));
        EvalResult e = evaluate(net, val, dev, amp);
        vals.push_back(o.metric == "loss" ? e.loss - r.base.loss : r.base.top1 - e.top1);
      }
      net->clear_drop();
      partial["layers"][key] = vals;
      if (on_layer) on_layer(partial);
    }
    double mean = std::accumulate(vals.begin(), vals.end(), 0.0) / double(vals.size());
    double ss = 0;
    for (double v : vals) ss += (v - mean) * (v - mean);
    r.fur[size_t(l)] = mean;
    r.stderr_[size_t(l)] = vals.size() > 1 ? std::sqrt(ss / double(vals.size() - 1) / double(vals.size())) : 0.0;
    logger()->debug("FUR layer {} {} p={:.4f} fur={:.5f} +- {:.5f}", l, s.layers[size_t(l)].name, r.plan.p[size_t(l)],
                    mean, r.stderr_[size_t(l)]);
  }
  std::vector<int> order(size_t(L), 0);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return r.fur[size_t(a)] > r.fur[size_t(b)]; });
  r.rank.assign(size_t(L), 0);
  for (int i = 0; i < L; ++i) r.rank[size_t(order[size_t(i)])] = i;
  return r;
}

json fur_json(const FurResult& r, const ArchSpec& s) {
  json names = json::array();
  for (const auto& l : s.layers) names.push_back(l.name);
  return {{"channels", s.channels}, {"layer_names", names}, {"base", eval_json(r.base)}, {"drop_p", r.plan.p},
          {"fur", r.fur}, {"fur_stderr", r.stderr_}, {"rank", r.rank}, {"clamped", r.plan.clamped}};
}

std::string make_run_dir(const Config& cfg, const std::string& out) {
  std::string dir = out;
  if (dir.empty()) {
    std::time_t now = std::time(nullptr);
    char ts[32];
    std::strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", std::localtime(&now));
    std::string name = cfg.runtime.name.empty() ? cfg.model.arch : cfg.runtime.name;
    dir = cfg.runtime.out_dir + "/" + name + "-" + ts;
  }
  make_dirs(dir);
  return dir;
}

namespace {

std::string vec_str(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }

}  // namespace

int run_search(const Config& cfg_in, const std::string& run_dir, bool resume) {
  Config cfg = cfg_in;
  const std::string search_file = run_dir + "/search.json", times_file = run_dir + "/times.json";
  torch::Device dev = setup_device(cfg.runtime);
  logger()->info("device: {}", dev.str());
  DataModule data(cfg.data, cfg.runtime.seed);
  check_model_matches_data(cfg.model, data);
  const int res = resolve_resolution(cfg.model, data.resolution());
  cfg.model.resolution = res;

  // The split is part of the run: recorded once, checked on resume.
  const std::string split_file = run_dir + "/split.json";
  if (file_exists(split_file))
    data.check_split(read_json(split_file), split_file);
  else
    write_json_atomic(split_file, data.split_json());

  ArchSpec spec0 = build_spec(cfg.model, res);
  const std::vector<int64_t> c_init = spec0.channels;
  const int64_t f0 = spec_flops(spec0);
  FlopsFn flops = [&](const std::vector<int64_t>& c) { return spec_flops(build_spec(cfg.model, res, c)); };
  const int epochs = cfg.search.epochs > 0 ? cfg.search.epochs : cfg.train.epochs;
  const uint64_t seed = static_cast<uint64_t>(cfg.runtime.seed);

  json doc;
  json times = json::array();
  if (resume && file_exists(search_file)) {
    doc = read_json(search_file);
    if (file_exists(times_file)) times = read_json(times_file);
  } else {
    doc = {{"arch", cfg.model.arch}, {"depth", cfg.model.depth}, {"resolution", res}, {"f0", f0},
           {"init_channels", c_init}, {"layer_names", json::array()}, {"epochs_per_iteration", epochs},
           {"iterations", json::array()}, {"done", false}};
    for (const auto& l : spec0.layers) doc["layer_names"].push_back(l.name);
    json stages = json::array();
    for (const auto& l : spec0.layers) stages.push_back(l.stage);
    doc["layer_stages"] = stages;
  }
  if (doc.value("done", false)) {
    logger()->info("search in {} is already complete", run_dir);
    return doc["best"]["iteration"].get<int>();
  }

  std::vector<int64_t> c = c_init;
  double best_acc = -1;
  int best_t = -1, since_best = 0;
  for (const auto& rec : doc["iterations"]) {
    c = rec["next_channels"].get<std::vector<int64_t>>();
    double acc = rec["val"]["top1"].get<double>();
    if (acc > best_acc) {
      best_acc = acc;
      best_t = rec["iteration"].get<int>();
      since_best = 0;
    } else {
      ++since_best;
    }
  }
  const int start = static_cast<int>(doc["iterations"].size());
  if (start > 0) logger()->info("resuming search at iteration {} of {}", start, cfg.search.iterations);

  Trainer trainer(cfg, data, dev);
  bool stopped_early = false;
  for (int t = start; t < cfg.search.iterations; ++t) {
    if (cfg.search.patience > 0 && since_best >= cfg.search.patience) {
      logger()->info("no improvement for {} iterations: stopping early", since_best);
      stopped_early = true;
      break;
    }
    const std::string idir = run_dir + "/iter_" + std::to_string(t);
    make_dirs(idir);
    ArchSpec spec = build_spec(cfg.model, res, c);
    logger()->info("iteration {}/{}: channels {} FLOPs {} ({}), params {}", t, cfg.search.iterations, vec_str(c),
                   spec_flops(spec), human_count(double(spec_flops(spec))), human_count(double(spec_params(spec))));
    torch::manual_seed(derive_seed(seed, "init", t));
    GraphNet net(spec);
    TrainPlan plan;
    plan.epochs = epochs;
    plan.train_split = Split::kTrain;
    plan.eval_split = Split::kVal;
    plan.test_at_end = true;
    plan.seed = derive_seed(seed, "train", t);
    plan.checkpoint = idir + "/checkpoint.pt";
    plan.metrics_file = run_dir + "/metrics.jsonl";
    plan.label = "iter " + std::to_string(t);
    auto t0 = Clock::now();
    TrainResult tr = trainer.run(net, plan);
    double train_secs = std::chrono::duration<double>(Clock::now() - t0).count();

    auto t1 = Clock::now();
    auto val = data.loader(Split::kVal, {std::max(cfg.train.batch_size, 256), false, dev, 0});
    const std::string partial_file = idir + "/fur_partial.json";
    json partial = file_exists(partial_file) ? read_json(partial_file) : json();
    FurResult fur = estimate_fur(net, *val, cfg.fur, dev, trainer.amp(), derive_seed(seed, "fur-iter", t), partial,
                                 [&](const json& p) { write_json_atomic(partial_file, p); });
    double fur_secs = std::chrono::duration<double>(Clock::now() - t1).count();
    write_json_atomic(idir + "/fur.json", fur_json(fur, spec));

    Adjustment adj = adjust_channels(c, c_init, fur.fur, t, cfg.search, flops, f0);
    logger()->info("iteration {}: val top1 {:.2f}% | FUR range [{:.4g}, {:.4g}] | k={} widened {} narrowed {}", t,
                   100 * tr.final_eval.top1, *std::min_element(fur.fur.begin(), fur.fur.end()),
                   *std::max_element(fur.fur.begin(), fur.fur.end()), adj.k, fmt::join(adj.top, ","),
                   fmt::join(adj.bottom, ","));
    logger()->info("iteration {}: FLOPs after adjustment {} -> after scaling (s={:.4f}) {} (target {})", t,
                   adj.flops_adjusted, adj.scale, adj.flops, f0);

    json rec = {{"iteration", t},
                {"channels", c},
                {"flops", spec_flops(spec)},
                {"params", spec_params(spec)},
                {"val", eval_json(tr.final_eval)},
                {"test", tr.test ? eval_json(*tr.test) : json(nullptr)},
                {"fur_base", eval_json(fur.base)},
                {"fur", fur.fur},
                {"fur_stderr", fur.stderr_},
                {"drop_p", fur.plan.p},
                {"clamped", fur.plan.clamped},
                {"rank", fur.rank},
                {"k", adj.k},
                {"top", adj.top},
                {"bottom", adj.bottom},
                {"adjusted_channels", adj.adjusted},
                {"adjusted_flops", adj.flops_adjusted},
                {"scale", adj.scale},
                {"next_channels", adj.channels},
                {"next_flops", adj.flops}};
    doc["iterations"].push_back(rec);
    if (tr.final_eval.top1 > best_acc) {
      best_acc = tr.final_eval.top1;
      best_t = t;
      since_best = 0;
    } else {
      ++since_best;
    }
    const auto& best = doc["iterations"][size_t(best_t)];
    doc["best"] = {{"iteration", best_t}, {"channels", best["channels"]}, {"val_top1", best["val"]["top1"]},
                   {"flops", best["flops"]}};
    times.push_back({{"iteration", t}, {"train_seconds", train_secs}, {"fur_seconds", fur_secs},
                     {"resumed", tr.resumed}});
    // Order matters for resume: the model and best channels first, the record that marks the iteration
    // done last.
    save_model(net, cfg.model, idir + "/model.pt");
    ModelOptions bm = cfg.model;
    write_json_atomic(run_dir + "/best_channels.json",
                      channel_file_json(bm, best["channels"].get<std::vector<int64_t>>()));
    write_json_atomic(times_file, times);
    write_json_atomic(search_file, doc);
    // The iteration is recorded: its training checkpoint is no longer needed.
    remove_file(plan.checkpoint);
    c = adj.channels;
  }
  doc["done"] = true;
  doc["stopped_early"] = stopped_early;
  write_json_atomic(search_file, doc);
  const auto& best = doc["best"];
  logger()->info("search done: best iteration {} (val top1 {:.2f}%), channels {} -> {}", best["iteration"].get<int>(),
                 100 * best["val_top1"].get<double>(), vec_str(best["channels"].get<std::vector<int64_t>>()),
                 run_dir + "/best_channels.json");
  return best["iteration"].get<int>();
}

}  // namespace netadj
