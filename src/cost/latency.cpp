// Latency tables: which ops are timed, their grids, the file format, the measurement and the model.
#include "netadj/cost/latency.h"

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

#include "netadj/backends/timing.h"
#include "netadj/ir/lower.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/interrupt.h"
#include "netadj/util/log.h"
#include "netadj/util/stats.h"

namespace netadj {
using json = nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The ops whose time grows with their widths (everything else is the table's rest) say how they are timed
// (OpDef::latency_key). Every one of them is timed, whether its widths depend on the searchable ones or not:
// which do can change with the vector (a residual sum is as wide as its widest input), and the model must match
// the same ops for every vector.
std::optional<LatencyKey> timed(const ArchSpec& s, size_t i) { return op_def(s.ops[i].kind).latency_key(s, i); }

LatencyEntry entry_shape(const ArchSpec& s, size_t i, const LatencyKey& k) {
  LatencyEntry e;
  e.name = s.ops[i].name;
  e.kind = k.kind;
  e.kernel = k.kernel;
  e.stride = k.stride;
  e.pad = k.pad;
  e.dilation = k.dilation;
  e.groups = k.groups;
  e.res_in = k.res_in;
  e.res_out = k.res_out;
  e.bias = k.bias;
  e.relu = k.relu;
  e.preact = k.preact;
  e.se_width = k.se_width;
  e.padding = k.padding;
  return e;
}

// The widths an entry's axes take in `s`: (input, output); a 1-D entry's input is its output.
std::pair<int64_t, int64_t> axes_of(const ArchSpec& s, const LatencyKey& k) {
  const int64_t out = s.ops[size_t(k.out_axis)].out.value;
  return {k.in_axis >= 0 ? s.ops[size_t(k.in_axis)].out.value : out, out};
}

// `points` widths on multiples of `step` from the least to twice `w`'s, its own among them.
std::vector<int64_t> axis_grid(const Width& w, int64_t step, int min_channels, int points) {
  const int64_t lo = step * std::max<int64_t>(1, (std::max<int64_t>(min_channels, 1) + step - 1) / step);
  const int64_t hi = std::max(lo, std::min<int64_t>(kMaxChannels, 2 * w.value) / step * step);
  std::vector<int64_t> g{w.value};
  for (int k = 0; k < points; ++k) {
    const double x = double(lo) + double(hi - lo) * k / std::max(points - 1, 1);
    g.push_back(std::max(lo, step * int64_t(std::llround(x / double(step)))));
  }
  std::sort(g.begin(), g.end());
  g.erase(std::unique(g.begin(), g.end()), g.end());
  return g;
}

std::string describe_device(const torch::Device& dev) {
  if (dev.is_cuda()) return dev.str();
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return "cpu: " + line.substr(line.find(':') + 2);
  return "cpu";
}

}  // namespace

std::string device_description(const torch::Device& dev) { return describe_device(dev); }

bool LatencyEntry::same_shape(const LatencyEntry& o) const { return shape_difference(o).empty(); }

std::string LatencyEntry::shape_difference(const LatencyEntry& o) const {
  auto diff = [&](const char* what, auto a, auto b) -> std::string {
    return a == b ? "" : fmt::format("{} {} (the network's: {})", what, a, b);
  };
  for (const std::string& d :
       {diff("kind", kind, o.kind), diff("kernel", kernel, o.kernel), diff("stride", stride, o.stride),
        diff("padding", pad, o.pad), diff("dilation", dilation, o.dilation), diff("groups", groups, o.groups),
        diff("input resolution", res_in, o.res_in), diff("output resolution", res_out, o.res_out),
        diff("bias", bias, o.bias), diff("relu", relu, o.relu), diff("preact", preact, o.preact),
        diff("se_width", se_width, o.se_width), diff("padding", padding, o.padding)})
    if (!d.empty()) return d;
  return "";
}

bool LatencyEntry::complete() const {
  for (const auto& row : ms)
    for (double v : row)
      if (!std::isfinite(v)) return false;
  return true;
}

bool LatencyTable::complete() const {
  return rest_ms.has_value() &&
         std::all_of(entries.begin(), entries.end(), [](const LatencyEntry& e) { return e.complete(); });
}

std::vector<LatencyEntry> latency_entries(const ArchSpec& spec, int min_channels, int points) {
  std::vector<LatencyEntry> out;
  for (size_t i = 0; i < spec.ops.size(); ++i) {
    const std::optional<LatencyKey> k = timed(spec, i);
    if (!k) continue;
    LatencyEntry e = entry_shape(spec, i, *k);
    e.out = axis_grid(spec.ops[size_t(k->out_axis)].out, k->step, min_channels, points);
    if (k->in_axis >= 0) e.in = axis_grid(spec.ops[size_t(k->in_axis)].out, k->step, min_channels, points);
    e.ms.assign(e.one_d() ? 1 : e.in.size(), std::vector<double>(e.out.size(), kNaN));
    out.push_back(std::move(e));
  }
  return out;
}

// ---- file format ------------------------------------------------------------------------------------

namespace {

json entry_json(const LatencyEntry& e) {
  json ms = json::array();
  for (const auto& row : e.ms) {
    json r = json::array();
    for (double v : row) r.push_back(std::isfinite(v) ? json(v) : json(nullptr));
    ms.push_back(r);
  }
  return {{"name", e.name},
          {"kind", e.kind},
          {"kernel", e.kernel},
          {"stride", e.stride},
          {"pad", e.pad},
          {"dilation", e.dilation},
          {"groups", e.groups},
          {"res_in", e.res_in},
          {"res_out", e.res_out},
          {"bias", e.bias},
          {"relu", e.relu},
          {"preact", e.preact},
          {"se_width", e.se_width},
          {"padding", e.padding},
          {"in", e.in},
          {"out", e.out},
          {"ms", ms}};
}

}  // namespace

json latency_table_json(const LatencyTable& t) {
  json entries = json::array();
  for (const LatencyEntry& e : t.entries) entries.push_back(entry_json(e));
  json calibration = json::array();
  for (const auto& c : t.calibration)
    calibration.push_back({{"channels", c.channels}, {"params", c.params}, {"ms", c.ms}, {"ops_ms", c.ops_ms}});
  return {{"format", kLatencyTableFormat},
          {"version", kLatencyTableVersion},
          {"device", t.device},
          {"torch", t.torch_version},
          {"batch", t.batch},
          {"threads", t.threads},
          {"warmup", t.warmup},
          {"reps", t.reps},
          {"arch", t.arch},
          {"resolution", t.resolution},
          {"channels", t.channels},
          {"network_ms", t.network_ms},
          {"rest_ms", t.rest_ms ? json(*t.rest_ms) : json(nullptr)},
          {"ms_per_mparam", t.ms_per_mparam},
          {"calibration", calibration},
          {"entries", entries}};
}

namespace {

// Reads fields of one JSON object with errors naming the file and the field.
class Fields {
 public:
  Fields(const json& j, std::string origin, std::string where)
      : j_(j), origin_(std::move(origin)), where_(std::move(where)) {
    if (!j_.is_object()) fail(where_.empty() ? "the document" : where_, "is not a JSON object");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw DataError(fmt::format("{}: {}{}: {}", origin_, where_, key, what));
  }
  const json& at(const std::string& key) const {
    if (!j_.contains(key)) fail(key, "missing");
    return j_.at(key);
  }
  int64_t integer(const std::string& key, int64_t lo, int64_t hi) const {
    const json& v = at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      fail(key, fmt::format("{} is not an integer in [{}, {}]", v.dump(), lo, hi));
    return v.get<int64_t>();
  }
  std::string text(const std::string& key) const {
    if (!at(key).is_string()) fail(key, "is not a string");
    return at(key).get<std::string>();
  }
  bool flag(const std::string& key) const {
    if (!at(key).is_boolean()) fail(key, "is not true or false");
    return at(key).get<bool>();
  }
  std::optional<double> time(const json& v, const std::string& key) const {
    if (v.is_null()) return std::nullopt;
    if (!v.is_number() || !std::isfinite(v.get<double>()) || std::abs(v.get<double>()) > 1e9)
      fail(key, v.dump() + " is not a time in milliseconds (or null)");
    return v.get<double>();
  }
  std::vector<int64_t> widths(const std::string& key, bool may_be_empty, bool ascending = true) const {
    const json& v = at(key);
    if (!v.is_array() || (v.empty() && !may_be_empty) || v.size() > 4096) fail(key, "is not an array of widths");
    std::vector<int64_t> w;
    for (const json& x : v) {
      if (!x.is_number_integer() || x.get<int64_t>() < 1 || x.get<int64_t>() > kMaxChannels)
        fail(key, x.dump() + " is not a width in [1, " + std::to_string(kMaxChannels) + "]");
      if (ascending && !w.empty() && x.get<int64_t>() <= w.back()) fail(key, "widths are not ascending");
      w.push_back(x.get<int64_t>());
    }
    return w;
  }

