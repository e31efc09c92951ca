// Reporting C++ exceptions at the C boundary: every entry point Rust calls is noexcept and
// turns an exception into -1 with its message, never unwinding into Rust.
#pragma once

#include <cstddef>
#include <cstring>
#include <exception>

namespace resnet {

inline void report(const char* message, char* error, size_t error_len) {
  if (error_len > 0) {
    std::strncpy(error, message, error_len - 1);
    error[error_len - 1] = '\0';
  }
}

// Runs `body`: 0 when it returns, -1 with the exception's message in `error` when it throws.
template <typename Body>
int guarded(char* error, size_t error_len, Body&& body) noexcept {
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    report(e.what(), error, error_len);
  } catch (...) {
    report("unknown C++ exception", error, error_len);
  }
  return -1;
}

}  // namespace resnet
