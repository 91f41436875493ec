// Saved models (model.pt: weights + the model options that rebuild them) and the archive writer that
// every checkpoint goes through (temp file, fsync, rename).
#include "netadj/train/checkpoint.h"

#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {
using nlohmann::json;

void save_archive(torch::serialize::OutputArchive& ar, const std::string& path) {
  std::string tmp = path + ".tmp";
  try {
    ar.save_to(tmp);
  } catch (const c10::Error& e) {
    remove_file(tmp);
    throw IoError(path + ": cannot write checkpoint: " + e.what_without_backtrace());
  }
  // fsync + rename through the same path as every other result file.
  write_file_atomic(path, read_file(tmp));
  remove_file(tmp);
}

void write_model_options(torch::serialize::OutputArchive& ar, const ModelOptions& m, const ArchSpec& spec) {
  Config c;
  c.model = m;
  c.model.channels = spec.channels;
  c.model.resolution = spec.resolution;
  ar.write("model_options", c10::IValue(config_to_json(c)["model"].dump()));
}

void save_model(GraphNet& net, const ModelOptions& m, const std::string& path) {
  torch::serialize::OutputArchive ar, model_ar;
  net->save(model_ar);
  ar.write("model", model_ar);
  write_model_options(ar, m, net->spec());
  save_archive(ar, path);
}

GraphNet load_model(const std::string& path, ModelOptions& m) {
  if (!file_exists(path)) throw DataError(path + ": model file not found");
  torch::serialize::InputArchive ar, model_ar;
  try {
    ar.load_from(path, torch::kCPU);  // a model saved on a GPU loads anywhere
    c10::IValue opts;
    ar.read("model_options", opts);
    json j = json::parse(opts.toStringRef());
    m = config_from_json(json{{"model", j}}, path).model;
    ar.read("model", model_ar);
  } catch (const c10::Error& e) {
    throw DataError(path + ": not a netadj model or checkpoint (" + e.what_without_backtrace() + ")");
  } catch (const json::exception& e) {
    throw DataError(path + ": not a netadj model or checkpoint (" + std::string(e.what()) + ")");
  }
  GraphNet net(build_spec(m, m.resolution));
  try {
    net->load(model_ar);
  } catch (const c10::Error& e) {
    throw DataError(path + ": weights do not match the recorded architecture");
  }
  return net;
}

}  // namespace netadj
