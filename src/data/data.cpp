#include "netadj/data/data.h"

#include <filesystem>

#include "netadj/util/error.h"
#include "netadj/util/log.h"

namespace netadj {
namespace fs = std::filesystem;

const char* split_name(Split s) {
  switch (s) {
    case Split::kTrain:
      return "train";
    case Split::kVal:
      return "val";
    case Split::kTrainFull:
      return "train_full";
    case Split::kTest:
      return "test";
  }
  return "?";
}

int nominal_resolution(const DataOptions& d) { return find_dataset(d.dataset).nominal_resolution(d); }

uint64_t derive_seed(uint64_t seed, const std::string& purpose, int64_t a, int64_t b) {
  // splitmix64 over (seed, purpose, a, b): independent streams per purpose and step.
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(seed);
  for (char ch : purpose) h = mix(h ^ static_cast<uint8_t>(ch));
  h = mix(h ^ static_cast<uint64_t>(a));
  h = mix(h ^ static_cast<uint64_t>(b));
  return h & 0x7fffffffffffffffULL;
}

torch::Tensor crop_flip(const torch::Tensor& x, const torch::Tensor& offsets, const torch::Tensor& flip, int pad) {
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  auto padded = torch::constant_pad_nd(x, {pad, pad, pad, pad}, 0);
  auto opt = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  auto rows = offsets.select(1, 0).unsqueeze(1) + torch::arange(h, opt).unsqueeze(0);  // [B, H]
  auto cols = offsets.select(1, 1).unsqueeze(1) + torch::arange(w, opt).unsqueeze(0);  // [B, W]
  // Flipping reverses the column order of the crop.
  cols = torch::where(flip.unsqueeze(1), cols.flip(1), cols);
  auto bi = torch::arange(n, opt).view({n, 1, 1, 1});
  auto ci = torch::arange(c, opt).view({1, c, 1, 1});
  return padded.index({bi, ci, rows.view({n, 1, h, 1}), cols.view({n, 1, 1, w})});
}

std::vector<int64_t> shard_positions(int64_t n, int rank, int world, bool pad) {
  std::vector<int64_t> out;
  if (world <= 1) {
    out.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = i;
    return out;
  }
  const int64_t total = pad ? (n + world - 1) / world * world : n;
  for (int64_t i = rank; i < total; i += world) out.push_back(i % n);
  return out;
}

namespace {

// In-memory source: the split's images are gathered once (on the device), batches are index_select +
// batched augmentation + normalization there.
class MemorySource : public BatchSource {
 public:
  MemorySource(const ImageSet& set, const std::vector<int64_t>& idx, const LoaderOptions& o, bool augment,
               const std::vector<float>& mean, const std::vector<float>& std)
      : o_(o), augment_(augment && o.training) {
    auto index = torch::tensor(idx, torch::kInt64);
    images_ = set.images.index_select(0, index).to(o.device);
    labels_ = set.labels.index_select(0, index).to(o.device);
    auto fopt = torch::TensorOptions().dtype(torch::kFloat).device(o.device);
    int64_t c = images_.size(1);
    mean_ = torch::tensor(mean).view({1, c, 1, 1}).to(fopt).mul(255.0);
    inv_std_ = (1.0 / torch::tensor(std)).view({1, c, 1, 1}).to(fopt).div(255.0);
    full_n_ = static_cast<int64_t>(idx.size());
    n_ = static_cast<int64_t>(shard_positions(full_n_, o.rank, o.world, o.training).size());
  }

  int64_t size() const override { return n_; }
  int64_t num_batches() const override {
    int64_t b = (n_ + o_.batch_size - 1) / o_.batch_size;
    // A last training batch of one sample cannot go through BatchNorm in train mode.
    if (o_.training && n_ % o_.batch_size == 1 && b > 1) --b;
    return b;
  }

