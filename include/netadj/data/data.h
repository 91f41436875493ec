#pragma once
// Datasets: loaded once, split once (seeded), fed to the device in batches. Small sets (CIFAR, IDX,
// synthetic) live in memory as uint8, on the GPU when training there; augmentation (random crop with
// 4-pixel zero padding + horizontal flip) and normalization run batched on the device.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "netadj/data/options.h"

namespace netadj {

/// Images as uint8 [N, C, H, W] and labels int64 [N], on the CPU.
struct ImageSet {
  torch::Tensor images;
  torch::Tensor labels;
};

struct Batch {
  torch::Tensor x;  ///< float [B, C, H, W], normalized, on the device
  torch::Tensor y;  ///< int64 [B]
};

enum class Split { kTrain, kVal, kTrainFull, kTest };
const char* split_name(Split s);

/// A sequence of batches per epoch; the order and augmentation of epoch e depend only on (seed, e).
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t size() const = 0;
  virtual int64_t num_batches() const = 0;
  /// Starts epoch `epoch` at its batch `first_batch` (a resumed epoch skips what was already trained).
  virtual void start_epoch_at(int64_t epoch, int64_t first_batch) = 0;
  void start_epoch(int64_t epoch) { start_epoch_at(epoch, 0); }
  virtual std::optional<Batch> next() = 0;
};

struct LoaderOptions {
  int batch_size = 128;
  bool training = false;  ///< shuffle + augment (when the dataset allows it)
  torch::Device device = torch::kCPU;
  uint64_t seed = 0;
  /// Data-parallel share: this rank's strided part of every epoch's order (as DistributedSampler). A
  /// training epoch is padded by wrapping so every rank takes the same number of steps; an evaluation is
  /// not, so the ranks' shares partition the split exactly. batch_size is the per-rank batch.
  int rank = 0, world = 1;
  int local_world = 1;  ///< ranks on this machine, which share its cores (JPEG decoder threads)
};

/// A dataset that stays on disk while training (image folders, data/imagefolder.h): the size of each split and
/// a batch source over a split's indices.
class FileDataset {
 public:
  virtual ~FileDataset() = default;
  virtual int64_t size(bool test_split) const = 0;
  /// `d`: the config's data options (image size, decoder threads, strictness, pixel limit).
  virtual std::unique_ptr<BatchSource> source(bool test_split, std::vector<int64_t> indices, const LoaderOptions& o,
                                              const DataOptions& d, std::vector<float> mean,
                                              std::vector<float> std) const = 0;
};

/// Per-channel input normalization of images scaled to [0, 1]: (x - mean) / std.
struct Normalization {
  std::vector<float> mean, std;
  bool empty() const { return mean.empty(); }
};

/// What a dataset's loader returns: images in memory (CIFAR, IDX, synthetic) or a file list (imagefolder).
struct LoadedData {
  ImageSet train, test;
  std::shared_ptr<const FileDataset> files;  ///< set for file-backed datasets; train/test are then empty
  int channels = 0, resolution = 0, classes = 0;
  std::vector<float> mean, std;  ///< per-channel normalization; empty = measured on the training split
};

/// A dataset registry entry: validation, the data module and `netadj config --list-datasets` read it.
struct DatasetInfo {
  std::string name;
  std::string summary;
  std::string default_root;  ///< folder used when data.root is empty; "" = the dataset reads no files
  std::string missing_hint;  ///< added to the error when the folder is missing
  /// Input resolution implied by the config alone (0 when only the files tell).
  std::function<int(const DataOptions&)> nominal_resolution;
  /// Reads (or generates) the dataset from `root`; throws DataError naming the file.
  std::function<LoadedData(const DataOptions&, const std::string& root, uint64_t seed)> load;
};

/// Every dataset, registered explicitly in one function (data/registry.cpp).
const std::vector<DatasetInfo>& dataset_registry();
const DatasetInfo* find_dataset_or_null(const std::string& name);
/// Throws ConfigError "data.dataset = "x": unknown dataset; known: ...".
const DatasetInfo& find_dataset(const std::string& name);
std::vector<std::string> dataset_names();

/// The input resolution a dataset config implies without reading files (0 when only the files tell: idx).
int nominal_resolution(const DataOptions& d);

/// Derives an independent 64-bit seed for one purpose ("split", "shuffle", ...) from the run seed.
uint64_t derive_seed(uint64_t seed, const std::string& purpose, int64_t a = 0, int64_t b = 0);

class DataModule {
 public:
  /// Loads the dataset named by `opts` and makes the seeded split. Throws DataError naming the file.
  DataModule(const DataOptions& opts, int64_t run_seed);
  virtual ~DataModule() = default;

  int channels() const { return channels_; }
  int resolution() const { return resolution_; }
  int classes() const { return classes_; }
  const std::string& name() const { return name_; }
  int64_t split_size(Split s) const;

  std::unique_ptr<BatchSource> loader(Split s, const LoaderOptions& o) const;

  /// The split as recorded in the run directory (indices into the training set).
  nlohmann::json split_json() const;
  /// Checks that a recorded split equals this one (a resumed run must use the same split).
  void check_split(const nlohmann::json& recorded, const std::string& file) const;

  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& std() const { return std_; }
  Normalization normalization() const { return {mean_, std_}; }
  /// Replaces the measured (or the dataset's standard) normalization with the one trained weights expect, for
  /// the loaders made after it. DataError naming `where` when it has the wrong number of channels or a std <= 0.
  void set_normalization(const Normalization& n, const std::string& where);

  // Exposed for tests.
  const std::vector<int64_t>& train_indices() const { return train_idx_; }
  const std::vector<int64_t>& val_indices() const { return val_idx_; }
  const ImageSet& train_set() const { return train_; }
  const ImageSet& test_set() const { return test_; }

 private:
  void adopt(LoadedData&& d);
  void make_split();
  void measure_normalization();
  DataOptions opts_;
  uint64_t seed_ = 0;
  std::string name_;
  int channels_ = 0, resolution_ = 0, classes_ = 0;
  ImageSet train_, test_;
  std::vector<int64_t> train_idx_, val_idx_, test_idx_;
  std::vector<float> mean_, std_;
  // imagefolder
  std::shared_ptr<const FileDataset> files_;
};

// ---- format readers (also used by tests) --------------------------------------------------------
/// CIFAR binary: cifar10 = data_batch_1..5.bin + test_batch.bin; cifar100 = train.bin + test.bin.
ImageSet read_cifar_file(const std::string& path, bool cifar100);
/// IDX (MNIST-style), gzip-compressed or raw: images [N,1,H,W] from an idx3 file, labels from idx1.
torch::Tensor read_idx_images(const std::string& path);
torch::Tensor read_idx_labels(const std::string& path);
/// Deterministic learnable data: class-dependent patterns plus noise.
ImageSet make_synthetic(const SyntheticOptions& o, int64_t n, uint64_t seed);

/// The positions of an epoch's order (of `n` items) that `rank` of `world` takes: rank, rank + world, ...
/// With `pad`, the order is first extended by wrapping to a multiple of `world`, so every rank gets
/// ceil(n / world) positions; without, the shares partition [0, n).
std::vector<int64_t> shard_positions(int64_t n, int rank, int world, bool pad);

/// Random crop with `pad` zero padding and horizontal flip, batched: x uint8/float [B,C,H,W];
/// offsets int64 [B,2] in [0, 2*pad], flip bool [B]. Pure function (same result on CPU and GPU).
torch::Tensor crop_flip(const torch::Tensor& x, const torch::Tensor& offsets, const torch::Tensor& flip, int pad);

}  // namespace netadj
