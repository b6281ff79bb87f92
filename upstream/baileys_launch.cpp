#include "upstream/baileys_launch.hpp"

#include <nlohmann/json.hpp>

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
                          {"reconnectMaxMs", baileys.reconnect_max.count()}};
  return settings.dump();
}

std::vector<std::string> sidecar_argv(const account_config& account, const std::string& account_dir,
                                      const std::string& sidecar_dir) {
  return {account.baileys.node, sidecar_dir + "/index.js",
          "--account",          account.name,
          "--state-dir",        account_dir + "/baileys",
          "--media-dir",        media_dir(account, account_dir),
          "--settings",         sidecar_settings_json(account.baileys)};
}

}  // namespace wabridge::upstream
