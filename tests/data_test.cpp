#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "error_text.h"
#include "netadj/data/data.h"
#include "netadj/data/imagefolder.h"
#include "netadj/nets/table.h"
#include "netadj/util/error.h"
#include "netadj/util/fs.h"

using namespace netadj;
namespace fs = std::filesystem;

std::string make_test_jpeg(int w, int h, uint8_t value);

namespace {

std::string tmpdir(const std::string& name) {
  std::string d = ::testing::TempDir() + "/netadj_data_" + name;
  remove_tree(d);
  fs::create_directories(d);
  return d;
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[size_t(i)] = char((v >> (24 - 8 * i)) & 0xff);
  return s;
}

// IDX images n x h x w with pixel (i, y, x) = (i + 3y + 7x) % 256, labels i % 10.
std::string idx_images(int n, int h, int w) {
  std::string s = be32(0x803) + be32(uint32_t(n)) + be32(uint32_t(h)) + be32(uint32_t(w));
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) s.push_back(char((i + 3 * y + 7 * x) % 256));
  return s;
}
std::string idx_labels(int n) {
  std::string s = be32(0x801) + be32(uint32_t(n));
  for (int i = 0; i < n; ++i) s.push_back(char(i % 10));
  return s;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

// CIFAR record: label byte(s) then 3072 pixels; pixel k of record i = (i * 5 + k) % 256.
std::string cifar_records(int n, bool c100) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (c100) s.push_back(char(i % 20));  // coarse
    s.push_back(char(c100 ? (i * 7) % 100 : i % 10));
    for (int k = 0; k < 3072; ++k) s.push_back(char((i * 5 + k) % 256));
  }
  return s;
}

std::string error_of(const std::function<void()>& f) { return testing_util::error_text<DataError>(f); }

}  // namespace

TEST(Idx, DecodesKnownPixelsGzAndRaw) {
  std::string d = tmpdir("idx");
  write_gz(d + "/a.gz", idx_images(3, 4, 5));
  write_bytes(d + "/a.raw", idx_images(3, 4, 5));
  for (const char* f : {"/a.gz", "/a.raw"}) {
    auto t = read_idx_images(d + f);
    ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 1, 4, 5}));
    EXPECT_EQ(t[2][0][1][3].item<int>(), (2 + 3 + 21) % 256);
  }
  write_bytes(d + "/l", idx_labels(12));
  auto l = read_idx_labels(d + "/l");
  EXPECT_EQ(l[11].item<int64_t>(), 1);
}

