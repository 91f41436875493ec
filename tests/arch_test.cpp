#include <gtest/gtest.h>
#include <fstream>
#include <functional>
#include <optional>

#include <random>

#include "error_text.h"
#include "netadj/backends/model.h"
#include "netadj/backends/warm.h"
#include "netadj/nets/table.h"
#include "netadj/search/search.h"
#include "netadj/train/checkpoint.h"
#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "test_util.h"

using namespace netadj;
using netadj::testing_util::registered_names;

namespace {
ModelOptions model(const std::string& arch, int depth, int classes = 100) {
  if (arch == "graph") return testing_util::registry_model(arch, classes);
  ModelOptions m;
  m.arch = arch;
  m.depth = depth;
  m.num_classes = classes;
  return m;
}

int depth_of(const std::string& arch) { return find_arch(arch).typical_depth; }

}  // namespace

// A resolution too small for the network's poolings is a config error naming it, not a crash in training:
// VGG-16's five 2x2 pools need at least 32 pixels (30 -> 15 -> 7 -> 3 -> 1 -> nothing).
TEST(Flops, ResolutionTooSmallForThePoolingsIsAConfigError) {
  ModelOptions m = model("vgg_cifar", 16, 10);
  EXPECT_NO_THROW(build_spec(m, 32));
  try {
    build_spec(m, 30);
    ADD_FAILURE() << "vgg_cifar at 30x30 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("resolution 30 is too small"), std::string::npos) << e.what();
  }
  GraphNet net(build_spec(m, 32));  // and the smallest accepted one runs
  EXPECT_EQ(net->forward(torch::randn({1, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 10}));
}

TEST(Flops, PaperExamplesExact) {
  EXPECT_EQ(spec_flops(build_spec(model("resnet_cifar", 20), 32)), 40556800);
  EXPECT_EQ(spec_flops(build_spec(model("resnet_cifar", 32), 32)), 68868352);
  EXPECT_EQ(spec_flops(build_spec(model("resnet_cifar", 56), 32)), 125491456);
  EXPECT_EQ(spec_flops(build_spec(model("resnet_cifar", 110), 32)), 252893440);
  EXPECT_EQ(spec_flops(build_spec(model("resnet_imagenet", 18, 1000), 224)), 1814073344);
  EXPECT_EQ(spec_flops(build_spec(model("densenet_cifar", 40), 32)), 282958368);
  // PyramidNet-20 (alpha 24): close to ResNet-20, the paper's 40.4M.
  EXPECT_EQ(spec_flops(build_spec(model("pyramidnet_cifar", 20), 32)), 40340704);
  // MnasNet-A1 at 224x224: ~312M MACs, ~3.9M parameters.
  ArchSpec mnas = build_spec(model("mnasnet", 0, 1000), 224);
  EXPECT_EQ(spec_flops(mnas), 311579072);
  EXPECT_NEAR(double(spec_params(mnas)), 3.9e6, 0.05e6);
}

TEST(Flops, ResNet20GradientMatchesReference) {
  std::vector<int64_t> expect = {294912, 147456, 294912, 147456, 294912, 147456, 110592, 258048, 147456,
                                 73728,  147456, 73728,  55296,  110692, 73728,  36864,  73728,  36864};
  EXPECT_EQ(spec_dflops(build_spec(model("resnet_cifar", 20), 32)), expect);
}

TEST(Flops, ParamsOfKnownNetworks) {
  // torchvision resnet18: 11,689,512 parameters.
  EXPECT_EQ(spec_params(build_spec(model("resnet_imagenet", 18, 1000), 224)), 11689512);
}

TEST(Flops, BadVectorsFailClearly) {
  ModelOptions m = model("resnet_cifar", 20);
  m.channels = std::vector<int64_t>(17, 16);
  try {
    build_spec(m, 32);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("has 17 entries, but resnet_cifar depth 20 has 18"), std::string::npos);
  }
  m.channels = std::vector<int64_t>(18, 16);
  m.channels[3] = 0;
  EXPECT_THROW(build_spec(m, 32), ConfigError);
  EXPECT_THROW(build_spec(model("resnet_cifar", 21), 32), ConfigError);
  try {
    build_spec(model("resnet_cfar", 20), 32);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model; known: resnet_cifar"), std::string::npos) << e.what();
  }
}

