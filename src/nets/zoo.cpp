// The architecture families of the paper. Each builder writes its network down once, through
// SpecBuilder, declaring every searchable slot with its default width; built without a channel vector
// the same walk yields the family's standard widths.
#include <cmath>

#include "netadj/nets/builder.h"
#include "netadj/nets/graph.h"
#include "netadj/util/error.h"

namespace netadj {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

int64_t scaled(double base, double width) { return std::max<int64_t>(1, std::llround(base * width)); }

// ---- CIFAR ResNet / Plain / PyramidNet (He et al. 2016, Sec. 4.2; Han et al. 2017) ----------------

int cifar_cells_per_stage(const ModelOptions& m) {
  if (m.depth < 8 || (m.depth - 2) % 6 != 0)
    throw ConfigError("model.depth = " + str(m.depth) + ": " + m.arch +
                      " needs depth 6n+2 with n >= 1 (8, 20, 32, 56, 110)");
  return (m.depth - 2) / 6;
}

// PyramidNet: widths grow linearly cell by cell from 16 to 16 + alpha. alpha = 24 keeps the FLOPs of
// PyramidNet-20 close to ResNet-20's (the paper's 40.4M).
constexpr double kPyramidAlpha = 24.0;

enum class CifarKind { kResNet, kPlain, kPyramid };

// Default width of a cell's two convolutions: 16/32/64 per stage, or PyramidNet's linear growth.
int64_t cifar_cell_width(const ModelOptions& m, CifarKind kind, int stage, int cell, int cells) {
  if (kind == CifarKind::kPyramid) return scaled(16.0 + kPyramidAlpha * (cell + 1) / cells, m.width);
  return scaled(16 << stage, m.width);
}

// Stem conv3x3 + BN (fixed width, no ReLU, as the reference code), 3 stages of basic cells, GAP, FC.
// ResNet: ReLU after the sum; Plain: no shortcut; PyramidNet: no ReLU after the sum.
ArchSpec build_cifar_resnet(const ModelOptions& m, const std::vector<int64_t>& c, int res, CifarKind kind) {
  int n = cifar_cells_per_stage(m);
  const bool plain = kind == CifarKind::kPlain;
  SpecBuilder b(m, res, c);
  int x = b.conv(b.input(), "stem", Width::constant(scaled(16, m.width)), 3, 1, {/*bn=*/true, /*relu=*/plain});
  for (int stage = 0; stage < 3; ++stage) {
    for (int i = 0; i < n; ++i) {
      int stride = (stage > 0 && i == 0) ? 2 : 1;
      std::string name = "s" + str(stage + 1) + ".c" + str(i);
      int64_t w = cifar_cell_width(m, kind, stage, stage * n + i, 3 * n);
      int h = b.searchable_conv(x, b.slot(name + ".conv1", stage, w), 3, stride, {true, true});
      h = b.searchable_conv(h, b.slot(name + ".conv2", stage, w), 3, 1, {true, /*relu=*/plain});
      if (plain) {
        x = h;
        continue;
      }
      int shortcut = stride == 2 ? b.avg_pool(x, 2, 2) : x;
      x = b.add(shortcut, h, m.padding, /*branch_wins_ties=*/false, /*relu=*/kind == CifarKind::kResNet);
    }
  }
  x = b.global_pool(x);
  b.linear(x, m.num_classes);
  return b.finish();
}

// ---- VGG-16 with BN, CIFAR head ----------------------------------------------------------------
const std::vector<int> kVgg16 = {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1};

void check_vgg_depth(const ModelOptions& m) {
  if (m.depth != 16) throw ConfigError("model.depth = " + str(m.depth) + ": vgg_cifar supports depth 16");
}

ArchSpec build_vgg(const ModelOptions& m, const std::vector<int64_t>& c, int res) {
  check_vgg_depth(m);
  SpecBuilder b(m, res, c);
  int x = b.input();
  int stage = 0;
  for (int w : kVgg16) {
    if (w < 0) {
      x = b.max_pool(x, 2, 2, 0);
      ++stage;
      continue;
    }
    int slot = b.slot("b" + str(stage + 1) + ".conv" + str(b.num_slots()), stage, scaled(w, m.width));
    x = b.searchable_conv(x, slot, 3, 1, {true, true});
  }
  x = b.global_pool(x);
  b.linear(x, m.num_classes);
  return b.finish();
}

// ---- DenseNet (Huang et al. 2017), no bottleneck, compression 1.0 ---------------------------------
int dense_layers_per_block(const ModelOptions& m) {
  if (m.depth < 7 || (m.depth - 4) % 3 != 0)
    throw ConfigError("model.depth = " + str(m.depth) + ": densenet_cifar needs depth 3n+4 (e.g. 40)");
  return (m.depth - 4) / 3;
}

ArchSpec build_densenet(const ModelOptions& m, const std::vector<int64_t>& c, int res) {
  int n = dense_layers_per_block(m);
  int64_t growth = scaled(12, m.width);
  SpecBuilder b(m, res, c);
  int x = b.conv(b.input(), "stem", Width::constant(2 * growth), 3, 1, {/*bn=*/false, /*relu=*/false});
  int64_t default_width = 2 * growth;  // of the concatenation, at the default growth
  for (int block = 0; block < 3; ++block) {
    std::vector<int> parts = {x};
    for (int i = 0; i < n; ++i) {
      int slot = b.slot("d" + str(block + 1) + ".l" + str(i), block, growth);
      int h = b.searchable_conv(x, slot, 3, 1, {/*bn=*/false, /*relu=*/false, /*preact=*/true});
      parts.push_back(h);
      x = b.concat(parts, "d" + str(block + 1) + ".cat" + str(i));
      parts = {x};
    }
    default_width += n * growth;
    if (block < 2) {
      // The transition keeps the width by default (compression 1.0).
      int slot = b.slot("t" + str(block + 1), block, default_width);
      x = b.searchable_conv(x, slot, 1, 1, {false, false, /*preact=*/true});
      x = b.avg_pool(x, 2, 2);
    }
  }
  x = b.global_pool(x, /*preact=*/true);
  b.linear(x, m.num_classes);
  return b.finish();
}

// ---- ImageNet ResNet-18/34 (BasicBlock) ------------------------------------------------------------
std::vector<int> imagenet_blocks(const ModelOptions& m) {
  if (m.depth == 18) return {2, 2, 2, 2};
  if (m.depth == 34) return {3, 4, 6, 3};
  throw ConfigError("model.depth = " + str(m.depth) + ": resnet_imagenet supports depth 18 or 34");
}

ArchSpec build_resnet_imagenet(const ModelOptions& m, const std::vector<int64_t>& c, int res) {
  auto blocks = imagenet_blocks(m);
  SpecBuilder b(m, res, c);
  int x = b.conv(b.input(), "stem", Width::constant(scaled(64, m.width)), 7, 2, {true, true});
  x = b.max_pool(x, 3, 2, 1);
  for (int stage = 0; stage < 4; ++stage) {
    for (int i = 0; i < blocks[static_cast<size_t>(stage)]; ++i) {
      int stride = (stage > 0 && i == 0) ? 2 : 1;
      std::string name = "s" + str(stage + 1) + ".c" + str(i);
      int64_t w = scaled(64 << stage, m.width);
      int h = b.searchable_conv(x, b.slot(name + ".conv1", stage, w), 3, stride, {true, true});
      h = b.searchable_conv(h, b.slot(name + ".conv2", stage, w), 3, 1, {true, false});
      int shortcut = x;
      if (stride == 2)  // 1x1 projection to the cell's output width
        shortcut = b.conv(x, name + ".proj", b.width(h), 1, 2, {true, false});
      x = b.add(shortcut, h, m.padding, /*branch_wins_ties=*/true, /*relu=*/true);
    }
  }
  x = b.global_pool(x);
  b.linear(x, m.num_classes);
  return b.finish();
}

// ---- MnasNet-A1 (Tan et al. 2019) ------------------------------------------------------------------
struct MnasStage {
  int repeats, kernel, stride, expand, out;
  bool se;
};
// Stage 0 is the depthwise-separable block (no expansion); the rest are inverted residual blocks.
const std::vector<MnasStage> kMnasA1 = {{1, 3, 1, 1, 16, false}, {2, 3, 2, 6, 24, false}, {3, 5, 2, 3, 40, true},
                                        {4, 3, 2, 6, 80, false}, {2, 3, 1, 6, 112, true}, {3, 5, 2, 6, 160, true},
                                        {1, 3, 1, 6, 320, false}};

std::vector<MnasStage> mnas_stages(bool cifar) {
  auto st = kMnasA1;
  if (cifar) st[1].stride = 1;  // 32x32 input: stem and first stage keep the resolution
  return st;
}

ArchSpec build_mnasnet(const ModelOptions& m, const std::vector<int64_t>& c, int res, bool cifar) {
  auto stages = mnas_stages(cifar);
  SpecBuilder b(m, res, c);
  int64_t stem_w = scaled(32, m.width);
  int x = b.conv(b.input(), "stem", Width::constant(stem_w), 3, cifar ? 1 : 2, {true, true});
  // Slot layout: for each stage, its blocks' expansion widths (expand x the block's input width by
  // default), then the stage's output width. model.depth is not used by MnasNet.
  std::vector<int> exp_slot, out_slot;
  int64_t in_w = scaled(16, m.width);
  for (size_t si = 0; si < stages.size(); ++si) {
    const int stage = static_cast<int>(si);
    const std::string sn = "s" + str(stage);
    const int64_t out_w = scaled(stages[si].out, m.width);
    if (si > 0)
      for (int r = 0; r < stages[si].repeats; ++r)
        exp_slot.push_back(b.slot(sn + ".b" + str(r) + ".expand", stage, (r == 0 ? in_w : out_w) * stages[si].expand));
    out_slot.push_back(b.slot(sn + ".out", stage, out_w));
    in_w = out_w;
  }
  // Stage 0: depthwise 3x3 on the stem, then pointwise-linear to the stage width.
  x = b.conv(x, "s0.dw", b.width(x), 3, 1, {true, true, false, /*depthwise=*/true});
  x = b.searchable_conv(x, out_slot[0], 1, 1, {true, /*relu=*/false});
  size_t e = 0;
  for (size_t si = 1; si < stages.size(); ++si) {
    const auto& s = stages[si];
    for (int r = 0; r < s.repeats; ++r) {
      int stride = r == 0 ? s.stride : 1;
      std::string bn = "s" + str(static_cast<int64_t>(si)) + ".b" + str(r);
      int in = x;
      int h = b.searchable_conv(x, exp_slot[e++], 1, 1, {true, true});
      // The depthwise conv keeps the expansion width; its drop point is the expansion's.
      h = b.conv(h, bn + ".dw", b.width(h), s.kernel, stride, {true, true, false, true});
      if (s.se) {
        // Reduced width: a quarter of the block's default input width (fixed while searching).
        int64_t def_in = scaled(si == 1 ? 16 : (r == 0 ? kMnasA1[si - 1].out : s.out), m.width);
        h = b.squeeze_excite(h, std::max<int64_t>(1, def_in / 4));
      }
      h = b.searchable_conv(h, out_slot[si], 1, 1, {true, /*relu=*/false});
      // Residual only where shapes agree by construction: same stage, stride 1.
      if (r > 0)
        x = b.add(in, h, Padding::kLocal, /*branch_wins_ties=*/true, /*relu=*/false);
      else
        x = h;
    }
  }
  x = b.conv(x, "head", Width::constant(scaled(1280, std::max(1.0, m.width))), 1, 1, {true, true});
  x = b.global_pool(x);
  b.linear(x, m.num_classes);
  return b.finish();
}

// A network file: designed for the file's input resolution; model.depth and model.width do not apply; an
// imported network's weights come as a netadj-weights file.
ArchInfo network_file_entry() {
  ArchInfo a{"graph", "any CNN from a network file (model.graph; docs/graph-format.md)", 0, 1, graph_spec};
  a.design_resolution = [](const ModelOptions& m) { return int(model_graph(m).input.res); };
  a.counter = graph_counter;
  a.has_depth = false;
  a.imported = true;
  return a;
}

}  // namespace

