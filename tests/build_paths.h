#pragma once
// Where the tests find the netadj binary, the source tree, CMake and the Python with torch. Only
// build_paths.cpp is compiled with these absolute paths, so every other test object is the same in any
// checkout, and a fresh clone takes it from ccache.
namespace netadj::testing_util {
extern const char* const kNetadjBinary;
extern const char* const kSourceDir;
extern const char* const kCmakeCommand;
extern const char* const kPython;
/// Where the torchvision import fixture (tests/torchvision_fixture.py) writes, once per test run.
extern const char* const kImportDir;
}  // namespace netadj::testing_util

#define NETADJ_BINARY ::netadj::testing_util::kNetadjBinary
#define NETADJ_SOURCE_DIR ::netadj::testing_util::kSourceDir
#define NETADJ_CMAKE_COMMAND ::netadj::testing_util::kCmakeCommand
#define NETADJ_PYTHON ::netadj::testing_util::kPython