std::string config_error(const std::function<void()>& f) { return testing_util::error_text<ConfigError>(f); }

// Found by fuzzing: huge widths, depths and resolutions overflowed the 64-bit FLOPs count (or ran out of
// memory building the spec). Each bound is named; a network inside the bounds but too large to count is
// refused as such, never counted wrong.
TEST(Flops, SizesBeyondTheBoundsAndUncountableNetworksAreRefused) {
  ModelOptions m = model("vgg_cifar", 16);
  m.channels = std::vector<int64_t>(13, 64);
  m.channels[2] = int64_t(1) << 40;
  EXPECT_NE(config_error([&] {
              build_spec(m, 32);
            }).find("model.channels[2] = 1099511627776: channel numbers must be in [1, 65536]"),
            std::string::npos);
  EXPECT_NE(config_error([&] { build_spec(model("resnet_cifar", 2000000000), 32); }).find("model.depth = 2000000000"),
            std::string::npos);
  EXPECT_NE(
      config_error([&] { build_spec(model("resnet_cifar", 20), 2000000000); }).find("model.resolution = 2000000000"),
      std::string::npos);
  // Within the bounds but too many MACs for 64 bits: ResNet-110 at 65536 channels and 8192x8192 has 36
  // convolutions of 9 * 2^32 * 2^26 MACs each in its first stage alone.
  ModelOptions r = model("resnet_cifar", 110);
  ArchSpec big = build_spec(r, kMaxResolution, std::vector<int64_t>(default_channels(r).size(), kMaxChannels));
  EXPECT_NE(config_error([&] { spec_flops(big); }).find("too large to count"), std::string::npos);
  // The largest countable size still counts exactly: one layer's MACs as the formula gives them.
  m.channels = std::vector<int64_t>(13, 4096);
  ArchSpec wide = build_spec(m, 32);
  EXPECT_GT(spec_flops(wide), int64_t(9) * 4096 * 4096 * 32 * 32);
}

class EveryArch : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  ModelOptions m() const { return model(GetParam(), depth_of(GetParam()), 10); }
  // ImageNet families at 64x64 keep the tests fast; the FLOPs identities hold at any resolution.
  int res() const { return design_resolution(m()) > 64 ? 64 : 32; }

  std::vector<int64_t> random_vector(std::mt19937& rng) const {
    auto c = default_channels(m());
    std::uniform_real_distribution<double> f(0.3, 1.7);
    for (auto& v : c) v = std::max<int64_t>(1, std::llround(double(v) * f(rng)));
    return testing_util::on_slot_grid(build_spec(m(), res()), c);
  }

  void check_traced(const ArchSpec& s) {
    GraphNet net(s);
    std::vector<TraceRecord> trace;
    net->set_trace(&trace);
    net->eval();
    torch::NoGradGuard ng;
    auto y = net->forward(torch::randn({2, s.in_channels, s.resolution, s.resolution}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, s.num_classes}));
    int64_t traced = 0;
    for (const auto& r : trace) traced += r.macs_per_sample;
    EXPECT_EQ(traced, spec_flops(s)) << GetParam();
    EXPECT_EQ(count_parameters(*net), spec_params(s)) << GetParam();
  }
};

TEST_P(EveryArch, SpecFlopsEqualTracedAtDefault) { check_traced(build_spec(m(), res())); }

TEST_P(EveryArch, SpecFlopsEqualTracedAtRandomVectors) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3; ++trial) check_traced(build_spec(m(), res(), random_vector(rng)));
}

