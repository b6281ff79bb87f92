#include "actors/journal_actor.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>

namespace wabridge {
namespace {

constexpr auto compact_interval = std::chrono::seconds(5);
// Cap on JSON bytes one page carries, so a huge limit cannot build a huge reply.
constexpr uint64_t max_page_bytes = 32ull << 20;

struct pending_append {
  event_batch batch;
  caf::typed_response_promise<append_ack> promise;
};

struct waiter {
  read_request request;
  caf::typed_response_promise<event_page> promise;
};

struct outbox_waiter {
  uint64_t record_id = 0;
  caf::typed_response_promise<store::outbox_record> promise;
};

struct journal_state {
  journal_actor_config cfg;
  std::shared_ptr<store::journal_store> store;
  std::shared_ptr<store::outbox_store> outbox;
  std::map<uint64_t, outbox_waiter> outbox_waiters;  // by waiter id
  std::deque<pending_append> pending;
  bool flush_scheduled = false;
  std::map<uint64_t, waiter> waiters;
  uint64_t next_waiter_id = 1;
  uint64_t acked_floor = 0;
  bool draining = false;  // no more parking: long-polls are answered at once
  journal_stats counters;
  errc degraded_code = errc::ok;  // the error that made the journal degraded
  int64_t degraded_since_ms = 0;
  uint64_t failed_commits = 0;  // since the journal became degraded
  static inline const char* name = "journal";

