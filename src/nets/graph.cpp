// The network file: strict parsing, the checks a bad file fails (each names its node), shape inference and the
// searchable slots (docs/graph-format.md). Its counts are its spec's (graph_spec.cpp).
#include "netadj/nets/graph.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "netadj/nets/spec.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {
using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw ConfigError(where + ": " + what); }

// The op's definition, by the name the file gives it in "op".
const OpDef& read_kind(GraphOp& op, const json& j, const std::string& at) {
  auto it = j.find("op");
  if (it == j.end() || !it->is_string()) fail(at, "needs \"op\", a string");
  const OpDef* def = file_op_def(it->get<std::string>());
  if (!def)
    fail(at, fmt::format("unknown op \"{}\"; supported: {}", it->get<std::string>(), fmt::join(file_op_names(), ", ")));
  op.kind = def->kind();
  return *def;
}

// The op's attributes, any key it does not take refused (a typo must not be ignored).
void read_attributes(const OpDef& def, GraphOp& op, const json& j, const std::string& at) {
  const std::string file_name = j["op"].get<std::string>();
  const std::vector<std::string> allowed = def.file_keys(file_name);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k != "name" && k != "op" && k != "inputs" && std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      fail(at, fmt::format("unknown attribute \"{}\" (this op takes: {})", k,
                           allowed.empty() ? std::string("none") : fmt::format("{}", fmt::join(allowed, ", "))));
  }
  def.read(file_name, FileReader(j, at), op);
}

GraphShape infer_shape(const GraphOp& op, const std::vector<GraphShape>& in, const std::string& at) {
  return op_def(op.kind).infer(op, in, FileSite(at));
}

// The input of op `self` named `name`: an earlier op, or the network's input. A name defined later is a cycle
// or an order that is not topological; one defined nowhere is undefined.
int resolve_input(const std::string& name, const std::map<std::string, int>& earlier, const std::set<std::string>& all,
                  const std::string& at) {
  if (name == "input") return -1;
  auto it = earlier.find(name);
  if (it != earlier.end()) return it->second;
  if (all.count(name))
    fail(at, fmt::format("input \"{}\" is defined after it: a cycle, or ops not in topological order", name));
  fail(at, fmt::format("undefined input \"{}\"", name));
}

void read_header(Graph& g, const json& doc, const std::string& where) {
  if (!doc.is_object()) fail(where, "expected a JSON object (a netadj graph file)");
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (!std::set<std::string>{"format", "version", "input", "ops", "output", "normalize", "fixed", "min_channels"}
             .count(it.key()))
      fail(where, "unknown key \"" + it.key() + "\"");
  if (doc.value("format", json()) != "netadj-graph") fail(where, "\"format\" must be \"netadj-graph\"");
  if (doc.value("version", json()) != kGraphFormatVersion)
    fail(where, fmt::format("\"version\" {} is not supported; this netadj reads version {}",
                            doc.value("version", json()).dump(), kGraphFormatVersion));
  const json in = doc.value("input", json());
  if (!in.is_object()) fail(where, "needs \"input\": {\"channels\": C, \"resolution\": R}");
  FileReader r(in, where + ": input");
  g.input = {r.integer("channels", 1, kMaxChannels, std::nullopt),
             r.integer("resolution", 1, kMaxResolution, std::nullopt)};
  if (doc.contains("normalize")) {
    const json& n = doc["normalize"];
    auto list = [&](const char* key) {
      const json v = n.is_object() ? n.value(key, json()) : json();
      if (!v.is_array() || int64_t(v.size()) != g.input.channels ||
          !std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_number(); }))
        fail(where, fmt::format("normalize.{} must hold {} numbers, one per input channel", key, g.input.channels));
      return v.get<std::vector<double>>();
    };
    g.mean = list("mean");
    g.std = list("std");
    for (double s : *g.std)
      if (!(s > 0)) fail(where, "normalize.std must be positive");
  }
}

