// The dataset registry: one entry per supported format, registered explicitly here. Each entry knows its
// default folder, the resolution a config implies, and how to load the files into a LoadedData.
#include <filesystem>

#include "netadj/data/data.h"
#include "netadj/data/imagefolder.h"
#include "netadj/util/error.h"

namespace netadj {
namespace {
namespace fs = std::filesystem;

ImageSet concat_sets(const std::vector<ImageSet>& parts) {
  std::vector<torch::Tensor> xs, ys;
  for (const auto& p : parts) {
    xs.push_back(p.images);
    ys.push_back(p.labels);
  }
  return {torch::cat(xs), torch::cat(ys)};
}

// CIFAR binary: cifar10 = data_batch_1..5.bin + test_batch.bin; cifar100 = train.bin + test.bin.
LoadedData load_cifar(const std::string& root, bool cifar100) {
  LoadedData d;
  std::vector<ImageSet> parts;
  if (cifar100) {
    parts.push_back(read_cifar_file(root + "/train.bin", true));
    d.test = read_cifar_file(root + "/test.bin", true);
    d.mean = {0.5071f, 0.4865f, 0.4409f};
    d.std = {0.2673f, 0.2564f, 0.2762f};
  } else {
    for (int i = 1; i <= 5; ++i)
      parts.push_back(read_cifar_file(root + "/data_batch_" + std::to_string(i) + ".bin", false));
    d.test = read_cifar_file(root + "/test_batch.bin", false);
    d.mean = {0.4914f, 0.4822f, 0.4465f};
    d.std = {0.2470f, 0.2435f, 0.2616f};
  }
  d.train = concat_sets(parts);
  d.channels = 3;
  d.resolution = 32;
  d.classes = cifar100 ? 100 : 10;
  return d;
}

std::string find_idx(const std::string& root, const std::string& stem) {
  for (const char* ext : {"", ".gz"}) {
    std::string p = root + "/" + stem + ext;
    if (fs::exists(p)) return p;
  }
  throw DataError(root + "/" + stem + "[.gz]: file not found (IDX dataset root '" + root + "')");
}

ImageSet read_idx_pair(const std::string& root, const std::string& prefix) {
  auto images = find_idx(root, prefix + "-images-idx3-ubyte"), labels = find_idx(root, prefix + "-labels-idx1-ubyte");
  ImageSet s{read_idx_images(images), read_idx_labels(labels)};
  if (s.images.size(0) != s.labels.size(0))
    throw DataError(labels + ": " + std::to_string(s.labels.size(0)) + " labels for " +
                    std::to_string(s.images.size(0)) + " images in " + images);
  return s;
}

// IDX (MNIST-style): `classes` 0 = as many as the largest label says (generic idx).
LoadedData load_idx(const std::string& root, int classes) {
  LoadedData d;
  d.train = read_idx_pair(root, "train");
  d.test = read_idx_pair(root, "t10k");
  if (d.train.images.size(2) != d.train.images.size(3) ||
      d.test.images.sizes().slice(1).vec() != d.train.images.sizes().slice(1).vec())
    throw DataError(root + "/train-images-idx3-ubyte: images must be square and the same size in both splits");
  d.channels = 1;
  d.resolution = static_cast<int>(d.train.images.size(2));
  d.classes =
      classes > 0
          ? classes
          : static_cast<int>(std::max(d.train.labels.max().item<int64_t>(), d.test.labels.max().item<int64_t>()) + 1);
  return d;
}

LoadedData load_synthetic(const SyntheticOptions& s, uint64_t seed) {
  LoadedData d;
  d.train = make_synthetic(s, s.train_size, derive_seed(seed, "synthetic-train"));
  d.test = make_synthetic(s, s.test_size, derive_seed(seed, "synthetic-test"));
  d.channels = s.channels;
  d.resolution = s.resolution;
  d.classes = s.classes;
  return d;
}

LoadedData load_imagefolder(const DataOptions& o, const std::string& root) {
  LoadedData d;
  std::shared_ptr<FileList> list = list_image_folder(root, o.strict);
  d.classes = static_cast<int>(list->classes.size());
  d.files = folder_dataset(std::move(list));
  d.channels = 3;
  d.resolution = o.image_size;
  d.mean = {0.485f, 0.456f, 0.406f};
  d.std = {0.229f, 0.224f, 0.225f};
  return d;
}

int fixed(int res) { return res; }

}  // namespace

const std::vector<DatasetInfo>& dataset_registry() {
  using O = const DataOptions&;
  using R = const std::string&;
  static const std::vector<DatasetInfo> reg = {
      {"cifar10", "CIFAR-10 binary files (data_batch_1..5.bin, test_batch.bin)", "data/cifar-10-batches-bin",
       "set data.root", [](O) { return fixed(32); }, [](O, R root, uint64_t) { return load_cifar(root, false); }},
      {"cifar100", "CIFAR-100 binary files (train.bin, test.bin)", "data/cifar-100-binary", "set data.root",
       [](O) { return fixed(32); }, [](O, R root, uint64_t) { return load_cifar(root, true); }},
      {"fashion_mnist", "Fashion-MNIST IDX files (Debian: dataset-fashion-mnist)", "/usr/share/datasets/fashion-mnist",
       "install the Debian package dataset-fashion-mnist", [](O) { return fixed(28); },
       [](O, R root, uint64_t) { return load_idx(root, 10); }},
      {"mnist", "MNIST IDX files", "/usr/share/datasets/mnist", "set data.root", [](O) { return fixed(28); },
       [](O, R root, uint64_t) { return load_idx(root, 10); }},
      {"idx", "any IDX (MNIST-style) pair of train/t10k files, gzip or raw", "data/idx", "set data.root",
       [](O) { return 0; }, [](O, R root, uint64_t) { return load_idx(root, 0); }},
      {"imagefolder", "ImageNet-style folders root/train/<class>/*.JPEG and root/val/<class>/*", "data/imagenet",
       "set data.root", [](O o) { return o.image_size; },
       [](O o, R root, uint64_t) { return load_imagefolder(o, root); }},
      {"synthetic", "deterministic learnable patterns (data.synthetic), for tests and smoke runs", "", "",
       [](O o) { return o.synthetic.resolution; },
       [](O o, R, uint64_t seed) { return load_synthetic(o.synthetic, seed); }},
  };
  return reg;
}

const DatasetInfo* find_dataset_or_null(const std::string& name) {
  for (const auto& d : dataset_registry())
    if (d.name == name) return &d;
  return nullptr;
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& d : dataset_registry()) names.push_back(d.name);
  return names;
}

const DatasetInfo& find_dataset(const std::string& name) {
  if (const DatasetInfo* d = find_dataset_or_null(name)) return *d;
  std::string known;
  for (const auto& n : dataset_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError("data.dataset = \"" + name + "\": unknown dataset; known: " + known);
}

}  // namespace netadj
