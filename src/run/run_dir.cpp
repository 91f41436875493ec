#include "netadj/run/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>

#include "netadj/distributed/distributed.h"
#include "netadj/run/records.h"
#include "netadj/run/session.h"
#include "netadj/util/error.h"
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

RunDir RunDir::create(const RunSession& session, const std::string& out, const std::string& suffix) {
  session.check_trainable();
  std::shared_ptr<int> lock;
  std::string dir = agree(session.world(), "run_dir:" + suffix + ":" + out, [&] {
    std::string d = out.empty() ? new_default_dir(session.config(), suffix) : out;
    const bool created = !out.empty() && make_new_dir(d);
    try {
      lock = lock_dir(d);
      if (file_exists(d + "/config.json"))
        throw ConfigError(d + ": already holds a run; use --resume " + d + " or another --out");
    } catch (const Error&) {
      if (created || out.empty()) remove_tree(d);  // it was made for this run: leave nothing behind
      throw;
    }
    return d;
  });
  return RunDir(dir, lock, session.world().root());
}

RunDir RunDir::resume(const RunSession& session, const std::string& dir) {
  session.check_trainable();
  std::shared_ptr<int> lock;
  agree(session.world(), "run_dir:resume:" + dir, [&] {
    lock = lock_dir(dir);
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

Config read_resumed_config(const std::string& dir) {
  const std::string f = dir + "/config.json";
  if (!file_exists(f)) throw ConfigError(dir + ": not a run directory (no config.json)");
  return load_config(f, {});
}

}  // namespace netadj
