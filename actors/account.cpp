#include "actors/account.hpp"

#include "actors/ack_tracker_actor.hpp"
#include "actors/journal_actor.hpp"
#include "actors/session_actor.hpp"

#include <caf/send.hpp>

namespace wabridge {

std::string account_dir(const bridge_config& cfg, const std::string& name) {
  return cfg.bridge.data_dir + "/accounts/" + name;
}

caf::expected<account_actors> spawn_account(caf::actor_system& sys, const bridge_config& cfg,
                                            const account_config& account,
                                            const std::string& self_exe) {
  account_actors out;
  out.config = account;
  out.dir = account_dir(cfg, account.name);
  auto journal = spawn_journal(sys, {account.name, out.dir + "/journal", cfg.journal});
  if (!journal) return journal.error();
  out.journal = *journal;
  auto acks = spawn_ack_tracker(sys, {account.name, out.dir + "/cursors", out.journal});
  if (!acks) {
    caf::anon_send_exit(out.journal, caf::exit_reason::user_shutdown);
    return acks.error();
  }
  out.acks = *acks;
  session_config session;
  session.account = account;
  session.account_dir = out.dir;
  session.self_exe = self_exe;
  session.journal = out.journal;
  session.restart = cfg.supervisor;
  out.session = spawn_session(sys, session);
  return out;
}

}  // namespace wabridge
