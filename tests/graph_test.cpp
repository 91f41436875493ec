// Network files (nets/graph.h, docs/graph-format.md): the shipped example's shapes, MACs and params against an
// independent reading in PyTorch (scripts/graph_reference.py), and bad files refused with exit 2 naming the node.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <random>
#include <sstream>

#include "build_paths.h"
#include "cli_util.h"
#include "error_text.h"
#include "netadj/backends/model.h"
#include "netadj/backends/warm.h"
#include "netadj/backends/weights.h"
#include "netadj/cost/budget.h"
#include "netadj/nets/graph.h"
#include "netadj/search/search.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "test_util.h"

using namespace netadj;
using nlohmann::json;
using testing_util::CliRun;

namespace {

std::string example() { return std::string(NETADJ_SOURCE_DIR) + "/configs/graphs/small_cnn.json"; }

// A valid two-op network: conv (3 -> 8, 3x3, 8x8 input), mean, linear to 4 classes.
json tiny() {
  return json::parse(R"({"format": "netadj-graph", "version": 1, "input": {"channels": 3, "resolution": 8},
    "ops": [{"name": "conv", "op": "conv2d", "inputs": ["input"], "out": 8, "kernel": 3, "padding": 1},
            {"name": "bn", "op": "batch_norm", "inputs": ["conv"]},
            {"name": "gap", "op": "mean", "inputs": ["bn"]},
            {"name": "fc", "op": "linear", "inputs": ["gap"], "out": 4}],
    "output": "fc"})");
}

// tiny() with a depthwise 3x3 conv (8 groups of one channel) between the conv and the BatchNorm.
json tiny_depthwise() {
  json doc = tiny();
  doc["ops"].insert(doc["ops"].begin() + 1, json{{"name", "dw"},
                                                 {"op", "conv2d"},
                                                 {"inputs", {"conv"}},
                                                 {"out", 8},
                                                 {"kernel", 3},
                                                 {"padding", 1},
                                                 {"groups", 8}});
  doc["ops"][2]["inputs"] = {"dw"};
  return doc;
}

}  // namespace

TEST(Graph, TinyNetworkCountsByHand) {
  Graph g = parse_graph(tiny(), "tiny.json");
  ASSERT_EQ(g.ops.size(), 4u);
  EXPECT_EQ(g.ops[0].shape.channels, 8);
  EXPECT_EQ(g.ops[0].shape.res, 8);
  EXPECT_TRUE(g.ops[2].shape.is_vector());
  GraphCost c = graph_cost(g);
  EXPECT_EQ(c.flops, 3 * 9 * 8 * 64 + 8 * 4);          // conv MACs over 8x8 outputs + the linear
  EXPECT_EQ(c.params, 3 * 9 * 8 + 2 * 8 + 8 * 4 + 4);  // conv weights, BN weight and bias, linear with bias
}

TEST(Graph, ExampleAgreesWithPyTorch) {
  Graph g = read_graph(example());
  ASSERT_TRUE(g.mean.has_value());
  EXPECT_EQ(g.mean->size(), 3u);
  CliRun r = testing_util::run_cli_in(
      NETADJ_PYTHON, {"-W", "ignore", std::string(NETADJ_SOURCE_DIR) + "/scripts/graph_reference.py", example()}, "");
  if (r.status != 0 && r.err.find("No module named 'torch'") != std::string::npos)
    GTEST_SKIP() << NETADJ_PYTHON << " has no torch (a Torch_DIR build without the virtualenv)";
  ASSERT_EQ(r.status, 0) << r.err;
  json ref = json::parse(r.out);
  const GraphCost c = graph_cost(g);
  EXPECT_EQ(c.flops, ref["flops"].get<int64_t>());
  EXPECT_EQ(c.params, ref["params"].get<int64_t>());
  EXPECT_EQ(c.flops, 7356944);  // also by hand: see docs/graph-format.md
  for (const GraphOp& op : g.ops) {
    json want = ref["shapes"][op.name];
    json got = op.shape.is_vector() ? json{op.shape.channels} : json{op.shape.channels, op.shape.res, op.shape.res};
    EXPECT_EQ(got, want) << op.name;
  }
}

// Each bad file: exit 2, one line naming the node (or the key) and what is wrong.
TEST(Graph, BadFilesNameTheNode) {
  struct Row {
    const char* what;
    std::function<void(json&)> edit;
    const char* says;
  };
  const std::vector<Row> rows = {
      {"a cycle", [](json& g) { g["ops"][0]["inputs"] = {"bn"}; },
       "op 'conv' (conv2d): input \"bn\" is defined after it"},
      {"an unknown op", [](json& g) { g["ops"][1]["op"] = "layer_norm"; },
       "op 'bn': unknown op \"layer_norm\"; supported:"},
      {"an undefined input", [](json& g) { g["ops"][2]["inputs"] = {"nope"}; },
       "op 'gap' (mean): undefined input \"nope\""},
      {"mismatched add",
       [](json& g) {
         g["ops"].insert(g["ops"].begin() + 2, json{{"name", "sum"}, {"op", "add"}, {"inputs", {"bn", "input"}}});
         g["ops"][3]["inputs"] = {"sum"};
       },
       "op 'sum' (add): adds 3x8x8 to 8x8x8"},
      {"conv groups", [](json& g) { g["ops"][0]["groups"] = 2; },
       "op 'conv' (conv2d): groups = 2 must divide its 3 input"},
      {"linear on a map", [](json& g) { g["ops"][3]["inputs"] = {"bn"}; }, "op 'fc' (linear): needs a vector"},
      {"a dangling output",
       [](json& g) {
         g["ops"].push_back(json{{"name", "extra"}, {"op", "relu"}, {"inputs", {"bn"}}});
       },
       "op 'extra': its output is used by no op"},
      {"an unknown attribute", [](json& g) { g["ops"][0]["stide"] = 2; },
       "op 'conv' (conv2d): unknown attribute \"stide\""},
      {"a kernel too large", [](json& g) { g["ops"][0]["padding"] = 0, g["ops"][0]["kernel"] = 9; },
       "op 'conv' (conv2d): kernel 9 does not fit"},
      {"a map as output", [](json& g) { g["output"] = "bn"; }, "output 'bn' is a 8x8x8 map"},
      {"a duplicate name", [](json& g) { g["ops"][1]["name"] = "conv"; }, "op 'conv': the name is taken"},
      {"another version", [](json& g) { g["version"] = 2; }, "\"version\" 2 is not supported"},
      {"a negative width", [](json& g) { g["ops"][0]["out"] = -8; }, "\"out\" = -8: expected an integer in 1..65536"},
      {"a map grown past 8192 by padding",
       [](json& g) { g["input"]["resolution"] = 8192, g["ops"][0]["padding"] = 64; },
       "op 'conv' (conv2d): its padding grows the map past 8192x8192"},
      {"normalize per channel",
       [](json& g) {
         g["normalize"] = {{"mean", {0.5}}, {"std", {0.5}}};
       },
       "normalize.mean must hold 3 numbers"},
  };
  for (const Row& r : rows) {
    json doc = tiny();
    r.edit(doc);
    try {
      parse_graph(doc, "net.json");
      ADD_FAILURE() << r.what << ": accepted";
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("net.json: ", 0), 0u) << r.what << ": " << msg;
      EXPECT_NE(msg.find(r.says), std::string::npos) << r.what << ": " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << r.what << ": " << msg;
    }
  }
  // Not JSON at all: a damaged input file, exit 3.
  const std::string bad = testing_util::fresh_dir("graph_bad") + "/net.json";
  write_file_atomic(bad, "{\"format\": ");
  EXPECT_THROW(read_graph(bad), DataError);
}

