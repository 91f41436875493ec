#pragma once
// The message of the exception of type E that `f` throws, or "" when it throws none (so a test that looks for
// a phrase in it fails).
#include <functional>
#include <string>

namespace netadj::testing_util {

template <class E>
std::string error_text(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

}  // namespace netadj::testing_util
