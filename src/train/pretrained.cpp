// model.weights: reading, checking and loading the trained weights a run starts from (train/pretrained.h).
#include "netadj/train/pretrained.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "netadj/backends/weights.h"
#include "netadj/nets/spec.h"
#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {
namespace {

constexpr char kWeightsMagic[] = "NETADJW1";
constexpr const char* kWeightsKinds =
    "model.weights takes a netadj-weights file from netadj import or a model.pt from netadj train or search";

void check_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw DataError(path + ": model.weights file not found (" + kWeightsKinds + ")");
}

// The file's size and CRC-32.
void checksum(const std::string& path, WeightsRecord& w) {
  check_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": model.weights file unreadable");
  std::vector<char> buf(size_t(1) << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  w.bytes = 0;
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), uInt(got));
    w.bytes += got;
  }
  if (in.bad()) throw DataError(path + ": model.weights file could not be read");
  w.crc32 = int64_t(crc);
}

// True for a netadj-weights file, false for a netadj model.pt; DataError for anything else.
bool is_weights_file(const std::string& path) {
  check_file(path);
  if (file_head(path, 8) == std::string(kWeightsMagic, 8)) return true;
  if (!is_zip_archive(path))
    throw DataError(path + ": " + file_kind(path) + ", not a weights file (" + kWeightsKinds + ")");
  return false;
}

// A netadj-weights file holds an imported network's weights: the architecture must be one `netadj import` writes.
void need_imported_arch(const ModelOptions& m) {
  if (find_arch(m.arch).imported) return;
  throw DataError(m.weights + ": a netadj-weights file holds an imported network's weights and needs model.arch = " +
                  imported_arch_names() + " with that network file; for " + m.arch + " give a netadj model.pt");
}

std::string vec(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ", ")); }

// The first difference between the searchable layers of the weights' network and the config's, or "".
std::string layer_difference(const ArchSpec& have, const ArchSpec& want) {
  if (have.layers.size() != want.layers.size())
    return fmt::format("have {} searchable layers; the config's network has {}", have.layers.size(),
                       want.layers.size());
  for (size_t i = 0; i < have.layers.size(); ++i) {
    if (have.layers[i].name != want.layers[i].name)
      return fmt::format("name searchable layer {} '{}'; the config's network names it '{}'", i, have.layers[i].name,
                         want.layers[i].name);
    if (have.channels[i] != want.channels[i])
      return fmt::format("have the channel vector {}; the config's is {} (layer {} '{}': {} vs {})", vec(have.channels),
                         vec(want.channels), i, want.layers[i].name, have.channels[i], want.channels[i]);
  }
  return "";
}

// A model.pt's network against the config's: the same family, depth, classes, input and widths.
void check_same_network(const std::string& path, const ModelOptions& have_m, const ArchSpec& have,
                        const ModelOptions& want_m, const ArchSpec& want) {
  auto refuse = [&](const std::string& what) { throw DataError(path + ": model.weights " + what); };
  if (have_m.arch != want_m.arch)
    refuse(fmt::format("are a {} network; the config's model.arch is {}", have_m.arch, want_m.arch));
  if (find_arch(have_m.arch).has_depth && have_m.depth != want_m.depth)
    refuse(fmt::format("are of depth {}; the config's model.depth is {}", have_m.depth, want_m.depth));
  if (have.num_classes != want.num_classes)
    refuse(fmt::format("have {} classes; the config's model.num_classes is {}", have.num_classes, want.num_classes));
  if (have.in_channels != want.in_channels)
    refuse(fmt::format("take {} input channels; the config's model.in_channels is {}", have.in_channels,
                       want.in_channels));
  const std::string diff = layer_difference(have, want);
  if (!diff.empty()) refuse(diff + "; set model.weights to \"\" to train this vector from scratch");
  if (have.resolution != want.resolution)
    logger()->warn("{}: the weights were trained at resolution {}; this run uses {}", path, have.resolution,
                   want.resolution);
}

// Every parameter and buffer of `dst` from the same name in `src`; names and shapes must match both ways.
void copy_state(GraphNet& src, GraphNet& dst, const std::string& path) {
  torch::NoGradGuard ng;
  auto copy_all = [&](const torch::OrderedDict<std::string, torch::Tensor>& from,
                      const torch::OrderedDict<std::string, torch::Tensor>& to) {
    for (const auto& item : to) {
      const torch::Tensor* s = from.find(item.key());
      if (!s) throw DataError(path + ": model.weights have no tensor '" + item.key() + "'");
      if (s->sizes() != item.value().sizes())
        throw DataError(fmt::format("{}: model.weights tensor '{}' has shape [{}]; the config's network needs [{}]",
                                    path, item.key(), fmt::join(s->sizes(), ", "),
                                    fmt::join(item.value().sizes(), ", ")));
      item.value().copy_(*s);
    }
    for (const auto& item : from)
      if (!to.find(item.key()))
        throw DataError(path + ": model.weights tensor '" + item.key() +
                        "' belongs to no layer of the config's network");
  };
  copy_all(src->named_parameters(), dst->named_parameters());
  copy_all(src->named_buffers(), dst->named_buffers());
}

}  // namespace

WeightsRecord inspect_weights(const ModelOptions& m) {
  WeightsRecord w;
  if (m.weights.empty()) return w;
  w.path = m.weights;
  checksum(m.weights, w);
  if (is_weights_file(m.weights)) {
    need_imported_arch(m);
    w.format = "netadj-weights";
    if (m.graph && m.graph->contains("normalize")) {
      const nlohmann::json& n = (*m.graph)["normalize"];
      w.mean = n.at("mean").get<std::vector<double>>();
      w.stddev = n.at("std").get<std::vector<double>>();
    }
    return w;
  }
  w.format = "netadj-model";
  ModelOptions have;
  Normalization n;
  load_model(m.weights, have, &n);
  w.mean.assign(n.mean.begin(), n.mean.end());
  w.stddev.assign(n.std.begin(), n.std.end());
  return w;
}

Normalization weights_normalization(const WeightsRecord& w) {
  Normalization n;
  n.mean.assign(w.mean.begin(), w.mean.end());
  n.std.assign(w.stddev.begin(), w.stddev.end());
  return n;
}

void load_pretrained(const ModelOptions& m, GraphNet& net) {
  const ArchSpec& want = net->spec();
  if (is_weights_file(m.weights)) {
    need_imported_arch(m);
    ModelOptions file_widths = m;
    file_widths.channels.clear();
    const std::string diff = layer_difference(build_spec(file_widths, want.resolution), want);
    if (!diff.empty())
      throw DataError(m.weights + ": model.weights (the network file's widths) " + diff +
                      "; leave model.channels unset to start from them");
    load_weights(*net, read_weights(m.weights), m.weights);
    return;
  }
  ModelOptions have;
  GraphNet src = load_model(m.weights, have);
  check_same_network(m.weights, have, src->spec(), m, want);
  copy_state(src, net, m.weights);
}

}  // namespace netadj