TEST_P(EveryArch, GradientEqualsFiniteDifferenceAwayFromTies) {
  std::mt19937 rng(11);
  auto c = random_vector(rng);
  // Make widths distinct so no max() is tied (steps of each slot's multiple keep a grouped conv valid).
  const ArchSpec s0 = build_spec(m(), res());
  for (size_t i = 0; i < c.size(); ++i) c[i] = c[i] * 4 + static_cast<int64_t>(i % 3) * s0.layers[i].multiple;
  ArchSpec s = build_spec(m(), res(), c);
  auto g = spec_dflops(s);
  for (size_t l = 0; l < c.size(); ++l) {
    const int64_t h = s.layers[l].multiple;
    auto up = c;
    up[l] += h;
    auto down = c;
    down[l] -= h;
    int64_t fu = spec_flops(build_spec(m(), res(), up));
    int64_t fd = spec_flops(build_spec(m(), res(), down));
    // FLOPs are at most quadratic in one width: the central difference is exact unless a max() switches.
    int64_t central = (fu - fd) / (2 * h);
    int64_t fwd = (fu - spec_flops(s)) / h;
    EXPECT_TRUE(central == g[l] || fwd == g[l]) << GetParam() << " slot " << l << " g=" << g[l] << " fd=" << central;
  }
}

TEST_P(EveryArch, ForwardShapesForBatchOneAndSeven) {
  ArchSpec s = build_spec(m(), res());
  GraphNet net(s);
  net->train();
  for (int64_t n : {1, 7}) {
    if (n == 1) net->eval();  // BN cannot train on one sample
    auto y = net->forward(torch::randn({n, s.in_channels, s.resolution, s.resolution}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{n, 10}));
  }
}

TEST_P(EveryArch, JsonHasExactIntegers) {
  ArchSpec s = build_spec(m(), res());
  auto j = spec_to_json(s);
  EXPECT_EQ(j["flops"].get<int64_t>(), spec_flops(s));
  EXPECT_EQ(j["dflops"].size(), s.channels.size());
  EXPECT_EQ(j["channels"].get<std::vector<int64_t>>(), s.channels);
  EXPECT_FALSE(j["layers"].empty());
}

TEST_P(EveryArch, SaveLoadRoundTripGivesIdenticalOutput) {
  std::mt19937 rng(5);
  ModelOptions opts = m();
  opts.channels = random_vector(rng);
  ArchSpec s = build_spec(opts, res());
  GraphNet net(s);
  net->eval();
  std::string path = ::testing::TempDir() + "/netadj_roundtrip_" + GetParam() + ".pt";
  save_model(net, opts, path);
  ModelOptions loaded_opts;
  GraphNet loaded = load_model(path, loaded_opts);
  loaded->eval();
  EXPECT_EQ(loaded->spec().channels, s.channels);
  torch::NoGradGuard ng;
  auto x = torch::randn({2, s.in_channels, s.resolution, s.resolution});
  EXPECT_TRUE(torch::equal(net->forward(x), loaded->forward(x)));
}

// A family's model saved before each BatchNorm was a module of its own (no module_layout entry) is refused with
// exit 3 and a line naming both layouts; the same archive in layout 2 loads.
TEST(Checkpoint, AFamilyModelInTheOldLayoutIsRefused) {
  const ModelOptions opts = model("resnet_cifar", 8, 10);
  GraphNet net(build_spec(opts, 32));
  const std::string path = ::testing::TempDir() + "/netadj_layout1.pt";
  auto save = [&](std::optional<int64_t> layout) {
    torch::serialize::OutputArchive ar, model_ar;
    net->save(model_ar);
    ar.write("model", model_ar);
    Config c;
    c.model = opts;
    c.model.resolution = 32;
    ar.write("model_options", c10::IValue(config_to_json(c)["model"].dump()));
    if (layout) ar.write("module_layout", c10::IValue(*layout));
    save_archive(ar, path);
  };
  ModelOptions back;
  save(std::nullopt);
  const std::string why = testing_util::error_text<DataError>([&] { load_model(path, back); });
  EXPECT_NE(why.find(path + ": resnet_cifar weights in module layout 1"), std::string::npos) << why;
  EXPECT_NE(why.find("reads layout 2"), std::string::npos) << why;
  save(kModuleLayout);
  EXPECT_EQ(load_model(path, back)->spec().channels, net->spec().channels);
}

