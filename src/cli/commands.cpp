#include "netadj/cli/commands.h"

#include <fmt/format.h>

#include <iostream>

#include "netadj/arch/table.h"
#include "netadj/data/data.h"
#include "netadj/config/config.h"
#include "netadj/util/error.h"

namespace netadj::cli {

namespace {
Config load(const Common& c) { return load_config(c.config, c.sets); }

ModelOptions model_with_channels(const Config& cfg, const std::string& channel_file) {
  ModelOptions m = cfg.model;
  if (!channel_file.empty()) m.channels = read_channel_file(channel_file, m);
  return m;
}
}  // namespace

int cmd_config(const Common& c) {
  Config cfg = load(c);
  std::cout << config_to_json(cfg).dump(2) << "\n";
  return 0;
}

int cmd_flops(const Common& c, const std::string& compare_a, const std::string& compare_b) {
  Config cfg = load(c);
  int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  if (!compare_a.empty()) {
    ArchSpec a = build_spec(model_with_channels(cfg, compare_a), res);
    ArchSpec b = build_spec(model_with_channels(cfg, compare_b), res);
    auto ga = spec_to_json(a), gb = spec_to_json(b);
    if (c.json) {
      std::cout << nlohmann::json{{"a", ga}, {"b", gb}}.dump() << "\n";
      return 0;
    }
    std::cout << fmt::format("{:<22} {:>6} {:>10} {:>6} {:>10} {:>7}\n", "layer", "A", "A MACs", "B", "B MACs", "B-A");
    for (size_t l = 0; l < a.channels.size(); ++l) {
      auto fa = op_cost(a, a.ops[static_cast<size_t>(a.layers[l].op)]).flops;
      auto fb = op_cost(b, b.ops[static_cast<size_t>(b.layers[l].op)]).flops;
      std::cout << fmt::format("{:<22} {:>6} {:>10} {:>6} {:>10} {:>+7}\n", a.layers[l].name, a.channels[l],
                               human_count(double(fa)), b.channels[l], human_count(double(fb)),
                               b.channels[l] - a.channels[l]);
    }
    std::cout << fmt::format("total MACs: A {} ({})  B {} ({})  B/A = {:.4f}\n", human_count(double(spec_flops(a))),
                             spec_flops(a), human_count(double(spec_flops(b))), spec_flops(b),
                             double(spec_flops(b)) / double(spec_flops(a)));
    std::cout << fmt::format("params: A {}  B {}\n", human_count(double(spec_params(a))),
                             human_count(double(spec_params(b))));
    return 0;
  }
  ArchSpec s = build_spec(model_with_channels(cfg, c.channels), res);
  if (c.json)
    std::cout << spec_to_json(s).dump() << "\n";
  else
    std::cout << spec_table(s);
  return 0;
}

}  // namespace netadj::cli

// ---- search / train / fur / adjust / bench / report ------------------------------------------------
#include <fmt/ranges.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#ifdef NETADJ_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#include <filesystem>

#include "netadj/data/data.h"
#include "netadj/search/search.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj::cli {
using nlohmann::json;

namespace {

// A resumed run takes its config from the run directory; --set is refused (it would change the run).
Config config_for_run(const Common& c, std::string& dir) {
  if (!c.resume.empty()) {
    dir = c.resume;
    std::string f = dir + "/config.json";
    if (!file_exists(f)) throw ConfigError(dir + ": not a run directory (no config.json)");
    if (!c.sets.empty() || !c.config.empty() || !c.channels.empty())
      throw ConfigError("--resume takes the config from " + f + "; drop --config/--set/--channels");
    return load_config(f, {});
  }
  if (c.config.empty() && c.sets.empty()) throw ConfigError("give --config FILE.json (and/or --set key=value)");
  Config cfg = load(c);
  // Refuse a bad channel vector or depth before anything is written.
  ModelOptions m = model_with_channels(cfg, c.channels);
  build_spec(m, resolve_resolution(m, nominal_resolution(cfg.data)));
  dir = make_run_dir(cfg, c.out);
  if (file_exists(dir + "/config.json") && c.out.size())
    throw ConfigError(dir + ": already holds a run; use --resume " + dir + " or another --out");
  write_json_atomic(dir + "/config.json", config_to_json(cfg));
  return cfg;
}

}  // namespace

int cmd_search(const Common& c) {
  std::string dir;
  Config cfg = config_for_run(c, dir);
  add_log_file(dir + "/log.txt");
  logger()->info("run directory: {}", dir);
  run_search(cfg, dir, !c.resume.empty());
  std::cout << dir << "/best_channels.json\n";
  return 0;
}

