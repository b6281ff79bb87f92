// Deterministic inbound-event generator for `wabridge sim-upstream`: event
// number i of a stream is a pure function of (options, i, timestamp), so an
// event redelivered after a crash is byte-identical to the original (except
// its origin). Owned by the sim's main thread; immutable after construction,
// so concurrent const calls (e.g. from the stdin reader) are safe.
#pragma once

#include "upstream/protocol.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wabridge::sim {

/// What identifies a stream. Changing any of these changes the content (and,
/// for seed/account/chats, the uids) of events already generated, so an
/// operator who edits them mid-life gets redeliveries that no longer match
/// the originals; the journal then holds both. Fine for a simulator.
struct generator_options {
  uint64_t seed = 1;
  std::string account;      // mixed into the seed: two accounts see different people
  uint32_t chats = 50;      // clamped to [1, max_chats]
  uint32_t body_bytes = 0;  // mean body length; 0 = realistic mix of short and long texts
};

class sim_event_generator {
 public:
  /// Chats are materialized up front (ids, names, group members), so a huge
  /// count would cost memory for no realism; more than this is clamped.
  static constexpr uint32_t max_chats = 100'000;

  explicit sim_event_generator(generator_options options);

  const generator_options& options() const { return options_; }

  /// "chatId:messageId" for DMs, "chatId:messageId:participant" in groups.
  std::string uid(uint64_t i) const;

  /// The SPEC §4 field object of event i (without eventUid/origin/seq/
  /// receivedAt, which the protocol envelope and the journal add).
  /// `timestamp` (seconds) comes from the ledger so redelivery repeats it.
  nlohmann::json fields(uint64_t i, int64_t timestamp) const;

  /// Appends the protocol line for event i, newline included, to `out`:
  /// byte-identical to format_event(uid(i), from, fields(i, timestamp)) + '\n'
  /// but written directly, without building a JSON tree (the fast path the
  /// sim uses; the unit tests check the two agree).
  void append_event_line(uint64_t i, int64_t timestamp, upstream::origin from,
                         std::string& out) const;

  struct contact {
    std::string jid;  // "<digits>@s.whatsapp.net"
    std::string digits;
    std::string name;
  };

  struct chat {
    std::string id;  // DM: the contact's jid; group: "<digits>-<digits>@g.us"
    std::string name;
    bool is_group = false;
    std::vector<uint32_t> members;  // contact indices; a DM has exactly one
  };

  /// {"name", "isGroup", "participants": [jids]} for one of the sim's chats,
  /// or a null json when `chat_id` is not one of them (GET /chat/{id}).
  nlohmann::json chat_info(const std::string& chat_id) const;

  /// Internal per-event choices and the generator's text corpus; public only
  /// so the .cpp's helpers can name them.
  struct plan;
  struct corpus;

 private:
  plan make_plan(uint64_t i) const;
  template <class Sink>
  void write_body(const plan& p, Sink& sink) const;
  template <class Sink>
  void write_quoted_text(const plan& p, Sink& sink) const;

  generator_options options_;
  uint64_t key_;  // splitmix of (seed, account): the root of every draw
  std::vector<contact> contacts_;
  std::vector<chat> chats_;
  contact self_;          // the account's own number (botIds, quotes of our messages)
  std::string self_lid_;  // "<digits>@lid", the account's second identity in botIds
  // Random sentences built once, raw and JSON-escaped: a body is a few
  // slices of it, so the fast path copies text instead of composing it word
  // by word (that was most of the cost at ~500-byte bodies). Shared, immutable.
  std::shared_ptr<const corpus> corpus_;
};

/// "SIM" + 16 uppercase hex digits of i: the message id of event i.
std::string message_id_of(uint64_t i);

/// The index encoded in a sim uid ("chat:SIM<16 hex>[:participant]"), or
/// nullopt when `uid` is not shaped like one. Does not check the chat part;
/// compare with sim_event_generator::uid(i) for that.
std::optional<uint64_t> index_of_uid(std::string_view uid);

}  // namespace wabridge::sim
