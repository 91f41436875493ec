#pragma once
// Where netadj finds its own files at run time: relative to the running binary, in the build tree
// (build/share/netadj/) or the install prefix (<prefix>/bin/netadj -> <prefix>/share/netadj/).
#include <string>
#include <vector>

namespace netadj {

/// Folder of the running executable ("" when unknown).
std::string executable_dir();
/// The first existing <dir>/share/netadj/<relative> for dir = the executable's folder and its parent;
/// "" when none exists.
std::string find_share_file(const std::string& relative);

/// Runs `argv[0]` (searched on PATH) with the arguments as given: no shell, so spaces and quotes in
/// paths are safe. Returns its exit status (127 when it could not be started, 128+N for signal N).
int run_program(const std::vector<std::string>& argv, bool quiet = false);

}  // namespace netadj
