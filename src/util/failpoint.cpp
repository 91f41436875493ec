#include "netadj/util/failpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace netadj {

std::string failpoint_name(const std::string& step, const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  // <file>.tmp.<pid>: the temp name of <file>
  const size_t tmp = file.rfind(".tmp.");
  if (tmp != std::string::npos && tmp + 5 < file.size() &&
      file.find_first_not_of("0123456789", tmp + 5) == std::string::npos)
    file.resize(tmp);
  // events.out.tfevents.<time>.<host>.<pid>.netadj: one name whatever the host
  if (file.rfind("events.out.tfevents.", 0) == 0) file = "events.out.tfevents";
  std::string name = step + ":";
  for (size_t i = 0; i < file.size(); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(file[i])) != 0;
    if (!digit)
      name += file[i];
    else if (i == 0 || !std::isdigit(static_cast<unsigned char>(file[i - 1])))
      name += 'N';
  }
  return name;
}

#ifdef NETADJ_FAILPOINTS

namespace {

struct Armed {
  std::string name;  ///< the armed point ("" : none)
  long hit = 1;      ///< at its hit-th pass
  std::string action = "kill";
  std::string trace;  ///< NETADJ_FAILPOINT_TRACE
  long passes = 0;
  std::mutex mutex;
};

Armed& armed() {
  static Armed* a = [] {
    auto* x = new Armed;  // never destroyed: points pass during static destruction too
    const char* spec = std::getenv("NETADJ_FAILPOINT");
    std::string s = spec ? spec : "";
    const size_t hash = s.rfind('#');
    if (hash != std::string::npos) {
      x->hit = std::max(1L, std::strtol(s.c_str() + hash + 1, nullptr, 10));
      s.resize(hash);
    }
    x->name = s;
    if (const char* act = std::getenv("NETADJ_FAILPOINT_ACTION"); act && *act) x->action = act;
    if (const char* t = std::getenv("NETADJ_FAILPOINT_TRACE")) x->trace = t;
    return x;
  }();
  return *a;
}

void trace(const std::string& file, const std::string& name) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const std::string line = name + "\n";
  (void)!::write(fd, line.data(), line.size());
  ::close(fd);
}

}  // namespace

int failpoint(const std::string& step, const std::string& path) {
  Armed& a = armed();
  if (a.name.empty() && a.trace.empty()) return 0;
  const std::string name = failpoint_name(step, path);
  std::lock_guard<std::mutex> lock(a.mutex);
  if (!a.trace.empty()) trace(a.trace, name);
  if (name != a.name || ++a.passes != a.hit) return 0;
  if (a.action.rfind("sleep:", 0) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::strtol(a.action.c_str() + 6, nullptr, 10)));
    return 0;
  }
  if (a.action == "enospc") return ENOSPC;
  ::kill(::getpid(), SIGKILL);
  for (;;) ::pause();  // SIGKILL is not delivered later than this
}

#else

int failpoint(const std::string&, const std::string&) { return 0; }

#endif

}  // namespace netadj