namespace {

// The PyTorch reading of a graph file: {"flops", "params", "shapes"}; null when this Python has no torch.
json reference(const std::string& file) {
  CliRun r = testing_util::run_cli_in(
      NETADJ_PYTHON, {"-W", "ignore", std::string(NETADJ_SOURCE_DIR) + "/scripts/graph_reference.py", file}, "");
  if (r.status != 0 && r.err.find("No module named 'torch'") != std::string::npos) return nullptr;
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(r.out);
}

}  // namespace

// Slots are found, not written: what adds, multiplies and depthwise convs tie is one slot; the input, the
// classes, concatenations and flattens are not searchable; grouped convs ask for multiples.
TEST(Graph, SlotsAreTheTiedWidths) {
  const Graph g = read_graph(example());
  const std::vector<GraphSlot> slots = graph_slots(g);
  std::vector<std::string> names;
  std::vector<int64_t> widths, multiples;
  for (const GraphSlot& s : slots) {
    names.push_back(s.name);
    widths.push_back(s.width);
    multiples.push_back(s.multiple);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"stem", "b1_conv1", "se_reduce", "down", "branch_a", "branch_b"}));
  EXPECT_EQ(widths, (std::vector<int64_t>{16, 16, 4, 32, 16, 24}));
  EXPECT_EQ(multiples, (std::vector<int64_t>{4, 1, 1, 4, 1, 1}));  // `down` has 4 groups: its input and output
  // The residual add ties b1_conv2 to the stem, and the squeeze-excitation gate ties se_expand to them.
  std::vector<std::string> stem_ops;
  for (int i : slots[0].ops) stem_ops.push_back(g.ops[size_t(i)].name);
  for (const char* tied : {"stem", "b1_conv2", "b1_add", "se_expand", "se_scale"})
    EXPECT_NE(std::find(stem_ops.begin(), stem_ops.end(), tied), stem_ops.end()) << tied;

  // A depthwise conv shares its input's slot; "fixed" takes a slot (and what it is tied to) out.
  json doc = tiny_depthwise();
  Graph d = parse_graph(doc, "dw.json");
  ASSERT_EQ(graph_slots(d).size(), 1u);
  EXPECT_EQ(graph_slots(d)[0].ops.size(), 4u);  // conv, dw, bn and the mean over H and W
  doc["fixed"] = {"bn"};
  EXPECT_TRUE(graph_slots(parse_graph(doc, "dw.json")).empty());

  // SqueezeNet's head: the logits are a flatten of a conv with one channel per class, so that conv is fixed.
  json squeeze = json::parse(R"({"format": "netadj-graph", "version": 1, "input": {"channels": 3, "resolution": 8},
    "ops": [{"name": "body", "op": "conv2d", "inputs": ["input"], "out": 8, "kernel": 3},
            {"name": "head", "op": "conv2d", "inputs": ["body"], "out": 4, "kernel": 1},
            {"name": "pool", "op": "adaptive_avg_pool", "inputs": ["head"]},
            {"name": "logits", "op": "flatten", "inputs": ["pool"]}], "output": "logits"})");
  std::vector<GraphSlot> sq = graph_slots(parse_graph(squeeze, "squeeze.json"));
  ASSERT_EQ(sq.size(), 1u);
  EXPECT_EQ(sq[0].name, "body");
  // A concatenation added to another width: neither it nor its parts can change.
  json cat = json::parse(R"({"format": "netadj-graph", "version": 1, "input": {"channels": 3, "resolution": 8},
    "ops": [{"name": "a", "op": "conv2d", "inputs": ["input"], "out": 4, "kernel": 1},
            {"name": "b", "op": "conv2d", "inputs": ["input"], "out": 4, "kernel": 1},
            {"name": "ab", "op": "cat", "inputs": ["a", "b"]},
            {"name": "c", "op": "conv2d", "inputs": ["input"], "out": 8, "kernel": 1},
            {"name": "sum", "op": "add", "inputs": ["ab", "c"]},
            {"name": "gap", "op": "mean", "inputs": ["sum"]},
            {"name": "fc", "op": "linear", "inputs": ["gap"], "out": 2}], "output": "fc"})");
  EXPECT_TRUE(graph_slots(parse_graph(cat, "cat.json")).empty());
  cat["ops"][4] = json{{"name", "sum"}, {"op", "relu"}, {"inputs", {"ab"}}};  // no add: c dangles, so drop it
  cat["ops"].erase(3);
  EXPECT_EQ(graph_slots(parse_graph(cat, "cat.json")).size(), 2u);  // a and b, free again
  // Groups on a concatenation (a channel shuffle, a depthwise conv) would tie its parts: they are fixed.
  for (const json& grouped : {json{{"name", "shuffle"}, {"op", "channel_shuffle"}, {"inputs", {"ab"}}, {"groups", 2}},
                              json{{"name", "dw"},
                                   {"op", "conv2d"},
                                   {"inputs", {"ab"}},
                                   {"out", 8},
                                   {"kernel", 3},
                                   {"padding", 1},
                                   {"groups", 8}}}) {
    json doc2 = cat;
    doc2["ops"][3] = grouped;
    doc2["ops"][4]["inputs"] = {grouped["name"]};
    EXPECT_TRUE(graph_slots(parse_graph(doc2, "grouped.json")).empty()) << grouped.dump();
  }
}