int cmd_train(const Common& c) {
  std::string dir;
  Config cfg = config_for_run(c, dir);
  add_log_file(dir + "/log.txt");
  if (!c.channels.empty()) {
    cfg.model.channels = read_channel_file(c.channels, cfg.model);
    write_json_atomic(dir + "/config.json", config_to_json(cfg));
  }
  torch::Device dev = setup_device(cfg.runtime);
  DataModule data(cfg.data, cfg.runtime.seed);
  check_model_matches_data(cfg.model, data);
  cfg.model.resolution = resolve_resolution(cfg.model, data.resolution());
  ArchSpec spec = build_spec(cfg.model, cfg.model.resolution);
  logger()->info("train {} channels {} FLOPs {} params {} on {}", cfg.model.arch, fmt::join(spec.channels, ","),
                 spec_flops(spec), spec_params(spec), dev.str());
  torch::manual_seed(derive_seed(uint64_t(cfg.runtime.seed), "init", 0));
  GraphNet net(spec);
  Trainer trainer(cfg, data, dev);
  TrainPlan plan;
  plan.epochs = cfg.train.epochs;
  plan.train_split = cfg.train.full_train ? Split::kTrainFull : Split::kTrain;
  // Re-training on train+val leaves no validation split: the test set is evaluated at the end (and each
  // epoch only with train.eval_test_each_epoch); it is never used to select anything.
  plan.eval_split = cfg.train.full_train ? std::nullopt : std::optional<Split>(Split::kVal);
  plan.seed = derive_seed(uint64_t(cfg.runtime.seed), "train", 0);
  plan.checkpoint = dir + "/checkpoint.pt";
  plan.metrics_file = dir + "/metrics.jsonl";
  TrainResult r = trainer.run(net, plan);
  save_model(net, cfg.model, dir + "/model.pt");
  json result = {{"arch", cfg.model.arch}, {"channels", spec.channels}, {"flops", spec_flops(spec)},
                 {"params", spec_params(spec)}, {"epochs", plan.epochs}, {"train_split", split_name(plan.train_split)},
                 {"final_eval", eval_json(r.final_eval)}, {"test", r.test ? eval_json(*r.test) : json(nullptr)},
                 {"seconds", r.seconds}};
  write_json_atomic(dir + "/result.json", result);
  logger()->info("test top1 {:.2f}% top5 {:.2f}% | FLOPs {} | params {} | {}", 100 * r.test->top1, 100 * r.test->top5,
                 human_count(double(spec_flops(spec))), human_count(double(spec_params(spec))), dir + "/result.json");
  std::cout << result.dump() << "\n";
  return 0;
}

