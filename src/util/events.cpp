// TensorBoard event files: TFRecord framing around hand-encoded `Event` protobufs (see events.h).
#include "netadj/util/events.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

#include "netadj/util/error.h"
#include "netadj/util/fs.h"
#include "netadj/util/protobuf.h"

namespace netadj {

namespace {

std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    t[i] = c;
  }
  return t;
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char h[256] = {};
  if (::gethostname(h, sizeof(h) - 1) != 0 || !h[0]) return "localhost";
  std::string s(h);
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const std::string& bytes) {
  const uint32_t c = crc32c(bytes.data(), bytes.size());
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// Event: wall_time = 1 (double), step = 2 (int64), file_version = 3 (string), summary = 5 (Summary).
// Summary: value = 1 (repeated Value). Value: tag = 1 (string), simple_value = 2 (float).
std::string encode_event(double wall_time, int64_t step, const std::vector<Scalar>& values) {
  ProtoWriter e;
  e.float64(1, wall_time).varint(2, step);
  if (values.empty()) return e.bytes(3, "brain.Event:2").str();
  ProtoWriter summary;
  for (const Scalar& s : values) summary.message(1, ProtoWriter().bytes(1, s.tag).float32(2, float(s.value)));
  return e.message(5, summary).str();
}

std::string tf_record(const std::string& data) {
  const uint64_t n = data.size();
  std::string len(reinterpret_cast<const char*>(&n), sizeof(n));  // little-endian, as the format is
  auto fixed32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof(v)); };
  return len + fixed32(masked_crc32c(len)) + data + fixed32(masked_crc32c(data));
}

std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.find("tfevents") != std::string::npos && name[0] != '.' && !is_temp_name(name))
      out.push_back(dir + "/" + name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// The new file is written whole under a temporary name; the old ones go before it takes its name, so a crash
// in between leaves no event file (the next start writes it again), never two copies of a step.
EventWriter EventWriter::open(const std::string& dir, const std::vector<ScalarStep>& history) {
  const double now = unix_seconds();
  std::string content = tf_record(encode_event(now, 0, {}));
  for (const ScalarStep& s : history) content += tf_record(encode_event(now, s.step, s.values));
  EventWriter w;
  w.path_ = dir + "/events.out.tfevents." + std::to_string(int64_t(now)) + "." + host_name() + "." +
            std::to_string(::getpid()) + ".netadj";
  // A temp name of the new file's own (<file>.tmp.<pid>), so a crash here leaves garbage a resume recognizes.
  const std::string tmp = w.path_ + ".tmp." + std::to_string(::getpid());
  write_file_atomic(tmp, content);
  for (const std::string& f : event_files(dir)) remove_file(f);
  rename_file(tmp, w.path_);
  return w;
}

void EventWriter::write(const ScalarStep& s) const {
  if (path_.empty()) return;
  append_bytes(path_, tf_record(encode_event(unix_seconds(), s.step, s.values)));
}

}  // namespace netadj
