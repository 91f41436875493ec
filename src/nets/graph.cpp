// The network file: strict parsing, the checks a bad file fails (each names its node), shape inference and the
// searchable slots (docs/graph-format.md). Its counts are its spec's (graph_spec.cpp).
#include "netadj/nets/graph.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "netadj/ir/activation.h"
#include "netadj/nets/spec.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {
using nlohmann::json;

namespace {
// GraphOpKind's names, in its order ("activation" stands for every activation's own name).
const std::vector<std::string>& kind_names() {
  static const std::vector<std::string> names = {
      "conv2d",   "batch_norm",        "activation", "add",     "mul",    "cat",     "max_pool",
      "avg_pool", "adaptive_avg_pool", "mean",       "flatten", "linear", "dropout", "stochastic_depth",
      "identity", "channel_shuffle"};
  return names;
}

std::string op_name(const GraphOp& op) {
  return op.kind == GraphOpKind::kActivation ? activation_def(op.act).name : kind_names()[size_t(op.kind)];
}
}  // namespace

const std::vector<std::string>& graph_op_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (size_t k = 0; k < kind_names().size(); ++k) {
      if (GraphOpKind(k) != GraphOpKind::kActivation) {
        n.push_back(kind_names()[k]);
        continue;
      }
      for (const ActivationDef& a : activation_table()) n.emplace_back(a.name);
    }
    return n;
  }();
  return names;
}

namespace {

constexpr int64_t kMaxFeatures = int64_t(1) << 31;  // a flattened map or a linear layer's width

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw ConfigError(where + ": " + what); }

// The attributes each op may carry; any other key is refused (a typo must not be ignored).
const std::vector<std::string>& allowed_keys(GraphOpKind k) {
  static const std::vector<std::string> none = {};
  static const std::vector<std::string> conv = {"out", "kernel", "stride", "padding", "dilation", "groups", "bias"};
  static const std::vector<std::string> pool = {"kernel", "stride", "padding", "ceil_mode"};
  static const std::vector<std::string> adaptive = {"output_size"};
  static const std::vector<std::string> mean = {"keepdim"};
  static const std::vector<std::string> linear = {"out", "bias"};
  static const std::vector<std::string> drop = {"p"};
  static const std::vector<std::string> bn = {"eps"};
  static const std::vector<std::string> shuffle = {"groups"};
  static const std::vector<std::string> add = {"fit"};
  switch (k) {
    case GraphOpKind::kConv2d:
      return conv;
    case GraphOpKind::kMaxPool:
    case GraphOpKind::kAvgPool:
      return pool;
    case GraphOpKind::kAdaptiveAvgPool:
      return adaptive;
    case GraphOpKind::kMean:
      return mean;
    case GraphOpKind::kLinear:
      return linear;
    case GraphOpKind::kDropout:
    case GraphOpKind::kStochasticDepth:
      return drop;
    case GraphOpKind::kBatchNorm:
      return bn;
    case GraphOpKind::kChannelShuffle:
      return shuffle;
    case GraphOpKind::kAdd:
      return add;
    default:
      return none;
  }
}

// Reads one op's fields with their ranges; `at` prefixes every message ("net.json: op 'conv1' (conv2d)").
class OpReader {
 public:
  OpReader(const json& j, std::string at) : j_(j), at_(std::move(at)) {}
  int64_t integer(const char* key, int64_t lo, int64_t hi, std::optional<int64_t> dflt) const {
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (!dflt) fail(at_, std::string("needs \"") + key + "\"");
      return *dflt;
    }
    if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi ||
        (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(hi)))
      fail(at_, fmt::format("\"{}\" = {}: expected an integer in {}..{}", key, it->dump(), lo, hi));
    return it->get<int64_t>();
  }
  bool boolean(const char* key, bool dflt) const {
    auto it = j_.find(key);
    if (it == j_.end()) return dflt;
    if (!it->is_boolean()) fail(at_, fmt::format("\"{}\" = {}: expected true or false", key, it->dump()));
    return it->get<bool>();
  }
  void number(const char* key, double lo, double hi) const {
    auto it = j_.find(key);
    if (it == j_.end()) return;
    if (!it->is_number() || !(it->get<double>() >= lo && it->get<double>() <= hi))
      fail(at_, fmt::format("\"{}\" = {}: expected a number in [{}, {}]", key, it->dump(), lo, hi));
  }

 private:
  const json& j_;
  std::string at_;
};

