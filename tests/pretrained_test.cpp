// A start from trained weights (model.weights, search.init = pretrained; train/pretrained.h): iteration 0 is the
// given network, evaluated as it is and measured, nothing trained before its FUR; the weights' normalization
// travels with them; the run pins them; weights of another network are refused naming the difference.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "build_paths.h"
#include "cli_util.h"
#include "error_text.h"
#include "netadj/backends/weights.h"
#include "netadj/pipeline/compare.h"
#include "netadj/run/session.h"
#include "netadj/train/pretrained.h"
#include "netadj/train/train.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;
using testing_util::run_cli;
using testing_util::run_cli_full;

namespace {

const std::string kSmoke = std::string(NETADJ_SOURCE_DIR) + "/configs/smoke_synthetic.json";
const std::string kWeightsCorpus = std::string(NETADJ_SOURCE_DIR) + "/tests/corpus/weights/";

std::string tmp(const std::string& name) { return testing_util::fresh_dir("pretrained_" + name); }
std::string data_error(const std::function<void()>& f) { return testing_util::error_text<DataError>(f); }
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
// The lines of a run's stderr that report its error (warnings may come before).
std::vector<std::string> error_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("netadj: error: ", 0) == 0) lines.push_back(line);
  return lines;
}
bool one_line(const std::string& text) {
  return !text.empty() && text.find('\n') == text.size() - 1 && text.find('\n') != std::string::npos;
}

// The labels of metrics.jsonl's lines (one per trained epoch).
std::vector<std::string> trained_labels(const std::string& dir) {
  std::vector<std::string> labels;
  std::ifstream in(dir + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) labels.push_back(json::parse(line).value("label", ""));
  return labels;
}

json search_json(const std::string& dir) { return testing_util::computed_part(read_json(dir + "/search.json")); }

std::vector<std::string> pretrained_search(const std::string& model, const std::string& out) {
  return {"--quiet",  "search",
          "--config", kSmoke,
          "--set",    "model.weights=" + model,
          "--set",    "search.init=pretrained",
          "--set",    "search.warm_start=true",
          "--out",    out};
}

// The tiny network file of the weights corpus (tests/corpus/weights/seed_tiny), with a normalization.
ModelOptions tiny_graph() {
  ModelOptions m;
  m.arch = "graph";
  m.num_classes = 4;
  m.graph = std::make_shared<const json>(json::parse(R"({"format": "netadj-graph", "version": 1,
    "input": {"channels": 3, "resolution": 8}, "normalize": {"mean": [0.25, 0.5, 0.75], "std": [0.5, 0.25, 0.125]},
    "ops": [{"name": "conv", "op": "conv2d", "inputs": ["input"], "out": 8, "kernel": 3, "padding": 1},
            {"name": "bn", "op": "batch_norm", "inputs": ["conv"]},
            {"name": "gap", "op": "mean", "inputs": ["bn"]},
            {"name": "fc", "op": "linear", "inputs": ["gap"], "out": 4}],
    "output": "fc"})"));
  return m;
}

}  // namespace

