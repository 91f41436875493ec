// ImageNet-style folders decoded with libjpeg-turbo by a pool of threads, one batch ahead.
// Training: RandomResizedCrop(scale 0.08..1, ratio 3/4..4/3) + horizontal flip; evaluation: resize the
// shorter side to size*256/224 and center-crop. DCT scaling decodes at the smallest scale that still
// covers the target, which is most of the speed on large photos.
#include "netadj/data/imagefolder.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/log.h"

namespace netadj {
namespace fs = std::filesystem;

namespace {

// Why `path` cannot be an image of the set ("" when it starts like a JPEG).
std::string check_image_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open (") + std::strerror(errno) + ")";
  unsigned char m[3] = {0, 0, 0};
  ssize_t n = ::read(fd, m, 3);
  int err = errno;
  ::close(fd);
  if (n < 0) return std::string("cannot read (") + std::strerror(err) + ")";
  if (n == 0) return "empty file";
  if (n < 3 || m[0] != 0xFF || m[1] != 0xD8 || m[2] != 0xFF) return "not a JPEG file";
  return "";
}

// Files of a split that cannot be used: an error naming the first in strict mode, else each is left out
// (the first few named in a warning, all counted).
struct Skips {
  bool strict = false;
  int64_t count = 0;
  void add(const std::string& path, const std::string& why) {
    if (strict) throw DataError(path + ": " + why + " (data.strict = true)");
    if (++count <= 5) logger()->warn("imagefolder: {}: {}; left out", path, why);
  }
};

// The entries of `dir` (sorted), without following anything that cannot be listed: a folder that
// cannot be read, or an entry whose type cannot be known (a symlink loop, a dangling link), is a skip.
std::vector<fs::directory_entry> list_entries(const fs::path& dir, Skips& skips) {
  std::vector<fs::directory_entry> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) {
    skips.add(dir.string(), "cannot list folder (" + ec.message() + ")");
    return out;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      skips.add(dir.string(), "cannot list folder (" + ec.message() + ")");
      break;
    }
    out.push_back(*it);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path() < b.path(); });
  return out;
}

void list_split(const std::string& dir, const std::vector<std::string>& classes, Skips& skips,
                std::vector<std::string>& paths, std::vector<int64_t>& labels) {
  for (size_t c = 0; c < classes.size(); ++c) {
    fs::path cdir = fs::path(dir) / classes[c];
    std::error_code ec;
    if (!fs::is_directory(cdir, ec)) continue;  // a class the split does not have
    for (const auto& e : list_entries(cdir, skips)) {
      std::string f = e.path().string();
      fs::file_status st = e.status(ec);  // follows symlinks: a loop or a dangling link is an error
      if (ec) {
        skips.add(f, "cannot resolve (" + ec.message() + ")");
        continue;
      }
      if (fs::is_directory(st)) continue;  // folders inside a class folder are not searched
      std::string why = fs::is_regular_file(st) ? check_image_file(f) : "not a regular file";
      if (!why.empty()) {
        skips.add(f, why);
        continue;
      }
      paths.push_back(f);
      labels.push_back(static_cast<int64_t>(c));
    }
  }
}

// TJFLAG_LIMITSCANS (libjpeg-turbo >= 2.1) refuses progressive files with absurd scan counts, which
// would otherwise take minutes to decode.
#ifdef TJFLAG_LIMITSCANS
constexpr int kDecodeFlags = TJFLAG_FASTDCT | TJFLAG_LIMITSCANS;
#else
constexpr int kDecodeFlags = TJFLAG_FASTDCT;
#endif

struct Decoded {
  std::vector<uint8_t> rgb;
  int w = 0, h = 0;
};

