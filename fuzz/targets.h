#pragma once
// Fuzz targets: one per place where bytes from outside enter netadj. Each takes an arbitrary input and
// must either accept it or throw netadj::Error (a clear error naming the file); anything else (a crash,
// a sanitizer report, another exception) is a finding. The same functions run under libFuzzer
// (fuzz/main.cpp, scripts/fuzz.sh) and in the GoogleTest that replays tests/corpus/<target>/.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace netadj::fuzz {

struct Target {
  const char* name;
  const char* what;
  /// Runs one input; returns normally when it was accepted or refused with netadj::Error.
  void (*run)(const uint8_t* data, size_t size);
};

/// Every target, in a fixed order.
const std::vector<Target>& targets();
/// nullptr when there is no target of that name.
const Target* find_target(const std::string& name);
/// Runs one input and swallows netadj::Error (the expected refusal); returns true when it was refused.
bool run_one(const Target& t, const uint8_t* data, size_t size);

}  // namespace netadj::fuzz
