#pragma once
// ImageNet-style folders (root/train/<class>/*.JPEG, root/val/<class>/*), decoded by libjpeg-turbo.
#include <memory>
#include <string>
#include <vector>

#include "netadj/data/data.h"

namespace netadj {

struct FileList {
  std::vector<std::string> classes;
  std::vector<std::string> train_paths, test_paths;
  std::vector<int64_t> train_labels, test_labels;
  int64_t skipped = 0;
};

/// Lists both splits; files that are not JPEGs are skipped and counted (an error when `strict`).
std::shared_ptr<FileList> list_image_folder(const std::string& root, bool strict);

struct FolderSourceOptions {
  int image_size = 224;
  int workers = 0;
  bool strict = false;
  int64_t max_image_pixels = 89478485;  ///< larger headers are refused before decoding
};

/// How one image is turned into a training or evaluation input.
struct JpegDecodeOptions {
  int image_size = 224;
  bool training = false;  ///< RandomResizedCrop + flip seeded by `seed`; else resize + center crop
  uint64_t seed = 0;
  int64_t max_image_pixels = 89478485;
};
/// Decodes JPEG bytes into `out` (uint8 [3, size, size]) exactly as the folder loader does. Returns "" on
/// success, else what is wrong with the bytes (never throws for bad bytes).
std::string decode_jpeg_image(const std::string& bytes, const JpegDecodeOptions& o, torch::Tensor& out);

std::unique_ptr<BatchSource> make_folder_source(std::shared_ptr<FileList> files, bool test_split,
                                                std::vector<int64_t> indices, const LoaderOptions& lo,
                                                const FolderSourceOptions& fo, std::vector<float> mean,
                                                std::vector<float> std);

/// The listed folders as the data module's file-backed dataset (sources made by make_folder_source).
std::shared_ptr<const FileDataset> folder_dataset(std::shared_ptr<FileList> files);

}  // namespace netadj