// Another width per slot gives a graph whose file PyTorch reads to the same count netadj makes of it.
TEST(Graph, NewWidthsKeepTheCountExact) {
  const Graph g = read_graph(example());
  const std::vector<GraphSlot> slots = graph_slots(g);
  const Graph w = with_widths(g, slots, {20, 12, 8, 24, 40, 7});
  EXPECT_EQ(w.ops[size_t(slots[0].ops.back())].shape.channels, 20);
  const std::string file = testing_util::fresh_dir("graph_widths") + "/net.json";
  write_json_atomic(file, graph_to_json(w));
  const Graph back = read_graph(file);  // the written file is valid
  EXPECT_EQ(graph_cost(back).flops, graph_cost(w).flops);
  json ref = reference(file);
  if (ref.is_null()) GTEST_SKIP() << NETADJ_PYTHON << " has no torch";
  EXPECT_EQ(graph_cost(w).flops, ref["flops"].get<int64_t>());
  EXPECT_EQ(graph_cost(w).params, ref["params"].get<int64_t>());
  EXPECT_NE(graph_cost(w).flops, graph_cost(g).flops);
  // A width that breaks a slot's multiple, or a vector of the wrong length, names the slot.
  try {
    with_widths(g, slots, {18, 12, 8, 24, 40, 7});
    ADD_FAILURE() << "18 is not a multiple of 4";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("slot 'stem' = 18: expected a multiple of 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(with_widths(g, slots, {16}), ConfigError);
}

// `netadj flops --graph`: the slots and counts of a network file, and one line with exit 2 for a bad one.
TEST(GraphCli, FlopsShowsSlotsAndRefusesBadFiles) {
  CliRun ok = testing_util::run_cli_in(NETADJ_BINARY, {"flops", "--graph", example(), "--json"}, "");
  ASSERT_EQ(ok.status, 0) << ok.err;
  json j = json::parse(ok.out);
  EXPECT_EQ(j["flops"], 7356944);
  EXPECT_EQ(j["params"], 14414);
  EXPECT_EQ(j["classes"], 10);
  ASSERT_EQ(j["slots"].size(), 6u);
  EXPECT_EQ(j["slots"][0]["name"], "stem");
  int64_t slot_flops = 0;
  for (const auto& s : j["slots"]) slot_flops += s["flops"].get<int64_t>();
  EXPECT_EQ(slot_flops, 7356944 - 400);  // all but the classifier, whose width is fixed
  CliRun table = testing_util::run_cli_in(NETADJ_BINARY, {"flops", "--graph", example()}, "");
  EXPECT_EQ(table.status, 0);
  EXPECT_NE(table.out.find("6 searchable slots"), std::string::npos) << table.out;

  const std::string d = testing_util::fresh_dir("graph_cli");
  json doc = tiny();
  doc["ops"][2]["inputs"] = {"nope"};
  write_json_atomic(d + "/bad.json", doc);
  CliRun bad = testing_util::run_cli_in(NETADJ_BINARY, {"flops", "--graph", d + "/bad.json"}, "");
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err, "netadj: error: " + d + "/bad.json: op 'gap' (mean): undefined input \"nope\"\n");
  CliRun missing = testing_util::run_cli_in(NETADJ_BINARY, {"flops", "--graph", d + "/none.json"}, "");
  EXPECT_EQ(missing.status, 3) << missing.err;
}

// dFLOPs/dc per slot is exact: MACs are a polynomial of degree 2 in the widths, so the central difference
// over one multiple of the slot gives the derivative exactly.
TEST(Graph, DflopsEqualsTheCentralDifference) {
  const Graph g = read_graph(example());
  const std::vector<GraphSlot> slots = graph_slots(g);
  const std::vector<int64_t> d = graph_dflops(g, slots);
  ASSERT_EQ(d.size(), slots.size());
  std::vector<int64_t> c;
  for (const GraphSlot& s : slots) c.push_back(s.width);
  for (size_t l = 0; l < slots.size(); ++l) {
    const int64_t m = slots[l].multiple;
    std::vector<int64_t> up = c, down = c;
    up[l] += m;
    down[l] -= m;
    const int64_t diff = graph_cost(with_widths(g, slots, up)).flops - graph_cost(with_widths(g, slots, down)).flops;
    EXPECT_EQ(diff % (2 * m), 0) << slots[l].name;
    EXPECT_EQ(d[l], diff / (2 * m)) << slots[l].name;
    EXPECT_GT(d[l], 0) << slots[l].name;
  }
  // A depthwise conv costs k^2 R^2 per channel of its slot: conv 27*64 + depthwise 9*64 + the classifier 4.
  const json doc = tiny_depthwise();
  const Graph dw = parse_graph(doc, "dw.json");
  const std::vector<GraphSlot> dw_slots = graph_slots(dw);
  EXPECT_EQ(graph_dflops(dw, dw_slots), (std::vector<int64_t>{27 * 64 + 9 * 64 + 4}));
  EXPECT_EQ(graph_cost(with_widths(dw, dw_slots, {9})).flops - graph_cost(dw).flops, 27 * 64 + 9 * 64 + 4);
  // By hand for the stem slot (16 wide): stem 27*1024, b1_conv1's input and b1_conv2's output 2*144*1024,
  // the SE convs 4 + 4, down's input 9*(32/4)*256, and the tied ops without weights 0.
  EXPECT_EQ(d[0], 27 * 1024 + 2 * 144 * 1024 + 8 + 9 * 8 * 256);
}

// "min_channels" gives a slot its least width (raised to the slot's multiple); a width under it names the slot.
TEST(Graph, MinChannelsBoundTheSlot) {
  json doc = tiny();
  doc["min_channels"] = {{"bn", 6}};  // any op of the slot may carry it
  const Graph g = parse_graph(doc, "min.json");
  const std::vector<GraphSlot> slots = graph_slots(g);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].min, 6);
  EXPECT_EQ(graph_cost(with_widths(g, slots, {6})).flops, 3 * 9 * 6 * 64 + 6 * 4);
  try {
    with_widths(g, slots, {5});
    ADD_FAILURE() << "5 is under the minimum";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("slot 'conv' = 5: expected a multiple of 1 in 6..65536"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(parse_graph(graph_to_json(g), "again.json").min_channels.at("bn"), 6);            // written back
  for (const json& bad : {json{{"nope", 2}}, json{{"bn", 0}}, json{3}, json{{"conv", 9}}}) {  // 9: over its width
    json d = tiny();
    d["min_channels"] = bad;
    EXPECT_THROW(parse_graph(d, "min.json"), ConfigError) << bad.dump();
  }
}

namespace {
std::string config_error(const std::function<void()>& f) { return testing_util::error_text<ConfigError>(f); }

ModelOptions graph_model(const json& doc) {
  ModelOptions m;
  m.arch = "graph";
  m.graph = std::make_shared<const json>(doc);
  const Graph g = parse_graph(doc, "test");
  m.num_classes = int(g.ops[size_t(g.output)].shape.channels);
  m.in_channels = int(g.input.channels);
  return m;
}
}  // namespace

namespace {
// A 1x1 conv whose channels are shuffled (groups 2) into a 3x3 conv, and a hidden linear layer (a slot too).
json shuffle_and_hidden_linear() {
  return json::parse(R"({"format": "netadj-graph", "version": 1, "input": {"channels": 3, "resolution": 8},
    "ops": [{"name": "a", "op": "conv2d", "inputs": ["input"], "out": 8, "kernel": 1},
            {"name": "a_bn", "op": "batch_norm", "inputs": ["a"]},
            {"name": "a_relu", "op": "relu", "inputs": ["a_bn"]},
            {"name": "shuffle", "op": "channel_shuffle", "inputs": ["a_relu"], "groups": 2},
            {"name": "b", "op": "conv2d", "inputs": ["shuffle"], "out": 8, "kernel": 3, "padding": 1},
            {"name": "b_bn", "op": "batch_norm", "inputs": ["b"]},
            {"name": "gap", "op": "mean", "inputs": ["b_bn"]},
            {"name": "hidden", "op": "linear", "inputs": ["gap"], "out": 6},
            {"name": "hidden_relu", "op": "relu", "inputs": ["hidden"]},
            {"name": "fc", "op": "linear", "inputs": ["hidden_relu"], "out": 4}],
    "output": "fc"})");
}
}  // namespace