TEST_P(EveryArch, AdjustAndRescaleKeepTheBudget) {
  std::mt19937 rng(9);
  auto c0 = default_channels(m());
  CostFn flops = [&](const std::vector<int64_t>& c) { return spec_flops(build_spec(m(), res(), c)); };
  const int64_t f0 = flops(c0);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> fur(c0.size());
  for (auto& v : fur) v = u(rng);
  SearchOptions so;
  so.update_num = 2;
  // The reference rescaling rounds to 1: a network file's grouped conv needs the exact one.
  so.rescale = GetParam() == "graph" ? RescaleMode::kExact : RescaleMode::kReference;
  so.flops_tolerance = 0.01;
  Adjustment a = adjust_channels(c0, c0, fur, {}, 0, so, flops, f0, channel_grid(so, build_spec(m(), res())));
  EXPECT_EQ(a.moves.top.size(), 2u);
  EXPECT_NE(a.adjusted, c0);
  EXPECT_EQ(a.rescaled.cost, flops(a.channels));
  // The reference bisection: within 3% of F0 (its rounding may miss the tolerance; Rescale.Exact* holds it).
  EXPECT_LE(std::abs(double(a.rescaled.cost - f0)) / double(f0), 0.03) << GetParam();
  build_spec(m(), res(), a.channels);  // a valid vector for the family
}

namespace {
// BN statistics and affine parameters away from the identity, so a wrong channel mapping shows.
void randomize_bn(GraphNet& net) {
  torch::NoGradGuard ng;
  for (const auto& mod : net->modules(false))
    if (auto* bn = mod->as<torch::nn::BatchNorm2dImpl>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
      bn->running_mean.uniform_(-0.2, 0.2);
      bn->running_var.uniform_(0.5, 2.0);
    }
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }
}  // namespace

// Warm start's widening (Net2Net copies with split and zero-sum noise, zero channels where widths are
// matched by position) keeps the network's function: eval-mode outputs within 1e-5 (relative to the
// output's scale), with every slot widened by 0-50% (a third of them unchanged).
TEST_P(EveryArch, WarmWideningKeepsTheOutput) {
  ArchSpec s = build_spec(m(), res());
  GraphNet from(s);
  randomize_bn(from);
  std::mt19937 rng(3);
  std::vector<int64_t> c = s.channels;
  for (size_t l = 0; l < c.size(); ++l) {
    if (l % 3 != 2) c[l] += std::uniform_int_distribution<int64_t>(1, std::max<int64_t>(1, c[l] / 2))(rng);
    const int64_t m = s.layers[l].multiple;  // a grouped conv's slot widens by whole groups
    c[l] = (c[l] + m - 1) / m * m;
  }
  GraphNet to(build_spec(m(), res(), c));
  for (double noise : {0.0, 0.05}) {
    warm_transfer(from, to, WarmMapOptions{WarmImportance::kBn, noise, 11});
    from->eval();
    to->eval();
    torch::NoGradGuard ng;
    torch::Tensor x = torch::randn({3, s.in_channels, s.resolution, s.resolution});
    torch::Tensor want = from->forward(x), got = to->forward(x);
    const double scale = std::max(1.0, want.abs().max().item<double>());
    EXPECT_LE(max_abs_diff(got, want), 1e-5 * scale) << GetParam() << " noise " << noise;
  }
}

// Any vector (narrowed and widened slots mixed) maps without error to a network of its widths.
TEST_P(EveryArch, WarmMapToRandomVectorsRuns) {
  std::mt19937 rng(13);
  GraphNet from(build_spec(m(), res(), random_vector(rng)));
  randomize_bn(from);
  for (int trial = 0; trial < 2; ++trial) {
    ArchSpec t = build_spec(m(), res(), random_vector(rng));
    GraphNet to(t);
    warm_transfer(from, to, WarmMapOptions{});
    to->eval();
    torch::NoGradGuard ng;
    torch::Tensor y = to->forward(torch::randn({2, t.in_channels, t.resolution, t.resolution}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 10}));
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << GetParam();
    // Every op's map has one entry per output channel, each a channel of the same op before, or -1.
    auto maps = warm_channel_maps(from, t, WarmMapOptions{});
    ASSERT_EQ(maps.size(), t.ops.size());
    for (size_t i = 0; i < maps.size(); ++i) {
      EXPECT_EQ(int64_t(maps[i].size()), t.ops[i].out.value) << GetParam() << " op " << t.ops[i].name;
      for (int64_t q : maps[i]) {
        EXPECT_GE(q, -1);
        EXPECT_LT(q, from->spec().ops[i].out.value) << GetParam() << " op " << t.ops[i].name;
      }
    }
  }
}

