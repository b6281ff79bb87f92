#include "actors/http_outbound.hpp"

#include "common/utf8.hpp"

#include "actors/account_client.hpp"
#include "actors/http_replies.hpp"
#include "outbound/outbound_request.hpp"

#include <caf/send.hpp>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <optional>

namespace wabridge {
namespace {

using nlohmann::json;

constexpr size_t max_idempotency_key_bytes = 255;

// "/accounts/x" when the request came in under that prefix, "" for bare paths.
std::string path_prefix(const httplib::Request& req) {
  const std::string name = req.matches.size() > 1 ? req.matches[1].str() : std::string{};
  return name.empty() ? std::string{} : "/accounts/" + name;
}

// RFC 7240: `Prefer: respond-async` (possibly among other preferences).
bool prefers_async(const httplib::Request& req) {
  for (size_t i = 0, n = req.get_header_value_count("Prefer"); i < n; ++i) {
    std::string value = req.get_header_value("Prefer", i);
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (value.find("respond-async") != std::string::npos) return true;
  }
  return false;
}

// Visible ASCII only, 1-255 bytes: it is stored as an LMDB key and echoed in JSON.
bool valid_idempotency_key(const std::string& key) {
  if (key.empty() || key.size() > max_idempotency_key_bytes) return false;
  return std::all_of(key.begin(), key.end(),
                     [](unsigned char c) { return c >= 0x21 && c <= 0x7e; });
}

std::optional<uint64_t> parse_id(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

json parsed_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  json value = json::parse(text, nullptr, false);
  return value.is_discarded() ? json(nullptr) : value;
}

// The public view of one outbox record (GET /outbox/{id}, and inside answers).
json record_json(const store::outbox_record& r) {
  json chat = nullptr;
  if (!r.parts.empty()) {
    json args = parsed_or_null(r.parts.front().args);
    if (args.is_object() && args.contains("chatId")) chat = args["chatId"];
  }
  return json{
      {"outboxId", r.id},
      {"op", r.op},
      {"state", store::to_string(r.state)},
      {"chatId", chat},
      {"messageIds", r.message_ids},
      {"parts", r.parts.size()},
      {"partsDone", r.parts_done},
      {"attempts", r.attempts},
      {"error", r.error.empty() ? json(nullptr) : json(r.error)},
      {"data", parsed_or_null(r.result_data)},
      {"idempotencyKey", r.idempotency_key.empty() ? json(nullptr) : json(r.idempotency_key)},
      {"createdAt", r.created_at_ms},
      {"updatedAt", r.updated_at_ms}};
}

json counts_json(const store::outbox_counts& c) {
  return json{{"queued", c.queued},
              {"sending", c.sending},
              {"sent", c.sent},
              {"failed", c.failed},
              {"unknown", c.unknown}};
}

// The Node bridge's answer for a finished send, plus outboxId and state.
void render_result(const store::outbox_record& r, httplib::Response& res) {
  json body{{"outboxId", r.id}, {"state", store::to_string(r.state)}};
  const auto& ids = r.message_ids;
  switch (r.state) {
    case store::send_state::sent:
      body["success"] = true;
      if (r.op == "send") {
        body["messageId"] = ids.empty() ? json(nullptr) : json(ids.back());
        body["messageIds"] = ids;
      } else if (r.op == "edit") {
        // As the Node bridge: the ids of the extra chunks; the edit itself
        // keeps the edited message's id.
        body["messageIds"] =
            std::vector<std::string>(ids.begin() + (ids.empty() ? 0 : 1), ids.end());
      } else {
        body["messageId"] = ids.empty() ? json(nullptr) : json(ids.front());
      }
      return send_json(res, 200, body);
    case store::send_state::failed:
      body["success"] = false;
      body["error"] = "send failed: " + r.error;
      body["messageIds"] = ids;
      return send_json(res, 500, body);
    case store::send_state::unknown:
      body["success"] = false;
      body["error"] = "send outcome unknown: " + r.error;
      body["messageIds"] = ids;
      return send_json(res, 504, body);
    case store::send_state::queued:
    case store::send_state::sending:
      body["success"] = false;
      body["error"] = std::string("still ") + store::to_string(r.state) +
                      "; the result will be at " + res.get_header_value("Location");
      return send_json(res, 202, body);
  }
}

}  // namespace

http_outbound::http_outbound(caf::actor_system& sys, const bridge_config& cfg)
    : sys_(sys), outbound_(cfg.outbound), max_wait_(cfg.http.max_wait) {}

void http_outbound::register_routes(const route_fn& route) {
  for (const char* op : {"send", "edit", "send-media", "send-poll", "send-location", "react"}) {
    route("POST", std::string("/") + op,
          [this, op](const account_actors& acc, const httplib::Request& req,
                     httplib::Response& res) { journaled_send(op, acc, req, res); });
  }
  for (const char* op : {"typing", "read"}) {
    route("POST", std::string("/") + op,
          [this, op](const account_actors& acc, const httplib::Request& req,
                     httplib::Response& res) { direct(op, acc, req, res); });
  }
  route("GET", "/chat/([^/]+)",
        [this](const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
          chat(acc, req, res);
        });
  route("GET", "/outbox/([^/]+)",
        [this](const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
          outbox_one(acc, req, res);
        });
  route("GET", "/outbox",
        [this](const account_actors& acc, const httplib::Request& req, httplib::Response& res) {
          outbox_many(acc, req, res);
        });
}

void http_outbound::journaled_send(const std::string& op, const account_actors& acc,
                                   const httplib::Request& req, httplib::Response& res) {
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return send_error(res, 400, "body must be valid JSON");
  auto plan = outbound::plan(op, body, {outbound_.chunk_limit, acc.config.reply_prefix});
  if (!plan) return send_error(res, plan.error());

  std::string key;
  if (req.has_header("Idempotency-Key")) {
    key = req.get_header_value("Idempotency-Key");
    if (!valid_idempotency_key(key))
      return send_error(res, 400, "Idempotency-Key must be 1-255 visible ASCII characters");
  }
  const bool async = prefers_async(req);
  if (!async) {
    // As the Node bridge: a synchronous send to an account that is not
    // connected is refused before anything is kept, so the caller knows it
    // did not happen. With respond-async it is queued for later instead.
    auto session =
        call_account<session_status>(sys_, acc, &account_handles::session, stats_atom::value);
    if (!session) return send_error(res, session.error());
    if (session->state != "connected")
      return send_error(res, 503,
                        "upstream_unavailable: account \"" + acc.config.name +
                            "\" is not connected to WhatsApp (upstream state: " + session->state +
                            "); send with \"Prefer: respond-async\" to queue it anyway");
  }

  outbox_enqueue enqueue;
  enqueue.record.op = plan->op;
  enqueue.record.parts = std::move(plan->parts);
  enqueue.record.idempotency_key = key;
  enqueue.record.request_hash = plan->request_hash;
  auto queued = call_account<outbox_enqueued>(sys_, acc, &account_handles::journal, enqueue);
  if (!queued) return send_error(res, queued.error());
  const auto& record = queued->record;
  if (queued->existing) {
    if (record.request_hash != plan->request_hash)
      return send_error(res, make_error(errc::idempotency_conflict,
                                        "Idempotency-Key \"" + key +
                                            "\" was already used for a different request "
                                            "(outbox id " +
                                            std::to_string(record.id) + ")"));
    res.set_header("Idempotent-Replayed", "true");
  }
  if (!store::is_terminal(record.state)) {
    // The session takes it from the outbox; a session that is restarting
    // claims it when it starts, so a lost kick delays nothing for long.
    if (auto session = acc.cache->get()->session) caf::anon_send(session, kick_atom::value);
  }
  res.set_header("Location", path_prefix(req) + "/outbox/" + std::to_string(record.id));
  if (async) {
    res.set_header("Preference-Applied", "respond-async");
    json accepted = record_json(record);
    accepted["success"] = true;
    return send_json(res, 202, accepted);
  }
  const auto wait = outbound_.wait_timeout;
  auto final = call_account<store::outbox_record>(sys_, acc, &account_handles::journal,
                                                  outbox_wait{record.id, wait.count()},
                                                  wait + actor_timeout);
  if (!final) return send_error(res, final.error());
  render_result(*final, res);
}

void http_outbound::direct(const std::string& op, const account_actors& acc,
                           const httplib::Request& req, httplib::Response& res) {
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return send_error(res, 400, "body must be valid JSON");
  auto plan = outbound::plan(op, body, {outbound_.chunk_limit, acc.config.reply_prefix});
  if (!plan) return send_error(res, plan.error());
  const auto& part = plan->parts.front();
  auto result = call_account<direct_result>(sys_, acc, &account_handles::session,
                                            direct_command{part.op, part.args},
                                            outbound_.send_timeout + actor_timeout);
  if (!result) return send_error(res, result.error());
  if (op == "typing") {
    // As the Node bridge: a presence update that did not go out is not an
    // HTTP error, just success:false.
    json out{{"success", result->ok}};
    if (!result->ok) out["reason"] = result->error;
    return send_json(res, 200, out);
  }
  if (!result->ok) return send_error(res, 500, "upstream refused " + op + ": " + result->error);
  send_json(res, 200, json{{"success", true}, {"marked", true}});
}

void http_outbound::chat(const account_actors& acc, const httplib::Request& req,
                         httplib::Response& res) {
  const std::string chat_id = req.matches.size() > 2 ? req.matches[2].str() : std::string{};
  // The path is not JSON-parsed, so nothing has checked its encoding yet.
  if (!is_valid_utf8(chat_id)) return send_error(res, 400, "chat id must be valid UTF-8");
  auto plan = outbound::plan("chat", json{{"chatId", chat_id}}, {});
  if (!plan) return send_error(res, plan.error());
  const bool is_group = chat_id.size() >= 5 && chat_id.compare(chat_id.size() - 5, 5, "@g.us") == 0;
  auto result = call_account<direct_result>(sys_, acc, &account_handles::session,
                                            direct_command{"chat", plan->parts.front().args},
                                            outbound_.send_timeout + actor_timeout);
  if (result && result->ok) {
    json data = parsed_or_null(result->data);
    if (data.is_object() && data.contains("name")) return send_json(res, 200, data);
  }
  // As the Node bridge: without live metadata, the id is the best name.
  res.set_header("X-Wabridge-Chat-Source", "fallback");
  send_json(res, 200,
            json{{"name", chat_id.substr(0, chat_id.find('@'))},
                 {"isGroup", is_group},
                 {"participants", json::array()}});
}

void http_outbound::outbox_one(const account_actors& acc, const httplib::Request& req,
                               httplib::Response& res) {
  const std::string id_text = req.matches.size() > 2 ? req.matches[2].str() : std::string{};
  auto id = parse_id(id_text);
  if (!id || *id == 0) return send_error(res, 400, "outbox id must be a positive integer");
  int64_t wait_ms = 0;
  if (req.has_param("wait")) {
    const std::string text = req.get_param_value("wait");
    char* end = nullptr;
    const double seconds = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || !(seconds >= 0) || seconds > 1e6)
      return send_error(res, 400, "wait must be a non-negative number of seconds");
    wait_ms = std::min<int64_t>(static_cast<int64_t>(seconds * 1000), max_wait_.count());
  }
  auto record = call_account<store::outbox_record>(
      sys_, acc, &account_handles::journal, outbox_wait{*id, wait_ms},
      std::chrono::milliseconds(wait_ms) + actor_timeout);
  if (!record) return send_error(res, record.error());
  send_json(res, 200, record_json(*record));
}

void http_outbound::outbox_many(const account_actors& acc, const httplib::Request& req,
                                httplib::Response& res) {
  outbox_list list;
  if (req.has_param("after")) {
    auto after = parse_id(req.get_param_value("after"));
    if (!after) return send_error(res, 400, "after must be a non-negative integer");
    list.after = *after;
  }
  if (req.has_param("limit")) {
    auto limit = parse_id(req.get_param_value("limit"));
    if (!limit || *limit == 0 || *limit > 1000)
      return send_error(res, 400, "limit must be an integer from 1 to 1000");
    list.limit = static_cast<uint32_t>(*limit);
  }
  if (req.has_param("state")) {
    list.only = store::parse_send_state(req.get_param_value("state"));
    if (!list.only)
      return send_error(res, 400, "state must be one of queued, sending, sent, failed, unknown");
  }
  auto page = call_account<outbox_page>(sys_, acc, &account_handles::journal, list);
  if (!page) return send_error(res, page.error());
  json sends = json::array();
  for (const auto& r : page->records) sends.push_back(record_json(r));
  send_json(
      res, 200,
      json{{"sends", sends}, {"counts", counts_json(page->counts)}, {"lastId", page->last_id}});
}

}  // namespace wabridge
