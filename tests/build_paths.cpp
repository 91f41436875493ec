#include "build_paths.h"

// Constant-initialized (before any test file's globals that read them).
namespace netadj::testing_util {
const char* const kNetadjBinary = NETADJ_BINARY_PATH;
const char* const kSourceDir = NETADJ_SOURCE_DIR_PATH;
const char* const kCmakeCommand = NETADJ_CMAKE_COMMAND_PATH;
const char* const kPython = NETADJ_PYTHON_PATH;
const char* const kImportDir = NETADJ_IMPORT_DIR_PATH;
}  // namespace netadj::testing_util
