// TrainState's checkpoint (save, load) and its agreement over the ranks (broadcast).
#include "netadj/train/state.h"

#include <fmt/format.h>

#include "netadj/distributed/distributed.h"
#include "netadj/train/checkpoint.h"
#include "netadj/util/error.h"

namespace netadj {
using nlohmann::json;

namespace {

std::vector<at::Generator> rng_generators(const torch::Device& device) {
  std::vector<at::Generator> g = {at::globalContext().defaultGenerator(c10::DeviceType::CPU)};
  if (device.is_cuda()) g.push_back(at::globalContext().defaultGenerator(device));
  return g;
}

std::string device_type(const torch::Device& d) { return c10::DeviceTypeName(d.type(), /*lower_case=*/true); }

}  // namespace

TrainState::TrainState(GraphNet& net, Sgd& opt, GradScaler* scaler, torch::Device device)
    : net_(net), opt_(opt), scaler_(scaler), device_(device) {}

void TrainState::save(const std::string& path, bool keep_previous, const ModelOptions& model) const {
  torch::serialize::OutputArchive ar, model_ar, opt_ar;
  net_->save(model_ar);
  opt_.save(opt_ar);
  ar.write("model", model_ar);
  ar.write("optimizer", opt_ar);
  if (scaler_) {
    torch::serialize::OutputArchive scaler_ar;
    scaler_->save(scaler_ar);
    ar.write("scaler", scaler_ar);
  }
  CheckpointRecord meta;
  meta.epoch = int(history.size()) - 1;
  meta.history = history;
  if (position.step > 0) {
    meta.partial = position;
    meta.partial->device_type = device_type(device_);
    auto gens = rng_generators(device_);
    for (size_t i = 0; i < gens.size(); ++i) ar.write("rng_" + std::to_string(i), gens[i].get_state());
  }
  ar.write("meta", c10::IValue(versioned(meta).dump()));
  write_model_options(ar, model, net_->spec());
  save_archive(ar, path, keep_previous);
}

TrainState::Loaded TrainState::load(const std::string& path) {
  torch::serialize::InputArchive ar, model_ar, opt_ar;
  CheckpointRecord meta;
  Loaded loaded;
  try {
    load_archive(ar, path, device_);
    c10::IValue meta_value;
    if (!ar.try_read("meta", meta_value))
      throw DataError(path + ": a model without training state (such as a run's model.pt), not a checkpoint");
    json j = json::parse(meta_value.toStringRef(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw_malformed_record(path + " (meta)", "not JSON");
    meta = record_from_json<CheckpointRecord>(j, path + " (meta)");
    check_module_layout(ar, path, net_->spec().arch);
    ar.read("model", model_ar);
    ar.read("optimizer", opt_ar);
    net_->load(model_ar);
    opt_.load(opt_ar);
    torch::serialize::InputArchive scaler_ar;
    if (scaler_ && ar.try_read("scaler", scaler_ar)) scaler_->load(scaler_ar);
    history = meta.history;
    position = EpochPosition{};
    position.epoch = meta.epoch + 1;
    if (meta.partial) {
      position = *meta.partial;
      loaded.written_on = meta.partial->device_type;
      loaded.generators = loaded.written_on == device_type(device_);
      auto gens = rng_generators(device_);
      for (size_t i = 0; loaded.generators && i < gens.size(); ++i) {
        torch::Tensor state;
        ar.read("rng_" + std::to_string(i), state);
        gens[i].set_state(state.cpu());
      }
    }
  } catch (const c10::Error& e) {
    throw DataError(path + ": cannot resume from checkpoint (" + e.what_without_backtrace() + ")");
  }
  return loaded;
}

void TrainState::broadcast(const dist::World& world, const std::string& where) const {
  if (!world.distributed()) return;
  dist::broadcast_state(world, *net_);
  std::vector<torch::Tensor> at = {torch::tensor({int64_t(position.epoch), position.step}, torch::kInt64)};
  auto mine = at[0].clone();
  world.broadcast(at);
  if (!at[0].equal(mine))
    throw dist::DistError(fmt::format(
        "{}rank {} would resume at epoch {} step {} but rank 0 at epoch {} step {}: every rank must see the same "
        "run directory (a filesystem they share)",
        where, world.rank(), position.epoch + 1, position.step, at[0][0].item<int64_t>() + 1,
        at[0][1].item<int64_t>()));
}

}  // namespace netadj
