// The op table (ir/op.h) and the activation list (ir/activation.h): every op kind defined once, each op's
// MACs, parameters and dMACs/dc as the definitions give them against counts by hand (every family's dFLOPs
// against its traced module: EveryArch in arch_test.cpp), and
// the activations listed once: network files name them from the table, and the Python importer and the
// independent reference reader list the same ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "build_paths.h"
#include "netadj/backends/torchscript.h"
#include "netadj/cost/latency.h"
#include "netadj/ir/activation.h"
#include "netadj/ir/op.h"
#include "netadj/nets/graph.h"
#include "netadj/nets/spec.h"

using namespace netadj;
using nlohmann::json;

namespace {

std::string source_file(const std::string& rel) {
  std::ifstream in(std::string(NETADJ_SOURCE_DIR) + "/" + rel);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The string keys of the dict literal that follows `start` in `text` ("relu": ..., ...).
std::vector<std::string> dict_keys(const std::string& text, const std::string& start) {
  const size_t at = text.find(start);
  EXPECT_NE(at, std::string::npos) << start;
  if (at == std::string::npos) return {};
  const std::string body = text.substr(at, text.find('}', at) - at);
  std::vector<std::string> keys;
  const std::regex key("\"([a-z0-9_]+)\"\\s*:");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), key); it != std::sregex_iterator(); ++it)
    keys.push_back((*it)[1]);
  return keys;
}

std::vector<std::string> table_names() {
  std::vector<std::string> n;
  for (const ActivationDef& a : activation_table()) n.emplace_back(a.name);
  return n;
}

}  // namespace

TEST(OpTable, EveryKindHasOneDefinitionWithItsOwnName) {
  const auto& t = op_table();
  ASSERT_EQ(t.size(), size_t(OpKind::kShuffle) + 1);
  std::set<std::string> names;
  for (size_t k = 0; k < t.size(); ++k) {
    ASSERT_NE(t[k], nullptr) << k;
    EXPECT_EQ(size_t(t[k]->kind()), k) << t[k]->name();
    EXPECT_EQ(&op_def(OpKind(k)), t[k]);
    EXPECT_TRUE(names.insert(t[k]->name()).second) << "two definitions are named " << t[k]->name();
  }
}

TEST(OpTable, CostsAsCountedByHand) {
  // input 3x8x8 -> conv 3x3 3->16 -> BatchNorm -> global pool -> linear 16->10 (bias)
  ArchSpec s;
  s.channels = {16};
  s.layers = {{"conv", 1, 0, 1, 1}};
  Op in;
  in.out = Width::constant(3);
  in.res = 8;
  Op conv;
  conv.kind = OpKind::kConv;
  conv.inputs = {0};
  conv.out = Width::slot(0, 16);
  conv.res = 8;
  conv.kernel = 3;
  Op bn;
  bn.kind = OpKind::kBatchNorm;
  bn.inputs = {1};
  bn.out = conv.out;
  bn.res = 8;
  Op pool;
  pool.kind = OpKind::kGlobalPool;
  pool.inputs = {2};
  pool.out = conv.out;
  pool.res = 1;
  Op fc;
  fc.kind = OpKind::kLinear;
  fc.inputs = {3};
  fc.out = Width::constant(10);
  fc.res = 1;
  fc.bias = true;
  s.ops = {in, conv, bn, pool, fc};
  EXPECT_EQ(op_cost(s, s.ops[1]).flops, 9 * 3 * 16 * 64);
  EXPECT_EQ(op_cost(s, s.ops[1]).params, 9 * 3 * 16);
  EXPECT_EQ(op_cost(s, s.ops[2]).flops, 0);
  EXPECT_EQ(op_cost(s, s.ops[2]).params, 2 * 16);
  EXPECT_EQ(op_cost(s, s.ops[3]).flops, 0);
  EXPECT_EQ(op_cost(s, s.ops[4]).flops, 16 * 10);
  EXPECT_EQ(op_cost(s, s.ops[4]).params, 16 * 10 + 10);
  EXPECT_EQ(spec_flops(s), 9 * 3 * 16 * 64 + 16 * 10);
  // d/dc of 9*3*c*64 + c*10
  EXPECT_EQ(spec_dflops(s), std::vector<int64_t>{9 * 3 * 64 + 10});
  int rows = 0;
  for (const Op& op : s.ops) rows += op_def(op.kind).has_macs();
  EXPECT_EQ(rows, 2);  // conv, linear: the layer table's rows
}