int cmd_fur(const Common& c, const std::string& checkpoint) {
  Config cfg = load(c);
  torch::Device dev = setup_device(cfg.runtime);
  ModelOptions m;
  GraphNet net = load_model(checkpoint, m);
  cfg.model = m;
  DataModule data(cfg.data, cfg.runtime.seed);
  check_model_matches_data(cfg.model, data);
  net->to(dev);
  auto val = data.loader(Split::kVal, {std::max(cfg.train.batch_size, 256), false, dev, 0});
  FurResult r = estimate_fur(net, *val, cfg.fur, dev, resolve_amp(cfg.runtime, dev),
                             derive_seed(uint64_t(cfg.runtime.seed), "fur-iter", 0));
  json j = fur_json(r, net->spec());
  if (c.json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("base ({}): loss {:.4f} top1 {:.2f}% on {} images; metric {}\n", "val", r.base.loss,
                           100 * r.base.top1, r.base.n, cfg.fur.metric);
  std::cout << fmt::format("{:<4} {:<18} {:>6} {:>8} {:>11} {:>10} {:>5}\n", "l", "layer", "c", "p", "FUR", "stderr", "rank");
  const auto& s = net->spec();
  for (size_t l = 0; l < s.channels.size(); ++l)
    std::cout << fmt::format("{:<4} {:<18} {:>6} {:>8.4f} {:>11.5f} {:>10.5f} {:>5}\n", l, s.layers[l].name,
                             s.channels[l], r.plan.p[l], r.fur[l], r.stderr_[l], r.rank[l]);
  return 0;
}

int cmd_adjust(const Common& c, const std::string& fur_file, int iteration, const std::string& init_file) {
  Config cfg = load(c);
  if (c.channels.empty()) throw ConfigError("adjust: --channels FILE is required");
  int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  std::vector<int64_t> ch = read_channel_file(c.channels, cfg.model);
  std::vector<int64_t> init = init_file.empty() ? default_channels(cfg.model) : read_channel_file(init_file, cfg.model);
  json fj = read_json(fur_file);
  const json& fa = fj.is_object() && fj.contains("fur") ? fj["fur"] : fj;
  if (!fa.is_array() || fa.size() != ch.size())
    throw DataError(fur_file + ": expected " + std::to_string(ch.size()) +
                    " FUR values (a JSON array or the fur command's --json output)");
  std::vector<double> fur;
  for (const auto& v : fa) {
    if (!v.is_number()) throw DataError(fur_file + ": FUR value " + v.dump() + " is not a number");
    fur.push_back(v.get<double>());
  }
  if (init.size() != ch.size()) throw ConfigError("--init: length differs from --channels");
  build_spec(cfg.model, res, ch);  // validates the vector
  FlopsFn flops = [&](const std::vector<int64_t>& v) { return spec_flops(build_spec(cfg.model, res, v)); };
  int64_t f0 = flops(init);
  Adjustment a = adjust_channels(ch, init, fur, iteration, cfg.search, flops, f0);
  if (c.json) {
    std::cout << json{{"channels", a.channels}, {"flops", a.flops}, {"top", a.top}, {"bottom", a.bottom},
                      {"scale", a.scale}, {"k", a.k}, {"adjusted_channels", a.adjusted},
                      {"adjusted_flops", a.flops_adjusted}, {"target_flops", f0}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << fmt::format("k = {}: widened {} narrowed {}\n", a.k, fmt::join(a.top, ","), fmt::join(a.bottom, ","));
  std::cout << fmt::format("adjusted: [{}] FLOPs {}\n", fmt::join(a.adjusted, ", "), a.flops_adjusted);
  std::cout << fmt::format("scaled (s = {:.5f}): [{}] FLOPs {} (target {}, {:+.3f}%)\n", a.scale,
                           fmt::join(a.channels, ", "), a.flops, f0, 100.0 * double(a.flops - f0) / double(f0));
  return 0;
}

int cmd_bench_train(const Common& c, int warmup, int steps) {
  Config cfg = load(c);
  torch::Device dev = setup_device(cfg.runtime);
  DataModule data(cfg.data, cfg.runtime.seed);
  check_model_matches_data(cfg.model, data);
  cfg.model.resolution = resolve_resolution(cfg.model, data.resolution());
  ArchSpec spec = build_spec(cfg.model, cfg.model.resolution);
  torch::manual_seed(1);
  GraphNet net(spec);
  Config bc = cfg;
  bc.train.epochs = 1000000;  // keep the lr schedule flat enough; only throughput matters here
  Trainer trainer(bc, data, dev);
  if (dev.is_cuda()) torch::cuda::synchronize();
  TrainPlan plan;
  plan.epochs = 1000000;
  plan.eval_split = std::nullopt;
  plan.test_at_end = false;
  plan.max_steps = warmup;
  set_log_level("warn");
  trainer.run(net, plan);
  if (dev.is_cuda()) torch::cuda::synchronize();
  plan.max_steps = steps;
  auto t0 = std::chrono::steady_clock::now();
  trainer.run(net, plan);
  if (dev.is_cuda()) torch::cuda::synchronize();
  double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto ev = data.loader(Split::kVal, {std::max(cfg.train.batch_size, 256), false, dev, 0});
  evaluate(net, *ev, dev, trainer.amp());  // warm
  auto t1 = std::chrono::steady_clock::now();
  EvalResult er = evaluate(net, *ev, dev, trainer.amp());
  double eval_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  json j = {{"arch", cfg.model.arch}, {"device", dev.str()}, {"amp", trainer.amp()}, {"batch", cfg.train.batch_size},
            {"threads", torch::get_num_threads()}, {"steps", steps}, {"fused_sgd", fused_sgd_available()},
            {"train_images_per_s", double(steps) * cfg.train.batch_size / train_s},
            {"eval_images_per_s", double(er.n) / eval_s}};
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  j["peak_host_memory_mb"] = double(ru.ru_maxrss) / 1024.0;
#ifdef NETADJ_WITH_CUDA
  if (dev.is_cuda()) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(dev.index() < 0 ? 0 : dev.index());
    j["peak_device_memory_mb"] =
        double(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);  // index 0: all pools (AGGREGATE)
  }
#endif
  std::cout << j.dump() << "\n";
  return 0;
}

int cmd_bench_data(const Common& c, int batches) {
  Config cfg = load(c);
  torch::Device dev = setup_device(cfg.runtime);
  auto t0 = std::chrono::steady_clock::now();
  DataModule data(cfg.data, cfg.runtime.seed);
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto src = data.loader(Split::kTrain, {cfg.train.batch_size, true, dev, 1});
  src->start_epoch(0);
  src->next();  // warm
  int64_t n = 0;
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < batches; ++i) {
    auto b = src->next();
    if (!b) {
      src->start_epoch(i + 1);
      b = src->next();
    }
    n += b->y.size(0);
  }
  if (dev.is_cuda()) torch::cuda::synchronize();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::cout << json{{"dataset", data.name()}, {"device", dev.str()}, {"load_seconds", load_s},
                    {"train_images_per_s", double(n) / s}, {"images", n}, {"batch", cfg.train.batch_size}}
                   .dump()
            << "\n";
  return 0;
}

int cmd_bench_flops(const Common& c, int evals) {
  Config cfg = load(c);
  int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  auto ch = cfg.model.channels.empty() ? default_channels(cfg.model) : cfg.model.channels;
  int64_t sink = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < evals; ++i) {
    auto& v = ch[size_t(i) % ch.size()];
    v += 1;  // a different vector each call, as in the search's bisection
    sink += spec_flops(build_spec(cfg.model, res, ch));
    v -= 1;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << json{{"arch", cfg.model.arch}, {"depth", cfg.model.depth}, {"layers", ch.size()}, {"evals", evals},
                    {"microseconds_per_eval", 1e6 * s / evals}, {"checksum", sink}}
                   .dump()
            << "\n";
  return 0;
}

int cmd_bench_optim(const Common& c, int steps) {
  Config cfg = load(c);
  torch::Device dev = setup_device(cfg.runtime);
  int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  torch::manual_seed(1);
  GraphNet net(build_spec(cfg.model, res));
  net->to(dev);
  if (uses_channels_last(cfg.runtime, dev, net->spec().channels)) net->use_channels_last();
  const TrainOptions& t = cfg.train;
  auto params = net->parameters();
  int64_t numel = 0;
  for (const auto& p : params) numel += p.numel();
  auto fill_grads = [&] {
    for (auto& p : params) p.mutable_grad() = torch::randn_like(p, torch::MemoryFormat::Preserve);
  };
  // Each implementation steps the same parameters `steps` times after 5 untimed steps; the gradients stay
  // fixed, so only the update is timed. Returns microseconds per step.
  auto time_steps = [&](const std::function<void()>& step) {
    fill_grads();
    for (int i = 0; i < 5; ++i) step();
    if (dev.is_cuda()) torch::cuda::synchronize();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) step();
    if (dev.is_cuda()) torch::cuda::synchronize();
    return 1e6 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  };
  torch::optim::SGD reference(params, torch::optim::SGDOptions(1e-4).momentum(t.momentum).weight_decay(t.weight_decay)
                                          .nesterov(t.nesterov));
  Sgd foreach_sgd(params, sgd_options(t), /*fused=*/false), fused_sgd(params, sgd_options(t), /*fused=*/true);
  double us_ref = time_steps([&] { reference.step(); });
  double us_foreach = time_steps([&] { foreach_sgd.step(1e-4); });
  json j = {{"arch", cfg.model.arch}, {"device", dev.str()}, {"tensors", params.size()}, {"parameters", numel},
            {"steps", steps}, {"torch_optim_sgd_us", us_ref}, {"foreach_us", us_foreach},
            {"foreach_speedup", us_ref / us_foreach}};
  if (fused_sgd_available()) {
    double us_fused = time_steps([&] { fused_sgd.step(1e-4); });
    j["fused_us"] = us_fused;
    j["fused_speedup"] = us_ref / us_fused;
  }
  std::cout << j.dump() << "\n";
  return 0;
}

