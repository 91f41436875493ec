#pragma once
// Benchmarks behind `netadj bench`: each measures in one process and returns one JSON object, so
// ratios are taken against a baseline run on the same machine at the same time.
#include <nlohmann/json.hpp>

#include "netadj/config/config.h"
#include "netadj/run/session.h"

namespace netadj {

/// Training and evaluation images/s after `warmup` untimed steps; peak host (and device) memory.
nlohmann::json bench_train(const RunSession& session, int warmup, int steps);
/// Training input pipeline images/s over `batches` batches, and the dataset's load time.
nlohmann::json bench_data(const Config& cfg, int batches);
/// Microseconds per FLOPs evaluation (spec build + count), as the rescaling's bisection calls it.
nlohmann::json bench_flops(const Config& cfg, int evals);
/// Microseconds per optimizer step: torch::optim::SGD against netadj's _foreach_ and fused steps.
nlohmann::json bench_optim(const Config& cfg, int steps);

/// FUR on the validation split without and with the prefix cache (same seed): seconds of each, the
/// speed-up, the largest FUR difference, and FUR's share of one search iteration (its epochs of training,
/// timed over `train_steps` steps and extrapolated) before and after. `checkpoint`: a trained network
/// (model.pt or checkpoint.pt); empty: the config's network with fresh weights.
nlohmann::json bench_fur(const RunSession& session, const std::string& checkpoint, int train_steps);

/// The same short search (the config's, with search.select = argmax) cold and with search.warm_start, in
/// `out_dir`/cold and `out_dir`/warm (and, with `uncached`, cold without the FUR prefix cache in
/// `out_dir`/cold_uncached): wall seconds of each, the cold/warm ratio, each one's best and last vectors with
/// their validation accuracy, and FUR's share of the search time. With `pretrained` (a trained model.pt of the
/// config's network), also the warm search from it (search.init = pretrained, search.init_epochs as the config
/// says) in `out_dir`/pretrained_warm. Each search's cost is also given in trainings of the original network
/// (the cold search's iteration 0). The searches run on `world` (join_world).
nlohmann::json bench_search(const Config& cfg, const std::shared_ptr<const dist::World>& world,
                            const std::string& out_dir, bool uncached, const std::string& pretrained = "");

/// The rescaling to the budget over `steps` adjustment steps with seeded random FUR, from the config's
/// vector: the reference bisection and the exact rescaling on the same adjusted vectors; relative
/// budget errors and milliseconds per rescaling.
nlohmann::json bench_rescale(const Config& cfg, int steps);
/// Median and p90 forward latency (ms) of the config's network (model.channels) at `batch`: netadj's
/// module and its TorchScript export with folded BatchNorm (what a deployment runs).
nlohmann::json bench_latency(const Config& cfg, int batch, int warmup, int reps);

/// `netadj bench lut`: measures the latency table of the config's network (its widths' grids, search.min_channels
/// up) on the config's device with `batch` and `threads` (0: as set) into `out`, or finishes the one `out` holds
/// (which must be for the same batch, threads and network). `reps` timed calls per width pair, `points` widths per
/// axis (more: a denser grid that follows the kernels' preferred widths more closely, at more timing).
nlohmann::json bench_lut(const Config& cfg, const std::string& out, int batch, int threads, int reps, int points = 8);
/// The latency model of `table` against measurement: `vectors` random widths (compare's random control: log-normal
/// sigma 0.3 around the config's vector, rescaled to search.budget) and the config's own, each exported with folded
/// BatchNorm and timed interleaved (`reps` rounds, every network once per round in a shuffled order) with the
/// table's batch and threads, each timed call after an untimed one; predicted and measured medians, relative errors,
/// how many within 10%.
nlohmann::json bench_latency_model(const Config& cfg, const std::string& table, int vectors, int reps, bool force);
/// A search's vectors (its original and every iteration's, then the last adjustment's) timed interleaved as
/// above at `batch` with the current threads; each median and its ratio to the original's.
nlohmann::json bench_latency_search(const Config& cfg, const std::string& search_dir, int batch, int reps);
}  // namespace netadj
