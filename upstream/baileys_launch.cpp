#include "upstream/baileys_launch.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace wabridge::upstream {
namespace {

namespace fs = std::filesystem;

bool path_exists(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

}  // namespace

std::string find_sidecar_dir(const std::string& configured, const std::string& self_exe) {
  if (!configured.empty()) return configured;
  const fs::path exe_dir = fs::path(self_exe).parent_path();
  const fs::path candidates[] = {exe_dir / ".." / "sidecar" / "baileys",
                                 exe_dir / "sidecar" / "baileys",
                                 exe_dir / ".." / "share" / "wabridge" / "sidecar" / "baileys"};
  for (const auto& dir : candidates) {
    if (path_exists(dir / "index.js")) return dir.lexically_normal().string();
  }
  return candidates[0].lexically_normal().string();
}

caf::error check_sidecar_installed(const std::string& dir) {
  const fs::path root(dir);
  if (!path_exists(root / "index.js"))
    return make_error(errc::io_failure, "no Baileys sidecar in " + dir +
                                            " (index.js missing; set account.baileys.sidecar_dir)");
  if (!path_exists(root / "node_modules" / "@whiskeysockets" / "baileys"))
    return make_error(errc::io_failure, "the Baileys sidecar in " + dir +
                                            " is not installed: run `npm ci --prefix " + dir +
                                            "` (scripts/setup.sh does)");
  return {};
}

std::string media_dir(const account_config& account, const std::string& account_dir) {
  return account.baileys.media_dir.empty() ? account_dir + "/media" : account.baileys.media_dir;
}

std::string sidecar_settings_json(const baileys_config& baileys) {
  nlohmann::json settings{{"mode", to_string(baileys.mode)},
                          {"allowedUsers", baileys.allowed_users},
                          {"pairPhone", baileys.pair_phone},
                          {"reconnectInitialMs", baileys.reconnect_initial.count()},
                          {"reconnectMaxMs", baileys.reconnect_max.count()},
                          {"receiptAfterSpool", baileys.receipt_after_spool}};
  return settings.dump();
}

std::string sidecar_state_dir(const std::string& account_dir) {
  return account_dir + "/baileys";
}

caf::expected<int> lock_sidecar_state(const std::string& state_dir) {
  const fs::path dir(state_dir);
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  if (ec)
    return make_error(errc::io_failure,
                      "cannot create " + dir.parent_path().string() + ": " + ec.message());
  // 0700: the directory holds the account's WhatsApp login.
  if (::mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(errc::io_failure, "cannot create " + state_dir + ": " + std::strerror(errno));
  const std::string path = state_dir + "/sidecar.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(errc::io_failure, "cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK)
      return make_error(errc::upstream_unavailable,
                        "an earlier sidecar of this account is still running (it holds " + path +
                            " while it writes its spool); starting once it has exited");
    return make_error(errc::io_failure, "cannot lock " + path + ": " + std::strerror(saved));
  }
  return fd;
}

std::vector<std::string> sidecar_argv(const account_config& account, const std::string& account_dir,
                                      const std::string& sidecar_dir) {
  return {account.baileys.node, sidecar_dir + "/index.js",
          "--account",          account.name,
          "--state-dir",        sidecar_state_dir(account_dir),
          "--media-dir",        media_dir(account, account_dir),
          "--settings",         sidecar_settings_json(account.baileys)};
}

}  // namespace wabridge::upstream