// A network file's spec, at the file's widths and at others and at two resolutions: dMACs/dc equals the central
// difference of the MACs over one multiple of each slot (MACs are of degree 2 in the widths, so exactly), and the
// module built from it has exactly its parameters. (The counts themselves are checked against PyTorch by
// ExampleAgreesWithPyTorch and NewWidthsKeepTheCountExact.)
TEST(GraphSpec, DflopsAreExactAndTheModuleHasTheParams) {
  for (const json& doc :
       {read_json(testing_util::example_graph_path()), tiny_depthwise(), shuffle_and_hidden_linear()}) {
    const ModelOptions m = graph_model(doc);
    std::mt19937 rng(3);
    for (int res : {32, 17}) {
      const std::vector<GraphSlot> slots = graph_slots(model_graph(m, res));
      std::vector<int64_t> c;
      for (const GraphSlot& s : slots) c.push_back(s.width);
      for (int trial = 0; trial < 3; ++trial) {
        const ArchSpec s = build_spec(m, res, c);
        const std::string what = "res " + std::to_string(res) + " widths " + json(c).dump();
        const std::vector<int64_t> d = spec_dflops(s);
        for (size_t l = 0; l < c.size(); ++l) {
          const int64_t step = slots[l].multiple;
          if (c[l] - step < slots[l].min) continue;
          std::vector<int64_t> up = c, down = c;
          up[l] += step;
          down[l] -= step;
          const int64_t diff = spec_flops(build_spec(m, res, up)) - spec_flops(build_spec(m, res, down));
          EXPECT_EQ(d[l] * 2 * step, diff) << what << " slot " << l;
        }
        GraphNet net(s);
        EXPECT_EQ(count_parameters(*net), spec_params(s)) << what;
        for (size_t l = 0; l < c.size(); ++l) {
          const int64_t k = std::uniform_int_distribution<int64_t>(1, 6)(rng);
          c[l] = std::max(slots[l].min, k * slots[l].multiple);
        }
      }
    }
  }
}

// Wrong model options for a file, and a vector off a slot's grid, are config errors naming what is wrong.
TEST(GraphSpec, ModelOptionsMustAgreeWithTheFile) {
  ModelOptions m = graph_model(read_json(testing_util::example_graph_path()));
  m.num_classes = 100;
  EXPECT_NE(config_error([&] { build_spec(m, 32); }).find("model.num_classes = 100"), std::string::npos);
  m.num_classes = 10;
  m.in_channels = 1;
  EXPECT_NE(config_error([&] { build_spec(m, 32); }).find("model.in_channels = 1"), std::string::npos);
  m.in_channels = 3;
  EXPECT_NE(config_error([&] { build_spec(m, 32, {16, 16, 4, 30, 16, 24}); }).find("'down' = 30"), std::string::npos);
  EXPECT_NE(config_error([&] { build_spec(m, 32, {16, 16}); }).find("2 entries"), std::string::npos);
  m.graph = nullptr;
  EXPECT_EQ(config_error([&] { build_spec(m, 32); }), "model.graph: model.arch \"graph\" needs a network file");
  // A network file for a family, which would ignore it.
  ModelOptions family = testing_util::registry_model("resnet_cifar");
  family.graph = graph_model(tiny()).graph;
  EXPECT_EQ(config_error([&] { build_spec(family, 32); }),
            "model.graph: a network file needs model.arch = \"graph\", not \"resnet_cifar\"");
  EXPECT_EQ(config_error([&] { default_channels(family); }),
            "model.graph: a network file needs model.arch = \"graph\", not \"resnet_cifar\"");
}

namespace {
std::string data_error(const std::function<void()>& f) { return testing_util::error_text<DataError>(f); }
}  // namespace

