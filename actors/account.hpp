// One account as the worker and the HTTP front end see it: its config, its
// directory <data_dir>/accounts/<name>/, the handle of its account supervisor
// (actors/account_supervisor.hpp, which owns the journal, ack tracker and
// session and replaces them when they fail) and a cache of the actor handles
// the supervisor last reported. Plain values; copies share the cache.
#pragma once

#include "actors/messages.hpp"
#include "config/config.hpp"

#include <memory>
#include <mutex>
#include <string>

namespace wabridge {

/// The account's actor handles as last seen. Shared by every request thread
/// of the HTTP front end: get() and put() are safe from any thread. Possibly
/// stale by design: a caller whose request finds an actor down asks the
/// supervisor for fresh handles and put()s them here.
class account_handle_cache {
 public:
  explicit account_handle_cache(account_handles initial)
      : current_(std::make_shared<const account_handles>(std::move(initial))) {}

  /// The handles last stored; never null.
  std::shared_ptr<const account_handles> get() const;

  /// Stores `fresh` unless handles of a newer generation are already stored
  /// (two threads may refresh at once and answer out of order).
  void put(account_handles fresh);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const account_handles> current_;
};

struct account_actors {
  account_config config;
  std::string dir;
  account_supervisor_actor supervisor;
  std::shared_ptr<account_handle_cache> cache;
};

/// <data_dir>/accounts/<name>
std::string account_dir(const bridge_config& cfg, const std::string& name);

}  // namespace wabridge
