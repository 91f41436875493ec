#include "netadj/bench/bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>
#ifdef NETADJ_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "netadj/backends/timing.h"
#include "netadj/data/data.h"
#include "netadj/distributed/distributed.h"
#include "netadj/records/records.h"
#include "netadj/run/run_dir.h"
#include "netadj/run/session.h"
#include "netadj/search/search.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void sync(const torch::Device& dev) {
  if (dev.is_cuda()) torch::cuda::synchronize();
}

// Seconds for `steps` training steps after the same trainer has run `warmup` of them.
double time_train_steps(Trainer& trainer, GraphNet& net, int warmup, int steps, const dist::World& world) {
  TrainPlan plan;
  plan.world = &world;
  plan.epochs = 1000000;
  plan.eval_split = std::nullopt;
  plan.test_at_end = false;
  plan.max_steps = warmup;
  trainer.run(net, plan);
  sync(trainer.device());
  plan.max_steps = steps;
  world.barrier();  // the ranks start the clock together
  auto t0 = Clock::now();
  trainer.run(net, plan);
  sync(trainer.device());
  world.barrier();  // and stop it when the slowest is done
  return seconds_since(t0);
}

// Scaling against one process: rank 0 times the same global batch alone, with all of its machine's
// cores (runtime.threads when set), while the other ranks wait.
void add_scaling(json& j, const RunSession& session, const Trainer& trainer, int warmup, int steps, double ranks_ips) {
  const dist::World& w = session.world();
  j["world_size"] = w.size();
  j["backend"] = w.backend();
  if (!w.distributed()) return;
  std::string answer;
  if (w.root()) {
    const int threads = torch::get_num_threads();
    const RuntimeOptions& r = session.config().runtime;
    torch::set_num_threads(r.threads > 0 ? r.threads
                                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    const dist::World single;
    torch::manual_seed(1);
    GraphNet net(session.spec());
    Trainer alone(trainer.options(), session.data(), session.device());
    const double s = time_train_steps(alone, net, warmup, steps, single);
    answer = std::to_string(double(steps) * trainer.options().train.batch_size / s);
    j["baseline_threads"] = torch::get_num_threads();
    torch::set_num_threads(threads);
  }
  answer = w.share("bench_baseline", answer, std::chrono::hours(1));
  const double one = std::stod(answer);
  j["baseline_images_per_s"] = one;
  j["scaling_efficiency"] = ranks_ips / (double(w.size()) * one);
  j["speedup"] = ranks_ips / one;
}

void add_peak_memory(json& j, const torch::Device& dev) {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  j["peak_host_memory_mb"] = double(ru.ru_maxrss) / 1024.0;
#ifdef NETADJ_WITH_CUDA
  if (dev.is_cuda()) {
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(dev.index() < 0 ? 0 : dev.index());
    j["peak_device_memory_mb"] = double(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);  // 0: all pools
  }
#endif
}

}  // namespace

json bench_train(const RunSession& session, int warmup, int steps) {
  Config cfg = session.config();
  cfg.train.epochs = 1000000;  // keep the lr schedule flat; only throughput matters here
  torch::manual_seed(1);
  GraphNet net(session.spec());
  Trainer trainer(trainer_options(cfg), session.data(), session.device());
  set_log_level("warn");
  double train_s = time_train_steps(trainer, net, warmup, steps, session.world());
  auto ev = session.eval_loader(Split::kVal);
  evaluate(net, *ev, session.device(), trainer.amp());  // warm
  auto t1 = Clock::now();
  EvalResult er = evaluate(net, *ev, session.device(), trainer.amp());
  double eval_s = seconds_since(t1);
  json j = {{"arch", cfg.model.arch},
            {"device", session.device().str()},
            {"amp", enum_name(trainer.amp())},
            {"batch", cfg.train.batch_size},
            {"threads", torch::get_num_threads()},
            {"steps", steps},
            {"fused_sgd", fused_sgd_available()},
            {"train_images_per_s", double(steps) * cfg.train.batch_size / train_s},
            {"eval_images_per_s", double(er.n) / eval_s}};
  add_peak_memory(j, session.device());
  add_scaling(j, session, trainer, warmup, steps, j["train_images_per_s"].get<double>());
  return j;
}