// The op's kind (and its activation) from its "op".
void read_kind(GraphOp& op, const json& j, const std::string& at) {
  auto it = j.find("op");
  if (it == j.end() || !it->is_string()) fail(at, "needs \"op\", a string");
  const std::string name = it->get<std::string>();
  if (const ActivationDef* a = find_activation(name)) {
    op.kind = GraphOpKind::kActivation;
    op.act = a->kind;
    return;
  }
  const auto& names = kind_names();
  auto pos = std::find(names.begin(), names.end(), name);
  const auto kind = static_cast<GraphOpKind>(pos - names.begin());
  if (pos == names.end() || kind == GraphOpKind::kActivation)
    fail(at, fmt::format("unknown op \"{}\"; supported: {}", name, fmt::join(graph_op_names(), ", ")));
  op.kind = kind;
}

void read_attributes(GraphOp& op, const json& j, const std::string& at) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const auto& allowed = allowed_keys(op.kind);
    if (k != "name" && k != "op" && k != "inputs" && std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      fail(at, fmt::format("unknown attribute \"{}\" (this op takes: {})", k,
                           allowed.empty() ? std::string("none") : fmt::format("{}", fmt::join(allowed, ", "))));
  }
  OpReader r(j, at);
  switch (op.kind) {
    case GraphOpKind::kConv2d:
      op.out = r.integer("out", 1, kMaxChannels, std::nullopt);
      op.kernel = int(r.integer("kernel", 1, 64, std::nullopt));
      op.stride = int(r.integer("stride", 1, 64, 1));
      op.padding = int(r.integer("padding", 0, 64, 0));
      op.dilation = int(r.integer("dilation", 1, 64, 1));
      op.groups = r.integer("groups", 1, kMaxChannels, 1);
      op.bias = r.boolean("bias", false);
      break;
    case GraphOpKind::kMaxPool:
    case GraphOpKind::kAvgPool:
      op.kernel = int(r.integer("kernel", 1, 64, std::nullopt));
      op.stride = int(r.integer("stride", 1, 64, op.kernel));
      op.padding = int(r.integer("padding", 0, op.kernel / 2, 0));  // PyTorch: at most half the kernel
      op.ceil_mode = r.boolean("ceil_mode", false);
      break;
    case GraphOpKind::kAdaptiveAvgPool:
      op.output_size = int(r.integer("output_size", 1, 64, 1));
      break;
    case GraphOpKind::kMean:
      op.keepdim = r.boolean("keepdim", false);
      break;
    case GraphOpKind::kLinear:
      op.out = r.integer("out", 1, kMaxFeatures, std::nullopt);
      op.bias = r.boolean("bias", true);
      break;
    case GraphOpKind::kDropout:
    case GraphOpKind::kStochasticDepth:
      r.number("p", 0.0, 1.0);
      break;
    case GraphOpKind::kBatchNorm:
      r.number("eps", 0.0, 1.0);
      break;
    case GraphOpKind::kChannelShuffle:
      op.groups = r.integer("groups", 1, kMaxChannels, std::nullopt);
      break;
    case GraphOpKind::kAdd:
      if (j.contains("fit")) {
        const json& f = j["fit"];
        if (f != "max" && f != "local") fail(at, fmt::format("\"fit\" = {}: expected \"max\" or \"local\"", f.dump()));
        op.fit = f == "max" ? Padding::kMax : Padding::kLocal;
      }
      break;
    default:
      break;
  }
}

// How many inputs each op takes: {min, max}.
std::pair<size_t, size_t> arity(GraphOpKind k) {
  switch (k) {
    case GraphOpKind::kAdd:
      return {2, 64};
    case GraphOpKind::kMul:
      return {2, 2};
    case GraphOpKind::kCat:
      return {1, 4096};
    default:
      return {1, 1};
  }
}

// A pooled or convolved side: PyTorch's output size, with ceil_mode's rule that the last window starts inside.
int64_t window_out(int64_t res, int k, int s, int p, int d, bool ceil_mode) {
  const int64_t span = res + 2 * int64_t(p) - int64_t(d) * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= res + p) --out;
  return out;
}

std::string shape_str(const GraphShape& s) {
  return s.is_vector() ? fmt::format("{} features", s.channels) : fmt::format("{}x{}x{}", s.channels, s.res, s.res);
}

