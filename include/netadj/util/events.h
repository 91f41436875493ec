#pragma once
// TensorBoard event files, written without TensorBoard or protobuf: the TFRecord framing (length, masked
// CRC-32C of the length, data, masked CRC-32C of the data) around hand-encoded `tensorflow.Event` messages
// that carry scalar summaries (`Summary.Value.simple_value`). TensorBoard reads every file named
// `*tfevents*` under its --logdir; each folder holding them is one "run".
#include <cstdint>
#include <string>
#include <vector>

namespace netadj {

struct Scalar {
  std::string tag;  ///< e.g. "train/loss"; a '/' groups the charts
  double value = 0;
};

/// The scalars of one step (an epoch, a search iteration).
struct ScalarStep {
  int64_t step = 0;
  std::vector<Scalar> values;
};

/// CRC-32C (Castagnoli) of `n` bytes, and the masked form TFRecord stores.
uint32_t crc32c(const void* data, size_t n);
uint32_t masked_crc32c(const std::string& bytes);
/// One `Event` message: wall time, step and the scalars as a summary (no scalars: the file_version event).
std::string encode_event(double wall_time, int64_t step, const std::vector<Scalar>& values);
/// The TFRecord framing of one serialized message.
std::string tf_record(const std::string& data);

/// Writes a folder's event file. Opening it starts a fresh file holding `history` (what the run's records
/// already hold) and removes the folder's older event files, so that after a resume each step is on disk
/// once; later steps are appended and flushed as they come. A default-constructed writer writes nothing
/// (ranks other than 0, runs without a folder). Failures throw IoError naming the file.
class EventWriter {
 public:
  EventWriter() = default;
  static EventWriter open(const std::string& dir, const std::vector<ScalarStep>& history);
  void write(const ScalarStep& s) const;
  const std::string& path() const { return path_; }
  explicit operator bool() const { return !path_.empty(); }

 private:
  std::string path_;
};

/// The event files in `dir` (names holding "tfevents"), sorted.
std::vector<std::string> event_files(const std::string& dir);

}  // namespace netadj
