// `wabridge pair --account NAME`: links a Baileys account to a phone. With a
// bridge running it asks the worker (POST/GET /pairing) and draws the QR code
// the running sidecar shows; without one it runs the account's sidecar itself
// (holding the data dir's lock) until the phone is linked. Either way it exits
// 0 once linked, 1 when not linked in time or pairing failed, 2 when the
// account cannot be paired (unknown, or not a Baileys account).
// Single-threaded; owns the sidecar it starts.
#pragma once

#include "common/duration.hpp"
#include "config/config.hpp"

#include <string>

namespace wabridge {

struct pair_options {
  std::string account;
  std::string phone;  // pair by code for this number instead of by QR (standalone only)
  millis timeout{300'000};
  std::string url;       // "" = http://<bridge.listen>
  std::string self_exe;  // this binary (the sidecar is found next to it)
};

int run_pair_command(const bridge_config& cfg, const pair_options& options);

}  // namespace wabridge
