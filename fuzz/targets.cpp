// The fuzz targets. Readers that take a path get the input through a scratch file in a private folder.
#include "targets.h"

#include <unistd.h>

#include <fstream>

#include "netadj/backends/weights.h"
#include "netadj/config/config.h"
#include "netadj/cost/latency.h"
#include "netadj/data/data.h"
#include "netadj/data/imagefolder.h"
#include "netadj/nets/graph.h"
#include "netadj/nets/spec.h"
#include "netadj/nets/table.h"
#include "netadj/records/records.h"
#include "netadj/search/search.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj::fuzz {
namespace {

// The scratch file for this process (TMPDIR or /tmp), written afresh for every input.
std::string scratch(const uint8_t* data, size_t size, const std::string& name = "input") {
  static const std::string dir = [] {
    const char* t = std::getenv("TMPDIR");
    std::string d = std::string(t && *t ? t : "/tmp") + "/netadj-fuzz-" + std::to_string(::getpid());
    make_dirs(d);
    return d;
  }();
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// The first byte picks a variant; the rest is the file.
uint8_t split_first(const uint8_t*& data, size_t& size) {
  if (size == 0) return 0;
  uint8_t b = data[0];
  ++data;
  --size;
  return b;
}

// A registered architecture at its typical depth, picked by `b`.
ModelOptions model_for(uint8_t b) {
  const auto& reg = arch_registry();
  const ArchInfo& a = reg[b % reg.size()];
  ModelOptions m;
  m.arch = a.name;
  if (a.typical_depth > 0) m.depth = a.typical_depth;
  return m;
}

// Config JSON, then NUL-separated `--set key=value` assignments; what loads is built into a spec.
void config_target(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::vector<std::string> sets;
  for (size_t p = nul; p != std::string::npos && p < in.size();) {
    size_t q = in.find('\0', p + 1);
    sets.push_back(in.substr(p + 1, q == std::string::npos ? std::string::npos : q - p - 1));
    p = q;
  }
  std::string json = in.substr(0, nul);
  Config c = load_config(scratch(reinterpret_cast<const uint8_t*>(json.data()), json.size(), "config.json"), sets);
  ArchSpec s = build_spec(c.model, resolve_resolution(c.model, nominal_resolution(c.data)));
  (void)spec_flops(s);
  (void)spec_dflops(s);
}

// A channel file for the architecture picked by the first byte, then its FLOPs.
void channels_target(const uint8_t* data, size_t size) {
  ModelOptions m = model_for(split_first(data, size));
  m.channels = read_channel_file(scratch(data, size), m);
  ArchSpec s = build_spec(m, resolve_resolution(m));
  (void)spec_flops(s);
  (void)spec_dflops(s);
}

// A FUR file for 1..64 layers (first byte).
void fur_target(const uint8_t* data, size_t size) {
  size_t layers = 1 + split_first(data, size) % 64;
  (void)read_fur_file(scratch(data, size), layers);
}

// A latency table, checked against ResNet-8 at 12x12 (forced: shapes aside) and used to predict its latency.
void latency_target(const uint8_t* data, size_t size) {
  LatencyTable t = read_latency_table(scratch(data, size));
  ModelOptions m;
  m.arch = "resnet_cifar";
  m.depth = 8;
  m.num_classes = 4;
  m.in_channels = 1;
  const ArchSpec spec = build_spec(m, 12);
  check_latency_table(t, spec, t.batch, t.threads, true, "input");
  const LatencyModel model(std::move(t));
  (void)model.predict(spec);
  (void)latency_text(model, spec);
}

// An IDX file (raw or gzip), read as images (first byte even) or labels.
void idx_target(const uint8_t* data, size_t size) {
  bool images = split_first(data, size) % 2 == 0;
  std::string path = scratch(data, size);
  if (images)
    (void)read_idx_images(path);
  else
    (void)read_idx_labels(path);
}

// A CIFAR binary batch, CIFAR-10 (first byte even) or CIFAR-100 records.
void cifar_target(const uint8_t* data, size_t size) {
  bool cifar100 = split_first(data, size) % 2 == 1;
  (void)read_cifar_file(scratch(data, size), cifar100);
}

// JPEG bytes decoded, cropped and resized as for training (first byte odd) or evaluation, to 8..71 px.
void jpeg_target(const uint8_t* data, size_t size) {
  uint8_t b = split_first(data, size);
  JpegDecodeOptions o;
  o.training = b % 2 == 1;
  o.image_size = 8 + (b >> 2);
  o.seed = b;
  o.max_image_pixels = 1 << 22;  // keeps each input fast; the limit itself is what is tested
  std::string bytes(reinterpret_cast<const char*>(data), size);
  torch::Tensor out;
  std::string why = decode_jpeg_image(bytes, o, out);
  if (!why.empty()) throw DataError("jpeg: " + why);
}

// A run record (search.json, times.json, fur.json, result.json, fur_partial.json, compare.json, a checkpoint's
// meta) as read on --resume and by report.
void records_target(const uint8_t* data, size_t size) {
  uint8_t b = split_first(data, size);
  std::string path = scratch(data, size, "record.json");
  switch (b % 7) {
    case 4:
      (void)read_record_as<FurProgress>(path);
      break;
    case 5:
      (void)read_record_as<CompareRecord>(path);
      break;
    case 6:
      (void)read_record_as<CheckpointRecord>(path);
      break;
    case 0:
      (void)read_record_as<SearchRecord>(path);
      break;
    case 1:
      (void)read_record_as<TimesRecord>(path);
      break;
    case 2:
      (void)read_record_as<FurRecord>(path);
      break;
    default:
      (void)read_record_as<TrainRecord>(path);
      break;
  }
}

// A network file (docs/graph-format.md): parsed, checked, shapes inferred and counted; its slots found and
// doubled.
void graph_target(const uint8_t* data, size_t size) {
  const Graph g = read_graph(scratch(data, size, "net.json"));
  (void)graph_cost(g);
  const std::vector<GraphSlot> slots = graph_slots(g);
  (void)graph_dflops(g, slots);
  std::vector<int64_t> wider;
  for (const GraphSlot& s : slots) wider.push_back(2 * s.width);
  (void)graph_summary_json(with_widths(g, slots, wider));  // every slot doubled, counted again
}

// A weights file (netadj import): read, then loaded into a small network file's module (names and shapes
// checked): conv (3 -> 8, 3x3), batch_norm, mean, linear (8 -> 4).
void weights_target(const uint8_t* data, size_t size) {
  const auto weights = read_weights(scratch(data, size, "weights.bin"));
  ModelOptions m;
  m.arch = "graph";
  m.num_classes = 4;
  m.graph = std::make_shared<const nlohmann::json>(nlohmann::json::parse(
      R"({"format": "netadj-graph", "version": 1, "input": {"channels": 3, "resolution": 8},
          "ops": [{"name": "conv", "op": "conv2d", "inputs": ["input"], "out": 8, "kernel": 3, "padding": 1},
                  {"name": "bn", "op": "batch_norm", "inputs": ["conv"]},
                  {"name": "gap", "op": "mean", "inputs": ["bn"]},
                  {"name": "fc", "op": "linear", "inputs": ["gap"], "out": 4}],
          "output": "fc"})"));
  GraphNet net(build_spec(m, 8));
  load_weights(*net, weights, "weights.bin");
}

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"config", "config JSON + --set assignments, validated and built into a spec", config_target},
      {"channels", "channel files (3 forms) for every architecture, then FLOPs", channels_target},
      {"fur", "FUR files (array or fur --json output)", fur_target},
      {"idx", "IDX image and label files, raw or gzip", idx_target},
      {"cifar", "CIFAR-10/100 binary batches", cifar_target},
      {"jpeg", "JPEG decode + crop/resize (training and evaluation)", jpeg_target},
      {"records", "run records read on --resume and by report", records_target},
      {"graph", "network files: parsed, checked, shapes inferred, MACs and params counted", graph_target},
      {"latency", "latency tables, checked and used to predict a network's latency", latency_target},
      {"weights", "imported weights files, loaded into a network file's module", weights_target},
  };
  return all;
}

const Target* find_target(const std::string& name) {
  for (const auto& t : targets())
    if (name == t.name) return &t;
  return nullptr;
}

bool run_one(const Target& t, const uint8_t* data, size_t size) {
  try {
    t.run(data, size);
    return false;
  } catch (const Error&) {
    return true;
  }
}

}  // namespace netadj::fuzz
