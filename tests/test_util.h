#pragma once
// Shared test helpers: a tiny learnable synthetic setup and fresh temporary folders.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "build_paths.h"
#include "netadj/config/config.h"
#include "netadj/nets/spec.h"
#include "netadj/util/fs.h"

namespace netadj::testing_util {

/// ResNet-8 on 12x12 one-channel synthetic data with 4 classes: learns in a few epochs on one thread.
inline Config small_config() {
  Config c;
  c.model.arch = "resnet_cifar";
  c.model.depth = 8;
  c.model.num_classes = 4;
  c.model.in_channels = 1;
  c.data.dataset = "synthetic";
  c.data.val_size = 128;
  c.data.synthetic = {512, 128, 4, 1, 12, 0.3};
  c.train.epochs = 3;
  c.train.batch_size = 64;
  c.train.lr = 0.05;
  c.train.lr_min = 0.001;
  c.runtime.seed = 3;
  c.runtime.threads = 1;
  return c;
}

/// The config enum value spelled `name` ("fp16"); throws for an unknown name.
template <class E>
E enum_of(const std::string& name) {
  for (size_t i = 0; i < enum_names<E>().size(); ++i)
    if (enum_names<E>()[i] == name) return static_cast<E>(i);
  throw std::invalid_argument("unknown enum name " + name);
}

/// search.json without what is measured rather than computed (each iteration's latency and FUR seconds):
/// the part that a resumed search must reproduce exactly.
inline nlohmann::json computed_part(nlohmann::json search) {
  if (search.contains("iterations"))
    for (auto& it : search["iterations"]) {
      it.erase("latency_ms");
      it.erase("fur_seconds");
      it.erase("elapsed_s");
      it.erase("eta_s");
    }
  return search;
}

/// Every registered architecture's name (for parameterized tests).
inline std::vector<std::string> registered_names() {
  std::vector<std::string> names;
  for (const auto& a : arch_registry()) names.push_back(a.name);
  return names;
}

/// The shipped example network file (a residual add, squeeze-excitation, a grouped conv, a concatenation).
inline std::string example_graph_path() { return std::string(NETADJ_SOURCE_DIR) + "/configs/graphs/small_cnn.json"; }

/// A registered architecture's model at its typical depth with `classes` classes; "graph" is the example
/// network file (10 classes, whatever `classes` says).
inline ModelOptions registry_model(const std::string& arch, int classes = 10) {
  ModelOptions m;
  m.arch = arch;
  m.depth = find_arch(arch).typical_depth;
  m.num_classes = classes;
  if (arch == "graph") {
    m.graph = std::make_shared<const nlohmann::json>(read_json(example_graph_path()));
    m.num_classes = 10;
  }
  return m;
}

/// `c` moved onto the spec's grid: each width rounded to its slot's multiple, at least the slot's least width.
inline std::vector<int64_t> on_slot_grid(const ArchSpec& s, std::vector<int64_t> c) {
  for (size_t l = 0; l < c.size() && l < s.layers.size(); ++l) {
    const int64_t m = s.layers[l].multiple;
    c[l] = std::max({m * ((c[l] + m / 2) / m), s.layers[l].min, m});
  }
  return c;
}

/// An empty folder under the test temp dir, named after `name`.
inline std::string fresh_dir(const std::string& name) {
  std::string d = ::testing::TempDir() + "/netadj_" + name;
  remove_tree(d);
  make_dirs(d);
  return d;
}

}  // namespace netadj::testing_util