const std::vector<ArchInfo>& arch_registry() {
  static const std::vector<ArchInfo> reg = {
      {"resnet_cifar", "CIFAR ResNet (depth 6n+2), zero-padding shortcuts", 32, 20,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) {
         return build_cifar_resnet(m, c, r, CifarKind::kResNet);
       }},
      {"plain_cifar", "CIFAR plain network (ResNet without shortcuts)", 32, 20,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) {
         return build_cifar_resnet(m, c, r, CifarKind::kPlain);
       }},
      {"pyramidnet_cifar", "PyramidNet with additive widening (alpha 24), zero-padding shortcuts", 32, 20,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) {
         return build_cifar_resnet(m, c, r, CifarKind::kPyramid);
       }},
      {"vgg_cifar", "VGG-16 with BN, CIFAR head", 32, 16, build_vgg},
      {"densenet_cifar", "DenseNet (growth 12, no bottleneck, compression 1.0)", 32, 40, build_densenet},
      {"resnet_imagenet", "ImageNet ResNet-18/34 (BasicBlock)", 224, 18, build_resnet_imagenet},
      {"mnasnet", "MnasNet-A1 with squeeze-excitation, 224x224", 224, 20,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) { return build_mnasnet(m, c, r, false); }},
      {"mnasnet_cifar", "MnasNet-A1 for 32x32 inputs (stem and first stage at stride 1)", 32, 20,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) { return build_mnasnet(m, c, r, true); }},
      network_file_entry(),
  };
  return reg;
}

}  // namespace netadj
