#include "actors/account_client.hpp"

namespace wabridge {

caf::error account_unavailable_error(const account_actors& acc, const account_handles& h) {
  const std::string account = "account \"" + acc.config.name + "\"";
  if (h.state == "draining" || h.state == "stopping" || h.state == "stopped")
    return make_error(errc::shutting_down, account + " is " + h.state);
  if (h.state == "failed")
    return make_error(errc::account_unavailable,
                      account + " failed and stays down until the worker restarts: " + h.reason);
  if (h.state == "restarting")
    return make_error(errc::account_unavailable,
                      account + " is restarting (" + h.reason + "); retry shortly");
  return make_error(errc::account_unavailable,
                    "an actor of " + account + " is down; its restart is pending");
}

}  // namespace wabridge
