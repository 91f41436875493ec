// Saved models (model.pt: weights + the model options that rebuild them) and the archive writer that
// every checkpoint goes through (temp file, fsync, rename).
#include "netadj/train/checkpoint.h"

#include <unistd.h>
#include <zlib.h>

#include <fmt/format.h>

#include <cstring>
#include <sstream>

#include "netadj/train/train.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {
using nlohmann::json;

namespace {
// Trailer: magic, archive length (uint64 LE), CRC-32 of the archive (uint32 LE), 4 reserved bytes.
constexpr char kMagic[8] = {'N', 'E', 'T', 'A', 'D', 'J', 'C', 'K'};
constexpr size_t kTrailer = 24;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint64_t get_le(const std::string& in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}
uint32_t crc_of(const std::string& bytes, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t off = 0; off < n;) {  // zlib takes uInt lengths
    uInt chunk = static_cast<uInt>(std::min<size_t>(n - off, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + off), chunk);
    off += chunk;
  }
  return static_cast<uint32_t>(crc);
}
}  // namespace

std::string checksum_trailer(const std::string& bytes) {
  std::string t(kMagic, sizeof(kMagic));
  put_le(t, bytes.size(), 8);
  put_le(t, crc_of(bytes, bytes.size()), 4);
  put_le(t, 0, 4);
  return t;
}

std::string strip_checksum(std::string& bytes, bool& had_trailer) {
  had_trailer = bytes.size() >= kTrailer && std::memcmp(bytes.data() + bytes.size() - kTrailer, kMagic, 8) == 0;
  if (!had_trailer) return "no checksum trailer (the file is truncated, or not written by netadj)";
  size_t at = bytes.size() - kTrailer;
  uint64_t len = get_le(bytes, at + 8, 8);
  if (len != at)
    return "truncated or padded: the trailer records " + std::to_string(len) + " bytes, found " + std::to_string(at);
  if (get_le(bytes, at + 16, 4) != crc_of(bytes, at) || get_le(bytes, at + 20, 4) != 0)
    return "corrupted: its CRC-32 does not match its contents";
  bytes.resize(at);
  return "";
}

std::string previous_checkpoint(const std::string& path) { return path + ".prev"; }

void save_archive(torch::serialize::OutputArchive& ar, const std::string& path, bool keep_previous) {
  std::ostringstream out;
  try {
    ar.save_to(out);
  } catch (const c10::Error& e) {
    throw IoError(path + ": cannot write checkpoint: " + e.what_without_backtrace());
  }
  std::string bytes = out.str();
  bytes += checksum_trailer(bytes);
  if (keep_previous && file_exists(path)) {
    std::string prev = previous_checkpoint(path);
    remove_file(prev);
    if (!link_file(path, prev)) write_file_atomic(prev, read_file(path));  // no hard links here
  }
  write_file_atomic(path, bytes);  // fsync + rename, as every other result file
}

void load_archive(torch::serialize::InputArchive& ar, const std::string& path, const torch::Device& device) {
  std::string bytes = read_file(path);
  bool had_trailer = false;
  std::string why = strip_checksum(bytes, had_trailer);
  if (had_trailer && !why.empty()) throw DamagedFile(path + ": " + why);
  try {
    ar.load_from(bytes.data(), bytes.size(), device);
  } catch (const c10::Error& e) {
    throw DamagedFile(path + ": " + (had_trailer ? "" : why + "; ") + "not a readable archive (" +
                      e.what_without_backtrace() + ")");
  }
}

void write_model_options(torch::serialize::OutputArchive& ar, const ModelOptions& m, const ArchSpec& spec) {
  Config c;
  c.model = m;
  c.model.channels = spec.channels;
  c.model.resolution = spec.resolution;
  c.model.weights.clear();  // the archive holds its own weights
  ar.write("model_options", c10::IValue(config_to_json(c)["model"].dump()));
  ar.write("module_layout", c10::IValue(kModuleLayout));
}

void check_module_layout(torch::serialize::InputArchive& ar, const std::string& path, const std::string& arch) {
  c10::IValue v;
  const int64_t layout = ar.try_read("module_layout", v) && v.isInt() ? v.toInt() : 1;
  // A network file's ops were always plain: its weights read in either layout.
  if (layout == kModuleLayout || (layout == 1 && find_arch(arch).imported)) return;
  throw DataError(
      fmt::format("{}: {} weights in module layout {}, written by an older netadj; this netadj reads "
                  "layout {} (a family's BatchNorm and ReLU are ops of their own): train it again, or "
                  "use the netadj that wrote it",
                  path, arch, layout, kModuleLayout));
}

void save_model(GraphNet& net, const ModelOptions& m, const std::string& path, const Normalization& norm) {
  torch::serialize::OutputArchive ar, model_ar;
  net->save(model_ar);
  ar.write("model", model_ar);
  write_model_options(ar, m, net->spec());
  if (!norm.empty()) ar.write("normalization", c10::IValue(json{{"mean", norm.mean}, {"std", norm.std}}.dump()));
  save_archive(ar, path);
}

namespace {
const char* const kModelExpected = "expected a model.pt or checkpoint.pt written by netadj train or search";
}  // namespace

namespace {
// A model's recorded normalization: {"mean": [...], "std": [...]}, one number per input channel.
Normalization read_normalization(torch::serialize::InputArchive& ar, const std::string& path, int channels) {
  c10::IValue v;
  if (!ar.try_read("normalization", v)) return {};
  json j = json::parse(v.toStringRef());
  Normalization n{j.at("mean").get<std::vector<float>>(), j.at("std").get<std::vector<float>>()};
  if (n.mean.size() != size_t(channels) || n.std.size() != size_t(channels))
    throw DataError(path + ": the recorded normalization does not have one mean and std per input channel");
  return n;
}
}  // namespace

GraphNet load_model(const std::string& path, ModelOptions& m, Normalization* norm) {
  if (!file_exists(path)) throw DataError(path + ": model file not found");
  if (!is_zip_archive(path))
    throw DataError(path + ": " + file_kind(path) + ", not a netadj model or checkpoint (" + kModelExpected + ")");
  torch::serialize::InputArchive ar, model_ar;
  try {
    load_archive(ar, path, torch::kCPU);  // a model saved on a GPU loads anywhere
    c10::IValue opts;
    if (!ar.try_read("model_options", opts))
      throw DataError(path + ": a TorchScript module (such as a run's export/model.pt) without netadj's model " +
                      "record, not a netadj model or checkpoint (" + kModelExpected + ")");
    json j = json::parse(opts.toStringRef());
    m = config_from_json(json{{"model", j}}, path).model;
    check_module_layout(ar, path, m.arch);
    ar.read("model", model_ar);
    if (norm) *norm = read_normalization(ar, path, m.in_channels);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw DataError(path + ": not a netadj model or checkpoint (" + e.what_without_backtrace() + ")");
  } catch (const json::exception& e) {
    throw DataError(path + ": not a netadj model or checkpoint (" + std::string(e.what()) + ")");
  } catch (const std::runtime_error& e) {  // torch::jit's attribute errors
    throw DataError(path + ": not a netadj model or checkpoint (" + std::string(e.what()) + ")");
  }
  GraphNet net(build_spec(m, m.resolution));
  try {
    net->load(model_ar);
  } catch (const c10::Error& e) {
    throw DataError(path + ": weights do not match the recorded architecture");
  }
  return net;
}

}  // namespace netadj
