// What "the file changed" means for stale-code detection (SPEC §1): device,
// inode, size and modification time. A rename install changes the inode, an
// unlink-and-copy install too, and anything that rewrites or touches the file
// changes size or mtime. Pure values; stat_identity() is the only syscall.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace wabridge::supervisor {

struct file_identity {
  uint64_t device = 0;
  uint64_t inode = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;

  bool operator==(const file_identity& other) const {
    return device == other.device && inode == other.inode && size == other.size &&
           mtime_ns == other.mtime_ns;
  }
  bool operator!=(const file_identity& other) const { return !(*this == other); }
};

/// stat(2) of `path` (following symlinks); nullopt when it cannot be stat'ed
/// (e.g. between the unlink and the copy of an install).
std::optional<file_identity> stat_identity(const std::string& path);

/// The path of the running executable (/proc/self/exe). After a rename
/// install the link reads "<path> (deleted)"; the suffix is dropped, since
/// the path is where the new binary now lives. "wabridge" if unreadable.
std::string running_binary_path();

/// "dev=8:1 ino=1234 size=5678 mtime=1700000000.123456789"
std::string to_string(const file_identity& id);

/// Debounces a watched file: a change counts only once the same new identity
/// has been seen on two consecutive checks, so a copy in progress is not
/// acted on half-written. Single-threaded.
class change_detector {
 public:
  explicit change_detector(std::optional<file_identity> running) : running_(running) {}

  /// Feeds one observation; true when a settled change is detected (the
  /// caller then decides and calls reset() or reject()).
  bool observe(const std::optional<file_identity>& now);

  /// The settled new identity (valid after observe() returned true).
  const std::optional<file_identity>& candidate() const { return candidate_; }

  /// The file as it is now (`id`) was rejected (e.g. an invalid config): do
  /// not report it again until the file changes once more.
  void reject(std::optional<file_identity> id) {
    rejected_ = id;
    candidate_.reset();
    seen_once_ = false;
  }

  /// The file as it is now (`id`) was taken into use: it is the running
  /// identity from here on.
  void reset(std::optional<file_identity> id) {
    running_ = id;
    candidate_.reset();
    rejected_.reset();
    seen_once_ = false;
  }

 private:
  std::optional<file_identity> running_;
  std::optional<file_identity> candidate_;
  std::optional<file_identity> rejected_;
  bool seen_once_ = false;
};

}  // namespace wabridge::supervisor
