// Readers for the on-disk formats. Every error names the file and what is wrong with it.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "netadj/data/data.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

namespace netadj {

ImageSet read_cifar_file(const std::string& path, bool cifar100) {
  std::string bytes = read_file(path);
  const int64_t label_bytes = cifar100 ? 2 : 1;
  const int64_t record = label_bytes + 3 * 32 * 32;
  if (bytes.empty()) throw DataError(path + ": empty file");
  if (static_cast<int64_t>(bytes.size()) % record != 0)
    throw DataError(path + ": size " + std::to_string(bytes.size()) + " is not a multiple of the " +
                    std::to_string(record) + "-byte CIFAR-" + (cifar100 ? "100" : "10") +
                    " record (truncated or not a CIFAR binary file)");
  int64_t n = static_cast<int64_t>(bytes.size()) / record;
  auto images = torch::empty({n, 3, 32, 32}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kInt64);
  auto* img = images.data_ptr<uint8_t>();
  auto* lab = labels.data_ptr<int64_t>();
  const int64_t classes = cifar100 ? 100 : 10;
  for (int64_t i = 0; i < n; ++i) {
    const auto* r = reinterpret_cast<const uint8_t*>(bytes.data() + i * record);
    int64_t label = r[label_bytes - 1];  // CIFAR-100: coarse, fine -> the fine label
    if (label >= classes)
      throw DataError(path + ": record " + std::to_string(i) + " has label " + std::to_string(label) + ", expected < " +
                      std::to_string(classes));
    lab[i] = label;
    std::memcpy(img + i * 3072, r + label_bytes, 3072);
  }
  return {images, labels};
}

namespace {

// Reads a whole IDX file through zlib, which passes uncompressed files through unchanged.
std::string read_maybe_gz(const std::string& path) {
  if (!std::filesystem::exists(path)) throw DataError(path + ": file not found");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError(path + ": cannot open");
  std::string out;
  char buf[1 << 16];
  while (true) {
    int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      throw DataError(path + ": corrupt gzip stream (" + msg + ")");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int rc = gzclose(f);
  if (rc == Z_BUF_ERROR) throw DataError(path + ": truncated gzip stream");
  if (rc != Z_OK) throw DataError(path + ": corrupt gzip stream");
  return out;
}

uint32_t be32(const std::string& s, size_t off) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data() + off);
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Returns the dims of an unsigned-byte IDX file with `want_dims` dimensions; checks the payload size.
std::vector<int64_t> idx_header(const std::string& s, const std::string& path, int want_dims) {
  if (s.size() < 4) throw DataError(path + ": too short for an IDX header");
  uint32_t magic = be32(s, 0);
  if ((magic >> 16) != 0 || ((magic >> 8) & 0xff) != 0x08)
    throw DataError(path + ": bad IDX magic number 0x" + fmt::format("{:08x}", magic) + " (expected 0x0000080" +
                    std::to_string(want_dims) + ", unsigned bytes)");
  int dims = static_cast<int>(magic & 0xff);
  if (dims != want_dims)
    throw DataError(path + ": IDX file has " + std::to_string(dims) + " dimensions, expected " +
                    std::to_string(want_dims));
  size_t header = 4 + 4 * static_cast<size_t>(dims);
  if (s.size() < header) throw DataError(path + ": truncated IDX header");
  std::vector<int64_t> shape;
  int64_t total = 1;
  bool overflow = false, zero = false;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(be32(s, 4 + 4 * static_cast<size_t>(d)));
    zero = zero || shape.back() == 0;
    overflow = overflow || __builtin_mul_overflow(total, shape.back(), &total);
  }
  // A zero dimension would hide huge others from the product (and leave nothing to read).
  if (zero)
    throw DataError(path + ": the header's dimensions " + fmt::format("{}", fmt::join(shape, "x")) +
                    " include a zero (empty or corrupt file)");
  if (overflow)
    throw DataError(path + ": the header's dimensions " + fmt::format("{}", fmt::join(shape, "x")) +
                    " are too large (corrupt file)");
  if (static_cast<int64_t>(s.size() - header) != total)
    throw DataError(path + ": payload has " + std::to_string(s.size() - header) + " bytes, the header says " +
                    std::to_string(total) + " (truncated or corrupt file)");
  return shape;
}

}  // namespace

torch::Tensor read_idx_images(const std::string& path) {
  std::string s = read_maybe_gz(path);
  auto shape = idx_header(s, path, 3);
  auto t = torch::empty({shape[0], 1, shape[1], shape[2]}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), s.data() + 16, static_cast<size_t>(t.numel()));
  return t;
}

torch::Tensor read_idx_labels(const std::string& path) {
  std::string s = read_maybe_gz(path);
  auto shape = idx_header(s, path, 1);
  auto t = torch::empty({shape[0]}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), s.data() + 8, static_cast<size_t>(shape[0]));
  return t.to(torch::kInt64);
}

ImageSet make_synthetic(const SyntheticOptions& o, int64_t n, uint64_t seed) {
  // Patterns come from a generator fixed by the dataset's shape alone, so train and test share them;
  // labels and noise come from `seed`.
  auto pg = at::make_generator<at::CPUGeneratorImpl>(derive_seed(0, "synthetic-patterns", o.classes, o.resolution));
  int r = o.resolution;
  int low = std::max(2, r / 4);
  auto coarse = torch::randn({o.classes, o.channels, low, low}, pg);
  auto patterns = torch::upsample_bilinear2d(coarse, {r, r}, /*align_corners=*/false);
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto labels = torch::randint(o.classes, {n}, g, torch::kInt64);
  auto x = patterns.index_select(0, labels) + o.noise * torch::randn({n, o.channels, r, r}, g);
  auto images = (x * 48.0 + 128.0).round().clamp(0, 255).to(torch::kUInt8);
  return {images, labels};
}

}  // namespace netadj