TEST(OpTable, EveryFileNameBelongsToOneDefinition) {
  std::set<std::string> seen;
  for (const std::string& name : file_op_names()) {
    EXPECT_TRUE(seen.insert(name).second) << name;
    const OpDef* def = file_op_def(name);
    ASSERT_NE(def, nullptr) << name;
    const auto names = def->file_names();
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  EXPECT_EQ(file_op_def("se"), nullptr);  // the families' fused ops have no file name
  EXPECT_EQ(file_op_def("input"), nullptr);
  EXPECT_EQ(seen.size(), 15 + activation_table().size());
}

// One BN-fold rule: a BatchNorm op folds into the conv it reads only when it is that conv's only reader; the
// TorchScript export folds by it and the latency model times the conv with a bias by it.
TEST(OpTable, ABatchNormFoldsOnlyIntoAConvItAloneReads) {
  auto op = [](const char* name, const char* kind, std::vector<std::string> in, json attrs = json::object()) {
    attrs["name"] = name;
    attrs["op"] = kind;
    attrs["inputs"] = in;
    return attrs;
  };
  const json doc = {{"format", "netadj-graph"},
                    {"version", kGraphFormatVersion},
                    {"input", {{"channels", 3}, {"resolution", 8}}},
                    {"output", "fc"},
                    {"ops",
                     {op("c1", "conv2d", {"input"}, {{"out", 4}, {"kernel", 3}, {"padding", 1}}),
                      op("b1", "batch_norm", {"c1"}),  // c1's only reader: folds
                      op("c2", "conv2d", {"b1"}, {{"out", 4}, {"kernel", 1}}),
                      op("b2", "batch_norm", {"c2"}),  // c2 is read by the add too: stays
                      op("s", "add", {"c2", "b2"}), op("m", "mean", {"s"}), op("fc", "linear", {"m"}, {{"out", 2}})}}};
  const Graph g = parse_graph(doc, "fold.json");
  const ArchSpec s = graph_to_spec(g, graph_slots(g), {});  // spec op 0 is the input
  EXPECT_EQ(bn_fold_target(s, 2), 1);
  EXPECT_EQ(folded_bn(s, 1), 2);
  EXPECT_EQ(bn_fold_target(s, 4), -1);
  EXPECT_EQ(folded_bn(s, 3), -1);
  const std::vector<LatencyEntry> entries = latency_entries(s, 1, 3);
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries[0].name, "c1");
  EXPECT_TRUE(entries[0].bias);
  EXPECT_EQ(entries[1].name, "c2");
  EXPECT_FALSE(entries[1].bias);
  GraphNet net(s);
  net->eval();
  torch::jit::Module m = to_torchscript(*net, /*fold_bn=*/true);
  std::set<std::string> params;
  for (const auto& p : m.named_parameters(false)) params.insert(p.name);
  EXPECT_TRUE(params.count("a1_b"));       // b1 folded into c1's weights and a bias
  EXPECT_FALSE(params.count("a2_pre_s"));  // and gone
  EXPECT_FALSE(params.count("a3_b"));      // c2 keeps no bias
  EXPECT_TRUE(params.count("a4_pre_s"));   // b2 a scale and shift of its own
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({2, 3, 8, 8});
  EXPECT_TRUE(torch::allclose(m.forward({x}).toTensor(), net->forward(x), 1e-5, 1e-5));
}

TEST(Activations, ListedOnceInActivationOrder) {
  std::set<std::string> names;
  for (size_t i = 0; i < activation_table().size(); ++i) {
    const ActivationDef& a = activation_table()[i];
    EXPECT_EQ(size_t(a.kind), i);
    EXPECT_EQ(&activation_def(a.kind), &a);
    EXPECT_EQ(find_activation(a.name), &a);
    EXPECT_TRUE(names.insert(a.name).second) << a.name;
  }
  EXPECT_EQ(find_activation("tanh"), nullptr);
}

TEST(Activations, NetworkFilesNameEveryActivationFromTheTable) {
  const auto& ops = file_op_names();
  for (const ActivationDef& a : activation_table()) {
    EXPECT_NE(std::find(ops.begin(), ops.end(), a.name), ops.end()) << a.name;
    json doc = {{"format", "netadj-graph"},
                {"version", kGraphFormatVersion},
                {"input", {{"channels", 3}, {"resolution", 8}}},
                {"output", "fc"},
                {"ops",
                 {{{"name", "act"}, {"op", a.name}, {"inputs", {"input"}}},
                  {{"name", "flat"}, {"op", "flatten"}, {"inputs", {"act"}}},
                  {{"name", "fc"}, {"op", "linear"}, {"inputs", {"flat"}}, {"out", 2}}}}};
    const Graph g = parse_graph(doc, "act.json");
    EXPECT_EQ(g.ops[0].kind, OpKind::kActivation) << a.name;
    EXPECT_EQ(g.ops[0].act, a.kind) << a.name;
  }
}

TEST(Activations, ApplyAgreesWithTheTorchScriptExpression) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::randn({2, 3, 4, 4}) * 4;
  for (const ActivationDef& a : activation_table()) {
    const std::string expr = std::regex_replace(a.torchscript, std::regex("\\{\\}"), "x");
    auto cu = torch::jit::compile("def f(x: Tensor) -> Tensor:\n    return " + expr + "\n");
    const torch::Tensor y = cu->run_method("f", x).toTensor();
    EXPECT_TRUE(torch::allclose(y, a.apply(x), 1e-6, 1e-6)) << a.name;
  }
}

TEST(Activations, TheImporterAndTheReferenceReaderListTheTable) {
  const std::vector<std::string> want = table_names();
  EXPECT_EQ(dict_keys(source_file("scripts/import_torch.py"), "ACTIVATIONS = {"), want);
  EXPECT_EQ(dict_keys(source_file("scripts/graph_reference.py"), "acts = {"), want);
}
