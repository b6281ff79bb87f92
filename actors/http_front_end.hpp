// The HTTP front end (docs/http-api.md): one cpp-httplib server for all
// accounts. It validates requests (Host check, bearer tokens, parameters),
// turns them into typed domain messages for the account actors, and renders
// the replies as JSON. HTTP never crosses into the actors. Request handlers
// run on the server's thread pool, each talking to actors through its own
// scoped_actor; the object itself is immutable after start() except stop()
// and the accounts' handle caches (account_handle_cache, thread-safe), which
// follow restarts: a request that finds an actor down asks the account
// supervisor for the current handles and retries once.
#pragma once

#include "actors/account.hpp"
#include "config/config.hpp"

#include <caf/actor_system.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace wabridge {

class http_front_end {
 public:
  http_front_end(caf::actor_system& sys, bridge_config cfg,
                 std::map<std::string, account_actors> accounts);
  ~http_front_end();

  /// Binds the configured address (or adopts `listen_fd` when >= 0, a
  /// listening socket inherited from the supervisor). Returns the bound port.
  caf::expected<int> bind(int listen_fd = -1);

  /// Serves until stop(); blocks the calling thread.
  void serve();

  /// Graceful stop, step 1: responses are written plainly from now on (a
  /// streamed body would be cut by stop()), so pages served while draining
  /// do not count as delivered. Safe from any thread.
  void begin_drain();

  /// Stops accepting (the listening socket itself stays open for the
  /// supervisor and the next worker) and ends keep-alive on accepted
  /// connections once their current request is answered; serve() returns
  /// when all of them are done. Safe from any thread.
  void stop();

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace wabridge