// Decodes with the largest DCT reduction that keeps the shorter side >= min_side. Dimensions that are
// not positive are a failure: tjDecompress2 reads a width or height of 0 as "the image's own" and would
// write a whole image into an empty buffer. (After a failed header, libjpeg-turbo 2.1 reports success
// with 0x0 for the next file on the same handle: a truncated JPEG corrupted the heap that way.)
// Returns "" on success, else what is wrong with the file.
std::string decode_jpeg(tjhandle tj, const std::string& bytes, int min_side, int64_t max_pixels, Decoded& out) {
  int w = 0, h = 0, subsamp = 0, cs = 0;
  auto* buf = reinterpret_cast<const unsigned char*>(bytes.data());
  if (tjDecompressHeader3(tj, buf, bytes.size(), &w, &h, &subsamp, &cs) != 0 || w <= 0 || h <= 0)
    return std::string("not a readable JPEG header (") + tjGetErrorStr2(tj) + ")";
  if (int64_t(w) * h > max_pixels)
    return "its header claims " + std::to_string(w) + "x" + std::to_string(h) +
           " pixels, over data.max_image_pixels = " + std::to_string(max_pixels);
  int n = 0;
  tjscalingfactor* sf = tjGetScalingFactors(&n);
  int best_w = w, best_h = h;
  for (int i = 0; i < n; ++i) {
    int sw = TJSCALED(w, sf[i]), sh = TJSCALED(h, sf[i]);
    if (std::min(sw, sh) >= min_side && int64_t(sw) * sh < int64_t(best_w) * best_h) {
      best_w = sw;
      best_h = sh;
    }
  }
  out.w = best_w;
  out.h = best_h;
  out.rgb.resize(static_cast<size_t>(best_w) * best_h * 3);
  if (tjDecompress2(tj, buf, bytes.size(), out.rgb.data(), best_w, 0, best_h, TJPF_RGB, kDecodeFlags) != 0)
    return std::string("cannot decode (") + tjGetErrorStr2(tj) + ")";
  return "";
}

// Crops box (x, y, cw, ch) of an HWC uint8 image and resizes it bilinearly to size x size, CHW uint8.
torch::Tensor crop_resize(const Decoded& d, int x, int y, int cw, int ch, int size, bool flip) {
  auto img = torch::from_blob(const_cast<uint8_t*>(d.rgb.data()), {d.h, d.w, 3}, torch::kUInt8);
  auto crop = img.slice(0, y, y + ch).slice(1, x, x + cw).permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat);
  auto r = torch::upsample_bilinear2d(crop, {size, size}, /*align_corners=*/false, std::nullopt, std::nullopt);
  if (flip) r = r.flip(3);
  return r.squeeze(0).round().clamp(0, 255).to(torch::kUInt8);
}

torch::Tensor center_crop(const Decoded& d, int size);

torch::Tensor random_resized_crop(const Decoded& d, int size, std::mt19937_64& rng) {
  double area = double(d.w) * d.h;
  std::uniform_real_distribution<double> scale(0.08, 1.0), logr(std::log(3.0 / 4), std::log(4.0 / 3)), u(0, 1);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double a = area * scale(rng), r = std::exp(logr(rng));
    int cw = static_cast<int>(std::lround(std::sqrt(a * r))), ch = static_cast<int>(std::lround(std::sqrt(a / r)));
    if (cw > 0 && ch > 0 && cw <= d.w && ch <= d.h) {
      int x = static_cast<int>(u(rng) * (d.w - cw + 1)), y = static_cast<int>(u(rng) * (d.h - ch + 1));
      return crop_resize(d, std::min(x, d.w - cw), std::min(y, d.h - ch), cw, ch, size, u(rng) < 0.5);
    }
  }
  return center_crop(d, size);  // fallback, as torchvision
}

torch::Tensor center_crop(const Decoded& d, int size) {
  // Resize the shorter side to size*256/224, then take the central size x size: the same as
  // cropping the central (size/resize) fraction of the shorter side and resizing it.
  double frac = 224.0 / 256.0;
  int side = std::max(1, static_cast<int>(std::lround(std::min(d.w, d.h) * frac)));
  return crop_resize(d, (d.w - side) / 2, (d.h - side) / 2, side, side, size, false);
}

