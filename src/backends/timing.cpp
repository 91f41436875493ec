#include "netadj/backends/timing.h"

#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>

#include "netadj/backends/model.h"
#include "netadj/backends/torchscript.h"
#include "netadj/util/stats.h"

namespace netadj {

Latency time_forward(const std::function<void()>& forward, const torch::Device& dev, int warmup, int reps) {
  using Clock = std::chrono::steady_clock;
  auto sync = [&] {
    if (dev.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < warmup; ++i) forward();
  sync();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    forward();
    sync();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  Latency l;
  l.reps = reps;
  if (!ms.empty()) {
    l.median_ms = median(ms);
    l.p90_ms = ms[std::min(ms.size() - 1, size_t(std::ceil(0.9 * double(ms.size())) - 1))];
  }
  return l;
}

Latency measure_latency(const ArchSpec& spec, const torch::Device& dev, int batch, int warmup, int reps) {
  torch::manual_seed(0);
  GraphNet net(spec);
  net->to(dev);
  net->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({batch, spec.in_channels, spec.resolution, spec.resolution}, torch::TensorOptions(dev));
  Latency l = time_forward([&] { net->forward(x); }, dev, warmup, reps);
  l.batch = batch;
  return l;
}

namespace {

// A freshly allocated export of `spec` (seeded weights) on `dev` and a random input batch for it, to be timed.
struct TimedExport {
  torch::jit::Module module;
  std::vector<torch::jit::IValue> input;
};
TimedExport timed_export(const ArchSpec& spec, const torch::Device& dev, int batch, bool fold_bn) {
  torch::manual_seed(0);
  GraphNet net(spec);
  net->eval();
  TimedExport e{to_torchscript(*net, fold_bn), {}};
  e.module.to(dev);
  e.input.emplace_back(
      torch::randn({batch, spec.in_channels, spec.resolution, spec.resolution}, torch::TensorOptions(dev)));
  return e;
}

}  // namespace

// Each instance is a module of its own (its weights allocated anew): on a CPU the same network's median moves by
// up to a third from one allocation to the next (where its weights land in memory), so one instance says more
// about its allocation than about the widths.
Latency measure_export_latency(const ArchSpec& spec, const torch::Device& dev, int batch, int warmup, int reps,
                               bool fold_bn, int instances) {
  torch::NoGradGuard no_grad;
  std::vector<double> medians, p90s;
  for (int k = 0; k < std::max(1, instances); ++k) {
    TimedExport e = timed_export(spec, dev, batch, fold_bn);
    const Latency one = time_forward([&] { e.module.forward(e.input); }, dev, warmup, reps);
    medians.push_back(one.median_ms);
    p90s.push_back(one.p90_ms);
  }
  std::sort(medians.begin(), medians.end());
  std::sort(p90s.begin(), p90s.end());
  Latency l;
  l.median_ms = medians[medians.size() / 2];
  l.p90_ms = p90s[p90s.size() / 2];
  l.reps = reps * std::max(1, instances);
  l.batch = batch;
  return l;
}

namespace {

// One round of interleaved timings: every spec's export built anew (a fresh allocation), each spec's median.
std::vector<double> interleaved_round(const std::vector<ArchSpec>& specs, const torch::Device& dev, int batch,
                                      int warmup, int reps, std::mt19937_64& rng) {
  std::vector<TimedExport> nets;
  for (const ArchSpec& s : specs) nets.push_back(timed_export(s, dev, batch, true));
  for (TimedExport& n : nets)
    for (int i = 0; i < warmup; ++i) n.module.forward(n.input);
  std::vector<std::vector<double>> ms(specs.size());
  std::vector<size_t> order(specs.size());
  std::iota(order.begin(), order.end(), size_t(0));
  for (int r = 0; r < reps; ++r) {
    std::shuffle(order.begin(), order.end(), rng);
    // Two untimed calls first, then three timed ones: they find the network's weights in cache and the CPU in the
    // state a deployment calling one network over and over leaves it (not as the previous network left them).
    for (size_t k : order) {
      const Latency l = time_forward([&] { nets[k].module.forward(nets[k].input); }, dev, 2, 3);
      ms[k].push_back(l.median_ms);
    }
  }
  std::vector<double> out;
  for (const auto& v : ms) out.push_back(median(v));
  return out;
}

}  // namespace

// Over kLatencyInstances rounds, each with every network allocated anew: a spec's latency is the median of its
// rounds' medians, so where one allocation's weights landed does not decide it.
std::vector<double> interleaved_latency(const std::vector<ArchSpec>& specs, const torch::Device& dev, int batch,
                                        int warmup, int reps, uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  std::vector<std::vector<double>> rounds(specs.size());
  const int per_round = std::max(1, (reps + kLatencyInstances - 1) / kLatencyInstances);
  for (int i = 0; i < kLatencyInstances; ++i) {
    const std::vector<double> ms = interleaved_round(specs, dev, batch, warmup, per_round, rng);
    for (size_t k = 0; k < specs.size(); ++k) rounds[k].push_back(ms[k]);
  }
  std::vector<double> out;
  for (const auto& v : rounds) out.push_back(median(v));
  return out;
}

void keep_onednn_kernels() {
  if (!std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY")) setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16384", 0);
}

}  // namespace netadj