json bench_data(const Config& cfg, int batches) {
  torch::Device dev = setup_device(cfg.runtime);
  auto t0 = Clock::now();
  DataModule data(cfg.data, cfg.runtime.seed);
  double load_s = seconds_since(t0);
  auto src = data.loader(Split::kTrain, {cfg.train.batch_size, true, dev, 1});
  src->start_epoch(0);
  src->next();  // warm
  int64_t n = 0;
  auto t1 = Clock::now();
  for (int i = 0; i < batches; ++i) {
    auto b = src->next();
    if (!b) {
      src->start_epoch(i + 1);
      b = src->next();
    }
    n += b->y.size(0);
  }
  sync(dev);
  double s = seconds_since(t1);
  return {{"dataset", data.name()},
          {"device", dev.str()},
          {"load_seconds", load_s},
          {"train_images_per_s", double(n) / s},
          {"images", n},
          {"batch", cfg.train.batch_size}};
}

json bench_flops(const Config& cfg, int evals) {
  int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  auto ch = cfg.model.channels.empty() ? default_channels(cfg.model) : cfg.model.channels;
  const ArchSpec spec = build_spec(cfg.model, res, ch);
  const CostFn flops = flops_fn(cfg.model, res);  // what the search's rescaling calls
  int64_t sink = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < evals; ++i) {
    const size_t l = size_t(i) % ch.size();
    ch[l] += spec.layers[l].multiple;  // a different vector each call, as in the search's bisection
    sink += flops(ch);
    ch[l] -= spec.layers[l].multiple;
  }
  double s = seconds_since(t0);
  return {{"arch", cfg.model.arch},
          {"depth", cfg.model.depth},
          {"layers", ch.size()},
          {"evals", evals},
          {"microseconds_per_eval", 1e6 * s / evals},
          {"checksum", sink}};
}

json bench_rescale(const Config& cfg, int steps) {
  const int res = resolve_resolution(cfg.model, nominal_resolution(cfg.data));
  const auto c0 = cfg.model.channels.empty() ? default_channels(cfg.model) : cfg.model.channels;
  CostFn cost = BudgetCost::cost_fn(config_budget(cfg.model, res, cfg.search));
  const int64_t b0 = cost(c0);
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  SearchOptions exact = cfg.search, reference = cfg.search;
  exact.rescale = RescaleMode::kExact;
  reference.rescale = RescaleMode::kReference;
  const ChannelGrid grid = channel_grid(cfg.search, build_spec(cfg.model, res, c0));
  const bool with_reference = std::all_of(grid.multiple.begin(), grid.multiple.end(), [](int64_t m) { return m == 1; });
  struct Acc {
    double max_err = 0, sum_err = 0, seconds = 0;
    int within = 0;
  } ex, ref;
  set_log_level("error");  // the exact rescaling warns when the budget is out of reach
  auto c = c0;
  for (int t = 0; t < steps; ++t) {
    std::vector<double> fur(c.size());
    for (auto& v : fur) v = u(rng);
    auto run = [&](const SearchOptions& s, Acc& acc) {
      auto t0 = Clock::now();
      Adjustment a = adjust_channels(c, c0, fur, {}, 0, s, cost, b0, grid);
      acc.seconds += seconds_since(t0);
      double e = std::abs(a.rescaled.rel_error);
      acc.max_err = std::max(acc.max_err, e);
      acc.sum_err += e;
      acc.within += e <= s.flops_tolerance;
      return a.channels;
    };
    if (with_reference) run(reference, ref);
    c = run(exact, ex);  // the walk follows the exact vectors
  }
  auto summary = [&](const Acc& a) -> json {
    return {{"max_abs_rel_error", a.max_err},
            {"mean_abs_rel_error", a.sum_err / steps},
            {"within_tolerance", a.within},
            {"ms_per_step", 1e3 * a.seconds / steps}};
  };
  return {{"arch", cfg.model.arch},
          {"depth", cfg.model.depth},
          {"layers", c0.size()},
          {"budget", enum_name(cfg.search.budget)},
          {"channel_multiple", cfg.search.channel_multiple},
          {"tolerance", cfg.search.flops_tolerance},
          {"steps", steps},
          {"exact", summary(ex)},
          {"reference", with_reference ? summary(ref) : json(nullptr)}};
}