// Every op but the output feeds a later op, and the input feeds one.
void check_used(const Graph& g, const std::string& where) {
  std::vector<bool> used(g.ops.size(), false);
  bool input_used = false;
  for (const GraphOp& op : g.ops)
    for (int i : op.inputs) {
      if (i < 0)
        input_used = true;
      else
        used[size_t(i)] = true;
    }
  if (!input_used) fail(where, "no op reads \"input\"");
  for (size_t i = 0; i < g.ops.size(); ++i)
    if (!used[i] && int(i) != g.output)
      fail(where, fmt::format("op '{}': its output is used by no op and is not \"output\" (a dangling output)",
                              g.ops[i].name));
}

}  // namespace

namespace {
void parse_tail(Graph& g, const json& doc, const std::string& where, const std::map<std::string, int>& earlier);
}  // namespace

Graph parse_graph(const json& doc, const std::string& where, int resolution) {
  Graph g;
  read_header(g, doc, where);
  if (resolution > 0) g.input.res = std::min(resolution, kMaxResolution);
  const json ops = doc.value("ops", json());
  if (!ops.is_array() || ops.empty() || ops.size() > 100000) fail(where, "\"ops\" must be a list of 1..100000 ops");
  std::set<std::string> all;
  for (const json& j : ops)
    if (j.is_object() && j.contains("name") && j["name"].is_string()) all.insert(j["name"].get<std::string>());
  std::map<std::string, int> earlier;
  for (size_t i = 0; i < ops.size(); ++i) {
    const json& j = ops[i];
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty() ||
        j["name"].get<std::string>().size() > 200)
      fail(where, fmt::format("ops[{}]: needs \"name\", a string of 1..200 characters", i));
    GraphOp op;
    op.name = j["name"].get<std::string>();
    op.source = std::make_shared<const json>(j);
    const std::string at = where + ": op '" + op.name + "'";
    if (op.name == "input" || earlier.count(op.name)) fail(at, "the name is taken (by \"input\" or an earlier op)");
    const OpDef& def = read_kind(op, j, at);
    const std::string atk = at + " (" + j["op"].get<std::string>() + ")";
    read_attributes(def, op, j, atk);
    const json inputs = j.value("inputs", json());
    const auto [lo, hi] = def.arity();
    if (!inputs.is_array() || inputs.size() < lo || inputs.size() > hi ||
        !std::all_of(inputs.begin(), inputs.end(), [](const json& x) { return x.is_string(); }))
      fail(atk, fmt::format("\"inputs\" must name {} earlier op{} (or \"input\")",
                            lo == hi ? std::to_string(lo) : fmt::format("{}..{}", lo, hi), hi > 1 ? "s" : ""));
    std::vector<GraphShape> shapes;
    for (const json& name : inputs) {
      op.inputs.push_back(resolve_input(name.get<std::string>(), earlier, all, atk));
      shapes.push_back(op.inputs.back() < 0 ? g.input : g.ops[size_t(op.inputs.back())].shape);
    }
    op.shape = infer_shape(op, shapes, atk);
    def.settle(op, shapes);
    earlier[op.name] = int(g.ops.size());
    g.ops.push_back(std::move(op));
  }
  const json out = doc.value("output", json());
  if (!out.is_string() || !earlier.count(out.get<std::string>()))
    fail(where, "\"output\" must name an op (the one that gives the logits)");
  g.output = earlier[out.get<std::string>()];
  if (!g.ops[size_t(g.output)].shape.is_vector())
    fail(where, fmt::format("output '{}' is a {} map: the logits must be a vector (flatten, mean or linear)",
                            out.get<std::string>(), to_string(g.ops[size_t(g.output)].shape)));
  check_used(g, where);
  parse_tail(g, doc, where, earlier);
  return g;
}

namespace {

// "fixed" and "min_channels"; a least width above a slot's width in the file is refused.
void parse_tail(Graph& g, const json& doc, const std::string& where, const std::map<std::string, int>& earlier) {
  for (const json& f : doc.value("fixed", json::array())) {
    if (!f.is_string() || !earlier.count(f.get<std::string>()))
      fail(where, "\"fixed\" must list op names; " + f.dump() + " is none");
    g.fixed.push_back(f.get<std::string>());
  }
  const json mins = doc.value("min_channels", json::object());
  if (!mins.is_object()) fail(where, "\"min_channels\" must be an object: {\"op\": least width}");
  for (auto it = mins.begin(); it != mins.end(); ++it) {
    if (!earlier.count(it.key())) fail(where, "min_channels: \"" + it.key() + "\" is no op");
    g.min_channels[it.key()] = FileReader(mins, where + ": min_channels").integer(it.key().c_str(), 1, kMaxChannels, 1);
  }
  for (const GraphSlot& s : graph_slots(g))
    if (s.min > s.width)
      fail(where, fmt::format("min_channels: slot '{}' may not go under {} (a multiple of {}), but is {} wide here",
                              s.name, s.min, s.multiple, s.width));
}

}  // namespace