// Iteration 0 of a pretrained search is the given model.pt: the same validation accuracy as evaluating it
// directly, no epoch trained before its FUR, and iteration 1 warm-starts from it. The weights are pinned in
// weights.json; other weights under the same path refuse the resume. `train` fine-tunes from the weights (with
// 0 epochs its test accuracy is the given model's), and init_epochs fine-tunes iteration 0.
TEST(PretrainedSearch, IterationZeroIsTheGivenModelWithNothingTrained) {
  const std::string d = tmp("iter0");
  ASSERT_EQ(run_cli({"--quiet", "train", "--config", kSmoke, "--set", "train.epochs=2", "--set",
                     "train.full_train=false", "--out", d + "/train"}),
            0);
  const std::string model = d + "/train/model.pt";
  ASSERT_EQ(run_cli(pretrained_search(model, d + "/search")), 0);
  const json s = read_json(d + "/search/search.json");
  EXPECT_EQ(s["init"], "pretrained");
  const json& it0 = s["iterations"][0];
  EXPECT_EQ(it0["epochs"], 0);
  EXPECT_EQ(s["iterations"][1]["warm_from"], 0);
  for (const auto& label : trained_labels(d + "/search")) EXPECT_NE(label, "iter 0") << "iteration 0 trained";
  // Evaluated directly: the run's split, the model's own (recorded) normalization.
  Config cfg = load_config(kSmoke, {});
  RunSession session(cfg);
  ModelOptions m;
  Normalization norm;
  GraphNet net = load_model(model, m, &norm);
  EXPECT_EQ(norm.mean, session.data().mean());
  EXPECT_EQ(norm.std, session.data().std());
  const EvalResult direct = evaluate(net, *session.eval_loader(Split::kVal), torch::kCPU, AmpMode::kOff);
  EXPECT_NEAR(it0["val"]["top1"].get<double>(), direct.top1, 1e-6);
  EXPECT_NEAR(it0["val"]["loss"].get<double>(), direct.loss, 1e-5);
  EXPECT_EQ(it0["val"]["n"], direct.n);
  EXPECT_GT(direct.top1, 0.5);  // a trained network (4 classes), not fresh weights
  const json w = read_json(d + "/search/weights.json");
  EXPECT_EQ(w["path"], std::filesystem::absolute(model).lexically_normal().string());
  EXPECT_EQ(w["format"], "netadj-model");
  EXPECT_EQ(w["bytes"].get<int64_t>(), int64_t(std::filesystem::file_size(model)));
  EXPECT_EQ(w["mean"].size(), 1u);
  // train from the weights, 0 epochs: the given model's test accuracy.
  ASSERT_EQ(run_cli({"--quiet", "train", "--config", kSmoke, "--set", "model.weights=" + model, "--set",
                     "train.epochs=0", "--out", d + "/again"}),
            0);
  EXPECT_NEAR(read_json(d + "/again/result.json")["test"]["top1"].get<double>(),
              read_json(d + "/train/result.json")["test"]["top1"].get<double>(), 1e-9);
  // Fine-tuned iteration 0: one recorded epoch, which starts where the trained model is (low loss).
  std::vector<std::string> tuned = pretrained_search(model, d + "/tuned");
  tuned.insert(tuned.end(), {"--set", "search.init_epochs=1", "--set", "search.iterations=1"});
  ASSERT_EQ(run_cli(tuned), 0);
  EXPECT_EQ(read_json(d + "/tuned/search.json")["iterations"][0]["epochs"], 1);
  EXPECT_EQ(trained_labels(d + "/tuned"), std::vector<std::string>{"iter 0"});
  // Other weights of the same network under the pinned path: the resume is refused naming weights.json.
  std::filesystem::copy_file(d + "/tuned/iter_0/model.pt", model, std::filesystem::copy_options::overwrite_existing);
  const auto r = run_cli_full({"search", "--resume", d + "/search"});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "weights.json")) << r.err;
  EXPECT_TRUE(contains(r.err, "other weights")) << r.err;
}

// Killed during iteration 0's FUR, right after it is recorded, and while iteration 1 trains, a pretrained search
// resumes to what an uninterrupted one records.
TEST(PretrainedSearch, KilledAndResumedEqualsUninterrupted) {
  const std::string d = tmp("resume");
  ASSERT_EQ(run_cli({"--quiet", "train", "--config", kSmoke, "--set", "train.epochs=1", "--out", d + "/train"}), 0);
  const std::string model = d + "/train/model.pt";
  ASSERT_EQ(run_cli(pretrained_search(model, d + "/ref")), 0);
  const json want = search_json(d + "/ref");
  struct Point {
    const char* name;
    std::function<bool(const std::string&)> when;
  };
  const std::vector<Point> points = {
      {"mid-FUR of iteration 0",
       [](const std::string& r) {
         try {
           return file_exists(r + "/iter_0/fur_partial.json") &&
                  read_json(r + "/iter_0/fur_partial.json")["layers"].size() >= 2;
         } catch (...) {
           return false;
         }
       }},
      {"right after iteration 0 was recorded",
       [](const std::string& r) {
         try {
           return file_exists(r + "/search.json") && read_json(r + "/search.json")["iterations"].size() >= 1;
         } catch (...) {
           return false;
         }
       }},
      {"mid-training of iteration 1", [](const std::string& r) { return file_exists(r + "/iter_1/checkpoint.pt"); }},
  };
  for (const auto& p : points) {
    const std::string r = d + "/kill";
    remove_tree(r);
    ASSERT_EQ(run_cli(pretrained_search(model, r), [&] { return p.when(r); }), -9) << p.name << ": finished first";
    ASSERT_EQ(run_cli({"--quiet", "search", "--resume", r}), 0) << p.name;
    EXPECT_EQ(search_json(r), want) << p.name;
  }
}