json bench_latency(const Config& cfg, int batch, int warmup, int reps) {
  const torch::Device dev = setup_device(cfg.runtime);
  const ArchSpec spec = build_spec(cfg.model, resolve_resolution(cfg.model, nominal_resolution(cfg.data)));
  Latency l = measure_latency(spec, dev, batch, warmup, reps);
  Latency ts = measure_export_latency(spec, dev, batch, warmup, reps, true);
  return {{"arch", cfg.model.arch},
          {"channels", spec.channels},
          {"flops", spec_flops(spec)},
          {"device", dev.str()},
          {"threads", torch::get_num_threads()},
          {"batch", batch},
          {"reps", reps},
          {"median_ms", l.median_ms},
          {"p90_ms", l.p90_ms},
          {"torchscript_fold_bn_median_ms", ts.median_ms},
          {"torchscript_fold_bn_p90_ms", ts.p90_ms}};
}

json bench_fur(const RunSession& session, const std::string& checkpoint, int train_steps) {
  const Config& cfg = session.config();
  const torch::Device dev = session.device();
  set_log_level("warn");
  ModelOptions m;
  torch::manual_seed(1);
  GraphNet net = checkpoint.empty() ? GraphNet(session.spec()) : load_model(checkpoint, m);
  net->to(dev);
  auto val = session.eval_loader(Split::kVal);
  const uint64_t seed = derive_seed(uint64_t(cfg.runtime.seed), "fur-iter", 0);
  FurOptions off = cfg.fur, on = cfg.fur;
  off.cache_mb = 0;
  if (on.cache_mb == 0) on.cache_mb = FurOptions{}.cache_mb;
  auto t0 = Clock::now();
  FurResult a = estimate_fur(net, *val, off, dev, session.amp(), seed);
  sync(dev);
  const double off_s = seconds_since(t0);
  auto t1 = Clock::now();
  FurResult b = estimate_fur(net, *val, on, dev, session.amp(), seed);
  sync(dev);
  const double on_s = seconds_since(t1);
  double diff = 0;
  for (size_t l = 0; l < a.fur.size(); ++l) diff = std::max(diff, std::abs(a.fur[l] - b.fur[l]));
  // One iteration's training: epochs x steps per epoch, at the measured step time (on a copy of the net).
  Config tc = cfg;
  tc.train.epochs = 1000000;
  Trainer timer(trainer_options(tc), session.data(), dev);
  torch::manual_seed(1);
  GraphNet tnet(net->spec());
  const double step_s = time_train_steps(timer, tnet, 2, train_steps, dist::single_process()) / train_steps;
  const int epochs = cfg.search.epochs > 0 ? cfg.search.epochs : cfg.train.epochs;
  const int64_t steps_per_epoch =
      (session.data().split_size(Split::kTrain) + cfg.train.batch_size - 1) / cfg.train.batch_size;
  const double train_s = step_s * double(steps_per_epoch) * epochs;
  json j = {{"arch", net->spec().arch},
            {"layers", net->num_slots()},
            {"repeats", cfg.fur.repeats},
            {"val_images", a.base.n},
            {"device", dev.str()},
            {"threads", torch::get_num_threads()},
            {"cache_mb", on.cache_mb},
            {"fur_seconds_uncached", off_s},
            {"fur_seconds_cached", on_s},
            {"speedup", off_s / on_s},
            {"max_abs_fur_diff", diff},
            {"iteration_train_seconds_estimate", train_s},
            {"fur_share_uncached", off_s / (off_s + train_s)},
            {"fur_share_cached", on_s / (on_s + train_s)}};
  add_peak_memory(j, dev);
  return j;
}

namespace {

json timed_search(const Config& cfg, const std::shared_ptr<const dist::World>& world, const std::string& out) {
  RunSession session(cfg, world);
  // A bench run starts afresh each time: the earlier one in `out` goes, unless a live process holds it.
  const RunDir run = RunDir::create(
      session, out, "", [&](const RunDir& d) { d.write_json("config.json", config_to_json(cfg)); },
      /*replace=*/true);
  const std::string& dir = run.path();
  auto t0 = Clock::now();
  run_search(session, run, false);
  const double seconds = seconds_since(t0);
  SearchRecord s = read_record_as<SearchRecord>(dir + "/search.json");
  TimesRecord times = read_record_as<TimesRecord>(dir + "/times.json");
  double train_s = 0, fur_s = 0;
  for (const auto& t : times.iterations) {
    train_s += t.train_seconds;
    fur_s += t.fur_seconds;
  }
  json epochs = json::array();
  for (const auto& it : s.iterations) epochs.push_back(it.epochs ? *it.epochs : s.epochs_per_iteration);
  return {{"seconds", seconds},
          {"init", s.init},
          {"first_train_seconds", times.iterations.empty() ? 0.0 : times.iterations.front().train_seconds},
          {"iterations", s.iterations.size()},
          {"init_channels", s.init_channels},
          {"epochs", epochs},
          {"train_seconds", train_s},
          {"fur_seconds", fur_s},
          {"fur_share", fur_s / seconds},
          {"best_iteration", s.best->iteration},
          {"best_channels", s.best->channels},
          {"best_val_top1", s.best->val_top1},
          {"last_channels", s.iterations.back().next_channels}};
}

}  // namespace