Graph read_graph(const std::string& path) { return parse_graph(read_json(path), path); }

namespace {

// Channel spaces: union-find over the ops' output widths, with what a space may not do.
class Spaces {
 public:
  int add(bool fixed = false, bool derived = false) {
    parent_.push_back(int(parent_.size()));
    fixed_.push_back(fixed);
    derived_.push_back(derived);
    multiple_.push_back(1);
    return int(parent_.size()) - 1;
  }
  int find(int s) {
    while (parent_[size_t(s)] != s) s = parent_[size_t(s)] = parent_[size_t(parent_[size_t(s)])];
    return s;
  }
  void unite(int a, int b) {
    a = find(a), b = find(b);
    if (a == b) return;
    // A derived width (a concatenation's, a flatten's) tied to another: its parts may not change either.
    if (derived_[size_t(a)] || derived_[size_t(b)]) joined_.push_back(std::min(a, b));
    if (b < a) std::swap(a, b);
    parent_[size_t(b)] = a;
    fixed_[size_t(a)] = fixed_[size_t(a)] || fixed_[size_t(b)];
    derived_[size_t(a)] = derived_[size_t(a)] || derived_[size_t(b)];
    multiple_[size_t(a)] = std::lcm(multiple_[size_t(a)], multiple_[size_t(b)]);
  }
  void fix(int s) { fixed_[size_t(find(s))] = true; }
  bool is_fixed(int s) { return fixed_[size_t(find(s))]; }
  void join_if_derived(int s) {
    if (derived_[size_t(find(s))]) joined_.push_back(find(s));
  }
  void need_multiple(int s, int64_t m) {
    const int r = find(s);
    multiple_[size_t(r)] = std::lcm(multiple_[size_t(r)], m);
  }
  bool searchable(int s) { return !fixed_[size_t(find(s))] && !derived_[size_t(find(s))]; }
  int64_t multiple(int s) { return multiple_[size_t(find(s))]; }
  /// Whether the space of `s` is derived and was tied to another space.
  bool derived_and_joined(int s) {
    const int r = find(s);
    return derived_[size_t(r)] && std::any_of(joined_.begin(), joined_.end(), [&](int j) { return find(j) == r; });
  }

 private:
  std::vector<int> parent_;
  std::vector<bool> fixed_, derived_;
  std::vector<int64_t> multiple_;
  std::vector<int> joined_;
};

// The output's space and the files' "fixed" ops are fixed. A concatenation, flatten, channel shuffle or fitted add
// whose width may not change (fixed, as a flatten that gives the logits, or tied to another width by an add or a
// multiply) fixes its parts, latest first, so that a part that is itself such an op passes it on.
void fix_spaces(const Graph& g, Spaces& sp, const std::vector<int>& space, int input) {
  auto of = [&](int i) { return i < 0 ? input : space[size_t(i)]; };
  sp.fix(space[size_t(g.output)]);
  for (const std::string& name : g.fixed)
    for (size_t i = 0; i < g.ops.size(); ++i)
      if (g.ops[i].name == name) sp.fix(space[i]);
  for (size_t i = g.ops.size(); i-- > 0;) {
    const GraphOp& op = g.ops[i];
    const bool derived = op_def(op.kind).width_rule(op) == WidthRule::kDerived;
    if (derived && (sp.is_fixed(space[i]) || sp.derived_and_joined(space[i])))
      for (int j : op.inputs) sp.fix(of(j));
  }
}

// The space of every op's output, joined as the ops tie them; the input's and the output's are fixed.
std::vector<int> assign_spaces(const Graph& g, Spaces& sp) {
  const int input = sp.add(/*fixed=*/true);
  std::vector<int> space(g.ops.size());
  auto of = [&](int i) { return i < 0 ? input : space[size_t(i)]; };
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const GraphOp& op = g.ops[i];
    const int in = of(op.inputs[0]);
    space[i] = in;  // BN, activations, pooling, mean, dropout, identity keep their input's width
    const OpDef& def = op_def(op.kind);
    // Groups on a concatenation's width (a grouped or depthwise conv, a channel shuffle) would need its parts
    // to move together: they are fixed instead, as for a concatenation tied by an add.
    const int64_t groups = def.input_groups(op);
    if (groups > 1) sp.join_if_derived(in);
    switch (def.width_rule(op)) {
      case WidthRule::kSame:
        break;
      case WidthRule::kNew:
        space[i] = sp.add();
        sp.need_multiple(space[i], groups);
        sp.need_multiple(in, groups);
        break;
      case WidthRule::kTied:
        for (int j : op.inputs) sp.unite(in, of(j));
        break;
      case WidthRule::kDerived:
        sp.need_multiple(in, groups);
        space[i] = sp.add(false, /*derived=*/true);  // its width follows its inputs'
        break;
    }
  }
  fix_spaces(g, sp, space, input);
  return space;
}

}  // namespace

