// The outbound endpoints of the HTTP front end (docs/http-api.md,
// "Outbound"): POST /send, /edit, /send-media, /send-poll, /send-location,
// /react, /typing, /read, GET /chat/{id}, and GET /outbox[/{id}] to follow
// journaled sends. Request bodies are planned by outbound::plan(); journaled
// sends are committed to the account's outbox (journal actor) before the
// session is told to send, and a synchronous request then waits for the
// result in the outbox. Part of the front end: registered on its server, it
// shares its request threads; immutable after construction, so safe from any
// thread.
#pragma once

#include "actors/account.hpp"
#include "config/config.hpp"

#include <caf/actor_system.hpp>

#include <httplib.h>

#include <functional>
#include <string>

namespace wabridge {

class http_outbound {
 public:
  using handler =
      std::function<void(const account_actors&, const httplib::Request&, httplib::Response&)>;
  /// Registers `handler` for `method` at `path` (a regex fragment after the
  /// optional /accounts/{name} prefix, which is capture group 1).
  using route_fn = std::function<void(const char* method, const std::string& path, handler)>;

  http_outbound(caf::actor_system& sys, const bridge_config& cfg);

  void register_routes(const route_fn& route);

 private:
  void journaled_send(const std::string& op, const account_actors& acc, const httplib::Request& req,
                      httplib::Response& res);
  void direct(const std::string& op, const account_actors& acc, const httplib::Request& req,
              httplib::Response& res);
  void chat(const account_actors& acc, const httplib::Request& req, httplib::Response& res);
  void outbox_one(const account_actors& acc, const httplib::Request& req, httplib::Response& res);
  void outbox_many(const account_actors& acc, const httplib::Request& req, httplib::Response& res);

  caf::actor_system& sys_;
  outbound_config outbound_;
  millis max_wait_;
};

}  // namespace wabridge
