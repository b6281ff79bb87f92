#include "actors/ack_tracker_actor.hpp"

#include "store/cursor_store.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

namespace wabridge {
namespace {

constexpr auto journal_timeout = std::chrono::seconds(30);
// The long-poll reply may take up to wait_ms; give the journal that plus slack.
constexpr int64_t reply_slack_ms = 5'000;

struct consumer_entry {
  store::consumer_cursor cursor;
  uint64_t delivered_seq = 0;  // highest seq written out to this consumer (in memory only)
};

struct ack_state {
  ack_tracker_config cfg;
  std::shared_ptr<store::cursor_store> store;
  std::map<std::string, consumer_entry> consumers;
  // Polls and acks waiting for the journal's answer. An ack tracker told to
  // stop (drain, journal restart) answers them with shutting_down: CAF drops
  // an undelivered promise silently, and the HTTP request behind it would
  // wait out its whole timeout (10 s), holding the worker's drain that long.
  uint64_t last_pending_id = 0;
  std::map<uint64_t, caf::typed_response_promise<event_page>> pending_polls;
  std::map<uint64_t, caf::typed_response_promise<ack_reply>> pending_acks;
  static inline const char* name = "ack_tracker";
};

// Removes and returns a pending promise; nullopt when it was answered already.
template <class Promise>
std::optional<Promise> take_pending(std::map<uint64_t, Promise>& pending, uint64_t id) {
  auto it = pending.find(id);
  if (it == pending.end()) return std::nullopt;
  Promise promise = std::move(it->second);
  pending.erase(it);
  return promise;
}

using ack_self = ack_tracker_actor::stateful_pointer<ack_state>;

uint64_t acked_floor(const ack_state& st) {
  if (st.consumers.empty()) return 0;
  uint64_t floor = UINT64_MAX;
  for (const auto& [name, entry] : st.consumers) floor = std::min(floor, entry.cursor.acked_seq);
  return floor;
}

// Persists a moved cursor, then lets the journal compact below the new floor.
caf::error advance(ack_self self, const std::string& consumer, consumer_entry& entry, uint64_t to,
                   bool explicit_ack) {
  auto& st = self->state;
  store::consumer_cursor next = entry.cursor;
  next.acked_seq = std::max(next.acked_seq, to);
  next.explicit_acks = next.explicit_acks || explicit_ack;
  next.updated_at_ms = now_ms();
  if (auto err = st.store->save(consumer, next)) return err;
  entry.cursor = next;
  self->send(st.cfg.journal, compact_request{acked_floor(st)});
  return {};
}

consumer_entry& entry_for(ack_state& st, const std::string& consumer) {
  return st.consumers[consumer];  // a new consumer starts at 0: it sees all retained events
}

ack_tracker_actor::behavior_type ack_impl(ack_self self, ack_tracker_config cfg,
                                          std::shared_ptr<store::cursor_store> store,
                                          std::map<std::string, store::consumer_cursor> loaded) {
  self->state.cfg = std::move(cfg);
  self->state.store = std::move(store);
  for (auto& [name, cursor] : loaded) self->state.consumers[name].cursor = cursor;
  self->send(self->state.cfg.journal, compact_request{acked_floor(self->state)});
  // As CAF's default exit handler (an exit without error is ignored), but
  // first every request still waiting for the journal gets an answer.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!msg.reason) return;
    auto& st = self->state;
    const auto stopped = make_error(errc::shutting_down, "ack tracker stopped");
    for (auto& [id, promise] : st.pending_polls) promise.deliver(stopped);
    for (auto& [id, promise] : st.pending_acks) promise.deliver(stopped);
    st.pending_polls.clear();
    st.pending_acks.clear();
    self->quit(msg.reason);
  });
  return {
      [self](poll_request& req) -> caf::typed_response_promise<event_page> {
        auto& st = self->state;
        auto promise = self->make_response_promise<event_page>();
        auto& entry = entry_for(st, req.consumer);
        // Implicit ack: a consumer that never acks has accepted what the
        // previous poll gave it once it comes back for more.
        if (!entry.cursor.explicit_acks && entry.delivered_seq > entry.cursor.acked_seq) {
          if (auto err = advance(self, req.consumer, entry, entry.delivered_seq, false)) {
            promise.deliver(err);
            return promise;
          }
        }
        const uint64_t after = entry.cursor.acked_seq;
        const auto timeout =
            std::chrono::milliseconds(std::max<int64_t>(req.wait_ms, 0) + reply_slack_ms) +
            journal_timeout;
        const uint64_t id = ++st.last_pending_id;
        st.pending_polls.emplace(id, promise);
        self->request(st.cfg.journal, timeout, read_request{after, req.limit, req.wait_ms})
            .then(
                [self, id](event_page& page) {
                  if (auto p = take_pending(self->state.pending_polls, id))
                    p->deliver(std::move(page));
                },
                [self, id](caf::error& err) {
                  if (auto p = take_pending(self->state.pending_polls, id))
                    p->deliver(std::move(err));
                });
        return promise;
      },
      [self](ack_request& req) -> caf::typed_response_promise<ack_reply> {
        auto promise = self->make_response_promise<ack_reply>();
        const uint64_t id = ++self->state.last_pending_id;
        self->state.pending_acks.emplace(id, promise);
        // Only the newest seq is needed to validate the ack; full stats
        // would cost the journal a read transaction per ack.
        self->request(self->state.cfg.journal, journal_timeout, newest_atom::value)
            .then(
                [self, id, req](uint64_t newest) mutable {
                  auto& st = self->state;
                  auto pending = take_pending(st.pending_acks, id);
                  if (!pending) return;
                  auto& reply_to = *pending;
                  if (req.up_to_seq > newest) {
                    reply_to.deliver(make_error(errc::ack_beyond_newest,
                                                "up_to_seq " + std::to_string(req.up_to_seq) +
                                                    " is past the newest seq " +
                                                    std::to_string(newest)));
                    return;
                  }
                  auto& entry = entry_for(st, req.consumer);
                  const bool moves = req.up_to_seq > entry.cursor.acked_seq;
                  if (moves || !entry.cursor.explicit_acks) {
                    if (auto err = advance(self, req.consumer, entry, req.up_to_seq, true)) {
                      reply_to.deliver(err);
                      return;
                    }
                  }
                  reply_to.deliver(ack_reply{req.consumer, entry.cursor.acked_seq});
                },
                [self, id](caf::error& err) {
                  if (auto p = take_pending(self->state.pending_acks, id))
                    p->deliver(std::move(err));
                });
        return promise;
      },
      [self](delivered_notice& notice) -> uint64_t {
        // Only pages the front end wrote out in full count as delivered, so
        // a client that timed out before reading its page gets it again.
        auto it = self->state.consumers.find(notice.consumer);
        if (it == self->state.consumers.end()) return 0;
        if (notice.up_to_seq > it->second.delivered_seq)
          it->second.delivered_seq = notice.up_to_seq;
        return it->second.delivered_seq;
      },
      [self](stats_atom) -> ack_stats {
        auto& st = self->state;
        ack_stats out;
        for (const auto& [name, entry] : st.consumers) {
          out.consumers.push_back(consumer_status{name, entry.cursor.acked_seq, entry.delivered_seq,
                                                  entry.cursor.explicit_acks});
        }
        out.acked_floor = acked_floor(st);
        return out;
      },
  };
}

}  // namespace

caf::expected<ack_tracker_actor> spawn_ack_tracker(caf::actor_system& sys,
                                                   const ack_tracker_config& cfg) {
  auto store = store::cursor_store::open(cfg.dir);
  if (!store) return store.error();
  auto loaded = (*store)->load_all();
  if (!loaded) return loaded.error();
  spdlog::info("ack_tracker account={} opened dir={} consumers={}", cfg.account, cfg.dir,
               loaded->size());
  std::shared_ptr<store::cursor_store> shared{std::move(*store)};
  return sys.spawn(ack_impl, cfg, std::move(shared), std::move(*loaded));
}

}  // namespace wabridge
