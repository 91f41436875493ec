// TorchScript export: every registered architecture, in LibTorch and in the project's Python, against
// netadj's own forward; the CLI's export of a trained network and its errors.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "cli_util.h"
#include "error_text.h"
#include "netadj/backends/export.h"
#include "netadj/backends/onnx.h"
#include "netadj/backends/torchscript.h"
#include "netadj/nets/table.h"
#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "test_util.h"

using namespace netadj;
using namespace netadj::testing_util;
using nlohmann::json;

namespace {

ArchSpec spec_of(const std::string& arch) {
  ModelOptions m = registry_model(arch);
  // ImageNet families at 64x64 keep the test fast; the graph is the same at any resolution.
  return build_spec(m, design_resolution(m) > 64 ? 64 : 32);
}

// Another shape of the same family: random widths (so shortcuts pad and, with local padding, narrow) at a
// resolution that leaves odd feature maps before pooling (ceil mode).
ArchSpec odd_spec_of(const std::string& arch, uint64_t seed) {
  ModelOptions m = registry_model(arch);
  m.padding = Padding::kLocal;
  std::mt19937 rng{uint32_t(seed)};
  std::uniform_real_distribution<double> f(0.5, 1.5);
  std::vector<int64_t> c = default_channels(m);
  for (auto& v : c) v = std::max<int64_t>(1, std::llround(double(v) * f(rng)));
  const int res = design_resolution(m) > 64 ? 62 : 34;
  return build_spec(m, res, on_slot_grid(build_spec(m, res), c));
}

// The ops the families write, and some they do not yet: a conv with bias, BN and ReLU, a depthwise conv with
// bias, BN and ReLU, a pre-activation conv, an add that narrows one input and one that pads both, an average
// pool over an odd map (ceil mode), a padded max pool, squeeze-excitation, a concatenation, the pre-pool BN and
// the classifier.
ArchSpec handmade_spec() {
  ArchSpec s;
  s.arch = "handmade";
  s.in_channels = 3;
  s.resolution = 9;
  s.num_classes = 5;
  s.channels = {8, 6, 7};
  auto op = [&](OpKind k, std::vector<int> in, int64_t out, int res) {
    Op o;
    o.kind = k;
    o.name = "op" + std::to_string(s.ops.size());
    o.inputs = std::move(in);
    o.out = Width::constant(out);
    o.res = res;
    s.ops.push_back(o);
    return &s.ops.back();
  };
  auto same = [&](OpKind k, int in) { return op(k, {in}, s.ops[size_t(in)].out.value, s.ops[size_t(in)].res); };
  auto act = [&](int in, Activation a) { same(OpKind::kActivation, in)->act = a; };
  op(OpKind::kInput, {}, 3, 9);
  Op* c1 = op(OpKind::kConv, {0}, 8, 9);  // 1
  c1->kernel = 3, c1->pad = 1, c1->bias = true, c1->slot = 0;
  same(OpKind::kBatchNorm, 1);
  act(2, Activation::kRelu);
  Op* dw = op(OpKind::kConv, {3}, 8, 9);  // 4
  dw->kernel = 3, dw->pad = 1, dw->depthwise = true, dw->bias = true;
  same(OpKind::kBatchNorm, 4);
  act(5, Activation::kRelu);
  same(OpKind::kBatchNorm, 6);  // 7: a pre-activation
  act(7, Activation::kRelu);
  op(OpKind::kConv, {8}, 6, 9)->slot = 1;  // 9
  op(OpKind::kAdd, {6, 9}, 6, 9);          // 10: 8 channels narrowed to 6
  act(10, Activation::kRelu);
  op(OpKind::kAdd, {9, 11}, 10, 9);  // 12: both zero-padded to 10
  Op* avg = op(OpKind::kAvgPool, {12}, 10, 5);
  avg->kernel = 2, avg->stride = 2, avg->ceil = true;
  Op* mx = op(OpKind::kMaxPool, {13}, 10, 5);  // 14
  mx->kernel = 3, mx->pad = 1;
  op(OpKind::kGlobalPool, {14}, 10, 1);  // 15: squeeze-excitation
  op(OpKind::kConv, {15}, 3, 1)->bias = true;
  act(16, Activation::kRelu);
  op(OpKind::kConv, {17}, 10, 1)->bias = true;
  act(18, Activation::kSigmoid);
  op(OpKind::kMul, {14, 19}, 10, 5);
  Op* c2 = op(OpKind::kConv, {20}, 7, 3);  // 21
  c2->kernel = 3, c2->stride = 2, c2->pad = 1, c2->slot = 2;
  same(OpKind::kBatchNorm, 21);
  act(22, Activation::kRelu);
  op(OpKind::kConcat, {23, 23}, 14, 3);  // 24
  same(OpKind::kBatchNorm, 24);
  act(25, Activation::kRelu);
  op(OpKind::kGlobalPool, {26}, 14, 1);
  op(OpKind::kLinear, {27}, 5, 1);
  s.layers = {{"c1", 1, 0}, {"pre", 9, 0}, {"c2", 21, 1}};
  return s;
}

// Random weights and BatchNorm statistics far from the identity, so folding has something to fold.
GraphNet random_net(const ArchSpec& s, uint64_t seed) {
  torch::manual_seed(seed);
  GraphNet net(s);
  torch::NoGradGuard ng;
  for (const auto& m : net->modules(false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.3, 0.3);
      bn->running_mean.uniform_(-0.3, 0.3);
      bn->running_var.uniform_(0.5, 2.0);
    }
  }
  net->eval();
  return net;
}

