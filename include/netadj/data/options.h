#pragma once
// The data section of the config (data.*): which dataset, where, the split and the loader. The config reads and
// checks it (config/config.h); the data module (data/data.h) takes it.
#include <cstdint>
#include <string>

namespace netadj {

struct SyntheticOptions {
  int train_size = 2000;  ///< training images
  int test_size = 500;    ///< test images
  int classes = 10;
  int channels = 3;
  int resolution = 16;
  double noise = 0.5;  ///< std of the additive noise (patterns have unit amplitude)
};

struct DataOptions {
  std::string dataset = "cifar100";  ///< a dataset registry name (data/data.h; `netadj config --list-datasets`)
  std::string root;                  ///< folder of the files; "" = the dataset's default location
  int64_t val_size = 5000;           ///< images held out of the training set for the search
  double val_fraction = 0.0;         ///< alternative to val_size (used when > 0)
  bool augment = true;               ///< random crop (pad 4) + flip for small images
  int64_t subset = 0;                ///< limit every split to its first N (seeded); 0 = all
  int64_t seed = -1;                 ///< split seed; -1 = runtime.seed
  bool strict = false;               ///< imagefolder: unreadable files are an error, not a warning
  int workers = 0;                   ///< JPEG decoder threads; 0 = cores
  int image_size = 224;              ///< imagefolder crop size
  /// imagefolder: a JPEG whose header claims more pixels is refused before anything is allocated
  /// (PIL's default limit; a 60000x60000 header in a few bytes would otherwise ask for gigabytes).
  int64_t max_image_pixels = 89478485;
  SyntheticOptions synthetic;
};

}  // namespace netadj