// Decodes `bytes` and crops/resizes into `out` (CHW uint8, size x size) as the loader does.
std::string decode_jpeg_into(tjhandle tj, const std::string& bytes, const JpegDecodeOptions& o, torch::Tensor out) {
  Decoded d;
  const int s = o.image_size;
  std::string why = decode_jpeg(tj, bytes, o.training ? s / 2 : s * 256 / 224, o.max_image_pixels, d);
  if (!why.empty()) return why;
  std::mt19937_64 rng(o.seed);
  out.copy_(o.training ? random_resized_crop(d, s, rng) : center_crop(d, s));
  return "";
}

class FolderSource : public BatchSource {
 public:
  FolderSource(std::shared_ptr<FileList> files, bool test_split, std::vector<int64_t> idx, LoaderOptions lo,
               FolderSourceOptions fo, std::vector<float> mean, std::vector<float> std)
      : files_(std::move(files)), test_(test_split), idx_(std::move(idx)), lo_(lo), fo_(fo) {
    // Ranks on one machine share its cores.
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    int workers = fo_.workers > 0 ? fo_.workers : std::max(1, cores / lo_.local_world);
    workers_ = workers;
    auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(lo_.device);
    mean_ = torch::tensor(mean).view({1, 3, 1, 1}).to(fopt).mul(255.0);
    inv_std_ = (1.0 / torch::tensor(std)).view({1, 3, 1, 1}).to(fopt).div(255.0);
    n_ = static_cast<int64_t>(shard_positions(int64_t(idx_.size()), lo_.rank, lo_.world, lo_.training).size());
  }
  ~FolderSource() override {
    if (pending_.valid()) pending_.wait();
    report_failures();
  }

  // The count of files left out since the last report (each was also named once when it failed).
  void report_failures() {
    if (int64_t f = failures_.load(); f > reported_) {
      logger()->warn(
          "imagefolder: {} image(s) could not be decoded and were left out "
          "(data.strict = true makes this an error)",
          f - reported_);
      reported_ = f;
    }
  }

  int64_t size() const override { return n_; }
  int64_t num_batches() const override {
    int64_t n = size(), b = (n + lo_.batch_size - 1) / lo_.batch_size;
    if (lo_.training && n % lo_.batch_size == 1 && b > 1) --b;
    return b;
  }

  void start_epoch_at(int64_t epoch, int64_t first_batch) override {
    if (pending_.valid()) pending_.wait();
    report_failures();
    epoch_ = epoch;
    order_ = idx_;
    if (lo_.training) {
      std::mt19937_64 rng(derive_seed(lo_.seed, "shuffle", epoch));
      std::shuffle(order_.begin(), order_.end(), rng);
    }
    if (lo_.world > 1) {  // this rank's share of the epoch's order
      std::vector<int64_t> mine;
      for (int64_t p : shard_positions(int64_t(order_.size()), lo_.rank, lo_.world, lo_.training))
        mine.push_back(order_[size_t(p)]);
      order_ = std::move(mine);
    }
    batch_ = std::min(first_batch, num_batches());
    if (batch_ < num_batches())
      pending_ = std::async(std::launch::async, [this, b = batch_] { return decode_batch(b); });
  }

  std::optional<Batch> next() override {
    std::pair<torch::Tensor, torch::Tensor> cpu;
    do {  // a batch of which no image decoded is passed over
      if (batch_ >= num_batches() || !pending_.valid()) return std::nullopt;
      cpu = pending_.get();
      int64_t b = ++batch_;
      if (b < num_batches()) pending_ = std::async(std::launch::async, [this, b] { return decode_batch(b); });
      // Data-parallel ranks must take the same steps: one of them cannot pass over a batch.
      if (cpu.second.size(0) == 0 && lo_.world > 1)
        throw DataError(
            fmt::format("imagefolder: no image of batch {} could be used on rank {} (see the files named "
                        "above); a data-parallel run cannot pass over a batch: fix or remove those files",
                        b, lo_.rank));
    } while (cpu.second.size(0) == 0);
    Batch out;
    out.x = (cpu.first.to(lo_.device, /*non_blocking=*/true).to(torch::kFloat) - mean_) * inv_std_;
    out.y = cpu.second.to(lo_.device);
    return out;
  }