// Weights of another network are refused, one line naming the file and the difference; so are files that are
// no weights at all, and a network file's weights for a built-in family or under another channel vector.
TEST(Pretrained, WeightsOfAnotherNetworkAreRefusedNamingTheDifference) {
  const std::string d = tmp("refuse");
  ModelOptions want = load_config(kSmoke, {}).model;  // resnet_cifar, depth 8, 4 classes, 1 input channel
  GraphNet target(build_spec(want, 12));
  auto saved = [&](ModelOptions m, const std::string& name) {
    GraphNet net(build_spec(m, 12));
    save_model(net, m, d + "/" + name);
    return d + "/" + name;
  };
  auto refusal = [&](const std::string& file, ModelOptions m) {
    m.weights = file;
    GraphNet net(build_spec(m, m.arch == "graph" ? 8 : 12));
    const std::string e = data_error([&] { load_pretrained(m, net); });
    EXPECT_TRUE(one_line(e + "\n")) << e;
    EXPECT_TRUE(contains(e, file)) << e;
    return e;
  };
  // The same network loads, tensor for tensor.
  const std::string same = saved(want, "same.pt");
  ModelOptions ok = want;
  ok.weights = same;
  load_pretrained(ok, target);
  ModelOptions m_same;
  GraphNet reference = load_model(same, m_same);
  EXPECT_TRUE(torch::equal(target->parameters().front(), reference->parameters().front()));
  ModelOptions other = want;
  other.arch = "plain_cifar";
  EXPECT_TRUE(contains(refusal(saved(other, "plain.pt"), want),
                       "are a plain_cifar network; the config's model.arch is resnet_cifar"));
  other = want;
  other.depth = 14;
  EXPECT_TRUE(contains(refusal(saved(other, "deeper.pt"), want), "depth 14; the config's model.depth is 8"));
  other = want;
  other.num_classes = 10;
  EXPECT_TRUE(contains(refusal(saved(other, "classes.pt"), want), "10 classes"));
  other = want;
  other.channels = build_spec(want, 12).channels;
  other.channels[2] += 3;
  const std::string e = refusal(saved(other, "wider.pt"), want);
  EXPECT_TRUE(contains(e, "channel vector")) << e;
  EXPECT_TRUE(contains(e, "layer 2")) << e;
  // No weights file at all.
  std::ofstream(d + "/notes.txt") << "not weights\n";
  EXPECT_TRUE(contains(refusal(d + "/notes.txt", want), "not a weights file"));
  EXPECT_TRUE(contains(refusal(d + "/missing.pt", want), "not found"));
  // A network file's weights: for a built-in family, under another channel vector, with a tensor too many.
  EXPECT_TRUE(contains(refusal(kWeightsCorpus + "seed_tiny", want), "needs model.arch = \"graph\""));
  ModelOptions tiny = tiny_graph();
  tiny.channels = {12};
  EXPECT_TRUE(contains(refusal(kWeightsCorpus + "seed_tiny", tiny), "leave model.channels unset"));
  EXPECT_TRUE(contains(refusal(kWeightsCorpus + "seed_extra_tensor", tiny_graph()), "'extra.weight' belongs to no op"));
  // From the command line: exit 3, one line, and no run directory.
  const auto r = run_cli_full({"--quiet", "search", "--config", kSmoke, "--set", "model.weights=" + d + "/deeper.pt",
                               "--set", "search.init=pretrained", "--out", d + "/run"});
  EXPECT_EQ(r.status, 3) << r.err;
  const auto lines = error_lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_TRUE(contains(lines[0], "depth 14")) << r.err;
  EXPECT_FALSE(file_exists(d + "/run/config.json"));
}

