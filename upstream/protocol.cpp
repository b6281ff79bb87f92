#include "upstream/protocol.hpp"

#include <simdjson.h>

#include <algorithm>
#include <optional>
#include <string_view>

namespace wabridge::upstream {
namespace {

using nlohmann::json;

// Length of the valid UTF-8 sequence at s[k], or 0 when the bytes there are not one.
size_t utf8_sequence_length(const std::string& s, size_t k) {
  auto byte = [&](size_t at) { return static_cast<unsigned char>(s[at]); };
  unsigned char c = byte(k);
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || k + len > s.size()) return 0;
  for (size_t j = 1; j < len; ++j)
    if ((byte(k + j) & 0xc0) != 0x80) return 0;
  return len;
}

// The start of `line` for an error message. The message ends up in logs and in
// JSON (/status), so it must be valid UTF-8 without control characters even
// when the line is not: invalid bytes and controls become '?', and the cut
// never splits a character.
std::string excerpt_of(const std::string& line) {
  constexpr size_t excerpt_max = 120;
  std::string out;
  size_t k = 0;
  while (k < line.size() && out.size() < excerpt_max) {
    size_t len = utf8_sequence_length(line, k);
    auto c = static_cast<unsigned char>(line[k]);
    if (len == 0 || c < 0x20 || c == 0x7f) {
      out += '?';
      k += len == 0 ? 1 : len;
    } else {
      out.append(line, k, len);
      k += len;
    }
  }
  if (k < line.size()) out += "...";
  return out;
}

caf::error violation(std::string what, const std::string& line) {
  return make_error(errc::protocol_violation, std::move(what) + " in line: " + excerpt_of(line));
}

// The string member `key` of `obj`, or an error naming it.
caf::expected<std::string> required_string(const json& obj, const char* key,
                                           const std::string& line) {
  auto it = obj.find(key);
  if (it == obj.end()) return violation(std::string("missing \"") + key + "\"", line);
  if (!it->is_string()) return violation(std::string("\"") + key + "\" must be a string", line);
  return it->get<std::string>();
}

std::string optional_string(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

template <class Enum, size_t N>
bool parse_enum(const std::string& text, const std::pair<const char*, Enum> (&table)[N],
                Enum& out) {
  for (const auto& [name, value] : table) {
    if (text == name) {
      out = value;
      return true;
    }
  }
  return false;
}

constexpr std::pair<const char*, origin> origin_names[] = {
    {"live", origin::live}, {"offline", origin::offline}, {"history", origin::history}};

constexpr std::pair<const char*, link_state> state_names[] = {
    {"starting", link_state::starting},
    {"connecting", link_state::connecting},
    {"qr", link_state::qr},
    {"connected", link_state::connected},
    {"disconnected", link_state::disconnected},
    {"logged_out", link_state::logged_out},
    {"stopped", link_state::stopped}};

// Dumping must never throw on odd UTF-8 from an upstream: replace invalid bytes.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

caf::expected<upstream_message> parse_event_slow(json& j, const std::string& line) {
  auto uid = required_string(j, "uid", line);
  if (!uid) return uid.error();
  if (uid->empty()) return violation("\"uid\" must not be empty", line);
  // The uid is the journal's dedupe key (an LMDB key, 511 bytes at most) and
  // appears in logs; bound it here so one odd event cannot wedge a commit.
  if (uid->size() > max_uid_bytes)
    return violation("\"uid\" longer than " + std::to_string(max_uid_bytes) + " bytes", line);
  if (std::any_of(uid->begin(), uid->end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return violation("\"uid\" must not contain control characters", line);
  auto origin_text = required_string(j, "origin", line);
  if (!origin_text) return origin_text.error();
  event_msg msg;
  msg.uid = std::move(*uid);
  if (!parse_enum(*origin_text, origin_names, msg.from))
    return violation("unknown origin \"" + *origin_text + "\"", line);
  auto ev = j.find("event");
  if (ev == j.end() || !ev->is_object()) return violation("\"event\" must be an object", line);
  json event = std::move(*ev);  // j is ours and discarded after this; no copy on the hot path
  // seq and receivedAt belong to the journal; an upstream cannot set them.
  event.erase("seq");
  event.erase("receivedAt");
  event["eventUid"] = msg.uid;
  event["origin"] = *origin_text;
  msg.payload = dump(event);
  return upstream_message{std::move(msg)};
}

// Skips a JSON string starting at text[i] == '"'; returns the index after
// its closing quote. Only used on text simdjson has already validated.
size_t skip_string(std::string_view text, size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return text.size();
}

size_t skip_ws(std::string_view text, size_t i) {
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
    ++i;
  return i;
}

// Skips any JSON value starting at text[i]; returns the index after it.
size_t skip_value(std::string_view text, size_t i) {
  if (text[i] == '"') return skip_string(text, i);
  if (text[i] == '{' || text[i] == '[') {
    int depth = 0;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '"') {
        i = skip_string(text, i) - 1;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    return text.size();
  }
  while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']' && text[i] != ' ' &&
         text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
    ++i;
  return i;
}

// The raw text of the top-level member `key` of a JSON object that is known
// to be valid (written without escapes in the key); empty when absent.
std::string_view raw_member(std::string_view text, std::string_view key) {
  size_t i = skip_ws(text, 0);
  if (i >= text.size() || text[i] != '{') return {};
  i = skip_ws(text, i + 1);
  while (i < text.size() && text[i] == '"') {
    const size_t key_end = skip_string(text, i);
    const std::string_view name = text.substr(i + 1, key_end - i - 2);
    i = skip_ws(text, key_end);
    if (i >= text.size() || text[i] != ':') return {};
    i = skip_ws(text, i + 1);
    const size_t value_end = skip_value(text, i);
    if (name == key) return text.substr(i, value_end - i);
    i = skip_ws(text, value_end);
    if (i < text.size() && text[i] == ',') i = skip_ws(text, i + 1);
  }
  return {};
}

// Fast path for event lines, the hot path at ingest: simdjson validates the
// whole line (structure, strings, UTF-8) and re-emits the event object
// minified, so no DOM of nlohmann maps is built. Returns nullopt when the
// line needs the general path (not an event line, or an event object that
// carries keys we must strip); the general path then gives the verdict.
std::optional<caf::expected<upstream_message>> parse_event_fast(const std::string& line) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(line).get(doc) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) return std::nullopt;
  std::string_view type;
  if (top["type"].get_string().get(type) != simdjson::SUCCESS || type != "event")
    return std::nullopt;
  std::string_view uid;
  std::string_view origin_text;
  simdjson::dom::object event;
  if (top["uid"].get_string().get(uid) != simdjson::SUCCESS || uid.empty() ||
      uid.size() > max_uid_bytes ||
      std::any_of(uid.begin(), uid.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20; }) ||
      top["origin"].get_string().get(origin_text) != simdjson::SUCCESS ||
      top["event"].get_object().get(event) != simdjson::SUCCESS)
    return std::nullopt;
  event_msg msg;
  if (!parse_enum(std::string(origin_text), origin_names, msg.from)) return std::nullopt;
  for (const char* owned : {"seq", "receivedAt", "eventUid", "origin"}) {
    if (event.at_key(owned).error() == simdjson::SUCCESS) return std::nullopt;
  }
  msg.uid.assign(uid.data(), uid.size());
  // The line is valid JSON (simdjson checked all of it), so its event object
  // can be copied as raw text instead of being re-serialized.
  std::string_view body = raw_member(line, "event");
  std::string minified;
  if (body.size() < 2 || body.front() != '{') {
    minified = simdjson::minify(event);  // key written with escapes: let simdjson re-emit
    body = minified;
  }
  const bool empty_object = event.size() == 0;
  msg.payload.reserve(body.size() + uid.size() + 48);
  msg.payload = "{\"eventUid\":";
  msg.payload += simdjson::minify(top["uid"]);  // already escaped JSON string
  msg.payload += ",\"origin\":\"";
  msg.payload += to_string(msg.from);
  msg.payload += '"';
  if (empty_object) {
    msg.payload += '}';
  } else {
    msg.payload += ',';
    msg.payload.append(body.substr(1));
  }
  return caf::expected<upstream_message>{upstream_message{std::move(msg)}};
}

}  // namespace

