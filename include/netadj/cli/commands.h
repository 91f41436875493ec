#pragma once
// Subcommand entry points; main.cpp only parses arguments and calls these.
#include <string>
#include <vector>

namespace netadj::cli {

struct Common {
  std::string config;
  std::vector<std::string> sets;
  std::string channels;  ///< channel file (flops/train/fur/adjust)
  std::string out;       ///< run directory (search/train)
  std::string resume;    ///< run directory to continue (search/train)
  bool json = false;
};

int cmd_config(const Common& c);
int cmd_flops(const Common& c, const std::string& compare_a, const std::string& compare_b);
int cmd_search(const Common& c);
int cmd_train(const Common& c);
int cmd_fur(const Common& c, const std::string& checkpoint);
int cmd_adjust(const Common& c, const std::string& fur_file, int iteration, const std::string& init_file);
int cmd_bench_train(const Common& c, int warmup, int steps);
int cmd_bench_data(const Common& c, int batches);
int cmd_bench_flops(const Common& c, int evals);
/// Microseconds per optimizer step: torch::optim::SGD vs netadj's _foreach_ and fused steps, same process.
int cmd_bench_optim(const Common& c, int steps);
int cmd_report(const std::string& run_dir);

}  // namespace netadj::cli