json bench_search(const Config& cfg, const std::shared_ptr<const dist::World>& world, const std::string& out_dir,
                  bool uncached, const std::string& pretrained) {
  Config base = cfg;
  base.search.select = SelectMode::kArgmax;
  base.model.weights.clear();
  base.search.init = SearchInit::kScratch;
  base.search.init_epochs = 0;
  Config cold = base, warm = base;
  cold.search.warm_start = false;
  warm.search.warm_start = true;
  json j = {{"arch", cfg.model.arch}};
  j["cold"] = timed_search(cold, world, out_dir + "/cold");
  j["warm"] = timed_search(warm, world, out_dir + "/warm");
  j["speedup"] = j["cold"]["seconds"].get<double>() / j["warm"]["seconds"].get<double>();
  if (!pretrained.empty()) {  // the trained original as iteration 0, then warm-started iterations
    Config pre = warm;
    pre.model.weights = pretrained;
    pre.search.init = SearchInit::kPretrained;
    pre.search.init_epochs = cfg.search.init == SearchInit::kPretrained ? cfg.search.init_epochs : 0;
    j["pretrained_warm"] = timed_search(pre, world, out_dir + "/pretrained_warm");
  }
  if (uncached) {
    Config off = cold;
    off.fur.cache_mb = 0;
    j["cold_uncached"] = timed_search(off, world, out_dir + "/cold_uncached");
  }
  // Costs in trainings of the original network: the cold search's iteration 0 is one (on the search's split).
  const double one = j["cold"]["first_train_seconds"].get<double>();
  j["original_training_seconds"] = one;
  for (const char* k : {"cold", "warm", "pretrained_warm", "cold_uncached"})
    if (j.contains(k) && one > 0) j[k]["trainings"] = j[k]["seconds"].get<double>() / one;
  j["fur_cache_mb"] = cfg.fur.cache_mb;
  j["device"] = setup_device(cfg.runtime).str();
  j["threads"] = torch::get_num_threads();
  return j;
}

json bench_optim(const Config& cfg, int steps) {
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
  // Each implementation steps the same parameters `steps` times after 5 untimed steps; the gradients stay
  // fixed, so only the update is timed. Returns microseconds per step.
  auto time_steps = [&](const std::function<void()>& step) {
    for (auto& p : params) p.mutable_grad() = torch::randn_like(p, torch::MemoryFormat::Preserve);
    for (int i = 0; i < 5; ++i) step();
    sync(dev);
    auto t0 = Clock::now();
    for (int i = 0; i < steps; ++i) step();
    sync(dev);
    return 1e6 * seconds_since(t0) / steps;
  };
  torch::optim::SGD reference(
      params, torch::optim::SGDOptions(1e-4).momentum(t.momentum).weight_decay(t.weight_decay).nesterov(t.nesterov));
  Sgd foreach_sgd(params, sgd_options(t), /*fused=*/false), fused_sgd(params, sgd_options(t), /*fused=*/true);
  double us_ref = time_steps([&] { reference.step(); });
  double us_foreach = time_steps([&] { foreach_sgd.step(1e-4); });
  json j = {{"arch", cfg.model.arch},   {"device", dev.str()},
            {"tensors", params.size()}, {"parameters", numel},
            {"steps", steps},           {"torch_optim_sgd_us", us_ref},
            {"foreach_us", us_foreach}, {"foreach_speedup", us_ref / us_foreach}};
  if (fused_sgd_available()) {
    double us_fused = time_steps([&] { fused_sgd.step(1e-4); });
    j["fused_us"] = us_fused;
    j["fused_speedup"] = us_ref / us_fused;
  }
  return j;
}

}  // namespace netadj
