// The netadj-weights file and its loading into a network file's module (backends/weights.h).
#include "netadj/backends/weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "netadj/util/error.h"

namespace netadj {
namespace {

constexpr char kMagic[] = "NETADJW1";
constexpr uint64_t kMaxHeader = uint64_t(1) << 30;

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw DataError(path + ": " + what + " (a netadj-weights file, written by netadj import)");
}

// One entry of the header, checked against the data's size; returns the tensor's element count.
int64_t check_entry(const std::string& path, const std::string& name, const nlohmann::json& e, uint64_t data_bytes,
                    std::vector<int64_t>& shape, uint64_t& offset) {
  if (!e.is_object() || !e.contains("dtype") || e["dtype"] != "float32" || !e.contains("shape") ||
      !e["shape"].is_array() || e["shape"].size() > 8 || !e.contains("offset") || !e["offset"].is_number_unsigned())
    bad(path, "tensor '" + name + "' needs dtype float32, a shape and an offset");
  // Every dimension, and the product of the non-zero ones, within 2^40 (torch's strides must not overflow).
  int64_t n = 1, nonzero = 1;
  for (const auto& d : e["shape"]) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t(1) << 40))
      bad(path, "tensor '" + name + "': bad shape");
    shape.push_back(d.get<int64_t>());
    if (shape.back() == 0) {
      n = 0;
      continue;
    }
    if (nonzero > (int64_t(1) << 40) / shape.back()) bad(path, "tensor '" + name + "': too large");
    nonzero *= shape.back();
    n = n == 0 ? 0 : nonzero;
  }
  offset = e["offset"].get<uint64_t>();
  if (offset > data_bytes || uint64_t(n) * 4 > data_bytes - offset)
    bad(path, fmt::format("tensor '{}' ({} values at byte {}) lies past the end of the data", name, n, offset));
  return n;
}

}  // namespace

std::map<std::string, torch::Tensor> read_weights(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": weights file not found or unreadable");
  in.seekg(0, std::ios::end);
  const uint64_t size = uint64_t(in.tellg());
  in.seekg(0);
  char head[16];
  if (size < 16 || !in.read(head, 16) || std::memcmp(head, kMagic, 8) != 0) bad(path, "not a weights file");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(head[8 + i]);
  if (n > kMaxHeader || n > size - 16) bad(path, "the header is longer than the file");
  std::string text(n, '\0');
  in.read(text.data(), std::streamsize(n));
  nlohmann::json h = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object() || !h.contains("format") || h["format"] != "netadj-weights" ||
      !h.contains("version") || h["version"] != 1 || !h.contains("tensors") || !h["tensors"].is_object())
    bad(path, "the header is not netadj-weights version 1");
  const uint64_t data_start = 16 + n, data_bytes = size - data_start;
  std::map<std::string, torch::Tensor> out;
  for (auto it = h["tensors"].begin(); it != h["tensors"].end(); ++it) {
    std::vector<int64_t> shape;
    uint64_t offset = 0;
    const int64_t count = check_entry(path, it.key(), it.value(), data_bytes, shape, offset);
    torch::Tensor t = torch::empty(shape, torch::kFloat);
    in.seekg(std::streamoff(data_start + offset));
    if (count > 0 && !in.read(reinterpret_cast<char*>(t.data_ptr<float>()), std::streamsize(count * 4)))
      bad(path, "tensor '" + it.key() + "' could not be read");
    out.emplace(it.key(), std::move(t));
  }
  return out;
}

namespace {

struct Loader {
  const std::map<std::string, torch::Tensor>& weights;
  const std::string& where;
  std::set<std::string> used;

  void take(const std::string& name, const torch::Tensor& dst) {
    if (!dst.defined()) return;
    auto it = weights.find(name);
    if (it == weights.end()) throw DataError(where + ": no tensor '" + name + "' (the network file expects it)");
    if (it->second.sizes() != dst.sizes())
      throw DataError(fmt::format("{}: tensor '{}' has shape [{}], the network file's op needs [{}]", where, name,
                                  fmt::join(it->second.sizes(), ", "), fmt::join(dst.sizes(), ", ")));
    dst.copy_(it->second);
    used.insert(name);
  }
};

}  // namespace

void load_weights(GraphNetImpl& net, const std::map<std::string, torch::Tensor>& weights, const std::string& where) {
  torch::NoGradGuard ng;
  Loader l{weights, where, {}};
  const ArchSpec& s = net.spec();
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const std::string& op = s.ops[i].name;
    const auto& n = net.node(i);
    if (n.conv) {
      l.take(op + ".weight", n.conv->weight);
      l.take(op + ".bias", n.conv->bias);
    }
    if (n.bn) {  // a BatchNorm op
      l.take(op + ".weight", n.bn->weight);
      l.take(op + ".bias", n.bn->bias);
      l.take(op + ".running_mean", n.bn->running_mean);
      l.take(op + ".running_var", n.bn->running_var);
    }
    if (n.fc) {
      l.take(op + ".weight", n.fc->weight);
      l.take(op + ".bias", n.fc->bias);
    }
  }
  for (const auto& [name, t] : weights)
    if (!l.used.count(name)) throw DataError(where + ": tensor '" + name + "' belongs to no op of the network file");
}

}  // namespace netadj