// Narrowing a layer of its own channel space (VGG) keeps the channels of largest BN |gamma| (or filter L1
// norm), in their order, with their incoming and outgoing weights exactly.
namespace {

// VGG-16 with random BN statistics, and a vector that changes its slot 1 (64 channels) to `width`: the
// op of slot 1 and the next conv, which reads it.
struct VggSlotChange {
  ModelOptions mo;
  GraphNet from{nullptr};
  std::vector<int64_t> c;
  int op = 0, next = 0;
};
VggSlotChange vgg_slot_change(int64_t width) {
  VggSlotChange v;
  v.mo = model("vgg_cifar", 16, 10);
  ArchSpec s = build_spec(v.mo, 32);
  v.from = GraphNet(s);
  randomize_bn(v.from);
  v.c = s.channels;
  v.c[1] = width;
  v.op = s.layers[1].op;  // its BatchNorm is the next op
  v.next = s.layers[2].op;
  return v;
}

}  // namespace

TEST(Warm, NarrowingKeepsTheMostImportantChannelsExactly) {
  VggSlotChange v = vgg_slot_change(40);  // of 64
  const ModelOptions& mo = v.mo;
  GraphNet& from = v.from;
  const std::vector<int64_t>& c = v.c;
  const int op = v.op, next = v.next;
  GraphNet to(build_spec(mo, 32, c));
  for (WarmImportance how : {WarmImportance::kBn, WarmImportance::kL1}) {
    warm_transfer(from, to, WarmMapOptions{how, 0.05, 1});
    const auto &a = from->node(size_t(op)), &b = to->node(size_t(op));
    const auto &a_bn = from->node(size_t(op) + 1).bn, &b_bn = to->node(size_t(op) + 1).bn;
    torch::Tensor score = how == WarmImportance::kBn ? a_bn->weight.abs() : a.conv->weight.abs().sum({1, 2, 3});
    torch::Tensor kept = std::get<0>(torch::sort(std::get<1>(torch::topk(score, 40))));
    EXPECT_TRUE(torch::equal(b.conv->weight, a.conv->weight.index_select(0, kept)));
    EXPECT_TRUE(torch::equal(b_bn->weight, a_bn->weight.index_select(0, kept)));
    EXPECT_TRUE(torch::equal(b_bn->running_var, a_bn->running_var.index_select(0, kept)));
    EXPECT_TRUE(
        torch::equal(to->node(size_t(next)).conv->weight, from->node(size_t(next)).conv->weight.index_select(1, kept)));
    // The layer before keeps everything.
    const size_t first = size_t(from->spec().layers[0].op);
    EXPECT_TRUE(torch::equal(to->node(first).conv->weight, from->node(first).conv->weight));
  }
}