int cmd_report(const std::string& run_dir) {
  if (!file_exists(run_dir)) throw DataError(run_dir + ": run directory not found");
  std::string script = std::string(NETADJ_SOURCE_DIR) + "/scripts/report.py";
  if (const char* s = std::getenv("NETADJ_REPORT_SCRIPT")) script = s;
  if (!file_exists(script)) throw DataError(script + ": report script not found (set NETADJ_REPORT_SCRIPT)");
  // The interpreter: NETADJ_PYTHON, else the first of the system python (where Debian's matplotlib
  // lives) and the python3 on PATH that has matplotlib, else python3 (tables only).
  std::string py = "python3";
  if (const char* p = std::getenv("NETADJ_PYTHON")) {
    py = p;
  } else {
    for (const char* cand : {"/usr/bin/python3", "python3"})
      if (std::system((std::string(cand) + " -c 'import matplotlib' >/dev/null 2>&1").c_str()) == 0) {
        py = cand;
        break;
      }
  }
  std::string cmd = py + " '" + script + "' '" + run_dir + "'";
  int rc = std::system(cmd.c_str());
  if (rc != 0) throw Error(ExitCode::kRuntime, "report: " + cmd + " failed (exit " + std::to_string(WEXITSTATUS(rc)) + ")");
  return 0;
}

}  // namespace netadj::cli
