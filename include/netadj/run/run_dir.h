#pragma once
// The one way to start or resume a run directory (search, train, compare, bench search). Rank 0 names the
// directory and holds an OS lock on DIR/.lock for as long as it lives (flock: the kernel drops it when the
// process ends, also by SIGKILL, so a crashed run resumes), and the other ranks take its name: two processes
// can never write one run. It is opened from a RunSession, whose construction ran every check that can fail,
// so a failed start leaves no directory behind; a process removes only what it made, under its lock.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "netadj/config/config.h"
#include "netadj/records/records.h"

namespace netadj {
class RunSession;

class RunDir {
 public:
  /// A new run of the session's config in `out`, or in <runtime.out_dir>/<runtime.name or the
  /// arch><suffix>-<timestamp> when `out` is empty (-2, -3, ... when another run took that name). Refuses
  /// (ConfigError, exit 2) a directory that holds a run already (has config.json) or that another live
  /// process holds. `begin` writes the files that make the directory a run (config.json, ...): when it or a
  /// check fails, what this start made is removed (the directory too, when it made it), and nothing else.
  /// `replace` (bench runs): a run already in `out` is removed under the lock instead of refused.
  static RunDir create(const RunSession& session, const std::string& out, const std::string& suffix,
                       const std::function<void(const RunDir&)>& begin, bool replace = false);
  /// The interrupted run in `dir`, whose config the session was made from (read_resumed_config). Refuses
  /// (exit 2) a directory that another live process holds. Removes the temp files a crash left.
  static RunDir resume(const RunSession& session, const std::string& dir);

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  /// Whether this process writes the run: rank 0 of its job (the other ranks read what it wrote). The
  /// writers below do nothing in the other processes, so callers do not ask.
  bool writes() const { return writes_; }
  /// `name` (relative to the run directory) written atomically: a JSON file, a record with schema_version.
  void write_json(const std::string& name, const nlohmann::json& j) const;
  void write_record(const std::string& name, const nlohmann::json& record) const;
  /// A folder of the run, with its parents.
  void make_dirs(const std::string& name) const;
  /// A file of the run, when it exists.
  void remove(const std::string& name) const;
  /// A folder of this run that is a run of its own (compare's runs/<name>_s<seed>): the same lock and writer.
  RunDir sub(const std::string& name) const { return RunDir(file(name), lock_, writes_); }

 private:
  RunDir(std::string path, std::shared_ptr<int> lock, bool writes)
      : path_(std::move(path)), lock_(std::move(lock)), writes_(writes) {}
  std::string path_;
  std::shared_ptr<int> lock_;  ///< rank 0's locked descriptor; closed, and so unlocked, with the last copy
  bool writes_ = true;
};

/// Pins model.weights in `dir`: writes weights.json when the run begins; when it resumes, checks that the file
/// still has the recorded size and CRC-32 (DataError naming both files otherwise), so a run never continues from
/// other weights than it began with. Nothing without model.weights.
void pin_weights(const WeightsRecord& w, const RunDir& dir);

/// The config of the run in `dir` (its config.json); ConfigError "DIR: not a run directory (no config.json)"
/// when there is none.
Config read_resumed_config(const std::string& dir);

}  // namespace netadj