  ~journal_state() {
    // Parked long-polls must not hang their HTTP threads when the actor stops.
    for (auto& [id, w] : waiters)
      w.promise.deliver(make_error(errc::shutting_down, "journal stopped"));
    for (auto& [id, w] : outbox_waiters)
      w.promise.deliver(make_error(errc::shutting_down, "journal stopped"));
  }
};

using journal_self = journal_actor::stateful_pointer<journal_state>;

caf::expected<event_page> read_page(journal_state& st, uint64_t after, uint32_t limit) {
  auto events = st.store->read(after, limit, max_page_bytes);
  if (!events) return events.error();
  event_page page;
  page.newest_seq = st.store->last_seq();
  if (!events->empty()) {
    page.first_seq = events->front().seq;
    page.last_seq = events->back().seq;
  }
  page.events.reserve(events->size());
  for (auto& ev : *events) page.events.push_back(std::move(ev.json));
  return page;
}

// Answers every parked long-poll whose cursor is now behind the newest seq.
void wake_waiters(journal_self self) {
  auto& st = self->state;
  for (auto it = st.waiters.begin(); it != st.waiters.end();) {
    if (it->second.request.after < st.store->last_seq()) {
      auto page = read_page(st, it->second.request.after, it->second.request.limit);
      if (page)
        it->second.promise.deliver(std::move(*page));
      else
        it->second.promise.deliver(page.error());
      it = st.waiters.erase(it);
    } else {
      ++it;
    }
  }
}

// Commits everything that queued up since the last flush: one write
// transaction (one fsync) per max_batch events, so a large backlog never
// makes one giant transaction and max_batch = 1 really is one fsync per event.
void flush(journal_self self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.pending.empty()) return;
  const size_t max_batch = std::max<size_t>(st.cfg.journal.max_batch, 1);
  std::vector<pending_append> taken;
  size_t count = 0;
  while (!st.pending.empty() &&
         (taken.empty() || count + st.pending.front().batch.size() <= max_batch)) {
    count += st.pending.front().batch.size();
    taken.push_back(std::move(st.pending.front()));
    st.pending.pop_front();
  }
  std::vector<const store::pending_event*> events;
  events.reserve(count);
  for (auto& p : taken)
    for (const auto& ev : *p.batch.events) events.push_back(&ev);
  const uint64_t before = st.store->last_seq();
  const uint64_t map_before = st.store->map_size();
  std::vector<uint64_t> seqs;
  seqs.reserve(events.size());
  caf::error failure;
  std::vector<const store::pending_event*> chunk;
  for (size_t offset = 0; offset < events.size(); offset += max_batch) {
    chunk.assign(
        events.begin() + static_cast<std::ptrdiff_t>(offset),
        events.begin() + static_cast<std::ptrdiff_t>(std::min(offset + max_batch, events.size())));
    auto chunk_seqs = st.store->append(chunk, now_ms());
    if (!chunk_seqs) {
      failure = chunk_seqs.error();
      break;
    }
    ++st.counters.commits;
    seqs.insert(seqs.end(), chunk_seqs->begin(), chunk_seqs->end());
  }
  const uint64_t fresh = st.store->last_seq() - before;
  st.counters.appended += fresh;
  if (st.store->map_size() != map_before) {
    spdlog::info("journal account={} map grown from={} to={} max={} used={}", st.cfg.account,
                 map_before, st.store->map_size(), st.cfg.journal.max_map_size,
                 st.store->used_bytes());
  }
  if (failure) {
    // Chunks that did commit are fine: the session retries the whole batch
    // and those events dedupe to their seqs.
    std::string error = describe(failure);
    // The session retries every second for as long as the disk or map stays
    // full: log the change into the degraded state (or to another error),
    // not every retry.
    const bool news = !st.counters.degraded || code_of(failure) != st.degraded_code;
    if (news) {
      spdlog::error("journal account={} commit failed events={} error=\"{}\" action=retry{}",
                    st.cfg.account, events.size(), error,
                    st.store->map_full() ? " hint=map-full" : "");
    } else {
      spdlog::debug("journal account={} commit failed again events={} error=\"{}\"", st.cfg.account,
                    events.size(), error);
    }
    if (!st.counters.degraded) st.degraded_since_ms = now_ms();
    st.counters.degraded = true;
    st.degraded_code = code_of(failure);
    st.counters.last_error = std::move(error);
    ++st.failed_commits;
    for (auto& p : taken) p.promise.deliver(failure);
  } else {
    if (st.counters.degraded) {
      spdlog::info(
          "journal account={} recovered: commits succeed again degraded_ms={} failed_commits={}",
          st.cfg.account, now_ms() - st.degraded_since_ms, st.failed_commits);
      st.failed_commits = 0;
    }
    st.counters.degraded = false;
    st.counters.last_error.clear();
    st.counters.duplicates += events.size() - fresh;
    size_t offset = 0;
    for (auto& p : taken) {
      const size_t n = p.batch.size();
      append_ack ack;
      ack.seqs.assign(seqs.begin() + static_cast<std::ptrdiff_t>(offset),
                      seqs.begin() + static_cast<std::ptrdiff_t>(offset + n));
      offset += n;
      p.promise.deliver(std::move(ack));
    }
  }
  if (fresh > 0) wake_waiters(self);
  if (!st.pending.empty()) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

// Deletes the media files of compacted events, but only files inside the
// account's media directory: a path in an event is data from outside, and
// compaction must never become a way to delete arbitrary files.
void remove_media(const journal_actor_config& cfg, const std::vector<std::string>& paths) {
  if (cfg.media_dir.empty() || paths.empty()) return;
  namespace fs = std::filesystem;
  const fs::path root = fs::path(cfg.media_dir).lexically_normal();
  uint64_t removed = 0;
  for (const auto& path : paths) {
    const fs::path file = fs::path(path).lexically_normal();
    const auto rel = file.lexically_relative(root);
    if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") continue;
    std::error_code ec;
    if (fs::remove(file, ec)) ++removed;
  }
  if (removed > 0) spdlog::debug("journal account={} removed media files={}", cfg.account, removed);
}

// One bounded compaction step; true when more is left to remove.
bool run_compaction(journal_self self) {
  auto& st = self->state;
  auto result = st.store->compact(st.acked_floor, now_ms(), st.cfg.journal.retain_acked,
                                  st.cfg.journal.dedupe_window);
  if (!result) {
    spdlog::warn("journal account={} compaction failed error=\"{}\"", st.cfg.account,
                 describe(result.error()));
    return false;
  }
  st.counters.compacted += result->events_removed;
  remove_media(st.cfg, result->media_paths);
  if (result->events_removed > 0 || result->uids_expired > 0) {
    spdlog::debug("journal account={} compacted events={} uids={} first_seq={}", st.cfg.account,
                  result->events_removed, result->uids_expired, st.store->first_seq());
  }
  return result->more;
}

// Answers every HTTP request waiting for `record` (now terminal, or the
// journal is draining and nobody waits longer).
void wake_outbox_waiters(journal_self self, const store::outbox_record& record) {
  auto& waiters = self->state.outbox_waiters;
  for (auto it = waiters.begin(); it != waiters.end();) {
    if (it->second.record_id == record.id) {
      it->second.promise.deliver(record);
      it = waiters.erase(it);
    } else {
      ++it;
    }
  }
}

// The outbox failed to commit: log it like an inbound commit failure (the
// caller answers the error; nothing was written).
void note_outbox_failure(journal_self self, const char* what, const caf::error& err) {
  spdlog::error("outbox account={} {} failed error=\"{}\"", self->state.cfg.account, what,
                describe(err));
}

void run_outbox_compaction(journal_self self) {
  auto& st = self->state;
  auto removed = st.outbox->compact(now_ms(), st.cfg.outbound.retain);
  if (!removed)
    spdlog::warn("outbox account={} compaction failed error=\"{}\"", st.cfg.account,
                 describe(removed.error()));
  else if (*removed > 0)
    spdlog::debug("outbox account={} compacted sends={}", st.cfg.account, *removed);
}

journal_actor::behavior_type journal_impl(journal_self self, journal_actor_config cfg,
                                          std::shared_ptr<store::journal_store> store,
                                          std::shared_ptr<store::outbox_store> outbox) {
  self->state.cfg = std::move(cfg);
  self->state.store = std::move(store);
  self->state.outbox = std::move(outbox);
  self->delayed_send(self, compact_interval, compact_atom::value);
  return {
      [self](event_batch& batch) -> caf::typed_response_promise<append_ack> {
        auto& st = self->state;
        auto promise = self->make_response_promise<append_ack>();
        if (batch.size() == 0) {
          promise.deliver(append_ack{});
          return promise;
        }
        st.pending.push_back(pending_append{std::move(batch), promise});
        if (!st.flush_scheduled) {
          // Smart batching: the flush message queues behind the appends
          // already in the mailbox, so they all share one commit.
          st.flush_scheduled = true;
          self->send(self, flush_atom::value);
        }
        return promise;
      },
      [self](flush_atom) { flush(self); },
      [self](read_request& req) -> caf::typed_response_promise<event_page> {
        auto& st = self->state;
        auto promise = self->make_response_promise<event_page>();
        if (req.after < st.store->last_seq() || req.wait_ms <= 0 || st.draining) {
          auto page = read_page(st, req.after, req.limit);
          if (page)
            promise.deliver(std::move(*page));
          else
            promise.deliver(page.error());
          return promise;
        }
        const uint64_t id = st.next_waiter_id++;
        st.waiters.emplace(id, waiter{req, promise});
        self->delayed_send(self, std::chrono::milliseconds(req.wait_ms), wait_expired{id});
        return promise;
      },
      [self](wait_expired& expired) {
        auto& st = self->state;
        auto it = st.waiters.find(expired.waiter_id);
        if (it == st.waiters.end()) return;
        event_page empty;
        empty.newest_seq = st.store->last_seq();
        it->second.promise.deliver(std::move(empty));
        st.waiters.erase(it);
      },
      [self](stats_atom) -> journal_stats {
        auto& st = self->state;
        journal_stats out = st.counters;
        out.first_seq = st.store->first_seq();
        out.last_seq = st.store->last_seq();
        out.event_count = st.store->event_count();
        out.map_size = st.store->map_size();
        out.used_bytes = st.store->used_bytes();
        out.waiters = st.waiters.size();
        auto oldest = st.store->received_at_after(st.acked_floor);
        out.oldest_unacked_ms = oldest ? *oldest : -1;
        out.outbox = st.outbox->counts();
        out.outbox_last_id = st.outbox->last_id();
        return out;
      },
      [self](drain_atom) {
        // Graceful stop: parked long-polls return early (empty) so their
        // HTTP requests finish; appends and reads keep working until exit.
        auto& st = self->state;
        st.draining = true;
        for (auto& [id, w] : st.waiters) {
          event_page empty;
          empty.newest_seq = st.store->last_seq();
          w.promise.deliver(std::move(empty));
        }
        st.waiters.clear();
        // HTTP sends waiting for a result answer with the state as it is
        // (queued or sending: the next worker carries on with them).
        for (auto& [id, w] : st.outbox_waiters) {
          auto record = st.outbox->get(w.record_id);
          if (record && *record)
            w.promise.deliver(std::move(**record));
          else
            w.promise.deliver(make_error(errc::shutting_down, "worker is draining"));
        }
        st.outbox_waiters.clear();
      },
      [self](newest_atom) -> uint64_t { return self->state.store->last_seq(); },
      [self](outbox_enqueue& req) -> caf::typed_response_promise<outbox_enqueued> {
        auto& st = self->state;
        auto promise = self->make_response_promise<outbox_enqueued>();
        auto result = st.outbox->enqueue(std::move(req.record), now_ms());
        if (!result) {
          note_outbox_failure(self, "enqueue", result.error());
          promise.deliver(result.error());
          return promise;
        }
        if (!result->existing)
          spdlog::debug("outbox account={} queued id={} op={} parts={}", st.cfg.account,
                        result->record.id, result->record.op, result->record.parts.size());
        promise.deliver(outbox_enqueued{std::move(result->record), result->existing});
        return promise;
      },
      [self](outbox_wait& req) -> caf::typed_response_promise<store::outbox_record> {
        auto& st = self->state;
        auto promise = self->make_response_promise<store::outbox_record>();
        auto record = st.outbox->get(req.id);
        if (!record) {
          promise.deliver(record.error());
        } else if (!*record) {
          promise.deliver(
              make_error(errc::not_found, "no send with outbox id " + std::to_string(req.id)));
        } else if (store::is_terminal((*record)->state) || req.wait_ms <= 0 || st.draining) {
          promise.deliver(std::move(**record));
        } else {
          const uint64_t waiter = st.next_waiter_id++;
          st.outbox_waiters.emplace(waiter, outbox_waiter{req.id, promise});
          self->delayed_send(self, std::chrono::milliseconds(req.wait_ms),
                             outbox_wait_expired{waiter});
        }
        return promise;
      },
      [self](outbox_wait_expired& expired) {
        auto& st = self->state;
        auto it = st.outbox_waiters.find(expired.waiter_id);
        if (it == st.outbox_waiters.end()) return;
        auto record = st.outbox->get(it->second.record_id);
        if (record && *record)
          it->second.promise.deliver(std::move(**record));
        else
          it->second.promise.deliver(make_error(errc::not_found, "send no longer in the outbox"));
        st.outbox_waiters.erase(it);
      },
      [self](outbox_list& req) -> caf::typed_response_promise<outbox_page> {
        auto& st = self->state;
        auto promise = self->make_response_promise<outbox_page>();
        auto records = st.outbox->list(req.after, req.limit, req.only);
        if (!records) {
          promise.deliver(records.error());
          return promise;
        }
        promise.deliver(
            outbox_page{std::move(*records), st.outbox->counts(), st.outbox->last_id()});
        return promise;
      },
      [self](claim_atom) -> caf::typed_response_promise<outbox_claimed> {
        auto& st = self->state;
        auto promise = self->make_response_promise<outbox_claimed>();
        outbox_claimed claimed;
        auto next =
            st.outbox->claim_next(st.cfg.outbound.max_attempts, now_ms(), &claimed.given_up);
        for (const auto& record : claimed.given_up) wake_outbox_waiters(self, record);
        if (!next) {
          note_outbox_failure(self, "claim", next.error());
          promise.deliver(next.error());
          return promise;
        }
        claimed.record = std::move(*next);
        promise.deliver(std::move(claimed));
        return promise;
      },
      [self](outbox_part_sent& req) -> caf::typed_response_promise<store::outbox_record> {
        auto& st = self->state;
        auto promise = self->make_response_promise<store::outbox_record>();
        auto record = st.outbox->record_part(req.id, req.part, req.message_ids, req.data, now_ms());
        if (!record) note_outbox_failure(self, "progress", record.error());
        if (record)
          promise.deliver(std::move(*record));
        else
          promise.deliver(record.error());
        return promise;
      },
      [self](outbox_finish& req) -> caf::typed_response_promise<store::outbox_record> {
        auto& st = self->state;
        auto promise = self->make_response_promise<store::outbox_record>();
        auto record = st.outbox->finish(req.id, req.state, req.error, now_ms());
        if (!record) {
          note_outbox_failure(self, "finish", record.error());
          promise.deliver(record.error());
          return promise;
        }
        wake_outbox_waiters(self, *record);
        promise.deliver(std::move(*record));
        return promise;
      },
      [self](compact_request& req) {
        auto& st = self->state;
        if (req.acked_floor <= st.acked_floor) return;
        st.acked_floor = req.acked_floor;
        run_compaction(self);
      },
      [self](compact_atom) {
        // A large backlog is removed in bounded steps that interleave with
        // appends and reads instead of one long write transaction.
        const bool more = run_compaction(self);
        run_outbox_compaction(self);
        self->delayed_send(self, more ? std::chrono::milliseconds(1) : compact_interval,
                           compact_atom::value);
      },
  };
}

}  // namespace

caf::expected<journal_actor> spawn_journal(caf::actor_system& sys,
                                           const journal_actor_config& cfg) {
  store::journal_options opts;
  opts.map_size = cfg.journal.map_size;
  opts.max_map_size = cfg.journal.max_map_size;  // 0 (default) = never grow
  auto store = store::journal_store::open(cfg.dir, opts);
  if (!store) return store.error();
  std::shared_ptr<store::journal_store> shared{std::move(*store)};
  spdlog::info("journal account={} opened dir={} first_seq={} last_seq={} events={}", cfg.account,
               cfg.dir, shared->first_seq(), shared->last_seq(), shared->event_count());
  auto outbox = store::outbox_store::open(cfg.outbox_dir);
  if (!outbox) return outbox.error();
  std::shared_ptr<store::outbox_store> shared_outbox{std::move(*outbox)};
  const auto counts = shared_outbox->counts();
  spdlog::info("outbox account={} opened dir={} last_id={} queued={} sending={}", cfg.account,
               cfg.outbox_dir, shared_outbox->last_id(), counts.queued, counts.sending);
  return sys.spawn(journal_impl, cfg, std::move(shared), std::move(shared_outbox));
}

}  // namespace wabridge