const char* to_string(origin o) {
  for (const auto& [name, value] : origin_names)
    if (value == o) return name;
  return "live";
}

const char* to_string(link_state s) {
  for (const auto& [name, value] : state_names)
    if (value == s) return name;
  return "disconnected";
}

caf::expected<upstream_message> parse_upstream_line(const std::string& line) {
  if (auto fast = parse_event_fast(line)) return std::move(*fast);
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return violation("not valid JSON", line);
  if (!j.is_object()) return violation("not a JSON object", line);
  auto type = required_string(j, "type", line);
  if (!type) return type.error();
  if (*type == "event") return parse_event_slow(j, line);
  if (*type == "state") {
    state_msg msg;
    auto state = required_string(j, "state", line);
    if (!state) return state.error();
    if (!parse_enum(*state, state_names, msg.state))
      return violation("unknown state \"" + *state + "\"", line);
    msg.qr = optional_string(j, "qr");
    msg.pairing_code = optional_string(j, "pairingCode");
    msg.reason = optional_string(j, "reason");
    return upstream_message{std::move(msg)};
  }
  if (*type == "send_result") {
    send_result_msg msg;
    auto id = required_string(j, "id", line);
    if (!id) return id.error();
    msg.id = std::move(*id);
    auto ok = j.find("ok");
    if (ok == j.end() || !ok->is_boolean()) return violation("\"ok\" must be a boolean", line);
    msg.ok = ok->get<bool>();
    if (auto ids = j.find("messageIds"); ids != j.end()) {
      if (!ids->is_array()) return violation("\"messageIds\" must be an array", line);
      for (const auto& id_value : *ids) {
        if (!id_value.is_string()) return violation("\"messageIds\" must hold strings", line);
        msg.message_ids.push_back(id_value.get<std::string>());
      }
    }
    msg.error = optional_string(j, "error");
    if (auto data = j.find("data"); data != j.end()) msg.data = *data;
    return upstream_message{std::move(msg)};
  }
  if (*type == "hello") {
    hello_msg msg;
    auto protocol = j.find("protocol");
    if (protocol == j.end() || !protocol->is_number_integer())
      return violation("\"protocol\" must be an integer", line);
    msg.protocol = protocol->get<int>();
    msg.upstream = optional_string(j, "upstream");
    msg.version = optional_string(j, "version");
    return upstream_message{std::move(msg)};
  }
  if (*type == "log") {
    return upstream_message{log_msg{optional_string(j, "level"), optional_string(j, "msg")}};
  }
  return violation("unknown type \"" + *type + "\"", line);
}

