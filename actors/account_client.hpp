// Blocking request/reply with an account's actors, for the HTTP front end's
// request threads (never for use inside an actor). A call goes to the handle
// cached in the account (account_handle_cache); when that actor turns out to
// be down, it takes fresh handles from the account supervisor and tries once
// more if a new incarnation runs, otherwise it answers why the account cannot
// serve (errc::account_unavailable or errc::shutting_down, HTTP 503).
// Stateless functions; safe from any thread.
#pragma once

#include "actors/account.hpp"
#include "actors/account_supervisor.hpp"
#include "common/error.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <string>
#include <utility>

namespace wabridge {

/// Bounds every actor request made for an HTTP request (plus any wait the
/// request itself asks for).
inline constexpr auto actor_timeout = std::chrono::seconds(10);

/// True for the errors that mean "the account's actor is down right now".
inline bool account_down(const caf::error& err) {
  const errc code = code_of(err);
  return code == errc::account_unavailable || code == errc::shutting_down;
}

/// Why an account cannot serve a request right now (its actor is down).
caf::error account_unavailable_error(const account_actors& acc, const account_handles& h);

/// Sends `msg` to `handle` and waits for the typed reply.
template <class Reply, class Handle, class Msg>
caf::expected<Reply> ask_actor(caf::actor_system& sys, const Handle& handle, Msg&& msg,
                               std::chrono::milliseconds timeout = actor_timeout) {
  caf::scoped_actor self{sys};
  caf::expected<Reply> result{make_error(errc::timeout, "no reply")};
  self->request(handle, timeout, std::forward<Msg>(msg))
      .receive(
          [&](Reply& reply) { result = std::move(reply); },
          [&](caf::error& err) {
            if (err == caf::sec::request_receiver_down)
              // The actor (or one it asked on our behalf) stopped:
              // call_account() asks the supervisor what runs now.
              result = make_error(errc::account_unavailable, "actor is down");
            else if (code_of(err) == errc::io_failure && err.category() != caf::atom("wabridge"))
              result = make_error(errc::timeout, "actor did not answer: " + describe(err));
            else
              result = err;
          });
  return result;
}

/// Asks the account's journal, ack tracker or session (`member`) as cached,
/// following a restart once (see above). `used` receives the handle that
/// answered.
template <class Reply, class Handle, class Msg>
caf::expected<Reply> call_account(caf::actor_system& sys, const account_actors& acc,
                                  Handle account_handles::*member, const Msg& msg,
                                  std::chrono::milliseconds timeout = actor_timeout,
                                  Handle* used = nullptr) {
  const Handle first = (*acc.cache->get()).*member;
  if (first) {
    auto reply = ask_actor<Reply>(sys, first, msg, timeout);
    if (reply || !account_down(reply.error())) {
      if (used != nullptr) *used = first;
      return reply;
    }
  }
  auto fresh = refresh_handles(sys, acc, actor_timeout);
  if (!fresh) return fresh.error();
  const Handle second = (*fresh).*member;
  if (!second || second == first) return account_unavailable_error(acc, *fresh);
  if (used != nullptr) *used = second;
  return ask_actor<Reply>(sys, second, msg, timeout);
}

}  // namespace wabridge
