#include "netadj/run/session.h"

#include <ctime>

#include "netadj/train/train.h"
#include "netadj/util/fs.h"

namespace netadj {

RunSession::RunSession(Config cfg)
    : cfg_(std::move(cfg)),
      device_(setup_device(cfg_.runtime)),
      data_(std::make_unique<DataModule>(cfg_.data, cfg_.runtime.seed)),
      amp_(resolve_amp(cfg_.runtime, device_)) {
  check_model_matches_data(cfg_.model, *data_);
  cfg_.model.resolution = resolve_resolution(cfg_.model, data_->resolution());
  warn_if_far_from_design(cfg_.model, cfg_.model.resolution);
}

ArchSpec RunSession::spec() const { return build_spec(cfg_.model, resolution()); }

ArchSpec RunSession::spec(const std::vector<int64_t>& channels) const {
  return build_spec(cfg_.model, resolution(), channels);
}

std::unique_ptr<BatchSource> RunSession::eval_loader(Split s) const {
  return data_->loader(s, {cfg_.eval.batch_size, /*training=*/false, device_, /*seed=*/0});
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

}  // namespace netadj