std::string format_hello(const hello_msg& msg) {
  return dump(json{{"type", "hello"},
                   {"protocol", msg.protocol},
                   {"upstream", msg.upstream},
                   {"version", msg.version}});
}

std::string format_state(const state_msg& msg) {
  json j{{"type", "state"}, {"state", to_string(msg.state)}};
  if (!msg.qr.empty()) j["qr"] = msg.qr;
  if (!msg.pairing_code.empty()) j["pairingCode"] = msg.pairing_code;
  if (!msg.reason.empty()) j["reason"] = msg.reason;
  return dump(j);
}

std::string format_event(const std::string& uid, origin from, const json& event) {
  return dump(json{{"type", "event"}, {"uid", uid}, {"origin", to_string(from)}, {"event", event}});
}

std::string format_send_result(const send_result_msg& msg) {
  json j{{"type", "send_result"}, {"id", msg.id}, {"ok", msg.ok}, {"messageIds", msg.message_ids}};
  if (!msg.error.empty()) j["error"] = msg.error;
  if (!msg.data.is_null()) j["data"] = msg.data;
  return dump(j);
}

std::string format_log(const std::string& level, const std::string& text) {
  return dump(json{{"type", "log"}, {"level", level}, {"msg", text}});
}

caf::expected<worker_message> parse_worker_line(const std::string& line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return violation("not valid JSON", line);
  if (!j.is_object()) return violation("not a JSON object", line);
  auto type = required_string(j, "type", line);
  if (!type) return type.error();
  if (*type == "confirm") {
    confirm_msg msg;
    auto uids = j.find("uids");
    if (uids == j.end() || !uids->is_array()) return violation("\"uids\" must be an array", line);
    msg.uids.reserve(uids->size());
    for (const auto& uid : *uids) {
      if (!uid.is_string()) return violation("\"uids\" must hold strings", line);
      msg.uids.push_back(uid.get<std::string>());
    }
    return worker_message{std::move(msg)};
  }
  if (*type == "send") {
    send_msg msg;
    auto id = required_string(j, "id", line);
    if (!id) return id.error();
    auto op = required_string(j, "op", line);
    if (!op) return op.error();
    msg.id = std::move(*id);
    msg.op = std::move(*op);
    auto args = j.find("args");
    msg.args = args != j.end() ? *args : json::object();
    if (!msg.args.is_object()) return violation("\"args\" must be an object", line);
    if (auto mid = j.find("messageId"); mid != j.end()) {
      if (!mid->is_string()) return violation("\"messageId\" must be a string", line);
      msg.message_id = mid->get<std::string>();
    }
    return worker_message{std::move(msg)};
  }
  if (*type == "stop") return worker_message{stop_msg{}};
  return violation("unknown type \"" + *type + "\"", line);
}

// Appends `s` as a JSON string. `s` must be valid UTF-8 (uids are: they
// came through a validating parser); only quotes, backslashes and control
// characters need escaping.
static void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

std::string format_confirm(const std::vector<std::string>& uids) {
  // Hot path (one confirm per committed batch): built by hand, no DOM.
  size_t size = 32;
  for (const auto& uid : uids) size += uid.size() + 3;
  std::string out;
  out.reserve(size);
  out += R"({"type":"confirm","uids":[)";
  for (size_t i = 0; i < uids.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, uids[i]);
  }
  out += "]}";
  return out;
}

std::string format_send(const send_msg& msg) {
  json j{{"type", "send"}, {"id", msg.id}, {"op", msg.op}, {"args", msg.args}};
  if (!msg.message_id.empty()) j["messageId"] = msg.message_id;
  return dump(j);
}

std::string format_stop() {
  return R"({"type":"stop"})";
}

}  // namespace wabridge::upstream
