// The sixteen torchvision models through netadj import (tests/torchvision_fixture.py imports them once per test
// run, with random weights, and records torchvision's own outputs and FlopCounterMode's count): each imports or
// is refused with one line, and at least 14 import. Every imported one runs in netadj as in torchvision, counts
// exactly, survives an adjustment step and a warm-start widening, and exports to TorchScript that Python loads.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "build_paths.h"
#include "cli_util.h"
#include "netadj/backends/export.h"
#include "netadj/backends/warm.h"
#include "netadj/backends/weights.h"
#include "netadj/config/config.h"
#include "netadj/data/data.h"
#include "netadj/nets/graph.h"
#include "netadj/search/search.h"
#include "netadj/util/fs.h"

using namespace netadj;
using nlohmann::json;

namespace {

const std::vector<std::string> kModels = {
    "resnet18",           "resnet50",   "resnext50_32x4d", "wide_resnet50_2", "vgg11_bn",    "mobilenet_v2",
    "mobilenet_v3_large", "mnasnet1_0", "efficientnet_b0", "regnet_y_400mf",  "densenet121", "shufflenet_v2_x1_0",
    "squeezenet1_1",      "googlenet",  "convnext_tiny",   "alexnet"};

std::string dir_of(const std::string& model) { return std::string(testing_util::kImportDir) + "/" + model; }
bool unavailable() { return file_exists(std::string(testing_util::kImportDir) + "/unavailable.txt"); }
bool imported(const std::string& model) { return file_exists(dir_of(model) + "/graph.json"); }

// The imported model: its options (the file's classes and channels) and a module at `res` with its weights.
struct Imported {
  ModelOptions m;
  GraphNet net{nullptr};
};
Imported load(const std::string& model, int res) {
  Imported r;
  r.m.arch = "graph";
  r.m.graph = std::make_shared<const json>(read_json(dir_of(model) + "/graph.json"));
  const Graph g = model_graph(r.m);
  r.m.num_classes = int(g.ops[size_t(g.output)].shape.channels);
  r.m.in_channels = int(g.input.channels);
  r.net = GraphNet(build_spec(r.m, res));
  load_weights(*r.net, read_weights(dir_of(model) + "/weights.bin"), model);
  r.net->eval();
  return r;
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

class Torchvision : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (unavailable()) GTEST_SKIP() << "the test Python has no torchvision (scripts/setup.sh installs it)";
    torch::manual_seed(0);
  }
  bool skip_refused() const { return !imported(GetParam()); }
};

}  // namespace

// Imported, or refused with one line that names the node, its op and the supported ops (never a wrong graph).
TEST_P(Torchvision, ImportsOrIsRefusedWithOneLine) {
  const std::string d = dir_of(GetParam());
  ASSERT_TRUE(file_exists(d + "/reference.json")) << "the fixture did not run for " << GetParam();
  if (imported(GetParam())) {
    EXPECT_TRUE(file_exists(d + "/weights.bin"));
    EXPECT_FALSE(file_exists(d + "/refused.txt"));
    return;
  }
  const std::string line = read_file(d + "/refused.txt");
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
  EXPECT_NE(line.find("node '"), std::string::npos) << line;
  EXPECT_NE(line.find("supported: Conv2d"), std::string::npos) << line;
}

// netadj's forward with the imported weights is torchvision's eval forward (random batch, 64x64).
TEST_P(Torchvision, ForwardEqualsTorchvision) {
  if (skip_refused()) GTEST_SKIP() << GetParam() << " is refused";
  Imported r = load(GetParam(), 64);
  auto ref = read_weights(dir_of(GetParam()) + "/reference.bin");
  torch::NoGradGuard ng;
  torch::Tensor y = r.net->forward(ref.at("x"));
  ASSERT_EQ(y.sizes(), ref.at("y").sizes());
  EXPECT_LE(max_abs(y - ref.at("y")), 1e-4 * max_abs(ref.at("y"))) << GetParam();
}

// MACs at 224x224 are half of FlopCounterMode's count (convolutions and matrix products), exactly, and the
// parameters are the module's.
TEST_P(Torchvision, MacsAndParamsEqualPyTorchsCount) {
  if (skip_refused()) GTEST_SKIP() << GetParam() << " is refused";
  const json want = read_json(dir_of(GetParam()) + "/reference.json");
  Imported r = load(GetParam(), 224);
  EXPECT_EQ(spec_flops(r.net->spec()), want.at("macs_224").get<int64_t>()) << GetParam();
  EXPECT_EQ(spec_params(r.net->spec()), want.at("params").get<int64_t>()) << GetParam();
  EXPECT_EQ(count_parameters(*r.net), want.at("params").get<int64_t>()) << GetParam();
}