  void start_epoch_at(int64_t epoch, int64_t first_batch) override {
    batch_ = std::min(first_batch, num_batches());
    pos_ = batch_ * o_.batch_size;
    // Every rank draws the whole epoch's order and augmentation, then keeps its share of the positions.
    torch::Tensor share;
    if (o_.world > 1) share = torch::tensor(shard_positions(full_n_, o_.rank, o_.world, o_.training), torch::kInt64);
    auto take = [&](const torch::Tensor& t) { return (share.defined() ? t.index_select(0, share) : t).to(o_.device); };
    if (o_.training) {
      auto g = at::make_generator<at::CPUGeneratorImpl>(derive_seed(o_.seed, "shuffle", epoch));
      order_ = take(torch::randperm(full_n_, g, torch::kInt64));
      if (augment_) {
        auto ga = at::make_generator<at::CPUGeneratorImpl>(derive_seed(o_.seed, "augment", epoch));
        offsets_ = take(torch::randint(0, 2 * kPad + 1, {full_n_, 2}, ga, torch::kInt64));
        flips_ = take(torch::rand({full_n_}, ga) < 0.5);
      }
    } else {
      order_ = take(torch::arange(full_n_, torch::kInt64));
    }
  }

  std::optional<Batch> next() override {
    if (batch_ >= num_batches()) return std::nullopt;
    int64_t len = std::min<int64_t>(o_.batch_size, n_ - pos_);
    auto sel = order_.narrow(0, pos_, len);
    auto x = images_.index_select(0, sel);
    if (augment_) x = crop_flip(x, offsets_.narrow(0, pos_, len), flips_.narrow(0, pos_, len), kPad);
    Batch b{(x.to(torch::kFloat) - mean_) * inv_std_, labels_.index_select(0, sel)};
    pos_ += len;
    ++batch_;
    return b;
  }

 private:
  static constexpr int kPad = 4;
  LoaderOptions o_;
  bool augment_;
  torch::Tensor images_, labels_, mean_, inv_std_, order_, offsets_, flips_;
  int64_t full_n_ = 0;  ///< the split's size
  int64_t n_ = 0;       ///< this rank's share of it
  int64_t pos_ = 0, batch_ = 0;
};

void check_labels(const ImageSet& s, int classes, const std::string& what) {
  if (s.labels.numel() == 0) throw DataError(what + ": no images");
  int64_t mx = s.labels.max().item<int64_t>();
  if (mx >= classes || s.labels.min().item<int64_t>() < 0)
    throw DataError(what + ": label " + std::to_string(mx) + " out of range for " + std::to_string(classes) +
                    " classes");
}

}  // namespace

DataModule::DataModule(const DataOptions& opts, int64_t run_seed) : opts_(opts) {
  seed_ = static_cast<uint64_t>(opts.seed >= 0 ? opts.seed : run_seed);
  const DatasetInfo& info = find_dataset(opts.dataset);
  name_ = info.name;
  std::string root = opts.root.empty() ? info.default_root : opts.root;
  if (!info.default_root.empty() && !fs::is_directory(root))
    throw DataError(root + ": dataset folder not found for data.dataset = \"" + name_ + "\" (" +
                    (opts.root.empty() ? info.missing_hint : "check data.root") + ")");
  adopt(info.load(opts, root, seed_));
  if (!files_) {
    check_labels(train_, classes_, name_ + " training set");
    check_labels(test_, classes_, name_ + " test set");
  }
  make_split();
  if (mean_.empty()) measure_normalization();
}

void DataModule::adopt(LoadedData&& d) {
  train_ = std::move(d.train);
  test_ = std::move(d.test);
  files_ = std::move(d.files);
  channels_ = d.channels;
  resolution_ = d.resolution;
  classes_ = d.classes;
  mean_ = std::move(d.mean);
  std_ = std::move(d.std);
}

void DataModule::set_normalization(const Normalization& n, const std::string& where) {
  if (n.mean.size() != size_t(channels_) || n.std.size() != size_t(channels_))
    throw DataError(where + ": its input normalization has " + std::to_string(n.mean.size()) + " channels, the " +
                    name_ + " images " + std::to_string(channels_));
  for (float s : n.std)
    if (!(s > 0)) throw DataError(where + ": its input normalization has a std <= 0");
  mean_ = n.mean;
  std_ = n.std;
}

// Per-channel statistics of the training split, for datasets without standard constants.
void DataModule::measure_normalization() {
  auto x = train_.images.index_select(0, torch::tensor(train_idx_, torch::kInt64)).to(torch::kFloat).div(255.0);
  auto m = x.mean({0, 2, 3}), s = x.std(/*dim=*/{0, 2, 3}, /*unbiased=*/false).clamp_min(1e-3);
  for (int c = 0; c < channels_; ++c) {
    mean_.push_back(m[c].item<float>());
    std_.push_back(s[c].item<float>());
  }
}

void DataModule::make_split() {
  int64_t n = files_ ? files_->size(false) : train_.labels.size(0);
  int64_t n_test = files_ ? files_->size(true) : test_.labels.size(0);
  int64_t val =
      opts_.val_fraction > 0 ? static_cast<int64_t>(std::llround(opts_.val_fraction * double(n))) : opts_.val_size;
  if (val >= n)
    throw ConfigError("data.val_size = " + std::to_string(val) + ": the training set has only " + std::to_string(n) +
                      " images; hold out fewer");
  auto g = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed_, "split"));
  auto perm = torch::randperm(n, g, torch::kInt64);
  auto* p = perm.data_ptr<int64_t>();
  val_idx_.assign(p, p + val);
  train_idx_.assign(p + val, p + n);
  auto gt = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed_, "test-subset"));
  auto tperm = torch::randperm(n_test, gt, torch::kInt64);
  test_idx_.assign(tperm.data_ptr<int64_t>(), tperm.data_ptr<int64_t>() + n_test);
  if (opts_.subset > 0) {
    auto cut = [&](std::vector<int64_t>& v) {
      if (static_cast<int64_t>(v.size()) > opts_.subset) v.resize(static_cast<size_t>(opts_.subset));
    };
    cut(train_idx_);
    cut(val_idx_);
    cut(test_idx_);
  } else {
    std::sort(test_idx_.begin(), test_idx_.end());
  }
  // Sorted within each split: the order is the loader's business (seeded per epoch).
  std::sort(train_idx_.begin(), train_idx_.end());
  std::sort(val_idx_.begin(), val_idx_.end());
  std::sort(test_idx_.begin(), test_idx_.end());
}

