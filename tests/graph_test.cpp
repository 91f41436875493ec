// Network files (arch/graph.h, docs/graph-format.md): the shipped example's shapes, MACs and params against an
// independent reading in PyTorch (scripts/graph_reference.py), and bad files refused with exit 2 naming the node.
#include <gtest/gtest.h>

#include <functional>
#include <sstream>

#include "build_paths.h"
#include "cli_util.h"
#include "netadj/arch/graph.h"
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
