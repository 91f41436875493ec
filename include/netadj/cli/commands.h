#pragma once
// Subcommand entry points; main.cpp only parses arguments and calls these.
#include <string>
#include <vector>

namespace netadj::cli {

struct Common {
  std::string config;
  std::vector<std::string> sets;
  std::string channels;  ///< channel file (flops/train/fur/adjust)
  bool json = false;
};

int cmd_config(const Common& c);
int cmd_flops(const Common& c, const std::string& compare_a, const std::string& compare_b);

}  // namespace netadj::cli
