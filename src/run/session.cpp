#include "netadj/run/session.h"

#include <fmt/ranges.h>

#ifdef NETADJ_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "netadj/distributed/distributed.h"
#include "netadj/train/pretrained.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {

namespace {
void check_model_matches_data(const ModelOptions& m, const DataModule& d) {
  if (m.in_channels != d.channels())
    throw ConfigError("model.in_channels = " + std::to_string(m.in_channels) + ": the " + d.name() + " images have " +
                      std::to_string(d.channels()) + " channel(s)");
  if (m.num_classes != d.classes())
    throw ConfigError("model.num_classes = " + std::to_string(m.num_classes) + ": " + d.name() + " has " +
                      std::to_string(d.classes()) + " classes");
}
}  // namespace

RunSession::RunSession(Config cfg, std::shared_ptr<const dist::World> world)
    : cfg_(std::move(cfg)),
      world_(world ? std::move(world) : join_world(cfg_)),
      device_(setup_device(cfg_.runtime, world_->local_rank(), world_->local_size())),
      data_(std::make_unique<DataModule>(cfg_.data, cfg_.runtime.seed)),
      amp_(resolve_amp(cfg_.runtime, device_)) {
  check_model_matches_data(cfg_.model, *data_);
  cfg_.model.resolution = resolve_resolution(cfg_.model, data_->resolution());
  warn_if_far_from_design(cfg_.model, cfg_.model.resolution);
  if (cfg_.model.weights.empty()) return;
  weights_ = inspect_weights(cfg_.model);
  {  // weights that do not fit the config's network are refused before a run directory exists
    GraphNet probe(spec());
    load_pretrained(cfg_.model, probe);
  }
  const Normalization n = weights_normalization(weights_);
  if (n.empty()) {
    logger()->info("{}: no input normalization recorded with the weights; using the one measured on {}",
                   cfg_.model.weights, data_->name());
  } else {
    data_->set_normalization(n, cfg_.model.weights);
    logger()->info("input normalization of {}: mean [{}] std [{}]", cfg_.model.weights, fmt::join(n.mean, ", "),
                   fmt::join(n.std, ", "));
  }
}

ArchSpec RunSession::spec() const { return build_spec(cfg_.model, resolution()); }

ArchSpec RunSession::spec(const std::vector<int64_t>& channels) const {
  return build_spec(cfg_.model, resolution(), channels);
}

std::unique_ptr<BatchSource> RunSession::eval_loader(Split s) const {
  return data_->loader(s, {cfg_.eval.batch_size, /*training=*/false, device_, /*seed=*/0});
}

void RunSession::check_trainable() const { rank_batch_size(cfg_.train, world().size()); }

std::shared_ptr<const dist::World> join_world(const Config& cfg) {
  const dist::Env env = dist::read_env();
  if (!env.present) return std::make_shared<const dist::World>();
  if (env.rank != 0) set_log_rank(env.rank);  // only rank 0 writes the run directory (RunDir::writes)
  torch::Device device = setup_device(cfg.runtime, env.local_rank, env.local_world);
#ifdef NETADJ_WITH_CUDA
  if (device.is_cuda()) c10::cuda::set_device(device.index());  // NCCL and default allocations on this rank's GPU
#endif
  auto timeout = std::chrono::milliseconds(static_cast<int64_t>(cfg.dist.timeout_s * 1000));
  auto world = std::make_shared<const dist::World>(dist::World::connect(env, device, timeout));
  logger()->info("data-parallel: {} ranks over {} ({} on this machine); rank 0 on {} writes the run directory",
                 env.world, world->backend(), env.local_world, device.str());
  return world;
}

int started_ranks() {
  const dist::Env env = dist::read_env();
  return env.present ? env.world : 0;
}

}  // namespace netadj