double tolerance(const torch::Tensor& want, bool fold_bn) {
  return (fold_bn ? 1e-4 : 1e-5) * std::max(1.0, want.abs().max().item<double>());
}

// (input, netadj's output, tolerance) for check_export.py.
void write_io(const std::string& path, const torch::Tensor& x, const torch::Tensor& want, double tol) {
  auto bytes = torch::pickle_save(c10::ivalue::Tuple::create({x, want, torch::tensor(tol, torch::kDouble)}));
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

std::string python() { return NETADJ_PYTHON; }

bool python_has_torch() {
  return std::system((python() + " -W ignore -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
}

// Runs a checker from scripts/ (check_export.py, check_onnx.py) over (model, io) pairs; returns its JSON lines (one
// per pair) and exit status.
std::pair<int, std::vector<json>> run_checker(const std::string& script, const std::vector<std::string>& pairs) {
  std::vector<std::string> args{"-W", "ignore", std::string(NETADJ_SOURCE_DIR) + "/scripts/" + script};
  args.insert(args.end(), pairs.begin(), pairs.end());
  CliRun r = run_cli_in(python(), args, "");
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(json::parse(l));
  EXPECT_TRUE(r.err.empty() || r.status == 0) << r.err;
  return {r.status, lines};
}

std::pair<int, std::vector<json>> check_in_python(const std::vector<std::string>& pairs) {
  return run_checker("check_export.py", pairs);
}

class ExportEveryArch : public ::testing::TestWithParam<std::string> {};

}  // namespace

// The TorchScript module, saved and loaded back in LibTorch, computes netadj's eval-mode forward: with
// BatchNorm as it is (1e-5) and folded (1e-4), at batch sizes 1 and 3.
void expect_export_equals_forward(const ArchSpec& s, const std::string& what) {
  GraphNet net = random_net(s, 11);
  std::string dir = fresh_dir("export_" + what);
  for (bool fold : {false, true}) {
    std::string file = dir + (fold ? "/folded.pt" : "/plain.pt");
    torch::jit::Module m = to_torchscript(*net, fold);
    m.save(file);
    torch::jit::Module back = torch::jit::load(file);
    for (int64_t batch : {1, 3}) {
      torch::Tensor x = torch::randn({batch, s.in_channels, s.resolution, s.resolution});
      torch::NoGradGuard ng;
      torch::Tensor want = net->forward(x);
      torch::Tensor got = back.forward({x}).toTensor();
      ASSERT_EQ(got.sizes(), want.sizes()) << what;
      EXPECT_LE((got - want).abs().max().item<double>(), tolerance(want, fold)) << what << " fold " << fold;
    }
  }
}

TEST_P(ExportEveryArch, LoadedModuleEqualsForward) { expect_export_equals_forward(spec_of(GetParam()), GetParam()); }

TEST_P(ExportEveryArch, LoadedModuleEqualsForwardAtRandomWidthsAndOddMaps) {
  expect_export_equals_forward(odd_spec_of(GetParam(), 5), GetParam() + "_odd");
}

TEST(Export, EveryOpKindEqualsForward) {
  ArchSpec s = handmade_spec();
  GraphNet net(s);  // the spec is well formed: the module builds and runs
  EXPECT_EQ(net->forward(torch::randn({2, 3, 9, 9})).sizes(), (std::vector<int64_t>{2, 5}));
  expect_export_equals_forward(s, "handmade");
}

// Folding changes the weights: the folded module has no BatchNorm statistics left, the plain one keeps them.
TEST_P(ExportEveryArch, FoldingRemovesEveryBatchNorm) {
  ArchSpec s = spec_of(GetParam());
  GraphNet net = random_net(s, 12);
  auto count = [](const torch::jit::Module& m, const std::string& part) {
    int n = 0;
    for (const auto& p : m.named_parameters())
      if (p.name.find(part) != std::string::npos) ++n;
    return n;
  };
  int bns = 0;
  for (const auto& m : net->modules(false))
    if (m->as<torch::nn::BatchNorm2dImpl>()) ++bns;
  torch::jit::Module plain = to_torchscript(*net, false), folded = to_torchscript(*net, true);
  // A BatchNorm that does not follow a conv it alone reads (a pre-activation: DenseNet's convs, the pre-pool BN,
  // the first layer's BN on the stem that the concatenation reads too) becomes a scale and a shift.
  int preact = 0;
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const Op& op = s.ops[i];
    if (op.kind != OpKind::kBatchNorm) continue;
    const int in = op.inputs[0];
    int readers = 0;
    for (const Op& o : s.ops) readers += int(std::count(o.inputs.begin(), o.inputs.end(), in));
    preact += s.ops[size_t(in)].kind != OpKind::kConv || readers > 1;
  }
  EXPECT_EQ(count(plain, "_pre_rm"), bns) << GetParam();
  EXPECT_EQ(count(folded, "_rm") + count(folded, "_rv"), 0) << GetParam();
  EXPECT_EQ(count(folded, "_pre_s"), preact) << GetParam();
  EXPECT_EQ(count(folded, "_pre_t"), preact) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Registry, ExportEveryArch, ::testing::ValuesIn(registered_names()));

// Python (the torch virtualenv, no netadj) loads every architecture's export, plain and folded, and gets
// netadj's outputs; the embedded model.json names the architecture.
TEST(Export, PythonLoadsEveryArchitecture) {
  if (!python_has_torch()) GTEST_SKIP() << python() << " has no torch (a Torch_DIR build without the virtualenv)";
  std::string dir = fresh_dir("export_python");
  std::vector<std::string> pairs;
  for (const std::string& arch : registered_names()) {
    ArchSpec s = spec_of(arch);
    GraphNet net = random_net(s, 13);
    for (bool fold : {false, true}) {
      ExportInfo info;
      info.model.arch = arch;
      info.mean.assign(size_t(s.in_channels), 0.5f);
      info.std.assign(size_t(s.in_channels), 0.25f);
      info.fold_bn = fold;
      std::string file = dir + "/" + arch + (fold ? "_folded.pt" : ".pt");
      ExportResult r = export_model(*net, info, file);
      EXPECT_EQ(r.card_file, dir + "/" + arch + (fold ? "_folded.json" : ".json"));
      torch::Tensor x = torch::randn({2, s.in_channels, s.resolution, s.resolution});
      torch::NoGradGuard ng;
      torch::Tensor want = net->forward(x);
      write_io(file + ".io", x, want, tolerance(want, fold));
      pairs.push_back(file);
      pairs.push_back(file + ".io");
    }
  }
  auto [status, lines] = check_in_python(pairs);
  EXPECT_EQ(status, 0);
  ASSERT_EQ(lines.size(), pairs.size() / 2);
  for (const json& l : lines) EXPECT_TRUE(l.at("ok").get<bool>()) << l.dump();
}

namespace {

bool python_has_onnxruntime() {
  return std::system((python() + " -W ignore -c 'import onnxruntime, torch' >/dev/null 2>&1").c_str()) == 0;
}

std::pair<int, std::vector<json>> check_onnx(const std::vector<std::string>& pairs) {
  return run_checker("check_onnx.py", pairs);
}

// Writes `s`'s ONNX export (random weights and BN statistics), plain and folded, and the (input, output,
// 1e-4 * max |output|) files of netadj's forward at batch sizes 1 and 3; appends the (model, io) pairs.
void add_onnx_cases(const ArchSpec& s, const std::string& dir, const std::string& what,
                    std::vector<std::string>& pairs) {
  GraphNet net = random_net(s, 21);
  for (bool fold : {false, true}) {
    const std::string file = dir + "/" + what + (fold ? "_folded.onnx" : ".onnx");
    write_file_atomic(file, to_onnx(*net, fold));
    for (int64_t batch : {1, 3}) {
      torch::Tensor x = torch::randn({batch, s.in_channels, s.resolution, s.resolution});
      torch::NoGradGuard ng;
      torch::Tensor want = net->forward(x);
      const std::string io = file + ".b" + std::to_string(batch);
      write_io(io, x, want, 1e-4 * want.abs().max().item<double>());
      pairs.insert(pairs.end(), {file, io});
    }
  }
}

}  // namespace

// ONNX Runtime (PyPI, in the test virtualenv) runs every registered architecture's ONNX export, at its default
// widths and at random widths over odd maps, plain and with folded BatchNorm, and every op kind and flag (the
// handmade spec), at batch sizes 1 and 3 (one file: the batch is dynamic), within 1e-4 of the largest output.
TEST(Export, OnnxRuntimeRunsEveryArchitectureAtTwoBatchSizes) {
  if (!python_has_onnxruntime()) GTEST_SKIP() << python() << " has no onnxruntime (scripts/test.sh installs it)";
  const std::string dir = fresh_dir("export_onnx");
  std::vector<std::string> pairs;
  for (const std::string& arch : registered_names()) {
    add_onnx_cases(spec_of(arch), dir, arch, pairs);
    add_onnx_cases(odd_spec_of(arch, 7), dir, arch + "_odd", pairs);
  }
  add_onnx_cases(handmade_spec(), dir, "handmade", pairs);
  auto [status, lines] = check_onnx(pairs);
  EXPECT_EQ(status, 0);
  ASSERT_EQ(lines.size(), pairs.size() / 2);
  for (const json& l : lines) EXPECT_TRUE(l.at("ok").get<bool>()) << l.dump();
}

// The ONNX checker fails on a wrong output, so the test above can fail.
TEST(Export, OnnxCheckFailsOnWrongOutput) {
  if (!python_has_onnxruntime()) GTEST_SKIP() << python() << " has no onnxruntime";
  const std::string dir = fresh_dir("export_onnx_wrong");
  ArchSpec s = spec_of("resnet_cifar");
  GraphNet net = random_net(s, 22);
  write_file_atomic(dir + "/m.onnx", to_onnx(*net, false));
  torch::Tensor x = torch::randn({2, s.in_channels, s.resolution, s.resolution});
  torch::NoGradGuard ng;
  write_io(dir + "/io.pt", x, net->forward(x) + 1e-3, 1e-5);
  auto [status, lines] = check_onnx({dir + "/m.onnx", dir + "/io.pt"});
  EXPECT_EQ(status, 1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(lines[0].at("ok").get<bool>());
}

// Adaptive pools ONNX has no op for (3x3 to 2x2, 3x3 to 5x5: overlapping bins) and one it has (3x3 to 1x1), on a
// branch the classifier reads through a concatenation, equal netadj's forward in ONNX Runtime.
TEST(Export, OnnxAdaptivePoolsOfAnySize) {
  if (!python_has_onnxruntime()) GTEST_SKIP() << python() << " has no onnxruntime";
  ArchSpec s = handmade_spec();
  const Op classifier = s.ops.back();
  s.ops.pop_back();
  std::vector<int> pooled;
  for (int size : {2, 5, 1}) {
    Op pool;
    pool.kind = OpKind::kAdaptivePool;
    pool.name = "pool" + std::to_string(size);
    pool.inputs = {23};  // c2 after its BN and ReLU: 7 channels at 3x3
    pool.out = Width::constant(7);
    pool.output_size = size;
    pool.res = size;
    s.ops.push_back(pool);
    Op flat;
    flat.kind = OpKind::kFlatten;
    flat.name = "flat" + std::to_string(size);
    flat.inputs = {int(s.ops.size()) - 1};
    flat.out = Width::constant(7 * size * size);
    s.ops.push_back(flat);
    pooled.push_back(int(s.ops.size()) - 1);
  }
  Op cat;
  cat.kind = OpKind::kConcat;
  cat.name = "cat";
  cat.inputs = pooled;
  cat.out = Width::constant(7 * (4 + 25 + 1));
  s.ops.push_back(cat);
  Op fc = classifier;
  fc.inputs = {int(s.ops.size()) - 1};
  s.ops.push_back(fc);
  const std::string dir = fresh_dir("export_onnx_adaptive");
  std::vector<std::string> pairs;
  add_onnx_cases(s, dir, "adaptive", pairs);
  auto [status, lines] = check_onnx(pairs);
  EXPECT_EQ(status, 0);
  for (const json& l : lines) EXPECT_TRUE(l.at("ok").get<bool>()) << l.dump();
}

// The checker itself fails on a wrong output (so the test above can fail).
TEST(Export, PythonCheckFailsOnWrongOutput) {
  if (!python_has_torch()) GTEST_SKIP() << python() << " has no torch";
  std::string dir = fresh_dir("export_python_wrong");
  ArchSpec s = spec_of("resnet_cifar");
  GraphNet net = random_net(s, 14);
  ExportInfo info;
  info.model.arch = "resnet_cifar";
  export_model(*net, info, dir + "/m.pt");
  torch::Tensor x = torch::randn({2, s.in_channels, s.resolution, s.resolution});
  torch::NoGradGuard ng;
  torch::Tensor want = net->forward(x) + 1e-3;
  write_io(dir + "/io.pt", x, want, 1e-5);
  auto [status, lines] = check_in_python({dir + "/m.pt", dir + "/io.pt"});
  EXPECT_EQ(status, 1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(lines[0].at("ok").get<bool>());
}

TEST(Export, CardPathAndContents) {
  EXPECT_EQ(export_card_path("a/b/model.pt"), "a/b/model.json");
  EXPECT_EQ(export_card_path("a.b/model"), "a.b/model.json");
  {
    // An export named *.json would be overwritten by its own card: refused, nothing written.
    std::string dir = fresh_dir("export_json_name");
    GraphNet net = random_net(spec_of("resnet_cifar"), 16);
    ExportInfo info;
    info.model.arch = "resnet_cifar";
    EXPECT_THROW(export_model(*net, info, dir + "/m.json"), ConfigError);
    EXPECT_FALSE(file_exists(dir + "/m.json"));
  }
  ArchSpec s = spec_of("densenet_cifar");
  GraphNet net = random_net(s, 15);
  ExportInfo info;
  info.model.arch = "densenet_cifar";
  info.mean = {0.1f, 0.2f, 0.3f};
  info.std = {0.4f, 0.5f, 0.6f};
  info.dataset = "cifar100";
  json card = export_card(*net, info, "x/model.pt");
  EXPECT_EQ(card.at("file"), "model.pt");
  EXPECT_EQ(card.at("channels").get<std::vector<int64_t>>(), s.channels);
  EXPECT_EQ(card.at("input").at("shape"), json({-1, 3, 32, 32}));
  EXPECT_EQ(card.at("num_classes"), 10);
  EXPECT_EQ(card.at("flops"), spec_flops(s));
  EXPECT_NEAR(card.at("preprocess").at("std")[2].get<double>(), 0.6, 1e-6);
  EXPECT_FALSE(card.at("preprocess").contains("resize"));
  info.center_crop = true;
  EXPECT_TRUE(export_card(*net, info, "m.pt").at("preprocess").contains("resize"));
}

// `netadj train` exports its trained network; Python's output from export/model.pt equals netadj's
// forward of model.pt. `netadj export` of that checkpoint (with --fold-bn) works; a truncated
// checkpoint, a channel file it does not match and another architecture's config are exit 3 naming it.
TEST(ExportCli, TrainedCheckpointExportsAndBadOnesAreRefused) {
  std::string dir = fresh_dir("export_cli");
  Config c = small_config();
  c.train.epochs = 1;
  c.exporting.format = ExportFormat::kBoth;
  write_json_atomic(dir + "/cfg.json", config_to_json(c));
  ASSERT_EQ(run_cli({"train", "-c", dir + "/cfg.json", "--out", dir + "/run", "--quiet"}), 0);
  ASSERT_TRUE(file_exists(dir + "/run/export/model.pt"));
  ASSERT_TRUE(file_exists(dir + "/run/export/model.onnx"));
  json card = read_json(dir + "/run/export/model.json");
  EXPECT_EQ(card.at("format"), "both");
  EXPECT_EQ(card.at("files"), json::parse(R"({"torchscript": "model.pt", "onnx": "model.onnx"})"));
  EXPECT_EQ(card.at("arch"), "resnet_cifar");
  EXPECT_EQ(card.at("preprocess").at("mean").size(), 1u);
  EXPECT_LE(card.at("check").at("max_abs_diff").get<double>(), card.at("check").at("tolerance").get<double>());

  ModelOptions m;
  GraphNet net = load_model(dir + "/run/model.pt", m);
  net->eval();
  torch::Tensor x = torch::randn({4, 1, 12, 12});
  torch::Tensor want;
  {
    torch::NoGradGuard ng;
    want = net->forward(x);
  }
  write_io(dir + "/io.pt", x, want, tolerance(want, false));
  CliRun ex = run_cli_full({"export", "-c", dir + "/cfg.json", "--checkpoint", dir + "/run/model.pt", "--out",
                            dir + "/out/folded.pt", "--fold-bn"});
  ASSERT_EQ(ex.status, 0) << ex.err;
  EXPECT_TRUE(json::parse(ex.out).at("fold_bn").get<bool>());
  write_io(dir + "/io_folded.pt", x, want, tolerance(want, true));
  if (python_has_torch()) {
    auto [status, lines] =
        check_in_python({dir + "/run/export/model.pt", dir + "/io.pt", dir + "/out/folded.pt", dir + "/io_folded.pt"});
    EXPECT_EQ(status, 0);
    EXPECT_EQ(lines.size(), 2u);
  }
  // ONNX alone, folded, named .onnx: no TorchScript file; the card says so.
  CliRun ox = run_cli_full({"export", "-c", dir + "/cfg.json", "--checkpoint", dir + "/run/model.pt", "--out",
                            dir + "/onnx/net.onnx", "--format", "onnx", "--fold-bn"});
  ASSERT_EQ(ox.status, 0) << ox.err;
  EXPECT_TRUE(file_exists(dir + "/onnx/net.onnx"));
  EXPECT_FALSE(file_exists(dir + "/onnx/net.pt"));
  json oc = read_json(dir + "/onnx/net.json");
  EXPECT_EQ(oc.at("format"), "onnx");
  EXPECT_EQ(oc.at("file"), "net.onnx");
  EXPECT_EQ(oc.at("onnx").at("opset"), kOnnxOpset);
  write_io(dir + "/io_onnx.pt", x, want, 1e-4 * want.abs().max().item<double>());
  if (python_has_onnxruntime()) {
    auto [status, lines] =
        check_onnx({dir + "/run/export/model.onnx", dir + "/io_onnx.pt", dir + "/onnx/net.onnx", dir + "/io_onnx.pt"});
    EXPECT_EQ(status, 0);
    ASSERT_EQ(lines.size(), 2u);
    for (const json& l : lines) EXPECT_TRUE(l.at("ok").get<bool>()) << l.dump();
  }

  // A truncated checkpoint.
  std::string bytes = read_file(dir + "/run/model.pt");
  write_file_atomic(dir + "/cut.pt", bytes.substr(0, bytes.size() / 2));
  CliRun cut =
      run_cli_full({"export", "-c", dir + "/cfg.json", "--checkpoint", dir + "/cut.pt", "--out", dir + "/x.pt"});
  EXPECT_EQ(cut.status, 3);
  EXPECT_NE(cut.err.find(dir + "/cut.pt"), std::string::npos) << cut.err;
  EXPECT_FALSE(file_exists(dir + "/x.pt"));
  // A channel file the checkpoint does not match.
  std::vector<int64_t> other = net->spec().channels;
  other[0] += 1;
  write_json_atomic(dir + "/other.json", channel_file_json(m, other));
  CliRun wrong = run_cli_full({"export", "-c", dir + "/cfg.json", "--checkpoint", dir + "/run/model.pt", "--channels",
                               dir + "/other.json", "--out", dir + "/x.pt"});
  EXPECT_EQ(wrong.status, 3);
  EXPECT_NE(wrong.err.find(dir + "/run/model.pt"), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find("channels"), std::string::npos) << wrong.err;
  EXPECT_FALSE(file_exists(dir + "/x.pt"));
  // Another architecture's config.
  c.model.arch = "plain_cifar";
  write_json_atomic(dir + "/plain.json", config_to_json(c));
  CliRun arch = run_cli_full(
      {"export", "-c", dir + "/plain.json", "--checkpoint", dir + "/run/model.pt", "--out", dir + "/x.pt"});
  EXPECT_EQ(arch.status, 3);
  EXPECT_NE(arch.err.find(dir + "/run/model.pt"), std::string::npos) << arch.err;
}

// export.enabled = false writes no export.
TEST(ExportCli, DisabledWritesNothing) {
  std::string dir = fresh_dir("export_cli_off");
  Config c = small_config();
  c.train.epochs = 1;
  c.exporting.enabled = false;
  write_json_atomic(dir + "/cfg.json", config_to_json(c));
  ASSERT_EQ(run_cli({"train", "-c", dir + "/cfg.json", "--out", dir + "/run", "--quiet"}), 0);
  EXPECT_TRUE(file_exists(dir + "/run/model.pt"));
  EXPECT_FALSE(file_exists(dir + "/run/export/model.pt"));
}