 private:
  // One batch, decoded by `workers_` threads. An image that cannot be read or decoded is an error in
  // strict mode (naming the file); otherwise it is left out of the batch with a warning.
  std::pair<torch::Tensor, torch::Tensor> decode_batch(int64_t b) {
    int64_t start = b * lo_.batch_size;
    int64_t len = std::min<int64_t>(lo_.batch_size, size() - start);
    int s = fo_.image_size;
    auto x = torch::zeros({len, 3, s, s}, torch::kUInt8);
    auto y = torch::empty({len}, torch::kInt64);
    auto ok = torch::ones({len}, torch::kBool);
    std::atomic<int64_t> next{0};
    auto work = [&] {
      tjhandle tj = tjInitDecompress();
      for (int64_t i = next++; i < len; i = next++) {
        int64_t item = order_[static_cast<size_t>(start + i)];
        y[i] = test_ ? files_->test_labels[static_cast<size_t>(item)] : files_->train_labels[static_cast<size_t>(item)];
        if (!decode_item(tj, item, x[i])) {
          ok[i] = false;
          // A failed decode can leave the handle in a bad state (see decode_jpeg): start afresh.
          tjDestroy(tj);
          tj = tjInitDecompress();
        }
      }
      tjDestroy(tj);
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < workers_; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (!err_.empty()) throw DataError(err_);
    if (ok.all().item<bool>()) return {x, y};
    // BatchNorm cannot train on one image: such a remainder is passed over like an empty batch.
    if (lo_.training && ok.sum().item<int64_t>() == 1) ok.fill_(false);
    return {x.index({ok}), y.index({ok})};
  }

  const std::string& path_of(int64_t item) const {
    return test_ ? files_->test_paths[static_cast<size_t>(item)] : files_->train_paths[static_cast<size_t>(item)];
  }

  // Decodes one file into `out` (CHW uint8); false (after recording why) when it cannot be read or decoded.
  bool decode_item(tjhandle tj, int64_t item, torch::Tensor out) {
    const std::string& path = path_of(item);
    std::string bytes;
    try {
      bytes = read_file(path);
    } catch (const Error&) {
    }
    JpegDecodeOptions o{fo_.image_size, lo_.training, derive_seed(lo_.seed, "augment", epoch_, item),
                        fo_.max_image_pixels};
    std::string why = bytes.empty() ? "cannot read the file, or it is empty" : decode_jpeg_into(tj, bytes, o, out);
    if (why.empty()) return true;
    ++failures_;
    std::lock_guard<std::mutex> lk(err_mu_);
    if (fo_.strict) {
      if (err_.empty()) err_ = path + ": " + why + " (data.strict = true)";
    } else if (warned_.insert(path).second) {
      logger()->warn("imagefolder: {}: {}; left out of its batches", path, why);
    }
    return false;
  }

  std::shared_ptr<FileList> files_;
  bool test_;
  std::vector<int64_t> idx_, order_;
  LoaderOptions lo_;
  FolderSourceOptions fo_;
  int workers_ = 1;
  torch::Tensor mean_, inv_std_;
  int64_t epoch_ = 0, batch_ = 0, n_ = 0;  // n_: this rank's share of idx_
  std::future<std::pair<torch::Tensor, torch::Tensor>> pending_;
  std::atomic<int64_t> failures_{0};
  int64_t reported_ = 0;
  std::mutex err_mu_;
  std::string err_;
  std::set<std::string> warned_;  ///< files already named in a warning
};

}  // namespace