// An op that joins several inputs: they must agree (add: equal shapes; mul: equal, or a Cx1x1 gate; cat: one
// resolution).
GraphShape joined_shape(const GraphOp& op, const std::vector<GraphShape>& in, const std::string& at) {
  const GraphShape& x = in[0];
  switch (op.kind) {
    case GraphOpKind::kAdd:
      if (op.fit) {
        if (in.size() != 2) fail(at, fmt::format("\"fit\" adds two inputs, got {}", in.size()));
        const GraphShape& y = in[1];
        if (x.is_vector() || y.is_vector() || x.res != y.res)
          fail(at,
               fmt::format("adds {} to {}: \"fit\" needs feature maps of one resolution", shape_str(y), shape_str(x)));
        return {*op.fit == Padding::kLocal ? y.channels : std::max(x.channels, y.channels), x.res};
      }
      for (const GraphShape& s : in)
        if (s.channels != x.channels || s.res != x.res)
          fail(at, fmt::format("adds {} to {}: the inputs' widths or resolutions differ (\"fit\" pads them)",
                               shape_str(s), shape_str(x)));
      return x;
    case GraphOpKind::kMul: {
      const GraphShape& y = in[1];
      const bool same = x.channels == y.channels && x.res == y.res;
      const bool gate = !x.is_vector() && !y.is_vector() && x.channels == y.channels && (x.res == 1 || y.res == 1);
      if (!same && !gate)
        fail(at, fmt::format("multiplies {} by {}: expected equal shapes or a Cx1x1 gate of the same width",
                             shape_str(x), shape_str(y)));
      return x.res >= y.res ? x : y;
    }
    case GraphOpKind::kCat: {
      GraphShape out{0, x.res};
      for (const GraphShape& s : in) {
        if (s.is_vector()) fail(at, "needs feature maps, got " + shape_str(s));
        if (s.res != x.res)
          fail(at, fmt::format("concatenates {} with {}: the resolutions differ", shape_str(s), shape_str(x)));
        out.channels += s.channels;
      }
      if (out.channels > kMaxChannels) fail(at, fmt::format("concatenates to {} channels", out.channels));
      return out;
    }
    default:
      return x;
  }
}

GraphShape infer_shape(const GraphOp& op, const std::vector<GraphShape>& in, const std::string& at) {
  auto need_map = [&](const GraphShape& s) {
    if (s.is_vector()) fail(at, "needs a feature map, got " + shape_str(s));
  };
  const GraphShape& x = in[0];
  switch (op.kind) {
    case GraphOpKind::kConv2d: {
      need_map(x);
      if (x.channels % op.groups != 0 || op.out % op.groups != 0)
        fail(at,
             fmt::format("groups = {} must divide its {} input and {} output channels", op.groups, x.channels, op.out));
      const int64_t r = window_out(x.res, op.kernel, op.stride, op.padding, op.dilation, false);
      if (r < 1) fail(at, fmt::format("kernel {} does not fit its {} input", op.kernel, shape_str(x)));
      if (r > kMaxResolution)
        fail(at, fmt::format("its padding grows the map past {}x{}", kMaxResolution, kMaxResolution));
      return {op.out, r};
    }
    case GraphOpKind::kMaxPool:
    case GraphOpKind::kAvgPool: {
      need_map(x);
      const int64_t r = window_out(x.res, op.kernel, op.stride, op.padding, 1, op.ceil_mode);
      if (r < 1) fail(at, fmt::format("kernel {} does not fit its {} input", op.kernel, shape_str(x)));
      if (r > kMaxResolution)
        fail(at, fmt::format("its padding grows the map past {}x{}", kMaxResolution, kMaxResolution));
      return {x.channels, r};
    }
    case GraphOpKind::kAdaptiveAvgPool:
      need_map(x);
      return {x.channels, op.output_size};
    case GraphOpKind::kMean:
      need_map(x);
      return {x.channels, op.keepdim ? 1 : 0};
    case GraphOpKind::kFlatten: {
      need_map(x);
      const int64_t f = x.res > kMaxFeatures / x.channels / x.res ? kMaxFeatures + 1 : x.channels * x.res * x.res;
      if (f > kMaxFeatures) fail(at, fmt::format("flattens {} into more than 2^31 features", shape_str(x)));
      return {f, 0};
    }
    case GraphOpKind::kLinear:
      if (!x.is_vector()) fail(at, "needs a vector (flatten or mean first), got " + shape_str(x));
      return {op.out, 0};
    case GraphOpKind::kAdd:
    case GraphOpKind::kMul:
    case GraphOpKind::kCat:
      return joined_shape(op, in, at);
    case GraphOpKind::kChannelShuffle:
      need_map(x);
      if (x.channels % op.groups != 0)
        fail(at, fmt::format("groups = {} must divide its {} channels", op.groups, x.channels));
      return x;
    case GraphOpKind::kBatchNorm:
      need_map(x);
      return x;
    default:  // activations, dropout, stochastic depth, identity
      return x;
  }
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
  OpReader r(in, where + ": input");
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
    read_kind(op, j, at);
    const std::string atk = at + " (" + op_name(op) + ")";
    read_attributes(op, j, atk);
    const json inputs = j.value("inputs", json());
    const auto [lo, hi] = arity(op.kind);
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
    op.depthwise =
        op.kind == GraphOpKind::kConv2d && op.groups > 1 && op.groups == op.out && shapes[0].channels == op.out;
    earlier[op.name] = int(g.ops.size());
    g.ops.push_back(std::move(op));
  }
  const json out = doc.value("output", json());
  if (!out.is_string() || !earlier.count(out.get<std::string>()))
    fail(where, "\"output\" must name an op (the one that gives the logits)");
  g.output = earlier[out.get<std::string>()];
  if (!g.ops[size_t(g.output)].shape.is_vector())
    fail(where, fmt::format("output '{}' is a {} map: the logits must be a vector (flatten, mean or linear)",
                            out.get<std::string>(), shape_str(g.ops[size_t(g.output)].shape)));
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
    g.min_channels[it.key()] = OpReader(mins, where + ": min_channels").integer(it.key().c_str(), 1, kMaxChannels, 1);
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

