// libFuzzer entry: NETADJ_FUZZ_TARGET names the target (scripts/fuzz.sh sets it).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "netadj/util/log.h"
#include "targets.h"

namespace {
const netadj::fuzz::Target* target = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* name = std::getenv("NETADJ_FUZZ_TARGET");
  target = name ? netadj::fuzz::find_target(name) : nullptr;
  if (target == nullptr) {
    std::fprintf(stderr, "set NETADJ_FUZZ_TARGET to one of:");
    for (const auto& t : netadj::fuzz::targets()) std::fprintf(stderr, " %s", t.name);
    std::fprintf(stderr, "\n");
    std::exit(2);
  }
  netadj::logger()->set_level(spdlog::level::off);  // warnings for skipped inputs would drown the output
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  netadj::fuzz::run_one(*target, data, size);
  return 0;
}
