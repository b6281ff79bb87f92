// How the worker starts an account's Baileys sidecar (sidecar/baileys/,
// docs/sidecar.md): where the sidecar is installed, whether it is usable,
// and the argv that carries the account's settings to it. Pure functions
// over the config and the file system; safe from any thread.
#pragma once

#include "common/error.hpp"
#include "config/config.hpp"

#include <string>
#include <vector>

namespace wabridge::upstream {

/// The sidecar's directory: `configured` when set, else the first of
/// <exe dir>/../sidecar/baileys (a build tree inside the checkout),
/// <exe dir>/sidecar/baileys and <exe dir>/../share/wabridge/sidecar/baileys
/// that holds index.js (the first of them when none does).
std::string find_sidecar_dir(const std::string& configured, const std::string& self_exe);

/// An error naming what to run when `dir` holds no installed sidecar
/// (index.js or its node_modules missing); empty when it looks usable.
caf::error check_sidecar_installed(const std::string& dir);

/// Where the account's media files go: baileys.media_dir, else <account_dir>/media.
std::string media_dir(const account_config& account, const std::string& account_dir);

/// The --settings JSON of the sidecar: mode, allowedUsers, pairPhone,
/// reconnectInitialMs, reconnectMaxMs, receiptAfterSpool (docs/sidecar.md,
/// "Command line").
std::string sidecar_settings_json(const baileys_config& baileys);

/// The sidecar's state directory: <account_dir>/baileys (auth and spool).
std::string sidecar_state_dir(const std::string& account_dir);

/// Takes the exclusive flock on <state_dir>/sidecar.lock without waiting,
/// creating state_dir (mode 0700) if needed. At most one sidecar may use a
/// state dir: a sidecar whose worker was killed still writes its spool and
/// saves its credentials before it exits, and a second one compacting the
/// same spool meanwhile would drop what the first appends. The caller passes
/// the fd to the sidecar it spawns (which then holds the lock until it exits)
/// and closes its own copy. Returns the fd, or an error saying who holds it.
caf::expected<int> lock_sidecar_state(const std::string& state_dir);

/// node <dir>/index.js --account A --state-dir <account_dir>/baileys
///   --media-dir M --settings JSON
std::vector<std::string> sidecar_argv(const account_config& account, const std::string& account_dir,
                                      const std::string& sidecar_dir);

}  // namespace wabridge::upstream