namespace {
// A training class folder without a single image: the network would have a class it never sees.
void check_empty_classes(const std::string& train, const FileList& fl, bool strict) {
  std::vector<int64_t> count(fl.classes.size(), 0);
  for (int64_t l : fl.train_labels) ++count[static_cast<size_t>(l)];
  std::vector<std::string> empty;
  for (size_t c = 0; c < count.size(); ++c)
    if (count[c] == 0) empty.push_back(train + "/" + fl.classes[c]);
  if (empty.empty()) return;
  if (strict) throw DataError(empty[0] + ": class folder without a readable JPEG image (data.strict = true)");
  logger()->warn("{} class folder(s) without a readable JPEG image, first {}: the network keeps an output for each",
                 empty.size(), empty[0]);
}
}  // namespace

std::shared_ptr<FileList> list_image_folder(const std::string& root, bool strict) {
  auto fl = std::make_shared<FileList>();
  std::string train = root + "/train", val = root + "/val";
  for (const auto& d : {train, val}) {
    std::error_code ec;
    if (!fs::is_directory(d, ec))
      throw DataError(d + ": folder not found (imagefolder needs root/train and root/val)" +
                      (ec && ec != std::errc::no_such_file_or_directory ? " (" + ec.message() + ")" : ""));
  }
  Skips skips{strict};
  for (const auto& e : list_entries(train, skips)) {
    std::error_code ec;
    bool dir = e.is_directory(ec);
    if (ec)
      skips.add(e.path().string(), "cannot resolve (" + ec.message() + ")");
    else if (dir)
      fl->classes.push_back(e.path().filename().string());
  }
  if (fl->classes.size() < 2) throw DataError(train + ": needs at least 2 class folders");
  list_split(train, fl->classes, skips, fl->train_paths, fl->train_labels);
  list_split(val, fl->classes, skips, fl->test_paths, fl->test_labels);
  check_empty_classes(train, *fl, strict);
  fl->skipped = skips.count;
  if (fl->train_paths.empty()) throw DataError(train + ": no JPEG images found");
  if (fl->test_paths.empty()) throw DataError(val + ": no JPEG images found");
  if (fl->skipped > 0)
    logger()->warn("{}: left out {} entries that are not readable JPEG files (data.strict = true makes this an error)",
                   root, fl->skipped);
  return fl;
}

std::unique_ptr<BatchSource> make_folder_source(std::shared_ptr<FileList> files, bool test_split,
                                                std::vector<int64_t> indices, const LoaderOptions& lo,
                                                const FolderSourceOptions& fo, std::vector<float> mean,
                                                std::vector<float> std) {
  return std::make_unique<FolderSource>(std::move(files), test_split, std::move(indices), lo, fo, std::move(mean),
                                        std::move(std));
}

namespace {
class FolderDataset : public FileDataset {
 public:
  explicit FolderDataset(std::shared_ptr<FileList> files) : files_(std::move(files)) {}
  int64_t size(bool test_split) const override {
    return static_cast<int64_t>(test_split ? files_->test_paths.size() : files_->train_paths.size());
  }
  std::unique_ptr<BatchSource> source(bool test_split, std::vector<int64_t> indices, const LoaderOptions& o,
                                      const DataOptions& d, std::vector<float> mean,
                                      std::vector<float> std) const override {
    FolderSourceOptions fo{d.image_size, d.workers, d.strict, d.max_image_pixels};
    return make_folder_source(files_, test_split, std::move(indices), o, fo, std::move(mean), std::move(std));
  }

 private:
  std::shared_ptr<FileList> files_;
};
}  // namespace

std::shared_ptr<const FileDataset> folder_dataset(std::shared_ptr<FileList> files) {
  return std::make_shared<const FolderDataset>(std::move(files));
}

std::string decode_jpeg_image(const std::string& bytes, const JpegDecodeOptions& o, torch::Tensor& out) {
  if (o.image_size < 1) return "image size " + std::to_string(o.image_size) + " is not positive";
  out = torch::zeros({3, o.image_size, o.image_size}, torch::kUInt8);
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitDecompress(), tjDestroy);
  if (!tj) return "cannot start the JPEG decoder";
  return decode_jpeg_into(tj.get(), bytes, o, out);
}

}  // namespace netadj
