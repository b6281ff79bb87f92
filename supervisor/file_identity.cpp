#include "supervisor/file_identity.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace wabridge::supervisor {

std::optional<file_identity> stat_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  file_identity id;
  id.device = st.st_dev;
  id.inode = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return id;
}

std::string to_string(const file_identity& id) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "dev=%u:%u ino=%llu size=%lld mtime=%lld.%09lld",
                ::major(id.device), ::minor(id.device), static_cast<unsigned long long>(id.inode),
                static_cast<long long>(id.size),
                static_cast<long long>(id.mtime_ns / 1'000'000'000),
                static_cast<long long>(id.mtime_ns % 1'000'000'000));
  return buf;
}

bool change_detector::observe(const std::optional<file_identity>& now) {
  if (!now || now == running_ || now == rejected_) {
    // Missing (mid-install), unchanged, or a change already rejected.
    if (now == running_) candidate_.reset();
    seen_once_ = false;
    return false;
  }
  if (seen_once_ && now == candidate_) {
    seen_once_ = false;
    return true;
  }
  candidate_ = now;
  seen_once_ = true;
  return false;
}

std::string running_binary_path() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string path = ec ? std::string("wabridge") : p.string();
  // After a rename install the link reads "<path> (deleted)": the path is
  // still where the new binary lives.
  const std::string deleted = " (deleted)";
  if (path.size() > deleted.size() &&
      path.compare(path.size() - deleted.size(), deleted.size(), deleted) == 0)
    path.resize(path.size() - deleted.size());
  return path;
}

}  // namespace wabridge::supervisor
