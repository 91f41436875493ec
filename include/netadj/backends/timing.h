#pragma once
// Timing a network's forward: one network, its TorchScript export, and many networks interleaved (the latency
// tables, a search's measured latency and the latency benches).
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "netadj/nets/spec.h"

namespace netadj {

/// Forward latency: median and p90 over `reps` timed calls after `warmup` untimed ones (eval mode, no grad).
struct Latency {
  double median_ms = 0, p90_ms = 0;
  int batch = 1, reps = 0;
};
/// Times `forward` (which runs one batch on `dev`; CUDA is synchronized around each call).
Latency time_forward(const std::function<void()>& forward, const torch::Device& dev, int warmup, int reps);
/// The latency of a freshly initialized network of `spec` at `batch` on `dev`.
Latency measure_latency(const ArchSpec& spec, const torch::Device& dev, int batch, int warmup, int reps);
/// The same for the TorchScript export of that network (BatchNorm folded when fold_bn); with `instances` > 1,
/// the median over that many separately allocated modules of each one's median (and likewise p90).
Latency measure_export_latency(const ArchSpec& spec, const torch::Device& dev, int batch, int warmup, int reps,
                               bool fold_bn, int instances = 1);

/// Separately allocated instances a whole network is timed over (the table's rest, a search's measured latency,
/// the benches' interleaved timings): one instance's median depends on where its weights landed in memory.
constexpr int kLatencyInstances = 5;
/// Medians of each spec's export (folded BatchNorm) at `batch`, timed interleaved over `reps` rounds (each timed
/// call right after an untimed one of the same network, which warms the cache as repeated deployment calls do),
/// split over kLatencyInstances allocations of every network: the median of their medians.
std::vector<double> interleaved_latency(const std::vector<ArchSpec>& specs, const torch::Device& dev, int batch,
                                        int warmup, int reps, uint64_t seed = 1);

/// Lets oneDNN keep the compiled kernels of many networks (16384 primitives instead of its 1024) unless
/// ONEDNN_PRIMITIVE_CACHE_CAPACITY is set: timing dozens of networks in one process (latency tables, interleaved
/// benchmarks) otherwise evicts each network's kernels before its next timed call, which then recompiles them
/// (slower than the network runs alone, as deployed; docs/latency-table.md). Called before any op runs.
void keep_onednn_kernels();

}  // namespace netadj