// A conv with one group per channel, in = out (its output width is its input's).
bool depthwise(const Graph&, const GraphOp& op) { return op.depthwise; }

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
    const bool derived = op.kind == GraphOpKind::kCat || op.kind == GraphOpKind::kFlatten ||
                         op.kind == GraphOpKind::kChannelShuffle || (op.kind == GraphOpKind::kAdd && op.fit);
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
    // Groups on a concatenation's width (a grouped or depthwise conv, a channel shuffle) would need its parts
    // to move together: they are fixed instead, as for a concatenation tied by an add.
    if ((op.kind == GraphOpKind::kConv2d && op.groups > 1) || op.kind == GraphOpKind::kChannelShuffle)
      sp.join_if_derived(in);
    switch (op.kind) {
      case GraphOpKind::kConv2d:
        if (depthwise(g, op)) break;
        space[i] = sp.add();
        sp.need_multiple(space[i], op.groups);
        sp.need_multiple(in, op.groups);
        break;
      case GraphOpKind::kLinear:
        space[i] = sp.add();
        break;
      case GraphOpKind::kCat:
      case GraphOpKind::kFlatten:
        space[i] = sp.add(false, /*derived=*/true);  // its width follows its parts
        break;
      case GraphOpKind::kAdd:
        if (op.fit) {
          space[i] = sp.add(false, /*derived=*/true);  // its width follows its inputs'
          break;
        }
        for (int j : op.inputs) sp.unite(in, of(j));
        break;
      case GraphOpKind::kMul:
        for (int j : op.inputs) sp.unite(in, of(j));
        break;
      case GraphOpKind::kChannelShuffle:
        // Its channels are its input's in another order: a space of its own, derived like a concatenation's, so
        // that one slot never holds channels in two orders (a drop mask or a warm-start map would mix them).
        sp.need_multiple(in, op.groups);
        space[i] = sp.add(false, /*derived=*/true);
        break;
      default:
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
    for (int i : slots[s].ops) {
      GraphOp& op = out.ops[size_t(i)];
      if (op.kind != GraphOpKind::kConv2d && op.kind != GraphOpKind::kLinear) continue;
      if (depthwise(g, g.ops[size_t(i)])) op.groups = c[s];
      op.out = c[s];
    }
  }
  for (GraphOp& op : out.ops) {
    std::vector<GraphShape> in;
    for (int j : op.inputs) in.push_back(j < 0 ? out.input : out.ops[size_t(j)].shape);
    op.shape = infer_shape(op, in, "graph: op '" + op.name + "'");
  }
  return out;
}

size_t fitted_input(const Graph& g, const GraphOp& op) {
  auto width = [&](int j) { return j < 0 ? g.input.channels : g.ops[size_t(j)].shape.channels; };
  return *op.fit == Padding::kLocal || width(op.inputs[1]) > width(op.inputs[0]) ? 1 : 0;
}

json graph_to_json(const Graph& g) {
  json ops = json::array();
  for (const GraphOp& op : g.ops) {
    json j = *op.source;
    if (op.kind == GraphOpKind::kConv2d || op.kind == GraphOpKind::kLinear) j["out"] = op.out;
    if (op.kind == GraphOpKind::kConv2d && op.groups > 1) j["groups"] = op.groups;
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