// One adjustment step with random FUR: a network that builds and runs, within 0.5% of the budget, every slot on
// its grid; it exports to TorchScript, and Python loads it and gets netadj's output.
TEST_P(Torchvision, AdjustStepKeepsTheBudgetAndExportsToPython) {
  if (skip_refused()) GTEST_SKIP() << GetParam() << " is refused";
  Imported r = load(GetParam(), 224);
  const ArchSpec& s0 = r.net->spec();
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> fur(s0.channels.size());
  for (auto& v : fur) v = u(rng);
  SearchOptions so;
  const CostFn cost = flops_fn(r.m, 224);
  const int64_t b0 = cost(s0.channels);
  const ChannelGrid grid = channel_grid(so, s0);
  Adjustment a = adjust_channels(s0.channels, s0.channels, fur, {}, 0, so, cost, b0, grid);
  EXPECT_NE(a.channels, s0.channels);
  const ArchSpec s = build_spec(r.m, 224, a.channels);
  EXPECT_LE(std::abs(double(spec_flops(s) - b0)) / double(b0), 0.005) << GetParam();
  for (size_t l = 0; l < a.channels.size(); ++l) EXPECT_EQ(a.channels[l] % grid.multiple[l], 0) << GetParam();
  GraphNet net(build_spec(r.m, 64, a.channels));
  net->eval();
  torch::NoGradGuard ng;
  torch::Tensor x = torch::randn({2, 3, 64, 64});
  torch::Tensor y = net->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, r.m.num_classes}));
  ASSERT_TRUE(torch::isfinite(y).all().item<bool>());
  if (std::system((std::string(NETADJ_PYTHON) + " -W ignore -c 'import torch' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "the test Python has no torch";
  const std::string file = dir_of(GetParam()) + "/adjusted.pt";
  ExportInfo info;
  info.model = r.m;
  info.mean.assign(3, 0.5f);
  info.std.assign(3, 0.25f);
  info.format = ExportFormat::kBoth;  // adjusted.pt and adjusted.onnx
  export_model(*net, info, file);
  auto write_io = [](const std::string& path, const torch::Tensor& in, const torch::Tensor& out, double tol) {
    auto bytes = torch::pickle_save(c10::ivalue::Tuple::create({in, out, torch::tensor(tol, torch::kDouble)}));
    std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  };
  write_io(file + ".io", x, y, 1e-5 * max_abs(y));
  testing_util::CliRun py = testing_util::run_cli_in(
      NETADJ_PYTHON, {std::string(NETADJ_SOURCE_DIR) + "/scripts/check_export.py", file, file + ".io"}, "");
  EXPECT_EQ(py.status, 0) << py.out << py.err;
  EXPECT_NE(py.out.find("\"ok\": true"), std::string::npos) << py.out;
  // ONNX Runtime runs the ONNX export at two batch sizes within 1e-4 of the largest output.
  if (std::system((std::string(NETADJ_PYTHON) + " -W ignore -c 'import onnxruntime' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "the test Python has no onnxruntime";
  const std::string onnx = dir_of(GetParam()) + "/adjusted.onnx";
  torch::Tensor x1 = x.narrow(0, 0, 1), y1 = net->forward(x1);
  write_io(onnx + ".io1", x1, y1, 1e-4 * max_abs(y1));
  write_io(onnx + ".io2", x, y, 1e-4 * max_abs(y));
  testing_util::CliRun ort =
      testing_util::run_cli_in(NETADJ_PYTHON,
                               {"-W", "ignore", std::string(NETADJ_SOURCE_DIR) + "/scripts/check_onnx.py", onnx,
                                onnx + ".io1", onnx, onnx + ".io2"},
                               "");
  EXPECT_EQ(ort.status, 0) << GetParam() << ": " << ort.out << ort.err;
}

// Widening every slot by the warm-start map (warm_noise 0) keeps the output within 1e-5 relative.
TEST_P(Torchvision, WarmWideningKeepsTheOutput) {
  if (skip_refused()) GTEST_SKIP() << GetParam() << " is refused";
  Imported r = load(GetParam(), 64);
  std::vector<int64_t> c = r.net->spec().channels;
  for (size_t l = 0; l < c.size(); ++l) {
    const int64_t m = r.net->spec().layers[l].multiple;
    c[l] = (c[l] + c[l] / 4 + m - 1) / m * m;
  }
  GraphNet wide(build_spec(r.m, 64, c));
  warm_transfer(r.net, wide, WarmMapOptions{WarmImportance::kBn, 0.0, 3});
  wide->eval();
  torch::NoGradGuard ng;
  torch::Tensor x = torch::randn({2, 3, 64, 64});
  torch::Tensor want = r.net->forward(x), got = wide->forward(x);
  EXPECT_LE(max_abs(got - want), 1e-5 * std::max(1.0, max_abs(want))) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Import, Torchvision, ::testing::ValuesIn(kModels));

// At least 14 of the 16 import.
TEST(TorchvisionImport, AtLeastFourteenOfSixteenImport) {
  if (unavailable()) GTEST_SKIP() << "the test Python has no torchvision";
  int n = 0;
  for (const std::string& m : kModels) n += imported(m);
  EXPECT_GE(n, 14);
}

// The command: imports a model into a folder that netadj then reads without Python, and refuses one it cannot
// express, or a target that does not exist, with one line and exit 2.
TEST(ImportCli, ImportsRefusesAndNamesBadTargets) {
  if (unavailable()) GTEST_SKIP() << "the test Python has no torchvision";
  const std::string out = ::testing::TempDir() + "/netadj_import_cli";
  remove_tree(out);
  auto run = [&](const std::string& target) {
    return testing_util::run_cli_full(
        {"import", target, "--input", "3,32,32", "--out", out, "--python", NETADJ_PYTHON});
  };
  testing_util::CliRun ok = run("torchvision.models:resnet18");
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("graph.json ("), std::string::npos) << ok.out;
  const Graph g = read_graph(out + "/graph.json");
  EXPECT_EQ(g.input.res, 32);
  EXPECT_EQ(read_weights(out + "/weights.bin").size(), 102u);  // 20 convs x 1, 20 BNs x 4, fc x 2
  for (const char* bad : {"torchvision.models:shufflenet_v2_x1_0", "no_such_module:build", "torchvision.models"}) {
    testing_util::CliRun r = run(bad);
    EXPECT_EQ(r.status, 2) << bad << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("netadj import"), std::string::npos) << r.err;
  }
}

// An import refused after the trace (here netadj's own check: a module whose output nothing reads) or by the
// importer prints no success line and leaves the --out folder as it was: nothing written, nothing beside it.
TEST(ImportCli, ARefusedImportWritesNothing) {
  if (unavailable()) GTEST_SKIP() << "the test Python has no torchvision";
  const std::string d = ::testing::TempDir() + "/netadj_import_refused";
  remove_tree(d);
  make_dirs(d + "/pkg");
  std::ofstream(d + "/pkg/deadnet.py") << R"(import torch
from torch import nn


class DeadBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.unused = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.conv(x)
        self.unused(y)
        return self.fc(torch.flatten(self.pool(y), 1))


def build():
    return DeadBranch()
)";
  const std::string out = d + "/out";
  make_dirs(out);
  std::ofstream(out + "/keep.txt") << "the user's\n";
  ::setenv("PYTHONPATH", (d + "/pkg").c_str(), 1);
  for (const char* target : {"deadnet:build", "torchvision.models:shufflenet_v2_x1_0"}) {
    testing_util::CliRun r =
        testing_util::run_cli_full({"import", target, "--input", "3,16,16", "--out", out, "--python", NETADJ_PYTHON});
    EXPECT_NE(r.status, 0) << target;
    EXPECT_EQ(r.out, "") << target;
    auto names = [](const std::string& dir) {
      std::vector<std::string> n;
      for (const auto& e : std::filesystem::directory_iterator(dir)) n.push_back(e.path().filename().string());
      std::sort(n.begin(), n.end());
      return n;
    };
    EXPECT_EQ(names(out), std::vector<std::string>{"keep.txt"}) << target << ": " << r.err;
    EXPECT_EQ(names(d), (std::vector<std::string>{"out", "pkg"})) << target << ": a temp folder is left";
  }
  ::unsetenv("PYTHONPATH");
}

// The shipped ImageNet configs for imported networks (configs/imagenet/) count what the README says: ResNet-50
// at its own 4.09G MACs and uniformly scaled to ~2G (every width x0.69 on multiples of 8), MobileNetV2 at 301M.
TEST(ImportConfigs, ImageNetBudgets) {
  if (unavailable()) GTEST_SKIP() << "the test Python has no torchvision";
  const std::string src = std::string(NETADJ_SOURCE_DIR) + "/configs/imagenet/";
  const std::map<std::string, std::pair<std::string, int64_t>> want = {
      {"resnet50_graph.json", {"resnet50", 4089184256}},
      {"resnet50_2g_graph.json", {"resnet50", 2011508736}},
      {"mobilenet_v2_graph.json", {"mobilenet_v2", 300774272}}};
  for (const auto& [file, expect] : want) {
    testing_util::CliRun r = testing_util::run_cli_full(
        {"flops", "--config", src + file, "--set", "model.graph=" + dir_of(expect.first) + "/graph.json", "--json"});
    ASSERT_EQ(r.status, 0) << file << ": " << r.err;
    EXPECT_EQ(json::parse(r.out).at("flops").get<int64_t>(), expect.second) << file;
  }
}

// search.init = pretrained on an imported torchvision network: iteration 0 evaluates the imported weights with
// the normalization the network file records (as `netadj import --mean --std` writes it), not the one measured on
// the dataset. By hand: the validation images normalized with the file's mean and std through the imported
// module give the recorded loss and top-1; with the measured normalization they would not.
TEST(ImportedPretrained, IterationZeroEvaluatesWithTheImportedNormalization) {
  if (unavailable() || !imported("resnet18")) GTEST_SKIP() << "the test Python has no torchvision";
  const std::string d = ::testing::TempDir() + "/netadj_imported_pretrained";
  remove_tree(d);
  make_dirs(d);
  json graph = read_json(dir_of("resnet18") + "/graph.json");
  graph["normalize"] = {{"mean", {0.485, 0.456, 0.406}}, {"std", {0.229, 0.224, 0.225}}};
  std::ofstream(d + "/graph.json") << graph.dump();
  const json cfg = {
      {"model",
       {{"arch", "graph"},
        {"graph", d + "/graph.json"},
        {"weights", dir_of("resnet18") + "/weights.bin"},
        {"num_classes", 1000},
        {"in_channels", 3}}},
      {"data",
       {{"dataset", "synthetic"},
        {"val_size", 32},
        {"synthetic",
         {{"train_size", 64}, {"test_size", 16}, {"classes", 1000}, {"channels", 3}, {"resolution", 32}}}}},
      {"train", {{"epochs", 1}, {"batch_size", 32}}},
      {"fur", {{"repeats", 1}}},
      {"search", {{"iterations", 1}, {"init", "pretrained"}}},
      {"export", {{"enabled", false}}},
      {"runtime", {{"device", "cpu"}, {"seed", 3}}}};
  std::ofstream(d + "/config.json") << cfg.dump();
  testing_util::CliRun r =
      testing_util::run_cli_full({"--quiet", "search", "--config", d + "/config.json", "--out", d + "/run"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json it0 = read_json(d + "/run/search.json")["iterations"][0];
  EXPECT_EQ(it0["epochs"], 0);
  // By hand, from the raw images of the run's validation split.
  const Config c = load_config(d + "/config.json", {});
  const DataModule data(c.data, c.runtime.seed);
  const auto& val = data.val_indices();
  const torch::Tensor idx = torch::tensor(std::vector<int64_t>(val.begin(), val.end()));
  const torch::Tensor raw = data.train_set().images.index_select(0, idx).to(torch::kFloat) / 255.0;
  const torch::Tensor labels = data.train_set().labels.index_select(0, idx);
  Imported net = load("resnet18", 32);
  auto loss_top1 = [&](const torch::Tensor& mean, const torch::Tensor& sd) {
    torch::NoGradGuard ng;
    const torch::Tensor logits = net.net->forward((raw - mean.view({1, 3, 1, 1})) / sd.view({1, 3, 1, 1}));
    const double loss = torch::nn::functional::cross_entropy(logits, labels).item<double>();
    const double top1 = logits.argmax(1).eq(labels).to(torch::kDouble).mean().item<double>();
    return std::make_pair(loss, top1);
  };
  const auto [loss, top1] = loss_top1(torch::tensor({0.485, 0.456, 0.406}).to(torch::kFloat),
                                      torch::tensor({0.229, 0.224, 0.225}).to(torch::kFloat));
  EXPECT_NEAR(it0["val"]["loss"].get<double>(), loss, 1e-4 * std::max(1.0, loss));
  EXPECT_NEAR(it0["val"]["top1"].get<double>(), top1, 1e-6);
  const auto measured = loss_top1(raw.mean({0, 2, 3}), raw.std({0, 2, 3}));
  EXPECT_GT(std::abs(measured.first - loss), 1e-3) << "the two normalizations give the same loss: no evidence";
}