// Widening a layer of its own channel space (VGG) keeps its filters and appends copies of some of them;
// the next layer's incoming weights of a channel and its copies sum to the old ones (noise included), the
// copies differ by the noise; one seed gives one result, another seed another.
TEST(Warm, WideningCopiesChannelsAndSplitsTheirWeights) {
  VggSlotChange v = vgg_slot_change(90);  // of 64
  const ModelOptions& mo = v.mo;
  GraphNet& from = v.from;
  const std::vector<int64_t>& c = v.c;
  const int op = v.op, next = v.next;
  auto transferred = [&](uint64_t seed) {
    GraphNet to(build_spec(mo, 32, c));
    warm_transfer(from, to, WarmMapOptions{WarmImportance::kBn, 0.05, seed});
    return to;
  };
  GraphNet to = transferred(4);
  auto maps = warm_channel_maps(from, to->spec(), WarmMapOptions{WarmImportance::kBn, 0.05, 4});
  const auto& m = maps[size_t(op)];
  ASSERT_EQ(m.size(), 90u);
  for (int64_t j = 0; j < 64; ++j) EXPECT_EQ(m[size_t(j)], j);
  torch::Tensor idx = torch::tensor(m, torch::kLong);
  const auto &a = from->node(size_t(op)), &b = to->node(size_t(op));
  EXPECT_TRUE(torch::equal(b.conv->weight, a.conv->weight.index_select(0, idx)));
  EXPECT_TRUE(
      torch::equal(to->node(size_t(op) + 1).bn->weight, from->node(size_t(op) + 1).bn->weight.index_select(0, idx)));
  torch::Tensor w_old = from->node(size_t(next)).conv->weight, w_new = to->node(size_t(next)).conv->weight;
  torch::Tensor summed = torch::zeros_like(w_old).index_add_(1, idx, w_new);
  EXPECT_LE(max_abs_diff(summed, w_old), 1e-6);
  const int64_t copied = m[64];
  EXPECT_FALSE(torch::equal(w_new.select(1, 64), w_new.select(1, copied)));  // the noise tells them apart
  GraphNet again = transferred(4), other = transferred(5);
  EXPECT_TRUE(torch::equal(again->node(size_t(next)).conv->weight, w_new));
  EXPECT_FALSE(torch::equal(other->node(size_t(next)).conv->weight, w_new));
}

// In a residual stage with zero-padded shortcuts channels are matched by position from the last one:
// a narrowed second conv keeps its last channels; a widened one gets zero channels in front.
TEST(Warm, ZeroPaddedStageMapsByPosition) {
  ModelOptions mo = model("resnet_cifar", 8, 10);
  ArchSpec s = build_spec(mo, 32);
  GraphNet from(s);
  randomize_bn(from);
  const int conv2 = s.layers[1].op;
  for (int64_t w : {12, 20}) {
    std::vector<int64_t> c = s.channels;
    c[1] = w;
    GraphNet to(build_spec(mo, 32, c));
    warm_transfer(from, to, WarmMapOptions{});
    const auto &a = from->node(size_t(conv2)), &b = to->node(size_t(conv2));
    const int64_t keep = std::min<int64_t>(w, 16);
    EXPECT_TRUE(torch::equal(b.conv->weight.narrow(0, w - keep, keep).narrow(1, 0, 16),
                             a.conv->weight.narrow(0, 16 - keep, keep)))
        << w;
    if (w > 16) {
      const auto& bn = to->node(size_t(conv2) + 1).bn;
      EXPECT_TRUE(torch::equal(bn->weight.narrow(0, 0, w - 16), torch::zeros({w - 16}))) << w;
      EXPECT_TRUE(torch::equal(bn->bias.narrow(0, 0, w - 16), torch::zeros({w - 16}))) << w;
    }
  }
}

TEST(Warm, OtherArchitectureIsAConfigError) {
  GraphNet a(build_spec(model("resnet_cifar", 8, 10), 32)), b(build_spec(model("plain_cifar", 8, 10), 32));
  EXPECT_THROW(warm_transfer(a, b, WarmMapOptions{}), ConfigError);
}

// Every registered architecture, so a new one cannot skip these checks.
INSTANTIATE_TEST_SUITE_P(Registry, EveryArch, ::testing::ValuesIn(registered_names()));

