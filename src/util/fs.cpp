#include "netadj/util/fs.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "netadj/util/error.h"
#include "netadj/util/failpoint.h"

namespace netadj {
namespace fs = std::filesystem;

void write_file_atomic(const std::string& path, const std::string& content) {
  fs::path p(path);
  if (p.has_parent_path()) make_dirs(p.parent_path().string());
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw IoError(path + ": cannot create temp file: " + std::strerror(errno));
  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError(path + ": write failed: " + std::strerror(err));
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw IoError(path + ": cannot flush to disk: " + std::strerror(err));
  }
  if (const int err = failpoint("written", path)) {
    ::unlink(tmp.c_str());
    throw IoError(path + ": write failed: " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw IoError(path + ": cannot rename temp file into place: " + std::strerror(err));
  }
  failpoint("renamed", path);
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw DataError(path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open file (" + std::strerror(errno) + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json(const std::string& path) {
  std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range for a number like 1e99999
    std::string what = e.what();
    auto pos = what.find("parse error");
    throw DataError(path + ": invalid JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  }
}

std::string file_head(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string head(n, '\0');
  if (!in) return "";
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(0, in.gcount())));
  return head;
}

bool is_zip_archive(const std::string& path) { return file_head(path, 4) == std::string("PK\x03\x04", 4); }

std::string file_kind(const std::string& path) {
  if (!file_exists(path)) return "";
  if (is_zip_archive(path)) return "a PyTorch archive (a model, checkpoint or TorchScript file)";
  const std::string head = file_head(path, 512);
  if (head.empty()) return "an empty file";
  size_t i = head.find_first_not_of(" \t\r\n");
  if (i != std::string::npos && (head[i] == '{' || head[i] == '[')) return "a JSON file";
  for (unsigned char c : head)
    if (c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f) return "a binary file";
  return "a text file";
}

void append_bytes(const std::string& path, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) throw IoError(path + ": cannot open for append: " + std::strerror(errno));
  ssize_t n = ::write(fd, bytes.data(), bytes.size());
  int err = errno;
  bool ok = n == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
  ::close(fd);
  // A short write sets no errno: the disk is full. A failed write or fsync says why in errno.
  const bool short_write = n >= 0 && n < static_cast<ssize_t>(bytes.size());
  if (!ok) throw IoError(path + ": append failed: " + std::strerror(short_write ? ENOSPC : err));
  failpoint("appended", path);
}

void append_line(const std::string& path, const std::string& line) { append_bytes(path, line + "\n"); }

bool file_exists(const std::string& path) { return fs::exists(path); }

void remove_tree(const std::string& path) {
  if (!fs::exists(path)) return;
  auto rm = [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); };
  if (::nftw(path.c_str(), rm, 16, FTW_DEPTH | FTW_PHYS) != 0)
    throw IoError(path + ": cannot remove: " + std::strerror(errno));
}

void remove_file(const std::string& path) {
  if (::unlink(path.c_str()) == 0) failpoint("removed", path);
}

void rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw IoError(to + ": cannot rename " + from + " into place: " + std::strerror(errno));
  failpoint("renamed", to);
}

bool link_file(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) != 0) return false;
  failpoint("linked", to);
  return true;
}

bool is_temp_name(const std::string& name) {
  const size_t at = name.rfind(".tmp.");
  return at != std::string::npos && at > 0 && at + 5 < name.size() &&
         name.find_first_not_of("0123456789", at + 5) == std::string::npos;
}

int remove_stale_temp_files(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  std::vector<std::string> stale;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_temp_name(name) || it->is_directory(ec)) continue;
    const long pid = std::strtol(name.c_str() + name.rfind(".tmp.") + 5, nullptr, 10);
    // A live process other than this one may be writing it (netadj report's files, say).
    if (pid != long(::getpid()) && pid > 0 && pid <= INT32_MAX && (::kill(pid_t(pid), 0) == 0 || errno == EPERM))
      continue;
    stale.push_back(it->path().string());
  }
  for (const std::string& f : stale)
    if (::unlink(f.c_str()) == 0) ++removed;
  return removed;
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw IoError(path + ": cannot create directory: " + ec.message());
}

}  // namespace netadj