// The normalization travels with the weights: a network file's `normalize` for its weights file, a model.pt's
// record; the session's loaders use it instead of the dataset's measured one.
TEST(Pretrained, NormalizationTravelsWithTheWeights) {
  ModelOptions tiny = tiny_graph();
  tiny.weights = kWeightsCorpus + "seed_tiny";
  const WeightsRecord w = inspect_weights(tiny);
  EXPECT_EQ(w.format, "netadj-weights");
  EXPECT_EQ(w.mean, (std::vector<double>{0.25, 0.5, 0.75}));
  EXPECT_EQ(w.stddev, (std::vector<double>{0.5, 0.25, 0.125}));
  EXPECT_EQ(w.bytes, int64_t(std::filesystem::file_size(tiny.weights)));
  Config cfg;
  cfg.model = tiny;
  cfg.data.dataset = "synthetic";
  cfg.data.val_size = 16;
  cfg.data.synthetic = SyntheticOptions{64, 16, 4, 3, 8, 0.3};
  const RunSession session(cfg);
  EXPECT_EQ(session.data().mean(), (std::vector<float>{0.25f, 0.5f, 0.75f}));
  // The loader normalizes with it: (x - mean) / std of the raw images.
  auto loader = session.eval_loader(Split::kVal);
  loader->start_epoch(0);
  auto batch = loader->next();
  ASSERT_TRUE(batch.has_value());
  const auto& val = session.data().val_indices();
  const torch::Tensor idx = torch::tensor(std::vector<int64_t>(val.begin(), val.begin() + batch->x.size(0)));
  const torch::Tensor raw = session.data().train_set().images.index_select(0, idx).to(torch::kFloat) / 255.0;
  const torch::Tensor mean = torch::tensor({0.25f, 0.5f, 0.75f}).view({1, 3, 1, 1});
  const torch::Tensor sd = torch::tensor({0.5f, 0.25f, 0.125f}).view({1, 3, 1, 1});
  EXPECT_LT((batch->x - (raw - mean) / sd).abs().max().item<double>(), 1e-5);
  // A model.pt records the normalization it is saved with and gives it back.
  const std::string d = tmp("norm");
  ModelOptions plain = load_config(kSmoke, {}).model;
  GraphNet net(build_spec(plain, 12));
  save_model(net, plain, d + "/model.pt", Normalization{{0.3f}, {0.2f}});
  ModelOptions back;
  Normalization n;
  load_model(d + "/model.pt", back, &n);
  EXPECT_EQ(n.mean, std::vector<float>{0.3f});
  EXPECT_EQ(n.std, std::vector<float>{0.2f});
  EXPECT_TRUE(back.weights.empty());
  // A run from it normalizes with the recorded statistics, not the measured ones; so do export and fur.
  Config from = load_config(kSmoke, {"model.weights=" + d + "/model.pt"});
  const RunSession with_weights(from);
  EXPECT_EQ(with_weights.data().mean(), std::vector<float>{0.3f});
  EXPECT_EQ(with_weights.data().std(), std::vector<float>{0.2f});
  const auto r = run_cli_full(
      {"--quiet", "export", "--config", kSmoke, "--checkpoint", d + "/model.pt", "--out", d + "/export/model.pt"});
  ASSERT_EQ(r.status, 0) << r.err;
  const json card = read_json(d + "/export/model.json");
  EXPECT_NEAR(card["preprocess"]["mean"][0].get<double>(), 0.3, 1e-6) << card.dump();
  EXPECT_NEAR(card["preprocess"]["std"][0].get<double>(), 0.2, 1e-6) << card.dump();
}

// search.init = pretrained needs model.weights; init_epochs needs a pretrained start; a relative model.weights is
// found beside the config file and held absolute.
TEST(Pretrained, ConfigChecks) {
  const std::string init_without =
      testing_util::error_text<ConfigError>([] { load_config(kSmoke, {"search.init=pretrained"}); });
  EXPECT_TRUE(contains(init_without, "search.init")) << init_without;
  EXPECT_TRUE(contains(init_without, "needs model.weights")) << init_without;
  const std::string epochs_without =
      testing_util::error_text<ConfigError>([] { load_config(kSmoke, {"search.init_epochs=2"}); });
  EXPECT_TRUE(contains(epochs_without, "search.init_epochs")) << epochs_without;
  const std::string d = tmp("config");
  std::ofstream(d + "/w.pt") << "x";
  std::ofstream(d + "/c.json") << R"({"model": {"weights": "w.pt"}, "search": {"init": "pretrained"}})";
  const Config c = load_config(d + "/c.json", {});
  EXPECT_EQ(c.model.weights, std::filesystem::absolute(d + "/w.pt").lexically_normal().string());
  EXPECT_EQ(c.search.init, SearchInit::kPretrained);
  EXPECT_EQ(config_from_json(config_to_json(c)).model.weights, c.model.weights);
}

// compare trains every entry from scratch, the original included: a config with model.weights and a pretrained
// start is planned (config.json, which the runs are made from) without them.
TEST(Pretrained, CompareTrainsEveryEntryFromScratch) {
  const std::string d = tmp("compare");
  ModelOptions m = load_config(kSmoke, {}).model;
  GraphNet net(build_spec(m, 12));
  save_model(net, m, d + "/model.pt");
  ComparePlan p;
  p.config = load_config(kSmoke, {"model.weights=" + d + "/model.pt", "search.init=pretrained"});
  p.controls = {{"uniform", 1}};
  p.seeds = 1;
  p.out = d + "/cmp";
  auto run = CompareRun::start(p);
  const json cfg = read_json(d + "/cmp/config.json");
  EXPECT_EQ(cfg["model"]["weights"], "");
  EXPECT_EQ(cfg["search"]["init"], "scratch");
}
