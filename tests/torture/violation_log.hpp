// The fault-torture runner's record of violations: every broken promise is
// counted and described with the cycle and fault it happened in, and the run
// goes on (the point is to find all of them in one run, not the first).
// Thread-safe: the consumer threads report into it while the main thread
// injects faults.
#pragma once

#include <cstdint>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

namespace wabridge::torture {

struct violation {
  int cycle = 0;
  std::string fault;
  std::string what;
};

class violation_log {
 public:
  /// Stored descriptions are capped (a systematic bug could produce millions);
  /// the count is not.
  static constexpr size_t max_kept = 500;

  /// The cycle and fault that later reports are attributed to.
  void set_context(int cycle, std::string fault) {
    std::lock_guard<std::mutex> lock(mutex_);
    cycle_ = cycle;
    fault_ = std::move(fault);
  }

  void add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++count_;
    // Printed at once: a long run may be stopped before its summary.
    std::cerr << "VIOLATION cycle=" << cycle_ << " fault=" << fault_ << ": " << what << std::endl;
    if (kept_.size() < max_kept) kept_.push_back(violation{cycle_, fault_, what});
  }

  uint64_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }

  std::vector<violation> kept() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return kept_;
  }

 private:
  mutable std::mutex mutex_;
  int cycle_ = 0;
  std::string fault_ = "start";
  uint64_t count_ = 0;
  std::vector<violation> kept_;
};

}  // namespace wabridge::torture
