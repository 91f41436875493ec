#include "netadj/ir/op.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "netadj/util/error.h"
#include "ops/ops.h"

namespace netadj {

int64_t count_fit(WideCount v) {
  if (v > WideCount(INT64_MAX) || v < WideCount(INT64_MIN))
    throw ConfigError(
        "model: the network is too large to count (its FLOPs or parameters overflow 64 bits); "
        "reduce model.channels, model.depth or model.resolution");
  return static_cast<int64_t>(v);
}

void FlopsGradient::add(const Width& w, WideCount factor) {
  for (auto [slot, k] : w.terms) g_[static_cast<size_t>(slot)] += k * factor;
}

std::vector<int64_t> FlopsGradient::values() const {
  std::vector<int64_t> out;
  out.reserve(g_.size());
  for (WideCount v : g_) out.push_back(count_fit(v));
  return out;
}

OpCost OpDef::cost(const ArchSpec& /*s*/, const Op& /*op*/) const { return {}; }
void OpDef::add_dflops(const ArchSpec& /*s*/, const Op& /*op*/, FlopsGradient& /*g*/) const {}
std::vector<int> OpDef::tied_inputs(const ArchSpec& /*s*/, const Op& /*op*/) const { return {}; }
ChannelMap OpDef::derived_map(const ArchSpec& /*from*/, const ArchSpec& to, const std::vector<ChannelMap>& maps,
                              size_t i) const {
  return maps[size_t(to.ops[i].inputs.at(0))];
}
void OpDef::build(ModuleBuild& /*b*/) const {}
void OpDef::read(const std::string& /*file_name*/, const FileReader& /*r*/, Op& /*op*/) const {}
Shape OpDef::infer(const Op& /*op*/, const std::vector<Shape>& in, const FileSite& /*site*/) const { return in.at(0); }
Width OpDef::width(const ArchSpec& s, const Op& op, int64_t /*channels*/) const { return input_width(s, op); }

std::string to_string(const Shape& s) {
  return s.is_vector() ? fmt::format("{} features", s.channels) : fmt::format("{}x{}x{}", s.channels, s.res, s.res);
}

void FileSite::fail(const std::string& what) const { throw ConfigError(at_ + ": " + what); }

int64_t FileReader::integer(const char* key, int64_t lo, int64_t hi, std::optional<int64_t> dflt) const {
  auto it = j_.find(key);
  if (it == j_.end()) {
    if (!dflt) fail(std::string("needs \"") + key + "\"");
    return *dflt;
  }
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi ||
      (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(hi)))
    fail(fmt::format("\"{}\" = {}: expected an integer in {}..{}", key, it->dump(), lo, hi));
  return it->get<int64_t>();
}

bool FileReader::boolean(const char* key, bool dflt) const {
  auto it = j_.find(key);
  if (it == j_.end()) return dflt;
  if (!it->is_boolean()) fail(fmt::format("\"{}\" = {}: expected true or false", key, it->dump()));
  return it->get<bool>();
}

double FileReader::real(const char* key, double lo, double hi, double dflt) const {
  auto it = j_.find(key);
  if (it == j_.end()) return dflt;
  if (!it->is_number() || !(it->get<double>() >= lo && it->get<double>() <= hi))
    fail(fmt::format("\"{}\" = {}: expected a number in [{}, {}]", key, it->dump(), lo, hi));
  return it->get<double>();
}

std::optional<std::string> FileReader::choice(const char* key, const std::vector<std::string>& choices) const {
  auto it = j_.find(key);
  if (it == j_.end()) return std::nullopt;
  if (!it->is_string() || std::find(choices.begin(), choices.end(), it->get<std::string>()) == choices.end())
    fail(fmt::format("\"{}\" = {}: expected \"{}\"", key, it->dump(), fmt::join(choices, "\" or \"")));
  return it->get<std::string>();
}

ChannelMap identity_map(int64_t n) {
  ChannelMap m(static_cast<size_t>(n), 0);
  std::iota(m.begin(), m.end(), 0);
  return m;
}

int bn_fold_target(const ArchSpec& s, size_t bn) {
  const Op& op = s.ops.at(bn);
  if (!op_def(op.kind).is_batch_norm() || op.inputs.size() != 1) return -1;
  const int target = op.inputs[0];
  const Op& producer = s.ops[size_t(target)];
  if (!op_def(producer.kind).absorbs_bn(producer)) return -1;
  for (size_t j = 0; j < s.ops.size(); ++j)
    if (j != bn && std::count(s.ops[j].inputs.begin(), s.ops[j].inputs.end(), target) > 0) return -1;
  return target;
}

int only_reader(const ArchSpec& s, size_t i) {
  int reader = -1;
  for (size_t j = i + 1; j < s.ops.size(); ++j) {
    const auto n = std::count(s.ops[j].inputs.begin(), s.ops[j].inputs.end(), int(i));
    if (n > 1 || (n == 1 && reader >= 0)) return -1;
    if (n == 1) reader = int(j);
  }
  return reader;
}

int folded_bn(const ArchSpec& s, size_t i) {
  const int j = only_reader(s, i);
  return j >= 0 && bn_fold_target(s, size_t(j)) == int(i) ? j : -1;
}

const Width& input_width(const ArchSpec& s, const Op& op, size_t k) {
  return s.ops.at(static_cast<size_t>(op.inputs.at(k))).out;
}

const std::vector<const OpDef*>& op_table() {
  static const std::vector<const OpDef*> table = [] {
    const std::vector<const OpDef*> defs = {
        &ops::input(),    &ops::conv(),        &ops::add(),           &ops::concat(),     &ops::avg_pool(),
        &ops::max_pool(), &ops::global_pool(), &ops::linear(),        &ops::batch_norm(), &ops::activation(),
        &ops::mul(),      &ops::flatten(),     &ops::adaptive_pool(), &ops::identity(),   &ops::shuffle()};
    // In OpKind order, each kind once: a definition missing or listed twice is a programming error.
    std::vector<const OpDef*> t(defs.size(), nullptr);
    for (const OpDef* d : defs) {
      const auto k = static_cast<size_t>(d->kind());
      if (k >= t.size() || t[k])
        throw std::logic_error(std::string("op table: op '") + d->name() + "' is listed twice or out of range");
      t[k] = d;
    }
    return t;
  }();
  return table;
}

const OpDef& op_def(OpKind kind) { return *op_table().at(static_cast<size_t>(kind)); }

namespace {
const std::vector<std::pair<std::string, const OpDef*>>& file_ops() {
  static const std::vector<std::pair<std::string, const OpDef*>> names = [] {
    std::vector<std::pair<std::string, const OpDef*>> n;
    for (const OpDef* d : op_table())
      for (const std::string& name : d->file_names()) {
        for (const auto& [seen, def] : n)
          if (seen == name) throw std::logic_error("op table: the file name '" + name + "' is taken twice");
        n.emplace_back(name, d);
      }
    return n;
  }();
  return names;
}
}  // namespace

const OpDef* file_op_def(const std::string& file_name) {
  for (const auto& [name, def] : file_ops())
    if (name == file_name) return def;
  return nullptr;
}

const std::vector<std::string>& file_op_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& entry : file_ops()) n.push_back(entry.first);
    return n;
  }();
  return names;
}

}  // namespace netadj