TEST(Idx, BadFilesNameFileAndProblem) {
  std::string d = tmpdir("idxbad");
  std::string good = idx_images(3, 4, 5);
  write_bytes(d + "/trunc", good.substr(0, good.size() - 7));
  EXPECT_NE(error_of([&] { read_idx_images(d + "/trunc"); }).find(d + "/trunc: payload has"), std::string::npos);
  std::string bad = good;
  bad[2] = 0x09;
  write_bytes(d + "/magic", bad);
  EXPECT_NE(error_of([&] { read_idx_images(d + "/magic"); }).find("bad IDX magic"), std::string::npos);
  write_bytes(d + "/labels_as_images", idx_labels(4));
  EXPECT_NE(error_of([&] { read_idx_images(d + "/labels_as_images"); }).find("1 dimensions, expected 3"),
            std::string::npos);
  // A gzip stream cut short.
  write_gz(d + "/full.gz", good);
  std::ifstream in(d + "/full.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), {});
  write_bytes(d + "/cut.gz", gz.substr(0, gz.size() / 2));
  EXPECT_NE(error_of([&] { read_idx_images(d + "/cut.gz"); }).find(d + "/cut.gz"), std::string::npos);
  EXPECT_NE(error_of([&] { read_idx_images(d + "/missing"); }).find("file not found"), std::string::npos);
}

TEST(Cifar, DecodesRecordsAndFineLabels) {
  std::string d = tmpdir("cifar");
  write_bytes(d + "/c10.bin", cifar_records(4, false));
  auto s = read_cifar_file(d + "/c10.bin", false);
  ASSERT_EQ(s.images.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  EXPECT_EQ(s.labels[3].item<int64_t>(), 3);
  // pixel k = c*1024 + y*32 + x
  EXPECT_EQ(s.images[2][1][0][5].item<int>(), (2 * 5 + 1024 + 5) % 256);
  write_bytes(d + "/c100.bin", cifar_records(4, true));
  auto t = read_cifar_file(d + "/c100.bin", true);
  EXPECT_EQ(t.labels[3].item<int64_t>(), 21);
  EXPECT_EQ(t.images[3][0][0][0].item<int>(), 15);
}

TEST(Cifar, WrongSizesAndLabelsFail) {
  std::string d = tmpdir("cifarbad");
  write_bytes(d + "/short.bin", cifar_records(2, false).substr(0, 5000));
  EXPECT_NE(error_of([&] { read_cifar_file(d + "/short.bin", false); }).find("not a multiple of the 3073-byte"),
            std::string::npos);
  // CIFAR-10 records read as CIFAR-100 have the wrong record size.
  write_bytes(d + "/c10.bin", cifar_records(3, false));
  EXPECT_NE(error_of([&] { read_cifar_file(d + "/c10.bin", true); }).find("3074-byte"), std::string::npos);
  std::string bad = cifar_records(1, false);
  bad[0] = char(12);
  write_bytes(d + "/label.bin", bad);
  EXPECT_NE(error_of([&] { read_cifar_file(d + "/label.bin", false); }).find("label 12"), std::string::npos);
}

TEST(Cifar, DataModuleLoadsFolderAndSplits) {
  std::string d = tmpdir("cifarmod");
  for (int i = 1; i <= 5; ++i) write_bytes(d + "/data_batch_" + std::to_string(i) + ".bin", cifar_records(20, false));
  write_bytes(d + "/test_batch.bin", cifar_records(10, false));
  DataOptions o;
  o.dataset = "cifar10";
  o.root = d;
  o.val_size = 30;
  DataModule m(o, 3);
  EXPECT_EQ(m.split_size(Split::kTrain), 70);
  EXPECT_EQ(m.split_size(Split::kVal), 30);
  EXPECT_EQ(m.split_size(Split::kTest), 10);
  EXPECT_NEAR(m.mean()[0], 0.4914, 1e-4);  // the standard constants
  remove_file(d + "/data_batch_4.bin");
  EXPECT_NE(error_of([&] { DataModule bad(o, 3); }).find("data_batch_4.bin: cannot open"), std::string::npos);
}

TEST(Split, ReproducibleDisjointAndSeeded) {
  DataOptions o;
  o.dataset = "synthetic";
  o.val_size = 100;
  DataModule a(o, 5), b(o, 5), c(o, 6);
  EXPECT_EQ(a.val_indices(), b.val_indices());
  EXPECT_NE(a.val_indices(), c.val_indices());
  std::set<int64_t> v(a.val_indices().begin(), a.val_indices().end());
  for (int64_t i : a.train_indices()) EXPECT_FALSE(v.count(i));
  EXPECT_EQ(a.train_indices().size() + a.val_indices().size(), size_t(o.synthetic.train_size));
  EXPECT_NO_THROW(a.check_split(b.split_json(), "split.json"));
  EXPECT_THROW(a.check_split(c.split_json(), "split.json"), DataError);
  o.val_fraction = 0.25;
  DataModule f(o, 5);
  EXPECT_EQ(f.split_size(Split::kVal), 500);
  o.subset = 64;
  DataModule s(o, 5);
  EXPECT_EQ(s.split_size(Split::kTrain), 64);
  EXPECT_EQ(s.split_size(Split::kVal), 64);
}

TEST(Augment, CropStaysInsidePaddedImageAndFlipIsExact) {
  auto x = torch::arange(2 * 1 * 6 * 6, torch::kFloat).view({2, 1, 6, 6}) + 1;  // no zeros inside
  // Offset (4,4) with pad 4 is the identity crop.
  auto id = crop_flip(x, torch::tensor({4, 4, 4, 4}, torch::kInt64).view({2, 2}), torch::tensor({false, false}), 4);
  EXPECT_TRUE(torch::equal(id, x));
  auto fl = crop_flip(x, torch::tensor({4, 4, 4, 4}, torch::kInt64).view({2, 2}), torch::tensor({true, false}), 4);
  EXPECT_TRUE(torch::equal(fl[0], x[0].flip(2)));
  EXPECT_TRUE(torch::equal(fl[1], x[1]));
  // Offset (0,0): the top-left 4 rows/cols are padding, the rest is the image's top-left corner.
  auto tl = crop_flip(x, torch::zeros({2, 2}, torch::kInt64), torch::tensor({false, false}), 4);
  EXPECT_EQ(tl[0][0].slice(0, 0, 4).abs().sum().item<float>(), 0.f);
  EXPECT_TRUE(torch::equal(tl[0][0].slice(0, 4, 6).slice(1, 4, 6), x[0][0].slice(0, 0, 2).slice(1, 0, 2)));
  // Every crop of every offset only contains image pixels or zeros, and keeps the shape.
  for (int oy = 0; oy <= 8; ++oy)
    for (int ox = 0; ox <= 8; ++ox) {
      auto c =
          crop_flip(x, torch::tensor({oy, ox, oy, ox}, torch::kInt64).view({2, 2}), torch::tensor({false, true}), 4);
      ASSERT_EQ(c.sizes(), x.sizes());
      auto nz = c.masked_select(c != 0);
      EXPECT_TRUE(torch::isin(nz, x.flatten()).all().item<bool>());
    }
}

TEST(Loader, SeededShuffleAndAugmentation) {
  DataOptions o;
  o.dataset = "synthetic";
  o.val_size = 100;
  DataModule m(o, 1);
  LoaderOptions lo{32, true, torch::kCPU, 9};
  auto a = m.loader(Split::kTrain, lo), b = m.loader(Split::kTrain, lo);
  a->start_epoch(2);
  b->start_epoch(2);
  auto ba = a->next(), bb = b->next();
  EXPECT_TRUE(torch::equal(ba->x, bb->x));
  EXPECT_TRUE(torch::equal(ba->y, bb->y));
  b->start_epoch(3);
  EXPECT_FALSE(torch::equal(ba->x, b->next()->x));
  // Evaluation batches are in order, unaugmented, and cover the split once.
  auto v = m.loader(Split::kVal, {64, false, torch::kCPU, 0});
  v->start_epoch(0);
  int64_t n = 0;
  while (auto bt = v->next()) n += bt->y.size(0);
  EXPECT_EQ(n, 100);
}

TEST(Synthetic, DeterministicAndClassDependent) {
  SyntheticOptions s;
  auto a = make_synthetic(s, 200, 3), b = make_synthetic(s, 200, 3);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  // Class means differ far more than the noise of a mean over ~20 images.
  auto x = a.images.to(torch::kFloat);
  auto m0 = x.index({a.labels == 0}).mean(0), m1 = x.index({a.labels == 1}).mean(0);
  EXPECT_GT((m0 - m1).abs().mean().item<float>(), 10.f);
}

TEST(ImageFolder, DecodesJpegsSkipsOthersAndStrictFails) {
  std::string d = tmpdir("folder");
  // Make JPEGs with turbojpeg through the loader's own dependency.
  for (const char* split : {"train", "val"})
    for (const char* cls : {"cat", "dog"}) {
      fs::create_directories(d + "/" + split + "/" + cls);
      for (int i = 0; i < 3; ++i)
        write_bytes(d + "/" + split + "/" + cls + "/" + std::to_string(i) + ".JPEG",
                    make_test_jpeg(64 + 8 * i, 48, std::string(cls) == "cat" ? 40 : 200));
    }
  write_bytes(d + "/train/cat/notes.JPEG", "this is not a jpeg");
  DataOptions o;
  o.dataset = "imagefolder";
  o.root = d;
  o.val_size = 2;
  o.image_size = 32;
  o.workers = 2;
  DataModule m(o, 0);
  EXPECT_EQ(m.classes(), 2);
  EXPECT_EQ(m.split_size(Split::kTrain) + m.split_size(Split::kVal), 6);
  auto src = m.loader(Split::kTest, {4, false, torch::kCPU, 0});
  src->start_epoch(0);
  auto b = src->next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->x.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  // Uniform grey images: cat (40) normalizes far below dog (200).
  for (int64_t i = 0; i < b->y.size(0); ++i) EXPECT_EQ(b->x[i].mean().item<float>() < 0, b->y[i].item<int64_t>() == 0);
  auto tr = m.loader(Split::kTrain, {2, true, torch::kCPU, 1});
  tr->start_epoch(0);
  EXPECT_EQ(tr->next()->x.size(2), 32);
  o.strict = true;
  EXPECT_NE(error_of([&] { DataModule s(o, 0); }).find("notes.JPEG: not a JPEG file"), std::string::npos);
}

// A truncated JPEG (its first 500 bytes: cut before the SOS marker) used to corrupt the heap: after the failed
// header, libjpeg-turbo reported 0x0 for the next file on the same handle, and a width and height of 0
// made tjDecompress2 write the whole image into an empty buffer. One decoder thread, so the truncated
// file is followed by valid ones on the same handle.
TEST(ImageFolder, TruncatedJpegIsLeftOutAndTheNextOneDecodes) {
  std::string d = tmpdir("truncated");
  for (const char* split : {"train", "val"})
    for (const char* cls : {"cat", "dog"}) {
      fs::create_directories(d + "/" + split + "/" + cls);
      for (int i = 1; i <= 3; ++i)
        write_bytes(d + "/" + split + "/" + cls + "/" + std::to_string(i) + ".JPEG",
                    make_test_jpeg(300, 300, std::string(cls) == "cat" ? 40 : 200));
    }
  std::string whole = make_test_jpeg(300, 300, 40);
  ASSERT_GT(whole.size(), 1000u);
  write_bytes(d + "/val/cat/0.JPEG", whole.substr(0, 500));
  DataOptions o;
  o.dataset = "imagefolder";
  o.root = d;
  o.val_size = 2;
  o.image_size = 32;
  o.workers = 1;
  DataModule m(o, 0);
  ASSERT_EQ(m.split_size(Split::kTest), 7);
  auto src = m.loader(Split::kTest, {7, false, torch::kCPU, 0});
  src->start_epoch(0);
  auto b = src->next();
  ASSERT_TRUE(b);
  ASSERT_EQ(b->y.size(0), 6);  // the truncated file is left out
  for (int64_t i = 0; i < 6; ++i) {
    // Uniform grey images: cat (40) normalizes far below zero, dog (200) far above; a bad decode is 0.
    float mean = b->x[i].mean().item<float>();
    EXPECT_EQ(mean < -0.5f, b->y[i].item<int64_t>() == 0) << i << " mean " << mean;
    EXPECT_GT(std::abs(mean), 0.5f) << i;
  }
  o.strict = true;
  DataModule strict(o, 0);
  auto ss = strict.loader(Split::kTest, {7, false, torch::kCPU, 0});
  EXPECT_NE(error_of([&] {
              ss->start_epoch(0);
              ss->next();
            }).find("val/cat/0.JPEG: not a readable JPEG header"),
            std::string::npos);
}

namespace {

// A reader's valid file damaged the usual ways: cut at each 10% of its length, single-bit flips in the
// first `header` bytes, and a wrong first byte (magic). `must_fail` tells which ones cannot be valid.
struct Damaged {
  std::string name, bytes;
  bool must_fail;
};
std::vector<Damaged> damaged_versions(const std::string& valid, size_t header) {
  std::vector<Damaged> out;
  for (int tenth = 0; tenth < 10; ++tenth)
    out.push_back({"cut" + std::to_string(tenth * 10), valid.substr(0, valid.size() * size_t(tenth) / 10), true});
  for (size_t byte = 0; byte < std::min(header, valid.size()); ++byte)
    for (int bit : {0, 7}) {
      std::string b = valid;
      b[byte] = char(b[byte] ^ (1 << bit));
      out.push_back({"flip" + std::to_string(byte) + "." + std::to_string(bit), b, false});
    }
  std::string magic = valid;
  magic[0] = char(magic[0] ^ 0x5a);
  out.push_back({"magic", magic, false});
  return out;
}

// Every damaged file either reads (a flip that leaves a consistent file) or fails with a DataError naming
// it; anything else (another exception, a crash) fails the test. Returns how many failed cleanly.
int expect_clean_failures(const std::string& dir, const std::string& valid, size_t header,
                          const std::function<void(const std::string&)>& read) {
  int failed = 0;
  for (const auto& d : damaged_versions(valid, header)) {
    std::string path = dir + "/" + d.name;
    write_bytes(path, d.bytes);
    try {
      read(path);
      EXPECT_FALSE(d.must_fail) << path << ": damaged file was read";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      ++failed;
    }
  }
  return failed;
}

}  // namespace

TEST(Corrupt, ReadersRefuseDamagedFilesWithAnErrorNamingThem) {
  std::string d = tmpdir("corrupt");
  int total = 0;
  total += expect_clean_failures(d, idx_images(5, 4, 6), 16, [](const std::string& p) { read_idx_images(p); });
  total += expect_clean_failures(d, idx_labels(12), 8, [](const std::string& p) { read_idx_labels(p); });
  total +=
      expect_clean_failures(d, cifar_records(3, false), 2, [](const std::string& p) { read_cifar_file(p, false); });
  total += expect_clean_failures(d, cifar_records(3, true), 2, [](const std::string& p) { read_cifar_file(p, true); });
  ModelOptions m;
  m.arch = "resnet_cifar";
  m.depth = 8;
  std::string channels = R"({"arch": "resnet_cifar", "depth": 8, "channels": [16, 16, 32, 32, 64, 64]})";
  total += expect_clean_failures(d, channels, 0, [&](const std::string& p) { read_channel_file(p, m); });
  EXPECT_GE(total, 50);
}

TEST(Corrupt, DamagedJpegsAreLeftOutOrNamedNeverACrash) {
  std::string d = tmpdir("corrupt_jpeg");
  std::string valid = make_test_jpeg(120, 90, 100);
  for (const char* split : {"train", "val"})
    for (const char* cls : {"a", "b"}) {
      fs::create_directories(d + "/" + split + "/" + cls);
      write_bytes(d + "/" + split + "/" + cls + "/ok.JPEG", valid);
    }
  // The damaged files keep the JPEG signature so that the listing takes them (a wrong magic is skipped
  // when listing, tested above); cuts at 0-20% leave less than the signature and are skipped too.
  int n = 0;
  for (const auto& dm : damaged_versions(valid, 24)) {
    if (dm.bytes.size() < 3 || dm.name == "magic") continue;
    write_bytes(d + "/val/a/" + dm.name + ".JPEG", dm.bytes);
    ++n;
  }
  // A header that claims 60000x60000 pixels is refused before anything is allocated.
  std::string huge = valid;
  size_t sof = huge.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  for (size_t k : {sof + 5, sof + 7}) {
    huge[k] = char(0xea);  // 0xea60 = 60000
    huge[k + 1] = char(0x60);
  }
  write_bytes(d + "/val/b/huge.JPEG", huge);
  DataOptions o;
  o.dataset = "imagefolder";
  o.root = d;
  o.val_size = 1;
  o.image_size = 32;
  o.workers = 2;
  DataModule m(o, 0);
  auto src = m.loader(Split::kTest, {8, false, torch::kCPU, 0});
  src->start_epoch(0);
  int64_t images = 0;
  while (auto b = src->next()) images += b->y.size(0);
  EXPECT_GE(images, 2);                                        // the two valid ones at least
  EXPECT_LE(images, int64_t(m.split_size(Split::kTest)) - 1);  // the huge one never
  o.strict = true;
  o.root = d;
  remove_tree(d + "/val/a");
  DataModule strict(o, 0);
  auto ss = strict.loader(Split::kTest, {8, false, torch::kCPU, 0});
  EXPECT_NE(error_of([&] {
              ss->start_epoch(0);
              while (ss->next()) {
              }
            }).find("huge.JPEG: its header claims 60000x60000 pixels, over data.max_image_pixels"),
            std::string::npos);
  EXPECT_GT(n, 10);
}

namespace {

// root/{train,val}/{cat,dog}/0..n-1.JPEG: uniform grey (cat 40, dog 200), w x 48.
void make_jpeg_folder(const std::string& root, int n, int w = 64) {
  for (const char* split : {"train", "val"})
    for (const char* cls : {"cat", "dog"}) {
      fs::create_directories(root + "/" + split + "/" + cls);
      for (int i = 0; i < n; ++i)
        write_bytes(root + "/" + split + "/" + cls + "/" + std::to_string(i) + ".JPEG",
                    make_test_jpeg(w, 48, std::string(cls) == "cat" ? 40 : 200));
    }
}

std::string listing_error(const std::string& root) {
  return error_of([&] { list_image_folder(root, /*strict=*/true); });
}

}  // namespace

// Entries that cannot be images: a symlink loop between two files, a link to nothing, a FIFO (opening it
// would block), and a class folder that links to itself. Lenient: each left out and counted; strict: the
// first is named with the reason. A folder link inside a class folder is not followed.
TEST(ImageFolder, LinkLoopsDanglingLinksAndFifosAreLeftOutOrNamed) {
  std::string d = tmpdir("links");
  make_jpeg_folder(d, 2);
  fs::create_symlink("b.JPEG", d + "/train/cat/a.JPEG");
  fs::create_symlink("a.JPEG", d + "/train/cat/b.JPEG");
  fs::create_symlink("nowhere.JPEG", d + "/train/dog/dangling.JPEG");
  ASSERT_EQ(::mkfifo((d + "/train/dog/pipe.JPEG").c_str(), 0644), 0);
  fs::create_symlink("loop", d + "/train/loop");
  fs::create_symlink("..", d + "/train/cat/up");
  auto fl = list_image_folder(d, /*strict=*/false);
  EXPECT_EQ(fl->classes, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(fl->train_paths.size(), 4u);
  EXPECT_EQ(fl->test_paths.size(), 4u);
  EXPECT_EQ(fl->skipped, 5);

  EXPECT_NE(listing_error(d).find("train/loop: cannot resolve (Too many levels of symbolic links)"), std::string::npos)
      << listing_error(d);
  fs::remove(d + "/train/loop");
  EXPECT_NE(listing_error(d).find("cat/a.JPEG: cannot resolve (Too many levels of symbolic links)"), std::string::npos)
      << listing_error(d);
  fs::remove(d + "/train/cat/a.JPEG");
  fs::remove(d + "/train/cat/b.JPEG");
  EXPECT_NE(listing_error(d).find("dog/dangling.JPEG: "), std::string::npos) << listing_error(d);
  fs::remove(d + "/train/dog/dangling.JPEG");
  EXPECT_NE(listing_error(d).find("dog/pipe.JPEG: not a regular file"), std::string::npos) << listing_error(d);
  fs::remove(d + "/train/dog/pipe.JPEG");
  EXPECT_EQ(listing_error(d), "");
}

// A file the user cannot read is named with the reason (not called "not a JPEG"). Root reads anything, so
// the listing runs in a child process that first drops to the unprivileged user 65534.
TEST(ImageFolder, UnreadableFileIsNamedWithTheReason) {
  std::string d = tmpdir("unreadable");
  make_jpeg_folder(d, 2);
  std::string f = d + "/val/dog/secret.JPEG";
  write_bytes(f, make_test_jpeg(64, 48, 200));
  ASSERT_EQ(::chmod(f.c_str(), 0), 0);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(90);
    std::string msg = listing_error(d);
    try {
      msg += "|skipped " + std::to_string(list_image_folder(d, /*strict=*/false)->skipped);
    } catch (const std::exception& e) {
      msg += std::string("|lenient failed: ") + e.what();
    }
    if (::write(fds[1], msg.data(), msg.size()) < 0) ::_exit(91);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 90) GTEST_SKIP() << "cannot drop to user 65534 here";
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(msg.find("secret.JPEG: cannot open (Permission denied) (data.strict = true)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("|skipped 1"), std::string::npos) << msg;
}

// The decode entry point the loader and the fuzzer share: a good image decodes to the requested size,
// bad bytes give a reason and never throw.
TEST(ImageFolder, DecodeJpegImageGivesAReasonForBadBytes) {
  std::string good = make_test_jpeg(80, 48, 200);
  torch::Tensor out;
  for (bool training : {false, true}) {
    JpegDecodeOptions o{24, training, 7, 89478485};
    EXPECT_EQ(decode_jpeg_image(good, o, out), "");
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 24, 24}));
    EXPECT_NEAR(out.to(torch::kFloat).mean().item<float>(), 200, 3);
  }
  JpegDecodeOptions o;
  EXPECT_NE(decode_jpeg_image(good.substr(0, 100), o, out), "");
  EXPECT_NE(decode_jpeg_image("", o, out), "");
  o.max_image_pixels = 80 * 48 - 1;
  EXPECT_NE(decode_jpeg_image(good, o, out).find("over data.max_image_pixels"), std::string::npos);
}

// A training class folder without images: named in strict mode, a warning otherwise (the class keeps its
// label, so the other classes' labels do not shift).
TEST(ImageFolder, EmptyClassFolderIsNamed) {
  std::string d = tmpdir("empty_class");
  make_jpeg_folder(d, 2);
  fs::create_directories(d + "/train/bird");
  auto fl = list_image_folder(d, /*strict=*/false);
  EXPECT_EQ(fl->classes, (std::vector<std::string>{"bird", "cat", "dog"}));
  EXPECT_EQ(fl->train_labels, (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_NE(listing_error(d).find("train/bird: class folder without a readable JPEG image"), std::string::npos)
      << listing_error(d);
}