TEST(Padding, LocalTruncatesAndMaxPadsInFront) {
  ModelOptions m = model("resnet_cifar", 8, 10);
  m.padding = Padding::kLocal;
  m.channels = {8, 12, 8, 8, 8, 40};
  ArchSpec s = build_spec(m, 16);
  GraphNet net(s);
  net->eval();
  auto y = net->forward(torch::randn({2, 3, 16, 16}));
  EXPECT_EQ(y.size(1), 10);
  // local: the stream after cell 1 has the cell's output width (12), not max(16, 12).
  bool found = false;
  for (const auto& op : s.ops)
    if (op.kind == OpKind::kAdd && op.name == "s1.c0.conv2.add") {
      EXPECT_EQ(op.out.value, 12);
      found = true;
    }
  EXPECT_TRUE(found);
  m.padding = Padding::kMax;
  ArchSpec t = build_spec(m, 16);
  for (const auto& op : t.ops) {
    if (op.kind == OpKind::kAdd && op.name == "s1.c0.conv2.add") {
      EXPECT_EQ(op.out.value, 16);
    }
  }
}

TEST(ChannelDrop, ZeroRateIsIdentityAndRatesAreValidated) {
  torch::manual_seed(1);
  ArchSpec s = build_spec(model("resnet_cifar", 8, 10), 16);
  GraphNet net(s);
  net->eval();
  auto x = torch::randn({4, 3, 16, 16});
  auto a = net->forward(x);
  auto b = net->forward(x);
  EXPECT_TRUE(torch::equal(a, b));
  net->set_drop_at(0, 0.5, DropType::kBernoulli);
  auto c = net->forward(x);
  EXPECT_FALSE(torch::allclose(a, c));
  net->clear_drop();
  EXPECT_TRUE(torch::equal(a, net->forward(x)));
  EXPECT_THROW(net->set_drop_at(0, 1.0, DropType::kBernoulli), c10::Error);
}

TEST(ChannelFiles, ReferenceDictFormAndErrors) {
  std::string dir = ::testing::TempDir();
  ModelOptions m = model("resnet_cifar", 8, 10);
  {
    std::ofstream(dir + "/dict.json") << R"({"c1": 5, "c0": 4, "c2": 6, "c3": 7, "c4": 8, "c5": 9})";
    EXPECT_EQ(read_channel_file(dir + "/dict.json", m), (std::vector<int64_t>{4, 5, 6, 7, 8, 9}));
  }
  {
    std::ofstream(dir + "/ours.json") << R"({"arch":"resnet_cifar","depth":8,"channels":[1,2,3,4,5,6]})";
    EXPECT_EQ(read_channel_file(dir + "/ours.json", m).size(), 6u);
  }
  {
    std::ofstream(dir + "/wrong.json") << R"({"arch":"vgg_cifar","channels":[1]})";
    EXPECT_THROW(read_channel_file(dir + "/wrong.json", m), ConfigError);
  }
  {
    std::ofstream(dir + "/gap.json") << R"({"c0": 1, "c2": 2})";
    EXPECT_THROW(read_channel_file(dir + "/gap.json", m), DataError);
  }
  EXPECT_THROW(read_channel_file(dir + "/missing.json", m), DataError);
}

// forward_suffix(forward_prefix(x, op), op) is forward(x) with the same drop masks, at the first, a middle
// and the last searchable layer; running the suffix twice from one prefix gives the same output (the
// prefix is not modified).
TEST_P(EveryArch, PrefixThenSuffixEqualsForwardWithDrop) {
  ArchSpec s = build_spec(m(), res());
  GraphNet net(s);
  net->eval();
  torch::NoGradGuard ng;
  torch::Tensor x = torch::randn({2, s.in_channels, s.resolution, s.resolution});
  const int L = net->num_slots();
  for (int slot : {0, L / 2, L - 1}) {
    const int op = net->drop_op(slot);
    ASSERT_GT(op, 0) << GetParam() << " slot " << slot;
    net->set_drop_at(slot, 0.4, DropType::kBernoulli);
    torch::manual_seed(7);
    torch::Tensor want = net->forward(x);
    std::vector<torch::Tensor> prefix = net->forward_prefix(x, op);
    for (int run = 0; run < 2; ++run) {
      torch::manual_seed(7);
      torch::Tensor got = net->forward_suffix(prefix, op);
      EXPECT_LE((got - want).abs().max().item<double>(), 1e-6) << GetParam() << " slot " << slot << " run " << run;
    }
    net->clear_drop();
  }
}