// The weights file netadj import writes: read without Python and loaded by op name; a wrong shape, a tensor no
// op takes, a missing one or a truncated file is a DataError naming the file and the tensor.
TEST(Weights, LoadByNameAndRefuseNamingTheTensor) {
  const std::string corpus = std::string(NETADJ_SOURCE_DIR) + "/tests/corpus/weights/";
  ModelOptions m = graph_model(tiny());
  GraphNet net(build_spec(m, 8));
  const auto w = read_weights(corpus + "seed_tiny");
  EXPECT_EQ(w.size(), 7u);
  load_weights(*net, w, "seed_tiny");
  EXPECT_TRUE(torch::equal(net->node(1).conv->weight, w.at("conv.weight")));
  EXPECT_TRUE(torch::equal(net->node(2).bn->running_var, w.at("bn.running_var")));
  EXPECT_TRUE(torch::equal(net->node(4).fc->bias, w.at("fc.bias")));
  auto load = [&](const std::string& file) { load_weights(*net, read_weights(corpus + file), file); };
  EXPECT_NE(data_error([&] { load("seed_wrong_shape"); }).find("'fc.weight' has shape [4, 7]"), std::string::npos);
  EXPECT_NE(data_error([&] { load("seed_extra_tensor"); }).find("'extra.weight' belongs to no op"), std::string::npos);
  EXPECT_NE(data_error([&] { load("seed_truncated"); }).find("past the end"), std::string::npos);
  EXPECT_NE(data_error([&] { load("no_such_file"); }).find("not found"), std::string::npos);
  EXPECT_NE(data_error([&] { load("seed_format_not_a_string"); }).find("not netadj-weights"), std::string::npos);
  EXPECT_NE(data_error([&] { load("seed_huge_zero_shape"); }).find("too large"), std::string::npos);
  auto partial = w;
  partial.erase("bn.running_mean");
  EXPECT_NE(data_error([&] { load_weights(*net, partial, "partial"); }).find("no tensor 'bn.running_mean'"),
            std::string::npos);
}

// Widening every slot by the warm-start map keeps the output, through a channel shuffle and a hidden linear
// layer too (the shuffle's channels are mapped in its order, the linear's copies split their weights).
TEST(GraphSpec, WarmWideningKeepsTheOutputThroughShuffleAndHiddenLinear) {
  const ModelOptions m = graph_model(shuffle_and_hidden_linear());
  const ArchSpec s = build_spec(m, 8);
  ASSERT_EQ(s.channels, (std::vector<int64_t>{8, 8, 6}));
  EXPECT_EQ(s.layers[0].multiple, 2);
  torch::manual_seed(1);
  GraphNet from(s);
  {
    torch::NoGradGuard ng;
    for (const auto& mod : from->modules(false))
      if (auto* bn = mod->as<torch::nn::BatchNorm2dImpl>()) {
        bn->running_mean.uniform_(-0.2, 0.2);
        bn->running_var.uniform_(0.5, 2.0);
        bn->weight.uniform_(0.5, 1.5);
      }
  }
  GraphNet to(build_spec(m, 8, {12, 11, 9}));
  warm_transfer(from, to, WarmMapOptions{WarmImportance::kBn, 0.0, 5});
  from->eval();
  to->eval();
  torch::NoGradGuard ng;
  torch::Tensor x = torch::randn({3, 3, 8, 8});
  torch::Tensor want = from->forward(x), got = to->forward(x);
  EXPECT_LE((got - want).abs().max().item<double>(), 1e-5 * std::max(1.0, want.abs().max().item<double>()));
}