int64_t DataModule::split_size(Split s) const {
  switch (s) {
    case Split::kTrain:
      return static_cast<int64_t>(train_idx_.size());
    case Split::kVal:
      return static_cast<int64_t>(val_idx_.size());
    case Split::kTrainFull:
      return static_cast<int64_t>(train_idx_.size() + val_idx_.size());
    case Split::kTest:
      return static_cast<int64_t>(test_idx_.size());
  }
  return 0;
}

std::unique_ptr<BatchSource> DataModule::loader(Split s, const LoaderOptions& o) const {
  std::vector<int64_t> idx;
  switch (s) {
    case Split::kTrain:
      idx = train_idx_;
      break;
    case Split::kVal:
      idx = val_idx_;
      break;
    case Split::kTrainFull:
      idx = train_idx_;
      idx.insert(idx.end(), val_idx_.begin(), val_idx_.end());
      std::sort(idx.begin(), idx.end());
      break;
    case Split::kTest:
      idx = test_idx_;
      break;
  }
  if (idx.empty())
    throw ConfigError(std::string("data: the ") + split_name(s) +
                      " split is empty (check data.val_size / data.subset)");
  if (files_) return files_->source(s == Split::kTest, idx, o, opts_, mean_, std_);
  const ImageSet& set = s == Split::kTest ? test_ : train_;
  // Crop (4-pixel padding) + flip is the CIFAR recipe: meant for 24..64-pixel images. Smaller ones
  // (tiny synthetic sets) would lose a third of their content to a 4-pixel shift.
  bool augment = opts_.augment && resolution_ >= 24 && resolution_ <= 64;
  return std::make_unique<MemorySource>(set, idx, o, augment, mean_, std_);
}

nlohmann::json DataModule::split_json() const {
  return {{"dataset", name_},
          {"seed", seed_},
          {"train_size", train_idx_.size()},
          {"val_size", val_idx_.size()},
          {"test_size", test_idx_.size()},
          {"val", val_idx_},
          {"train", train_idx_}};
}

void DataModule::check_split(const nlohmann::json& recorded, const std::string& file) const {
  if (recorded.value("val", nlohmann::json()) != nlohmann::json(val_idx_) ||
      recorded.value("train", nlohmann::json()) != nlohmann::json(train_idx_))
    throw DataError(file + ": the recorded split differs from the one this config makes (data or seed changed)");
}

}  // namespace netadj
