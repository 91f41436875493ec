#include "netadj/nets/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "netadj/ir/op.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {
using nlohmann::json;

json spec_to_json(const ArchSpec& s) {
  auto grad = spec_dflops(s);
  json layers = json::array();
  for (const auto& op : s.ops) {
    const OpDef& def = op_def(op.kind);
    if (!def.has_macs()) continue;
    OpCost c = op_cost(s, op);
    const Width& in = s.ops[static_cast<size_t>(op.inputs[0])].out;
    json row = {{"name", op.name},     {"kind", def.name()},  {"in", in.value}, {"out", op.out.value},
                {"kernel", op.kernel}, {"stride", op.stride}, {"res", op.res},  {"flops", c.flops},
                {"params", c.params},  {"slot", op.slot}};
    if (op.depthwise) row["depthwise"] = true;
    if (op.slot >= 0) row["dflops"] = grad[static_cast<size_t>(op.slot)];
    layers.push_back(row);
  }
  json names = json::array();
  for (const auto& l : s.layers) names.push_back(l.name);
  return {{"arch", s.arch},         {"resolution", s.resolution}, {"channels", s.channels}, {"layer_names", names},
          {"flops", spec_flops(s)}, {"params", spec_params(s)},   {"dflops", grad},         {"layers", layers}};
}

std::string human_count(double v) {
  if (v >= 1e9) return fmt::format("{:.3f}G", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.2f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}K", v / 1e3);
  return fmt::format("{:.0f}", v);
}

std::string spec_table(const ArchSpec& s) {
  json j = spec_to_json(s);
  std::string out =
      fmt::format("{} input {}x{}x{}, {} classes\n", s.arch, s.in_channels, s.resolution, s.resolution, s.num_classes);
  out += fmt::format("{:<22} {:>6} {:>6} {:>3} {:>3} {:>4} {:>10} {:>9} {:>10}\n", "layer", "in", "out", "k", "s",
                     "res", "MACs", "params", "dMACs/dc");
  for (const auto& r : j["layers"]) {
    std::string name = r["name"].get<std::string>();
    if (r.contains("depthwise")) name += " (dw)";
    out += fmt::format("{:<22} {:>6} {:>6} {:>3} {:>3} {:>4} {:>10} {:>9} {:>10}\n", name, r["in"].get<int64_t>(),
                       r["out"].get<int64_t>(), r["kernel"].get<int>(), r["stride"].get<int>(), r["res"].get<int>(),
                       human_count(static_cast<double>(r["flops"].get<int64_t>())),
                       human_count(static_cast<double>(r["params"].get<int64_t>())),
                       r.contains("dflops") ? std::to_string(r["dflops"].get<int64_t>()) : std::string("-"));
  }
  int64_t f = j["flops"].get<int64_t>();
  out += fmt::format("total: {} FLOPs = {} multiply-accumulates ({} as 2xMACs), {} parameters, {} searchable layers\n",
                     human_count(static_cast<double>(f)), f, human_count(2.0 * static_cast<double>(f)),
                     human_count(static_cast<double>(j["params"].get<int64_t>())), s.channels.size());
  out += "note: netadj counts FLOPs as multiply-accumulates of convs and linear layers (the paper's convention).\n";
  return out;
}

std::vector<int64_t> read_channel_file(const std::string& path, const ModelOptions& m) {
  if (is_zip_archive(path))
    throw DataError(path + ": " + file_kind(path) +
                    ", not a channel file: expected JSON such as {\"channels\": [16, 32, ...]} (best_channels.json)");
  json j = read_json(path);
  std::vector<int64_t> c;
  auto take_array = [&](const json& a) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_number_integer())
        throw DataError(path + ": channels[" + std::to_string(i) + "] = " + a[i].dump() + ": expected an integer");
      c.push_back(a[i].get<int64_t>());
    }
  };
  if (j.is_array()) {
    take_array(j);
  } else if (j.is_object() && j.contains("channels")) {
    if (!j["channels"].is_array()) throw DataError(path + ": \"channels\" must be an array of integers");
    if (j.contains("arch") && j["arch"] != m.arch)
      throw ConfigError(path + ": channels are for arch " + j["arch"].dump() + ", the config has \"" + m.arch + "\"");
    if (j.contains("depth") && j["depth"].is_number_integer() && j["depth"].get<int64_t>() != m.depth)
      throw ConfigError(path + ": channels are for depth " + j["depth"].dump() + ", the config has " +
                        std::to_string(m.depth));
    take_array(j["channels"]);
  } else if (j.is_object()) {
    // Reference implementation's dict form: {"c0": 16, "c1": 16, ...}.
    static const std::regex key_re("c([0-9]{1,6})");
    std::vector<std::pair<int, int64_t>> kv;
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::smatch mm;
      if (!std::regex_match(it.key(), mm, key_re))
        throw DataError(path + ": key \"" + it.key() + "\" is neither \"channels\" nor of the form c<N>");
      if (!it.value().is_number_integer())
        throw DataError(path + ": " + it.key() + " = " + it.value().dump() + ": expected an integer");
      kv.emplace_back(std::stoi(mm[1]), it.value().get<int64_t>());
    }
    std::sort(kv.begin(), kv.end());
    for (size_t i = 0; i < kv.size(); ++i) {
      if (kv[i].first != static_cast<int>(i))
        throw DataError(path + ": keys must be c0..c" + std::to_string(kv.size() - 1) + " without gaps");
      c.push_back(kv[i].second);
    }
  } else {
    throw DataError(path + ": expected a channel file ({\"channels\": [...]}, an array, or {\"c0\": ...})");
  }
  return c;
}

std::vector<int64_t> read_channel_vector(const std::string& path, const ModelOptions& m, int resolution) {
  ModelOptions with = m;
  with.channels = read_channel_file(path, m);
  try {
    build_spec(with, resolution);
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());  // the vector is the file's
  }
  return with.channels;
}

json channel_file_json(const ModelOptions& m, const std::vector<int64_t>& c) {
  return {{"arch", m.arch}, {"depth", m.depth}, {"width", m.width}, {"channels", c}};
}

}  // namespace netadj
