#pragma once
// Project error types. Each carries the process exit code that `main` returns, and a one-line message
// that names the file or key and what is wrong.
#include <stdexcept>
#include <string>

namespace netadj {

/// Documented exit codes of the `netadj` binary.
enum class ExitCode : int {
  kOk = 0,
  kRuntime = 1,        ///< anything unexpected
  kUsage = 2,          ///< bad command line or config
  kData = 3,           ///< missing or corrupt dataset / input file
  kNumeric = 4,        ///< non-finite loss or similar numeric failure
  kIo = 5,             ///< cannot write results (disk full, permissions)
  kInterrupted = 130,  ///< stopped by SIGINT/SIGTERM after saving a checkpoint (128 + SIGINT, as shells do)
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

/// Bad config value or usage: names the key path.
struct ConfigError : Error {
  explicit ConfigError(const std::string& msg) : Error(ExitCode::kUsage, msg) {}
};
/// Missing or malformed input file: names the file.
struct DataError : Error {
  explicit DataError(const std::string& msg) : Error(ExitCode::kData, msg) {}
};
/// Training diverged (NaN/Inf).
struct NumericError : Error {
  explicit NumericError(const std::string& msg) : Error(ExitCode::kNumeric, msg) {}
};
/// Writing results failed.
struct IoError : Error {
  explicit IoError(const std::string& msg) : Error(ExitCode::kIo, msg) {}
};

}  // namespace netadj
