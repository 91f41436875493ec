// The architecture families of the paper. Each builder writes its network down once, through
// SpecBuilder; default_channels gives the family's standard widths in slot order.
#include <cmath>

#include "netadj/arch/builder.h"
#include "netadj/util/error.h"

namespace netadj {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

int64_t scaled(double base, double width) { return std::max<int64_t>(1, std::llround(base * width)); }

// ---- CIFAR ResNet / Plain / PyramidNet (He et al. 2016, Sec. 4.2; Han et al. 2017) ----------------

int cifar_cells_per_stage(const ModelOptions& m) {
  if (m.depth < 8 || (m.depth - 2) % 6 != 0)
    throw ConfigError("model.depth = " + str(m.depth) + ": " + m.arch + " needs depth 6n+2 with n >= 1 (8, 20, 32, 56, 110)");
  return (m.depth - 2) / 6;
}

std::vector<int64_t> resnet_cifar_defaults(const ModelOptions& m) {
  int n = cifar_cells_per_stage(m);
  std::vector<int64_t> c;
  for (int stage = 0; stage < 3; ++stage)
    for (int i = 0; i < 2 * n; ++i) c.push_back(scaled(16 << stage, m.width));
  return c;
}

// PyramidNet: widths grow linearly cell by cell from 16 to 16 + alpha. alpha = 24 keeps the FLOPs of
// PyramidNet-20 close to ResNet-20's (the paper's 40.4M).
constexpr double kPyramidAlpha = 24.0;

std::vector<int64_t> pyramidnet_defaults(const ModelOptions& m) {
  int n = cifar_cells_per_stage(m);
  int cells = 3 * n;
  std::vector<int64_t> c;
  for (int i = 0; i < cells; ++i) {
    int64_t w = scaled(16.0 + kPyramidAlpha * (i + 1) / cells, m.width);
    c.push_back(w);
    c.push_back(w);
  }
  return c;
}

// Stem conv3x3 + BN (fixed width, no ReLU, as the reference code), 3 stages of basic cells, GAP, FC.
// kind: 0 = resnet (ReLU after the sum), 1 = plain (no shortcut), 2 = pyramid (no ReLU after the sum).
ArchSpec build_cifar_resnet(const ModelOptions& m, const std::vector<int64_t>& c, int res, int kind) {
  int n = cifar_cells_per_stage(m);
  SpecBuilder b(m.arch, m.in_channels, res, m.num_classes, c);
  int x = b.conv(b.input(), "stem", Width::constant(scaled(16, m.width)), 3, 1, {/*bn=*/true, /*relu=*/kind == 1});
  int slot = 0;
  for (int stage = 0; stage < 3; ++stage) {
    for (int i = 0; i < n; ++i) {
      int stride = (stage > 0 && i == 0) ? 2 : 1;
      std::string name = "s" + str(stage + 1) + ".c" + str(i);
      b.name_slot(slot, name + ".conv1", stage);
      b.name_slot(slot + 1, name + ".conv2", stage);
      int h = b.searchable_conv(x, slot, 3, stride, {true, true});
      h = b.searchable_conv(h, slot + 1, 3, 1, {true, /*relu=*/kind == 1});
      slot += 2;
      if (kind == 1) {
        x = h;
        continue;
      }
      int shortcut = stride == 2 ? b.avg_pool(x, 2, 2) : x;
      x = b.add(shortcut, h, m.padding, /*branch_wins_ties=*/false, /*relu=*/kind == 0);
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

std::vector<int64_t> vgg_defaults(const ModelOptions& m) {
  check_vgg_depth(m);
  std::vector<int64_t> c;
  for (int w : kVgg16)
    if (w > 0) c.push_back(scaled(w, m.width));
  return c;
}

ArchSpec build_vgg(const ModelOptions& m, const std::vector<int64_t>& c, int res) {
  check_vgg_depth(m);
  SpecBuilder b(m.arch, m.in_channels, res, m.num_classes, c);
  int x = b.input();
  int slot = 0, stage = 0;
  for (int w : kVgg16) {
    if (w < 0) {
      x = b.max_pool(x, 2, 2, 0);
      ++stage;
      continue;
    }
    b.name_slot(slot, "b" + str(stage + 1) + ".conv" + str(slot), stage);
    x = b.searchable_conv(x, slot++, 3, 1, {true, true});
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

std::vector<int64_t> densenet_defaults(const ModelOptions& m) {
  int n = dense_layers_per_block(m);
  int64_t growth = scaled(12, m.width);
  int64_t width = 2 * growth;
  std::vector<int64_t> c;
  for (int block = 0; block < 3; ++block) {
    for (int i = 0; i < n; ++i) c.push_back(growth);
    width += n * growth;
    if (block < 2) c.push_back(width);  // transition keeps the width (compression 1.0)
  }
  return c;
}

ArchSpec build_densenet(const ModelOptions& m, const std::vector<int64_t>& c, int res) {
  int n = dense_layers_per_block(m);
  int64_t growth = scaled(12, m.width);
  SpecBuilder b(m.arch, m.in_channels, res, m.num_classes, c);
  int x = b.conv(b.input(), "stem", Width::constant(2 * growth), 3, 1, {/*bn=*/false, /*relu=*/false});
  int slot = 0;
  for (int block = 0; block < 3; ++block) {
    std::vector<int> parts = {x};
    for (int i = 0; i < n; ++i) {
      b.name_slot(slot, "d" + str(block + 1) + ".l" + str(i), block);
      int h = b.searchable_conv(x, slot++, 3, 1, {/*bn=*/false, /*relu=*/false, /*preact=*/true});
      parts.push_back(h);
      x = b.concat(parts, "d" + str(block + 1) + ".cat" + str(i));
      parts = {x};
    }
    if (block < 2) {
      b.name_slot(slot, "t" + str(block + 1), block);
      x = b.searchable_conv(x, slot++, 1, 1, {false, false, /*preact=*/true});
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

std::vector<int64_t> resnet_imagenet_defaults(const ModelOptions& m) {
  auto blocks = imagenet_blocks(m);
  std::vector<int64_t> c;
  for (int stage = 0; stage < 4; ++stage)
    for (int i = 0; i < 2 * blocks[static_cast<size_t>(stage)]; ++i) c.push_back(scaled(64 << stage, m.width));
  return c;
}

ArchSpec build_resnet_imagenet(const ModelOptions& m, const std::vector<int64_t>& c, int res) {
  auto blocks = imagenet_blocks(m);
  SpecBuilder b(m.arch, m.in_channels, res, m.num_classes, c);
  int x = b.conv(b.input(), "stem", Width::constant(scaled(64, m.width)), 7, 2, {true, true});
  x = b.max_pool(x, 3, 2, 1);
  int slot = 0;
  for (int stage = 0; stage < 4; ++stage) {
    for (int i = 0; i < blocks[static_cast<size_t>(stage)]; ++i) {
      int stride = (stage > 0 && i == 0) ? 2 : 1;
      std::string name = "s" + str(stage + 1) + ".c" + str(i);
      b.name_slot(slot, name + ".conv1", stage);
      b.name_slot(slot + 1, name + ".conv2", stage);
      int h = b.searchable_conv(x, slot, 3, stride, {true, true});
      h = b.searchable_conv(h, slot + 1, 3, 1, {true, false});
      slot += 2;
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
const std::vector<MnasStage> kMnasA1 = {{1, 3, 1, 1, 16, false},  {2, 3, 2, 6, 24, false},
                                        {3, 5, 2, 3, 40, true},   {4, 3, 2, 6, 80, false},
                                        {2, 3, 1, 6, 112, true},  {3, 5, 2, 6, 160, true},
                                        {1, 3, 1, 6, 320, false}};

std::vector<MnasStage> mnas_stages(bool cifar) {
  auto st = kMnasA1;
  if (cifar) st[1].stride = 1;  // 32x32 input: stem and first stage keep the resolution
  return st;
}

// model.depth is not used by MnasNet.
std::vector<int64_t> mnas_defaults(const ModelOptions& m) {
  std::vector<int64_t> c;
  int64_t in = scaled(16, m.width);
  bool first = true;
  for (const auto& s : kMnasA1) {
    int64_t out = scaled(s.out, m.width);
    if (!first)
      for (int r = 0; r < s.repeats; ++r) c.push_back((r == 0 ? in : out) * s.expand);
    c.push_back(out);
    in = out;
    first = false;
  }
  return c;
}

ArchSpec build_mnasnet(const ModelOptions& m, const std::vector<int64_t>& c, int res, bool cifar) {
  auto stages = mnas_stages(cifar);
  SpecBuilder b(m.arch, m.in_channels, res, m.num_classes, c);
  int64_t stem_w = scaled(32, m.width);
  int x = b.conv(b.input(), "stem", Width::constant(stem_w), 3, cifar ? 1 : 2, {true, true});
  // Slot layout: for each stage, its blocks' expansion widths, then the stage's output width.
  int slot = 0;
  std::vector<int> exp_slot, out_slot;
  for (size_t si = 0; si < stages.size(); ++si) {
    std::string sn = "s" + str(static_cast<int64_t>(si));
    if (si > 0)
      for (int r = 0; r < stages[si].repeats; ++r) {
        b.name_slot(slot, sn + ".b" + str(r) + ".expand", static_cast<int>(si));
        exp_slot.push_back(slot++);
      }
    b.name_slot(slot, sn + ".out", static_cast<int>(si));
    out_slot.push_back(slot++);
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
      if (r > 0) x = b.add(in, h, "local", true, /*relu=*/false);
      else x = h;
    }
  }
  x = b.conv(x, "head", Width::constant(scaled(1280, std::max(1.0, m.width))), 1, 1, {true, true});
  x = b.global_pool(x);
  b.linear(x, m.num_classes);
  return b.finish();
}

}  // namespace

const std::vector<ArchInfo>& arch_registry() {
  static const std::vector<ArchInfo> reg = {
      {"resnet_cifar", "CIFAR ResNet (depth 6n+2), zero-padding shortcuts", 32, resnet_cifar_defaults,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) { return build_cifar_resnet(m, c, r, 0); }},
      {"plain_cifar", "CIFAR plain network (ResNet without shortcuts)", 32, resnet_cifar_defaults,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) { return build_cifar_resnet(m, c, r, 1); }},
      {"pyramidnet_cifar", "PyramidNet with additive widening (alpha 24), zero-padding shortcuts", 32,
       pyramidnet_defaults,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) { return build_cifar_resnet(m, c, r, 2); }},
      {"vgg_cifar", "VGG-16 with BN, CIFAR head", 32, vgg_defaults, build_vgg},
      {"densenet_cifar", "DenseNet (growth 12, no bottleneck, compression 1.0)", 32, densenet_defaults,
       build_densenet},
      {"resnet_imagenet", "ImageNet ResNet-18/34 (BasicBlock)", 224, resnet_imagenet_defaults,
       build_resnet_imagenet},
      {"mnasnet", "MnasNet-A1 with squeeze-excitation, 224x224", 224, mnas_defaults,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) { return build_mnasnet(m, c, r, false); }},
      {"mnasnet_cifar", "MnasNet-A1 for 32x32 inputs (stem and first stage at stride 1)", 32, mnas_defaults,
       [](const ModelOptions& m, const std::vector<int64_t>& c, int r) { return build_mnasnet(m, c, r, true); }},
  };
  return reg;
}

}  // namespace netadj