 private:
  const json& j_;
  std::string origin_, where_;
};

LatencyEntry entry_from_json(const json& j, const std::string& origin, size_t k) {
  const Fields f(j, origin, fmt::format("entries[{}].", k));
  LatencyEntry e;
  e.name = f.text("name");
  e.kind = f.text("kind");
  if (e.kind != "conv" && e.kind != "dwconv" && e.kind != "linear" && e.kind != "se" && e.kind != "add")
    f.fail("kind", "\"" + e.kind + "\" is not conv, dwconv, linear, se or add");
  e.kernel = int(f.integer("kernel", 1, 64));
  e.stride = int(f.integer("stride", 1, 64));
  e.pad = int(f.integer("pad", 0, 64));
  e.dilation = int(f.integer("dilation", 1, 64));
  e.groups = f.integer("groups", 1, kMaxChannels);
  e.res_in = int(f.integer("res_in", 1, kMaxResolution));
  e.res_out = int(f.integer("res_out", 1, kMaxResolution));
  e.bias = f.flag("bias");
  e.relu = f.flag("relu");
  e.preact = f.flag("preact");
  e.se_width = f.integer("se_width", 0, kMaxChannels);
  e.padding = f.text("padding");
  if (e.padding != (e.kind == "add" ? "max" : "") && e.padding != (e.kind == "add" ? "local" : ""))
    f.fail("padding", "\"" + e.padding + "\" is not " + (e.kind == "add" ? "max or local" : "\"\" (not a sum)"));
  e.in = f.widths("in", e.kind == "dwconv" || e.kind == "se");
  e.out = f.widths("out", false);
  if ((e.kind == "dwconv" || e.kind == "se") != e.in.empty())
    f.fail("in", e.kind == "dwconv" || e.kind == "se" ? "must be empty (one width)" : "must not be empty");
  const json& ms = f.at("ms");
  const size_t rows = e.one_d() ? 1 : e.in.size();
  if (!ms.is_array() || ms.size() != rows) f.fail("ms", fmt::format("must be {} rows of times", rows));
  for (const json& row : ms) {
    if (!row.is_array() || row.size() != e.out.size())
      f.fail("ms", fmt::format("rows must hold {} times (one per output width)", e.out.size()));
    std::vector<double> r;
    for (const json& v : row) r.push_back(f.time(v, "ms").value_or(kNaN));
    e.ms.push_back(std::move(r));
  }
  return e;
}

}  // namespace

LatencyTable latency_table_from_json(const json& j, const std::string& origin) {
  const Fields f(j, origin, "");
  if (f.text("format") != kLatencyTableFormat)
    f.fail("format", "\"" + f.text("format") + "\" is not \"" + kLatencyTableFormat + "\"");
  const int64_t version = f.integer("version", 0, 1 << 30);
  if (version != 1 && version != kLatencyTableVersion)
    f.fail("version", fmt::format("{} is not supported (this netadj reads versions 1 to {})", f.at("version").dump(),
                                  kLatencyTableVersion));
  LatencyTable t;
  t.device = f.text("device");
  t.torch_version = f.text("torch");
  t.batch = int(f.integer("batch", 1, 1 << 20));
  t.threads = int(f.integer("threads", 1, 1 << 16));
  t.warmup = int(f.integer("warmup", 0, 1 << 20));
  t.reps = int(f.integer("reps", 1, 1 << 20));
  t.arch = f.text("arch");
  t.resolution = int(f.integer("resolution", 0, kMaxResolution));
  t.channels = f.widths("channels", true, false);
  t.network_ms = f.time(f.at("network_ms"), "network_ms").value_or(0.0);
  t.rest_ms = f.time(f.at("rest_ms"), "rest_ms");
  if (version >= 2) {
    t.ms_per_mparam = f.time(f.at("ms_per_mparam"), "ms_per_mparam").value_or(kNaN);
    if (!(t.ms_per_mparam >= 0)) f.fail("ms_per_mparam", "is not a time of at least 0");
    const json& cal = f.at("calibration");
    if (!cal.is_array()) f.fail("calibration", "is not an array");
    for (size_t k = 0; k < cal.size(); ++k) {
      const Fields c(cal[k], origin, fmt::format("calibration[{}].", k));
      t.calibration.push_back({c.widths("channels", false, false), c.integer("params", 0, int64_t(1) << 50),
                               c.time(c.at("ms"), "ms").value_or(kNaN),
                               c.time(c.at("ops_ms"), "ops_ms").value_or(kNaN)});
    }
  }
  const json& entries = f.at("entries");
  if (!entries.is_array()) f.fail("entries", "is not an array");
  for (size_t k = 0; k < entries.size(); ++k) t.entries.push_back(entry_from_json(entries[k], origin, k));
  return t;
}

LatencyTable read_latency_table(const std::string& path) { return latency_table_from_json(read_json(path), path); }

void write_latency_table(const std::string& path, const LatencyTable& t) {
  write_json_atomic(path, latency_table_json(t));
}

void check_latency_table(const LatencyTable& t, const ArchSpec& spec, int batch, int threads, bool force,
                         const std::string& origin) {
  std::string why;
  if (t.batch != batch)
    why = fmt::format("measured for batch {}, not {} (search.latency_batch)", t.batch, batch);
  else if (threads > 0 && t.threads != threads)
    why = fmt::format("measured with {} threads, not {} (search.latency_threads)", t.threads, threads);
  const std::vector<LatencyEntry> want = latency_entries(spec, 1, 2);
  if (why.empty() && want.size() != t.entries.size())
    why = fmt::format("has {} timed layers; {} at resolution {} has {}", t.entries.size(), spec.arch, spec.resolution,
                      want.size());
  for (size_t k = 0; why.empty() && k < want.size(); ++k) {
    const std::string d = t.entries[k].shape_difference(want[k]);
    if (!d.empty()) why = fmt::format("entry {} ({}) has {}", k, t.entries[k].name, d);
  }
  if (!why.empty()) {
    if (!force) throw ConfigError(origin + ": " + why + "; --force (search.latency_force) uses it anyway");
    logger()->warn("{}: {}; used anyway (--force)", origin, why);
  }
  if (!t.complete())
    throw DataError(origin + ": the table is incomplete (an interrupted measurement); `netadj bench lut --out " +
                    origin + "` finishes it");
}

// ---- model ------------------------------------------------------------------------------------------

namespace {

// Segment index and fraction of x on an ascending grid; beyond the ends, the end segment extended.
std::pair<size_t, double> locate(const std::vector<int64_t>& g, int64_t x, bool& outside) {
  if (g.size() == 1) {
    outside = outside || x != g[0];
    return {0, 0.0};
  }
  if (x < g.front() || x > g.back()) outside = true;
  size_t i = size_t(std::upper_bound(g.begin(), g.end(), x) - g.begin());
  i = std::clamp<size_t>(i, 1, g.size() - 1) - 1;
  return {i, double(x - g[i]) / double(g[i + 1] - g[i])};
}

}  // namespace

double interpolate(const LatencyEntry& e, const std::vector<std::vector<double>>& ms, int64_t cin, int64_t cout,
                   bool* outside) {
  bool out = false;
  auto [j, fj] = locate(e.out, cout, out);
  const size_t j1 = std::min(j + 1, e.out.size() - 1);
  auto along_out = [&](const std::vector<double>& row) { return row[j] + fj * (row[j1] - row[j]); };
  double v;
  if (e.one_d()) {
    v = along_out(ms[0]);
  } else {
    auto [i, fi] = locate(e.in, cin, out);
    const size_t i1 = std::min(i + 1, e.in.size() - 1);
    const double a = along_out(ms[i]), b = along_out(ms[i1]);
    v = a + fi * (b - a);
  }
  if (outside) *outside = out;
  return v;
}

LatencyModel::LatencyModel(LatencyTable t) : table_(std::move(t)) {
  if (!table_.complete()) throw std::logic_error("LatencyModel: incomplete table");
  for (const LatencyEntry& e : table_.entries) {
    std::vector<std::vector<double>> m = e.ms;
    for (auto& row : m)
      for (size_t j = 1; j < row.size(); ++j) row[j] = std::max(row[j], row[j - 1]);
    for (size_t i = 1; i < m.size(); ++i)
      for (size_t j = 0; j < m[i].size(); ++j) m[i][j] = std::max(m[i][j], m[i - 1][j]);
    mono_.push_back(std::move(m));
  }
}

LatencyPrediction LatencyModel::predict(const ArchSpec& spec) const {
  LatencyPrediction p;
  size_t k = 0;
  for (size_t i = 0; i < spec.ops.size(); ++i) {
    const std::optional<LatencyKey> key = timed(spec, i);
    if (!key) continue;
    if (k >= table_.entries.size())
      throw ConfigError(
          fmt::format("latency table: {} has more timed layers than the table's {}", spec.arch, table_.entries.size()));
    const LatencyEntry& e = table_.entries[k];
    const auto [cin, cout] = axes_of(spec, *key);
    bool outside = false;
    p.entry_ms.push_back(interpolate(e, mono_[k], cin, cout, &outside));
    p.ops.push_back(int(i));
    if (outside) p.outside.push_back(int(k));
    ++k;
  }
  if (k != table_.entries.size())
    throw ConfigError(
        fmt::format("latency table: {} has {} timed layers, the table {}", spec.arch, k, table_.entries.size()));
  p.weights_ms = table_.ms_per_mparam * double(spec_params(spec)) / 1e6;
  double ops = 0;
  for (double v : p.entry_ms) ops += v;
  // The table's own network is predicted as measured: its rest is its own.
  const bool own = table_.network_ms > 0 && spec.channels == table_.channels;
  p.rest_ms = own ? table_.network_ms - ops - p.weights_ms : table_.rest_ms.value_or(0.0);
  p.total_ms = p.rest_ms + p.weights_ms + ops;
  return p;
}

std::string latency_text(const LatencyModel& model, const ArchSpec& s) {
  const LatencyTable& t = model.table();
  const LatencyPrediction p = model.predict(s);
  std::string text = fmt::format("latency on {} (batch {}, {} threads):\n{:<26} {:>6} {:>6} {:>10} {:>9}\n", t.device,
                                 t.batch, t.threads, "layer", "in", "out", "MACs", "ms");
  for (size_t k = 0; k < p.ops.size(); ++k) {
    const Op& op = s.ops[size_t(p.ops[k])];
    const bool out = std::find(p.outside.begin(), p.outside.end(), int(k)) != p.outside.end();
    text += fmt::format("{:<26} {:>6} {:>6} {:>10} {:>9.4f}{}\n", op.name, s.ops[size_t(op.inputs[0])].out.value,
                        op.out.value, op_cost(s, op).flops, p.entry_ms[k], out ? " *" : "");
  }
  text +=
      fmt::format("weights {:.4f} ms ({:.4f} ms per million parameters); rest {:.4f} ms; predicted total {:.4f} ms\n",
                  p.weights_ms, t.ms_per_mparam, p.rest_ms, p.total_ms);
  if (!p.outside.empty())
    logger()->warn("{} layers (*) are outside the latency table's grid: their times are extrapolated",
                   p.outside.size());
  return text;
}

// ---- measurement ------------------------------------------------------------------------------------

namespace {

// The TorchScript of one entry, as the export's forward computes that op with BatchNorm folded.
// Runs of the op per timed call. One: in a network each op pays the interpreter's dispatch, as a call does (more
// runs of the same op on the same, cache-hot input measure less than a network's op costs).
constexpr int kCallsPerTiming = 1;
// Copies of the table's own network among the whole networks timed (measure_latency_table).
constexpr int kOwnCopies = 3;

// The op at (cin, cout). A sum's source depends on the widths (its padding or cut is written out, as the export
// writes it: a test of the widths at run time cost matched sums a few microseconds the network does not spend).
std::string entry_source(const LatencyEntry& e, int64_t cin, int64_t cout) {
  std::vector<std::string> lines;
  if (e.kind == "add") {
    const int64_t g = e.padding == "local" ? cout : std::max(cin, cout);
    lines.push_back(fmt::format("y = {} + {}", fit_channels_source("x", cin, g), fit_channels_source("w", cout, g)));
  } else if (e.kind == "linear") {
    lines.push_back("y = torch.linear(x, w, b)");
  } else if (e.kind == "se") {
    lines.push_back("s = torch.relu(torch.conv2d(x.mean([2, 3], True), w, b))");
    lines.push_back("y = x * torch.sigmoid(torch.conv2d(s, w2, b2))");
  } else {
    const std::string in = e.preact ? "torch.relu(x * ps + pt)" : "x";
    lines.push_back(fmt::format("y = torch.conv2d({}, w, {}, [{}, {}], [{}, {}], [{}, {}], g)", in,
                                e.bias ? "b" : "None", e.stride, e.stride, e.pad, e.pad, e.dilation, e.dilation));
  }
  if (e.relu && e.kind != "linear" && e.kind != "se") lines.push_back("y = torch.relu(y)");
  std::string src = "def forward(self, x, w, b, w2, b2, ps, pt, g: int, n: int):\n    y = x\n    for _ in range(n):\n";
  for (const std::string& l : lines) src += "        " + l + "\n";
  return src + "    return y\n";
}

// The inputs of one timed call at (cin, cout).
std::vector<torch::jit::IValue> entry_inputs(const LatencyEntry& e, int batch, int64_t cin, int64_t cout,
                                             const torch::Device& dev) {
  auto o = torch::TensorOptions(dev);
  auto r = [&](std::vector<int64_t> shape) { return 0.1 * torch::randn(shape, o); };
  if (e.kind == "add")
    return {r({batch, cin, e.res_in, e.res_in}),
            r({batch, cout, e.res_in, e.res_in}),
            r({1}),
            r({1}),
            r({1}),
            r({1}),
            r({1}),
            e.padding == "local" ? cout : std::max(cin, cout)};
  if (e.kind == "linear") return {r({batch, cin}), r({cout, cin}), r({cout}), r({1}), r({1}), r({1}), r({1}), 1};
  if (e.kind == "se") {
    const int64_t s = std::max<int64_t>(e.se_width, 1);
    return {r({batch, cout, e.res_in, e.res_in}),
            r({s, cout, 1, 1}),
            r({s}),
            r({cout, s, 1, 1}),
            r({cout}),
            r({1}),
            r({1}),
            1};
  }
  if (e.kind == "dwconv") cin = cout;
  const int64_t groups = e.kind == "dwconv" ? cout : e.groups;
  return {r({batch, cin, e.res_in, e.res_in}),
          r({cout, cin / groups, e.kernel, e.kernel}),
          r({cout}),
          r({1}),
          r({1}),
          r({1, cin, 1, 1}),
          r({1, cin, 1, 1}),
          groups};
}

double time_call(torch::jit::Module& m, std::vector<torch::jit::IValue> in, const torch::Device& dev, int warmup,
                 int reps) {
  in.emplace_back(kCallsPerTiming);
  return time_forward([&] { m.forward(in); }, dev, warmup, reps).median_ms / kCallsPerTiming;
}

// The compiled op of `source`, compiled once.
torch::jit::Module& op_module(std::map<std::string, torch::jit::Module>& modules, const std::string& source) {
  auto it = modules.find(source);
  if (it == modules.end()) {
    it = modules.emplace(source, torch::jit::Module("lut_op")).first;
    it->second.define(source);
  }
  return it->second;
}

std::string shape_key(const LatencyEntry& e, int64_t cin, int64_t cout) {
  LatencyEntry s = e;
  s.name.clear();
  s.in.clear();
  s.out.clear();
  s.ms.clear();
  return entry_json(s).dump() + fmt::format("@{}x{}", cin, cout);
}

}  // namespace

LatencyTable new_latency_table(const ArchSpec& spec, const torch::Device& dev, int batch, int threads, int min_channels,
                               int points) {
  if (threads > 0) torch::set_num_threads(threads);
  LatencyTable t;
  t.device = describe_device(dev);
  t.torch_version = TORCH_VERSION;
  t.batch = batch;
  t.threads = torch::get_num_threads();
  t.arch = spec.arch;
  t.resolution = spec.resolution;
  t.channels = spec.channels;
  t.entries = latency_entries(spec, min_channels, points);
  return t;
}

void measure_latency_table(LatencyTable& t, const ArchSpec& spec, const std::vector<ArchSpec>& calibration,
                           const torch::Device& dev,
                           const std::function<void(const LatencyTable&, const LutProgress&)>& save) {
  torch::NoGradGuard no_grad;
  std::map<std::string, double> seen;  // identical shapes and widths are timed once
  LutProgress p;
  p.entries = t.entries.size();
  for (const LatencyEntry& e : t.entries)
    for (const auto& row : e.ms) p.points += row.size();
  for (const LatencyEntry& e : t.entries)
    for (size_t i = 0; i < e.ms.size(); ++i)
      for (size_t j = 0; j < e.out.size(); ++j)
        if (std::isfinite(e.ms[i][j])) {
          seen[shape_key(e, e.one_d() ? e.out[j] : e.in[i], e.out[j])] = e.ms[i][j];
          ++p.points_done;
        }
  for (size_t k = 0; k < t.entries.size(); ++k) {
    LatencyEntry& e = t.entries[k];
    if (e.complete()) continue;
    std::map<std::string, torch::jit::Module> modules;  // by source
    for (size_t i = 0; i < e.ms.size(); ++i)
      for (size_t j = 0; j < e.out.size(); ++j) {
        if (std::isfinite(e.ms[i][j])) continue;
        const int64_t cin = e.one_d() ? e.out[j] : e.in[i], cout = e.out[j];
        const std::string key = shape_key(e, cin, cout);
        if (!seen.count(key))
          seen[key] = time_call(op_module(modules, entry_source(e, cin, cout)),
                                entry_inputs(e, t.batch, cin, cout, dev), dev, t.warmup, t.reps);
        e.ms[i][j] = seen[key];
        ++p.points_done;
      }
    p.entry = k + 1;
    p.name = e.name;
    save(t, p);
    if (interrupt_requested() && k + 1 < t.entries.size())
      throw Interrupted(fmt::format("latency table: stopped after {} of {} layers", k + 1, t.entries.size()));
  }
  if (!t.rest_ms) {
    // Everything else: whole networks (the table's own first), timed interleaved as the benchmarks time them.
    // The table's own network sets a search's budget, so it is timed kOwnCopies times (each copy its own instances)
    // and its time is their median: timed once, it once came out 17% above its time in the search and the
    // benchmark, and a search grew its vectors by as much.
    std::vector<ArchSpec> specs(kOwnCopies, spec);
    specs.insert(specs.end(), calibration.begin(), calibration.end());
    std::vector<double> ms = interleaved_latency(specs, dev, t.batch, t.warmup, std::max(t.reps, 30));
    const size_t last = kOwnCopies - 1;  // the copies' median stands in the last copy's place
    ms[last] = median({ms.begin(), ms.begin() + kOwnCopies});
    calibrate_latency_table(t, {specs.begin() + last, specs.end()}, {ms.begin() + last, ms.end()});
    save(t, p);
  }
}

void calibrate_latency_table(LatencyTable& t, const std::vector<ArchSpec>& specs,
                             const std::vector<double>& measured_ms) {
  if (specs.empty() || specs.size() != measured_ms.size())
    throw std::logic_error("calibrate_latency_table: one time per spec");
  LatencyTable ops = t;
  ops.rest_ms = 0.0;
  ops.ms_per_mparam = 0;
  ops.network_ms = 0;  // the entries alone, for every network
  const LatencyModel sum(ops);
  t.calibration.clear();
  // Least squares of (measured - ops) = rest + slope x params over the random networks (specs[1..]); the table's
  // own network (specs[0]) keeps its measured time (LatencyModel::predict), so it is left out of the line.
  std::vector<double> x, y;
  for (size_t k = 0; k < specs.size(); ++k) {
    const int64_t params = spec_params(specs[k]);
    const double ops_ms = sum.predict_ms(specs[k]);
    t.calibration.push_back({specs[k].channels, params, measured_ms[k], ops_ms});
    x.push_back(double(params) / 1e6);
    y.push_back(measured_ms[k] - ops_ms);
  }
  const size_t first = x.size() > 1 ? 1 : 0, n = x.size() - first;
  double mx = 0, my = 0, sxx = 0, sxy = 0;
  for (size_t k = first; k < x.size(); ++k) mx += x[k] / double(n), my += y[k] / double(n);
  for (size_t k = first; k < x.size(); ++k) {
    sxx += (x[k] - mx) * (x[k] - mx);
    sxy += (x[k] - mx) * (y[k] - my);
  }
  t.ms_per_mparam = sxx > 1e-12 ? std::max(0.0, sxy / sxx) : 0.0;
  t.rest_ms = my - t.ms_per_mparam * mx;
  t.network_ms = measured_ms[0];
  t.channels = specs[0].channels;
}

}  // namespace netadj