// Narrowing a slot keeps the channels whose BatchNorm (a separate op in a file) has the largest |gamma|, in
// their order, for the conv and the BatchNorm alike; with "l1", those of the largest filter L1 norm.
TEST(GraphSpec, WarmNarrowingKeepsTheChannelsOfLargestBatchNormGamma) {
  const ModelOptions m = graph_model(tiny());
  torch::manual_seed(2);
  GraphNet from(build_spec(m, 8));
  {
    torch::NoGradGuard ng;
    from->node(2).bn->weight.copy_(torch::tensor({0.1, -0.9, 0.2, 0.8, -0.05, 0.7, 0.3, 0.01}));
    from->node(1).conv->weight.mul_(0).add_(1);
    from->node(1).conv->weight[6].mul_(3);
    from->node(1).conv->weight[0].mul_(2);
  }
  const ArchSpec narrow = build_spec(m, 8, {3});
  const auto bn = warm_channel_maps(from, narrow, WarmMapOptions{WarmImportance::kBn, 0.0, 1});
  EXPECT_EQ(bn[1], (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(bn[2], (std::vector<int64_t>{1, 3, 5}));
  const auto l1 = warm_channel_maps(from, narrow, WarmMapOptions{WarmImportance::kL1, 0.0, 1});
  EXPECT_EQ(l1[1], (std::vector<int64_t>{0, 1, 6}));
  GraphNet to(narrow);
  warm_transfer(from, to, WarmMapOptions{WarmImportance::kBn, 0.0, 1});
  EXPECT_TRUE(torch::equal(to->node(2).bn->weight,
                           from->node(2).bn->weight.index_select(0, torch::tensor({1, 3, 5}, torch::kLong))));
}

// ---- families written as network files ---------------------------------------------------------------
// A family and the same network written as a file by hand (plain ops: conv2d, batch_norm, relu, pools, mean,
// linear) count the same MACs, params and dMACs/dc, have the same slots, compute the same function from the
// same seed, drop channels at the same points for FUR, and take the same adjustment step.
namespace {

struct FileWriter {
  json ops = json::array();
  std::string last = "input";
  void op(const std::string& name, json attrs) {
    attrs["name"] = name;
    if (!attrs.contains("inputs")) attrs["inputs"] = {last};
    ops.push_back(attrs);
    last = name;
  }
  // conv2d, then batch_norm and relu as a family's conv carries them.
  void conv(const std::string& name, int64_t out, int kernel, int stride, bool bn, bool relu) {
    op(name, {{"op", "conv2d"}, {"out", out}, {"kernel", kernel}, {"stride", stride}, {"padding", kernel / 2}});
    if (bn) op(name + "_bn", {{"op", "batch_norm"}});
    if (relu) op(name + "_relu", {{"op", "relu"}});
  }
  json finish(int classes, json fixed = json::array()) {
    op("gap", {{"op", "mean"}});
    op("fc", {{"op", "linear"}, {"out", classes}});
    return {{"format", "netadj-graph"}, {"version", 1},  {"input", {{"channels", 3}, {"resolution", 32}}}, {"ops", ops},
            {"output", "fc"},           {"fixed", fixed}};
  }
};

json vgg16_file() {
  FileWriter f;
  int i = 0;
  for (int w : {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512, -1}) {
    if (w < 0)
      f.op("pool" + std::to_string(i++), {{"op", "max_pool"}, {"kernel", 2}, {"stride", 2}});
    else
      f.conv("conv" + std::to_string(i++), w, 3, 1, true, true);
  }
  return f.finish(10);
}

// plain_cifar of depth 6n+2: a fixed stem, then n cells of two convs per stage (16, 32, 64 wide).
json plain_file(int n) {
  FileWriter f;
  f.conv("stem", 16, 3, 1, true, true);
  for (int stage = 0; stage < 3; ++stage)
    for (int i = 0; i < n; ++i) {
      const std::string cell = "s" + std::to_string(stage) + "c" + std::to_string(i);
      f.conv(cell + "a", 16 << stage, 3, stage > 0 && i == 0 ? 2 : 1, true, true);
      f.conv(cell + "b", 16 << stage, 3, 1, true, true);
    }
  return f.finish(10, {"stem"});
}

// resnet_cifar (relu after the sum) or pyramidnet_cifar (widths 16 + 24 (cell + 1) / 3n, no relu after the sum) of
// depth 6n+2: a fixed stem conv and BN, cells of two convs whose sum with the shortcut (average-pooled where the
// cell strides) zero-pads the narrower, as the paper's ResNets do ("fit": "max").
json residual_file(int n, bool pyramid, const std::string& fit = "max") {
  FileWriter f;
  f.conv("stem", 16, 3, 1, true, false);
  for (int stage = 0; stage < 3; ++stage)
    for (int i = 0; i < n; ++i) {
      const std::string cell = "s" + std::to_string(stage) + "c" + std::to_string(i), x = f.last;
      const int stride = stage > 0 && i == 0 ? 2 : 1;
      const int64_t w = pyramid ? std::llround(16 + 24.0 * (stage * n + i + 1) / (3 * n)) : 16 << stage;
      f.conv(cell + "a", w, 3, stride, true, true);
      f.conv(cell + "b", w, 3, 1, true, false);
      const std::string branch = f.last;
      std::string shortcut = x;
      if (stride == 2) {
        f.op(cell + "_pool", {{"op", "avg_pool"}, {"kernel", 2}, {"stride", 2}, {"inputs", {x}}});
        shortcut = cell + "_pool";
      }
      f.op(cell + "_add", {{"op", "add"}, {"inputs", {shortcut, branch}}, {"fit", fit}});
      if (!pyramid) f.op(cell + "_relu", {{"op", "relu"}});
    }
  return f.finish(10, {"stem"});
}

// resnet_imagenet of depth 18: a fixed 7x7 stem and max pool, four stages of two cells. A cell that strides adds
// a 1x1 projection of its branch's width, tied to it (a plain add: the projection is in the branch's slot); the
// others zero-pad ("fit"), with the branch first so that a tie of widths gives the sum the branch's width, as the
// family does.
json resnet18_file(int res) {
  FileWriter f;
  f.conv("stem", 64, 7, 2, true, true);
  f.op("pool", {{"op", "max_pool"}, {"kernel", 3}, {"stride", 2}, {"padding", 1}});
  for (int stage = 0; stage < 4; ++stage)
    for (int i = 0; i < 2; ++i) {
      const std::string cell = "s" + std::to_string(stage) + "c" + std::to_string(i), x = f.last;
      const int stride = stage > 0 && i == 0 ? 2 : 1;
      const int64_t w = 64 << stage;
      f.conv(cell + "a", w, 3, stride, true, true);
      f.conv(cell + "b", w, 3, 1, true, false);
      const std::string branch = f.last;
      if (stride == 2) {
        f.op(cell + "_proj", {{"op", "conv2d"}, {"out", w}, {"kernel", 1}, {"stride", 2}, {"inputs", {x}}});
        f.op(cell + "_proj_bn", {{"op", "batch_norm"}});
        f.op(cell + "_add", {{"op", "add"}, {"inputs", {cell + "_proj_bn", branch}}});
      } else {
        f.op(cell + "_add", {{"op", "add"}, {"inputs", {branch, x}}, {"fit", "max"}});
      }
      f.op(cell + "_relu", {{"op", "relu"}});
    }
  json doc = f.finish(10, {"stem"});
  doc["input"]["resolution"] = res;
  return doc;
}

// mnasnet_cifar: MnasNet-A1 for 32x32 inputs, its slots named as the family names them (an expansion conv, a
// stage's first projection). Squeeze-excitation is written out: mean, 1x1 conv (fixed width, bias), ReLU, 1x1
// conv (bias), sigmoid, times the map.
json mnasnet_cifar_file() {
  struct Stage {
    int repeats, kernel, stride, expand;
    int64_t out;
    bool se;
  };
  const std::vector<Stage> stages = {{2, 3, 1, 6, 24, false}, {3, 5, 2, 3, 40, true},  {4, 3, 2, 6, 80, false},
                                     {2, 3, 1, 6, 112, true}, {3, 5, 2, 6, 160, true}, {1, 3, 1, 6, 320, false}};
  FileWriter f;
  json fixed = {"stem", "head"};
  f.conv("stem", 32, 3, 1, true, true);
  f.op("s0.dw", {{"op", "conv2d"}, {"out", 32}, {"kernel", 3}, {"padding", 1}, {"groups", 32}});
  f.op("s0.dw_bn", {{"op", "batch_norm"}});
  f.op("s0.dw_relu", {{"op", "relu"}});
  f.conv("s0.out", 16, 1, 1, true, false);
  int64_t in_w = 16;
  for (size_t si = 1; si <= stages.size(); ++si) {
    const Stage& st = stages[si - 1];
    for (int r = 0; r < st.repeats; ++r) {
      const std::string block = "s" + std::to_string(si) + ".b" + std::to_string(r), x = f.last;
      const int64_t w = (r == 0 ? in_w : st.out) * st.expand;
      f.conv(block + ".expand", w, 1, 1, true, true);
      f.op(block + ".dw", {{"op", "conv2d"},
                           {"out", w},
                           {"kernel", st.kernel},
                           {"stride", r == 0 ? st.stride : 1},
                           {"padding", st.kernel / 2},
                           {"groups", w}});
      f.op(block + ".dw_bn", {{"op", "batch_norm"}});
      f.op(block + ".dw_relu", {{"op", "relu"}});
      if (st.se) {
        const std::string h = f.last;
        const int64_t def_in = r == 0 ? stages[si - 2].out : st.out;
        f.op(block + ".se_pool", {{"op", "mean"}, {"keepdim", true}});
        f.op(block + ".se_reduce",
             {{"op", "conv2d"}, {"out", std::max<int64_t>(1, def_in / 4)}, {"kernel", 1}, {"bias", true}});
        f.op(block + ".se_relu", {{"op", "relu"}});
        f.op(block + ".se_expand", {{"op", "conv2d"}, {"out", w}, {"kernel", 1}, {"bias", true}});
        f.op(block + ".se_gate", {{"op", "sigmoid"}});
        f.op(block + ".se", {{"op", "mul"}, {"inputs", {h, block + ".se_gate"}}});
        fixed.push_back(block + ".se_reduce");
      }
      f.conv(r == 0 ? "s" + std::to_string(si) + ".out" : block + ".project", st.out, 1, 1, true, false);
      if (r > 0) f.op(block + ".add", {{"op", "add"}, {"inputs", {x, f.last}}});
    }
    in_w = st.out;
  }
  f.conv("head", 1280, 1, 1, true, true);
  return f.finish(10, fixed);
}

// densenet_cifar of depth 3n+4 (growth 12): a fixed stem; per block, n pre-activation layers (BN, ReLU, conv)
// each concatenated to what came before; pre-activation 1x1 transitions and the final BN, ReLU, mean.
json densenet_file(int n) {
  FileWriter f;
  f.conv("stem", 24, 3, 1, false, false);
  int64_t width = 24;
  for (int b = 0; b < 3; ++b) {
    for (int i = 0; i < n; ++i) {
      const std::string x = f.last, l = "d" + std::to_string(b) + "l" + std::to_string(i);
      f.op(l + "_bn", {{"op", "batch_norm"}});
      f.op(l + "_relu", {{"op", "relu"}});
      f.op(l, {{"op", "conv2d"}, {"out", 12}, {"kernel", 3}, {"padding", 1}});
      f.op(l + "_cat", {{"op", "cat"}, {"inputs", {x, l}}});
      width += 12;
    }
    if (b == 2) break;
    const std::string t = "t" + std::to_string(b);
    f.op(t + "_bn", {{"op", "batch_norm"}});
    f.op(t + "_relu", {{"op", "relu"}});
    f.op(t, {{"op", "conv2d"}, {"out", width}, {"kernel", 1}});
    f.op(t + "_pool", {{"op", "avg_pool"}, {"kernel", 2}, {"stride", 2}});
  }
  f.op("final_bn", {{"op", "batch_norm"}});
  f.op("final_relu", {{"op", "relu"}});
  return f.finish(10, {"stem"});
}

ModelOptions family(const std::string& arch, int depth) {
  ModelOptions m;
  m.arch = arch;
  m.depth = depth;
  m.num_classes = 10;
  return m;
}

// Family slot l is the file's slot perm[l]: the one that bears its name where the file names every slot as the
// family does, else the same index.
std::vector<size_t> slot_permutation(const ArchSpec& fam, const ArchSpec& file) {
  std::vector<size_t> perm(fam.layers.size()), identity(fam.layers.size());
  std::iota(identity.begin(), identity.end(), size_t(0));
  for (size_t l = 0; l < perm.size(); ++l) {
    auto it = std::find_if(file.layers.begin(), file.layers.end(),
                           [&](const LayerInfo& k) { return k.name == fam.layers[l].name; });
    if (it == file.layers.end()) return identity;  // the file names its slots its own way
    perm[l] = size_t(it - file.layers.begin());
  }
  return perm;
}

template <class T>
std::vector<T> permuted(const std::vector<T>& v, const std::vector<size_t>& perm) {
  std::vector<T> out(v.size());
  for (size_t l = 0; l < v.size(); ++l) out[perm[l]] = v[l];
  return out;
}

// The same counts, slots, dFLOPs, weights (from one seed), function, FUR drop points and adjustment step.
void expect_same_network(const ModelOptions& fam, const ModelOptions& file, int res = 32) {
  SCOPED_TRACE(fam.arch);
  const ArchSpec a = build_spec(fam, res), b = build_spec(file, res);
  ASSERT_EQ(a.channels.size(), b.channels.size());
  const std::vector<size_t> perm = slot_permutation(a, b);
  ASSERT_EQ(permuted(a.channels, perm), b.channels);
  std::mt19937 rng(7);
  std::vector<std::vector<int64_t>> vectors = {a.channels};
  for (int t = 0; t < 3; ++t) {
    std::vector<int64_t> c = a.channels;
    for (auto& w : c) w = std::max<int64_t>(1, w + int64_t(rng() % 17) - 8);
    vectors.push_back(c);
  }
  for (const auto& c : vectors) {
    const ArchSpec x = build_spec(fam, res, c), y = build_spec(file, res, permuted(c, perm));
    EXPECT_EQ(spec_flops(x), spec_flops(y));
    EXPECT_EQ(spec_params(x), spec_params(y));
    EXPECT_EQ(permuted(spec_dflops(x), perm), spec_dflops(y));
  }
  // The same seed gives the same weights (conv and linear initialisation in op order), so the same function,
  // with no drop and with channels dropped at each slot in turn.
  auto make = [](const ArchSpec& spec) {
    torch::manual_seed(3);
    GraphNet net(spec);
    torch::NoGradGuard ng;
    for (const auto& mod : net->modules(false))  // BatchNorms in the same order in both: the same statistics
      if (auto* bn = mod->as<torch::nn::BatchNorm2dImpl>()) {
        bn->running_mean.uniform_(-0.2, 0.2);
        bn->running_var.uniform_(0.5, 2.0);
        bn->weight.uniform_(0.5, 1.5);
        bn->bias.uniform_(-0.5, 0.5);
      }
    return net;
  };
  GraphNet f = make(a), g = make(b);
  torch::NoGradGuard ng;
  const auto pf = f->parameters(), pg = g->parameters();
  ASSERT_EQ(pf.size(), pg.size());
  bool equal = true;
  for (size_t k = 0; k < pf.size(); ++k) {
    ASSERT_EQ(pf[k].sizes(), pg[k].sizes()) << "parameter " << k;
    equal = equal && torch::equal(pf[k], pg[k]);
    pg[k].copy_(pf[k]);
  }
  const auto bf = f->buffers(), bg = g->buffers();  // BatchNorm statistics
  ASSERT_EQ(bf.size(), bg.size());
  for (size_t k = 0; k < bf.size(); ++k) {
    ASSERT_EQ(bf[k].sizes(), bg[k].sizes()) << "buffer " << k;
    equal = equal && torch::equal(bf[k], bg[k]);
    bg[k].copy_(bf[k]);
  }
  EXPECT_TRUE(equal) << "one seed initialises both alike";
  // Training mode: BatchNorm normalizes with the batch's statistics, so a deep network's output still depends on
  // what an early drop removed (with random running statistics its signal could fade).
  f->train();
  g->train();
  const torch::Tensor x = torch::randn({4, 3, res, res});
  const torch::Tensor undropped = f->forward(x);
  EXPECT_TRUE(torch::allclose(undropped, g->forward(x), 1e-5, 1e-5));
  // The same drop points: the same channels dropped (one mask per slot) give the same output.
  std::vector<int> differ, no_drop;
  for (int slot = 0; slot < f->num_slots(); ++slot) {
    f->set_drop_at(slot, 0.5, DropType::kBernoulli);
    g->set_drop_at(int(perm[size_t(slot)]), 0.5, DropType::kBernoulli);
    torch::manual_seed(100 + slot);
    const torch::Tensor want = f->forward(x);
    torch::manual_seed(100 + slot);
    if (!torch::allclose(want, g->forward(x), 1e-5, 1e-5)) differ.push_back(slot);
    if (torch::allclose(want, undropped, 1e-5, 1e-5)) no_drop.push_back(slot);
  }
  EXPECT_EQ(differ, std::vector<int>{});
  EXPECT_EQ(no_drop, std::vector<int>{});  // every slot drops somewhere
  f->clear_drop();
  g->clear_drop();
  // One adjustment step from the same FUR gives the same next vector.
  SearchOptions s;
  std::vector<double> fur(a.channels.size());
  for (auto& v : fur) v = double(rng() % 1000) / 1000.0;
  const CostFn cost_a = BudgetCost::cost_fn(make_budget(fam, res, Budget::kFlops, nullptr));
  const CostFn cost_b = BudgetCost::cost_fn(make_budget(file, res, Budget::kFlops, nullptr));
  const int64_t target = cost_a(a.channels);
  const Adjustment adj_a = adjust_channels(a.channels, a.channels, fur, {}, 0, s, cost_a, target, channel_grid(s, a));
  const Adjustment adj_b =
      adjust_channels(b.channels, b.channels, permuted(fur, perm), {}, 0, s, cost_b, target, channel_grid(s, b));
  EXPECT_EQ(permuted(adj_a.adjusted, perm), adj_b.adjusted);
  EXPECT_EQ(permuted(adj_a.channels, perm), adj_b.channels);
}

}  // namespace

// The paper's ResNets pad a residual sum whose widths differ; a file says so with an add's "fit", so the file has
// the family's slots (two per cell; a tied add would leave one per stage).
TEST(BothWays, ZeroPaddedResidualNetworksAsFilesEqualTheirFamilies) {
  expect_same_network(family("resnet_cifar", 8), graph_model(residual_file(1, false)));
  expect_same_network(family("resnet_cifar", 14), graph_model(residual_file(2, false)));
  expect_same_network(family("pyramidnet_cifar", 8), graph_model(residual_file(1, true)));
  ModelOptions local = family("resnet_cifar", 8);
  local.padding = Padding::kLocal;
  expect_same_network(local, graph_model(residual_file(1, false, "local")));
  // PyTorch reads a "fit" add to the same shapes and count, at widths where the shortcut is the wider.
  for (const std::string fit : {"max", "local"}) {
    const Graph g = parse_graph(residual_file(1, false, fit), "resnet.json");
    const std::vector<GraphSlot> slots = graph_slots(g);
    const Graph w = with_widths(g, slots, {8, 24, 40, 20, 70, 50});
    const std::string file = testing_util::fresh_dir("graph_fit") + "/" + fit + ".json";
    write_json_atomic(file, graph_to_json(w));
    const json ref = reference(file);
    if (ref.is_null()) GTEST_SKIP() << NETADJ_PYTHON << " has no torch";
    EXPECT_EQ(graph_cost(w).flops, ref["flops"].get<int64_t>()) << fit;
    for (const GraphOp& op : w.ops) {
      if (op.kind == OpKind::kAdd) {
        EXPECT_EQ(ref["shapes"][op.name][0], op.shape.channels) << fit << op.name;
      }
    }
  }
}

// ResNet-18: a projection's sum adds two inputs of one width, so the projection is in the cell's slot, in the
// family as in the file, and the slot's channels drop after the sum.
TEST(BothWays, ResNet18AsAFileEqualsItsFamily) {
  ModelOptions fam = family("resnet_imagenet", 18);
  expect_same_network(fam, graph_model(resnet18_file(64)), 64);
}

// MnasNet-A1 (32x32): the family declares its slots stage by stage (expansions, then the stage's output), a file
// finds them in op order, so slots are matched by name. The squeeze-excitation convs keep LibTorch's
// initialisation in both. An expansion's channels drop where they leave its slot, after the depthwise conv and
// the SE gate; a stage's output where it leaves the stage.
TEST(BothWays, MnasNetAsAFileEqualsItsFamily) {
  expect_same_network(family("mnasnet_cifar", 20), graph_model(mnasnet_cifar_file()), 32);
}

TEST(BothWays, VggAndPlainAsFilesEqualTheirFamilies) {
  expect_same_network(family("vgg_cifar", 16), graph_model(vgg16_file()));
  expect_same_network(family("plain_cifar", 8), graph_model(plain_file(1)));
}

// DenseNet: a transition's channels reach the next layer through that layer's pre-activation BN and ReLU, which
// are in the transition's slot: they drop after them (the next conv sees zeros, as it would with the channels
// removed), in the family as in the file.
TEST(BothWays, DenseNetAsAFileEqualsItsFamily) {
  expect_same_network(family("densenet_cifar", 10), graph_model(densenet_file(2)));
}