std::vector<GraphSlot> graph_slots(const Graph& g) {
  Spaces sp;
  const std::vector<int> space = assign_spaces(g, sp);
  std::vector<GraphSlot> slots;
  std::map<int, size_t> slot_of;  // space root -> slot
  for (size_t i = 0; i < g.ops.size(); ++i) {
    if (!sp.searchable(space[i])) continue;
    const int root = sp.find(space[i]);
    auto [it, fresh] = slot_of.emplace(root, slots.size());
    if (fresh) slots.push_back(GraphSlot{g.ops[i].name, g.ops[i].shape.channels, sp.multiple(root), 1, {}});
    GraphSlot& slot = slots[it->second];
    slot.ops.push_back(int(i));
    auto least = g.min_channels.find(g.ops[i].name);
    if (least != g.min_channels.end()) slot.min = std::max(slot.min, least->second);
  }
  for (GraphSlot& s : slots) s.min = (s.min + s.multiple - 1) / s.multiple * s.multiple;
  return slots;
}

Graph with_widths(const Graph& g, const std::vector<GraphSlot>& slots, const std::vector<int64_t>& c) {
  if (c.size() != slots.size())
    throw ConfigError(fmt::format("graph: {} widths given for {} searchable slots", c.size(), slots.size()));
  Graph out = g;
  for (size_t s = 0; s < slots.size(); ++s) {
    if (c[s] < slots[s].min || c[s] > kMaxChannels || c[s] % slots[s].multiple != 0)
      throw ConfigError(fmt::format("graph: slot '{}' = {}: expected a multiple of {} in {}..{}", slots[s].name, c[s],
                                    slots[s].multiple, slots[s].min, kMaxChannels));
    for (int i : slots[s].ops) op_def(out.ops[size_t(i)].kind).set_width(out.ops[size_t(i)], c[s]);
  }
  for (GraphOp& op : out.ops) {
    std::vector<GraphShape> in;
    for (int j : op.inputs) in.push_back(j < 0 ? out.input : out.ops[size_t(j)].shape);
    op.shape = infer_shape(op, in, "graph: op '" + op.name + "'");
  }
  return out;
}

json graph_to_json(const Graph& g) {
  json ops = json::array();
  for (const GraphOp& op : g.ops) {
    json j = *op.source;
    op_def(op.kind).write_width(op, j);
    ops.push_back(std::move(j));
  }
  json doc = {{"format", "netadj-graph"},
              {"version", kGraphFormatVersion},
              {"input", {{"channels", g.input.channels}, {"resolution", g.input.res}}},
              {"ops", ops},
              {"output", g.ops[size_t(g.output)].name}};
  if (g.mean) doc["normalize"] = {{"mean", *g.mean}, {"std", *g.std}};
  if (!g.fixed.empty()) doc["fixed"] = g.fixed;
  if (!g.min_channels.empty()) doc["min_channels"] = g.min_channels;
  return doc;
}

}  // namespace netadj
