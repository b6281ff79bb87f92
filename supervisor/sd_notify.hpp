// systemd's readiness protocol (sd_notify(3)): one datagram of "KEY=VALUE"
// lines to the unix socket named by $NOTIFY_SOCKET. The protocol is a stable,
// documented interface that systemd invites services to speak directly; doing
// so here avoids linking libsystemd for four messages (docs/dependencies.md).
// A no-op when NOTIFY_SOCKET is unset. Single-threaded use (the supervisor).
#pragma once

#include <string>

namespace wabridge::supervisor {

class sd_notifier {
 public:
  /// Reads NOTIFY_SOCKET from the environment (and unsets it, so workers and
  /// upstreams do not inherit it and talk to systemd behind our back).
  sd_notifier();
  ~sd_notifier();
  sd_notifier(const sd_notifier&) = delete;
  sd_notifier& operator=(const sd_notifier&) = delete;

  bool enabled() const { return !address_.empty(); }

  /// Sends `state`, e.g. "READY=1\nSTATUS=serving". Failures are ignored:
  /// systemd going away must not take the bridge down.
  void notify(const std::string& state);

  /// The environment entry to pass on when re-executing ourselves, or "".
  std::string env_entry() const;

 private:
  std::string address_;  // as given; '@' prefix = abstract namespace
  int fd_ = -1;
};

}  // namespace wabridge::supervisor
