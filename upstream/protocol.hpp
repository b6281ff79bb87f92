// The worker <-> upstream protocol (SPEC §5, docs/upstream-protocol.md):
// newline-delimited JSON over the upstream child's stdin/stdout. This file
// turns single lines into typed values and back. Parsing is total: a
// malformed line yields a protocol_violation error naming what is wrong, never
// an exception or a crash. Pure functions; safe from any thread.
#pragma once

#include "common/error.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace wabridge::upstream {

inline constexpr int protocol_version = 1;

/// Longest uid an event may carry: it becomes an LMDB key (511 bytes max) and
/// real WhatsApp uids stay under ~130 bytes. Longer ones are protocol violations.
inline constexpr size_t max_uid_bytes = 256;

/// Where an inbound event came from (SPEC §4 `origin`).
enum class origin { live, offline, history };
const char* to_string(origin o);

/// Connection states an upstream reports.
enum class link_state { starting, connecting, qr, connected, disconnected, logged_out, stopped };
const char* to_string(link_state s);

// ---- upstream -> worker ---------------------------------------------------

/// {"type":"hello","protocol":1,"upstream":"sim","version":"..."}
struct hello_msg {
  int protocol = protocol_version;
  std::string upstream;
  std::string version;
};

/// {"type":"state","state":"qr","qr":"...","reason":"..."}
struct state_msg {
  link_state state = link_state::connecting;
  std::string qr;            // pairing payload when state == qr
  std::string reason;        // human-readable cause for disconnected / logged_out
  std::string pairing_code;  // "pairingCode": code to type on the phone (pairing by number)
};

/// {"type":"event","uid":"chat:msg[:participant]","origin":"live","event":{...SPEC §4 fields}}
/// `payload` is the event object re-serialized with "eventUid" and "origin"
/// set and without "seq"/"receivedAt" (the journal adds those at commit).
struct event_msg {
  std::string uid;
  origin from = origin::live;
  std::string payload;  // compact JSON object text, starts with '{' and is never "{}"
};

/// {"type":"send_result","id":"...","ok":true,"messageIds":[...],"error":"..."}
struct send_result_msg {
  std::string id;
  bool ok = false;
  std::vector<std::string> message_ids;
  std::string error;
  nlohmann::json data;  // extra op-specific result fields (e.g. chat info), may be null
};

/// {"type":"log","level":"warn","msg":"..."} — forwarded to the worker's log.
struct log_msg {
  std::string level;
  std::string text;
};

using upstream_message = std::variant<hello_msg, state_msg, event_msg, send_result_msg, log_msg>;

/// Parses one line (without its trailing newline).
caf::expected<upstream_message> parse_upstream_line(const std::string& line);

/// Serializers the upstream side uses (sim-upstream, tests).
std::string format_hello(const hello_msg& msg);
std::string format_state(const state_msg& msg);
/// `event` is the SPEC §4 field object (without eventUid/origin/seq/receivedAt).
std::string format_event(const std::string& uid, origin from, const nlohmann::json& event);
std::string format_send_result(const send_result_msg& msg);
std::string format_log(const std::string& level, const std::string& text);

// ---- worker -> upstream ---------------------------------------------------

/// {"type":"confirm","uids":[...]}: these events are committed; forget them.
struct confirm_msg {
  std::vector<std::string> uids;
};

/// {"type":"send","id":"...","op":"send","args":{...}}: an outbound command.
struct send_msg {
  std::string id;
  std::string op;
  nlohmann::json args;
  std::string message_id;  // "messageId": id for the message the op creates ("" = upstream picks)
};

/// {"type":"stop"}: drain — stop intake, flush, exit 0.
struct stop_msg {};

using worker_message = std::variant<confirm_msg, send_msg, stop_msg>;

caf::expected<worker_message> parse_worker_line(const std::string& line);

std::string format_confirm(const std::vector<std::string>& uids);
std::string format_send(const send_msg& msg);
std::string format_stop();

}  // namespace wabridge::upstream
