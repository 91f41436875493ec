#include "netadj/run/run_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <set>

#include "netadj/distributed/distributed.h"
#include "netadj/records/records.h"
#include "netadj/run/session.h"
#include "netadj/util/error.h"
#include "netadj/util/failpoint.h"
#include "netadj/util/fs.h"

namespace netadj {
namespace {

// DIR/.lock, held with flock() for as long as the descriptor is open: by this process until it ends.
std::shared_ptr<int> lock_dir(const std::string& dir) {
  const std::string f = dir + "/.lock";
  int fd = ::open(f.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(f + ": cannot create the run's lock file: " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {};
    const ssize_t n = ::pread(fd, pid, sizeof(pid) - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(pid, size_t(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (err == EWOULDBLOCK)
      throw ConfigError(dir + ": in use by another netadj process" + (holder.empty() ? "" : " (pid " + holder + ")") +
                        "; wait for it to end, or stop it and use --resume " + dir);
    throw IoError(f + ": cannot lock: " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    const int err = errno;
    ::close(fd);
    throw IoError(f + ": cannot write: " + std::strerror(err));
  }
  return {new int(fd), [](int* p) {
            ::close(*p);
            delete p;
          }};
}

// Creates `dir` itself (its parent may exist); false when it was there already.
bool make_new_dir(const std::string& dir) {
  const size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_dirs(dir.substr(0, slash));
  if (::mkdir(dir.c_str(), 0755) == 0) return true;
  if (errno == EEXIST) return false;
  throw IoError(dir + ": cannot create the run directory: " + std::strerror(errno));
}

// The names in `dir` (not . and ..).
std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.insert(e->d_name);
    ::closedir(d);
  }
  return out;
}

// A start that failed after it took the lock on `dir` takes back what it made there, and only that: the
// entries that were not there when it locked (`before`), and the directory itself when it made it and nothing
// else is left. Called with the lock held, so no other netadj process writes there meanwhile.
void undo_start(const std::string& dir, const std::set<std::string>& before, bool created) {
  for (const std::string& name : entries(dir))
    if (!before.count(name)) remove_tree(dir + "/" + name);
  if (created && entries(dir).empty()) ::rmdir(dir.c_str());
}

// Rank 0's part of a start: make or take `d`, lock it, check it holds no run, clear a crashed start's temp files
// and run `begin`; a failure removes what this start made and nothing that another process made (the directory
// it created may have been taken by a process that locked it first).
std::shared_ptr<int> start_in(const std::string& d, bool created, bool replace,
                              const std::function<void(const RunDir&)>& begin,
                              const std::function<RunDir(std::shared_ptr<int>)>& writer) {
  if (created) failpoint("created", "run directory");
  const bool had_lock = file_exists(d + "/.lock");
  std::shared_ptr<int> lock = lock_dir(d);  // "in use": another process's; nothing here is this start's
  failpoint("locked", d + "/.lock");
  if (replace)  // the earlier run in it goes, under this lock: never one that a live process holds
    for (const std::string& name : entries(d))
      if (name != ".lock") remove_tree(d + "/" + name);
  std::set<std::string> before = entries(d);
  if (!had_lock) before.erase(".lock");
  try {
    if (file_exists(d + "/config.json"))
      throw ConfigError(d + ": already holds a run; use --resume " + d + " or another --out");
    remove_stale_temp_files(d);
    if (begin) begin(writer(lock));
  } catch (...) {
    undo_start(d, before, created);
    throw;
  }
  return lock;
}

// <out_dir>/<name><suffix>-<timestamp>, with -2, -3, ... when another run took that name this second.
std::string new_default_dir(const Config& cfg, const std::string& suffix) {
  std::time_t now = std::time(nullptr);
  char ts[32];
  std::strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", std::localtime(&now));
  const std::string name = cfg.runtime.name.empty() ? cfg.model.arch : cfg.runtime.name;
  const std::string base = cfg.runtime.out_dir + "/" + name + suffix + "-" + ts;
  for (int i = 1; i < 1000; ++i) {
    std::string dir = i == 1 ? base : base + "-" + std::to_string(i);
    if (make_new_dir(dir)) return dir;
  }
  throw IoError(base + ": cannot find a free run directory name");
}

// Rank 0 decides; every rank gets the directory, or rank 0's error with its exit code.
std::string agree(const dist::World& world, const std::string& key, const std::function<std::string()>& decide) {
  if (!world.distributed()) return decide();
  std::string answer;
  if (world.root()) {
    try {
      answer = "ok:" + decide();
    } catch (const Error& e) {
      world.share(key, "error:" + std::to_string(int(e.code())) + ":" + e.what());
      throw;
    }
  }
  answer = world.share(key, answer);
  if (answer.rfind("error:", 0) == 0) {
    const size_t colon = answer.find(':', 6);
    throw Error(static_cast<ExitCode>(std::stoi(answer.substr(6, colon - 6))), answer.substr(colon + 1));
  }
  return answer.substr(3);
}

}  // namespace

RunDir RunDir::create(const RunSession& session, const std::string& out, const std::string& suffix,
                      const std::function<void(const RunDir&)>& begin, bool replace) {
  session.check_trainable();
  std::shared_ptr<int> lock;
  std::string dir = agree(session.world(), "run_dir:" + suffix + ":" + out, [&] {
    const std::string d = out.empty() ? new_default_dir(session.config(), suffix) : out;
    const bool created = out.empty() || make_new_dir(d);
    lock = start_in(d, created, replace, begin, [&](std::shared_ptr<int> l) { return RunDir(d, std::move(l), true); });
    return d;
  });
  return RunDir(dir, lock, session.world().root());
}

RunDir RunDir::resume(const RunSession& session, const std::string& dir) {
  session.check_trainable();
  std::shared_ptr<int> lock;
  agree(session.world(), "run_dir:resume:" + dir, [&] {
    lock = lock_dir(dir);
    failpoint("locked", dir + "/.lock");
    remove_stale_temp_files(dir);  // a crash between a temp file and its rename
    return dir;
  });
  return RunDir(dir, lock, session.world().root());
}

void RunDir::write_json(const std::string& name, const nlohmann::json& j) const {
  if (writes_) write_json_atomic(file(name), j);
}

void RunDir::write_record(const std::string& name, const nlohmann::json& record) const {
  if (writes_) netadj::write_record(file(name), record);
}

void RunDir::make_dirs(const std::string& name) const {
  if (writes_) netadj::make_dirs(file(name));
}

void RunDir::remove(const std::string& name) const {
  if (writes_) remove_file(file(name));
}

void pin_weights(const WeightsRecord& w, const RunDir& dir) {
  if (w.path.empty()) return;
  const std::string file = dir.file("weights.json");
  if (!file_exists(file)) {
    dir.write_record("weights.json", nlohmann::json(w));
    return;
  }
  const WeightsRecord began = read_record_as<WeightsRecord>(file);
  if (began.bytes != w.bytes || began.crc32 != w.crc32)
    throw DataError(fmt::format(
        "{}: {} bytes with CRC-32 {:08x}, but the run began from {} bytes with CRC-32 {:08x} ({}): it would continue "
        "from other weights; restore them or start a new run",
        w.path, w.bytes, uint32_t(w.crc32), began.bytes, uint32_t(began.crc32), file));
}

Config read_resumed_config(const std::string& dir) {
  const std::string f = dir + "/config.json";
  if (!file_exists(f)) throw ConfigError(dir + ": not a run directory (no config.json)");
  return load_config(f, {});
}

}  // namespace netadj
