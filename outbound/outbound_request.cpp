#include "outbound/outbound_request.hpp"

#include "outbound/message_chunker.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>

namespace wabridge::outbound {
namespace {

using nlohmann::json;

constexpr size_t max_id_bytes = 256;  // chat and message ids: real ones stay far below

caf::error bad(std::string message) {
  return make_error(errc::invalid_argument, std::move(message));
}

bool has_control_chars(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// A required string member: present, a string, not empty; ids also short and
// free of control characters.
caf::expected<std::string> required_string(const json& body, const char* key, bool is_id) {
  auto it = body.find(key);
  const std::string rule = std::string(key) + " is required and must be a non-empty string";
  if (it == body.end() || !it->is_string()) return bad(rule);
  std::string value = it->get<std::string>();
  if (value.empty()) return bad(rule);
  if (is_id && (value.size() > max_id_bytes || has_control_chars(value)))
    return bad(std::string(key) + " must be at most 256 bytes without control characters");
  return value;
}

// An optional string member: absent or null -> "", otherwise it must be a string.
caf::expected<std::string> optional_string(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::string{};
  if (!it->is_string()) return bad(std::string(key) + " must be a string");
  return it->get<std::string>();
}

caf::expected<double> required_number(const json& body, const char* key, double min, double max) {
  auto it = body.find(key);
  const std::string range = std::string(key) + " is required and must be a number from " +
                            std::to_string(static_cast<int>(min)) + " to " +
                            std::to_string(static_cast<int>(max));
  if (it == body.end() || !it->is_number()) return bad(range);
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < min || value > max) return bad(range);
  return value;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string fnv1a_hex(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash));
  return buf;
}

store::outbox_part message_part(std::string op, const json& args) {
  return store::outbox_part{std::move(op), args.dump(), new_message_id()};
}

caf::error plan_text(const std::string& op, const json& body, const plan_options& options,
                     outbound_plan& plan) {
  auto chat = required_string(body, "chatId", true);
  if (!chat) return chat.error();
  std::string target;
  if (op == "edit") {
    auto id = required_string(body, "messageId", true);
    if (!id) return id.error();
    target = *id;
  }
  auto message = required_string(body, "message", false);
  if (!message) return message.error();
  auto reply_to = optional_string(body, "replyTo");
  if (!reply_to) return reply_to.error();
  const auto chunks = split_message(options.reply_prefix + *message, options.chunk_limit);
  for (size_t i = 0; i < chunks.size(); ++i) {
    json args{{"chatId", *chat}, {"message", chunks[i]}};
    if (i == 0 && op == "edit") {
      args["messageId"] = target;
      plan.parts.push_back(message_part("edit", args));
      continue;
    }
    if (i == 0 && !reply_to->empty()) args["replyTo"] = *reply_to;
    plan.parts.push_back(message_part("send", args));
  }
  return {};
}

caf::error plan_media(const json& body, outbound_plan& plan) {
  auto chat = required_string(body, "chatId", true);
  if (!chat) return chat.error();
  auto path = required_string(body, "filePath", false);
  if (!path) return path.error();
  auto media_type = optional_string(body, "mediaType");
  if (!media_type) return media_type.error();
  auto caption = optional_string(body, "caption");
  if (!caption) return caption.error();
  auto file_name = optional_string(body, "fileName");
  if (!file_name) return file_name.error();
  static const std::set<std::string> types = {"image", "video", "audio", "document", "sticker"};
  if (!media_type->empty() && types.count(*media_type) == 0)
    return bad("mediaType must be one of image, video, audio, document, sticker");
  if (path->front() != '/' || has_control_chars(*path))
    return bad("filePath must be an absolute path");
  struct stat st {};
  if (::stat(path->c_str(), &st) != 0)
    return make_error(errc::not_found, "file not found: " + *path);
  if (!S_ISREG(st.st_mode)) return bad("filePath must name a regular file: " + *path);
  const std::string base = path->substr(path->rfind('/') + 1);
  const auto dot = base.rfind('.');
  const std::string ext = dot == std::string::npos ? std::string{} : base.substr(dot + 1);
  json args{{"chatId", *chat},
            {"filePath", *path},
            {"mediaType", media_type->empty() ? infer_media_type(ext) : *media_type},
            {"fileName", file_name->empty() ? base : *file_name}};
  if (!caption->empty()) args["caption"] = *caption;
  plan.parts.push_back(message_part("send-media", args));
  return {};
}

caf::error plan_poll(const json& body, outbound_plan& plan) {
  auto chat = required_string(body, "chatId", true);
  if (!chat) return chat.error();
  auto question = required_string(body, "question", false);
  if (!question) return question.error();
  auto it = body.find("options");
  const char* rule = "options must be an array of 2 to 12 distinct non-empty strings";
  if (it == body.end() || !it->is_array() || it->size() < 2 || it->size() > 12) return bad(rule);
  std::set<std::string> seen;
  for (const auto& option : *it) {
    if (!option.is_string() || option.get<std::string>().empty()) return bad(rule);
    if (!seen.insert(option.get<std::string>()).second) return bad(rule);
  }
  int64_t selectable = 0;
  if (auto sc = body.find("selectableCount"); sc != body.end() && !sc->is_null()) {
    if (!sc->is_number_integer() || sc->get<int64_t>() < 0 ||
        sc->get<int64_t>() > static_cast<int64_t>(it->size()))
      return bad("selectableCount must be an integer from 0 (any number) to the number of options");
    selectable = sc->get<int64_t>();
  }
  plan.parts.push_back(message_part("send-poll", json{{"chatId", *chat},
                                                      {"question", *question},
                                                      {"options", *it},
                                                      {"selectableCount", selectable}}));
  return {};
}

caf::error plan_location(const json& body, outbound_plan& plan) {
  auto chat = required_string(body, "chatId", true);
  if (!chat) return chat.error();
  auto latitude = required_number(body, "latitude", -90, 90);
  if (!latitude) return latitude.error();
  auto longitude = required_number(body, "longitude", -180, 180);
  if (!longitude) return longitude.error();
  auto name = optional_string(body, "name");
  if (!name) return name.error();
  auto address = optional_string(body, "address");
  if (!address) return address.error();
  json args{{"chatId", *chat}, {"latitude", *latitude}, {"longitude", *longitude}};
  if (!name->empty()) args["name"] = *name;
  if (!address->empty()) args["address"] = *address;
  plan.parts.push_back(message_part("send-location", args));
  return {};
}

caf::error plan_react(const json& body, outbound_plan& plan) {
  auto chat = required_string(body, "chatId", true);
  if (!chat) return chat.error();
  auto target = required_string(body, "messageId", true);
  if (!target) return target.error();
  auto emoji = body.find("emoji");
  if (emoji == body.end() || !emoji->is_string())
    return bad("emoji is required and must be a string (\"\" removes the reaction)");
  if (emoji->get<std::string>().size() > 64) return bad("emoji must be at most 64 bytes");
  json args{{"chatId", *chat}, {"messageId", *target}, {"emoji", *emoji}};
  if (auto from_me = body.find("fromMe"); from_me != body.end() && !from_me->is_null()) {
    if (!from_me->is_boolean()) return bad("fromMe must be a boolean");
    args["fromMe"] = *from_me;
  }
  auto participant = optional_string(body, "participant");
  if (!participant) return participant.error();
  if (!participant->empty()) args["participant"] = *participant;
  plan.parts.push_back(message_part("react", args));
  return {};
}

caf::error plan_direct(const std::string& op, const json& body, outbound_plan& plan) {
  plan.journaled = false;
  json args;
  if (op == "typing") {
    auto chat = required_string(body, "chatId", true);
    if (!chat) return chat.error();
    auto presence = optional_string(body, "presence");
    if (!presence) return presence.error();
    static const std::set<std::string> presences = {"composing", "recording", "paused", "available",
                                                    "unavailable"};
    if (presence->empty()) *presence = "composing";
    if (presences.count(*presence) == 0)
      return bad("presence must be one of composing, recording, paused, available, unavailable");
    args = json{{"chatId", *chat}, {"presence", *presence}};
  } else if (op == "read") {
    auto key = body.find("key");
    if (key == body.end() || !key->is_object())
      return bad("key is required and must be an object like an event's readReceiptKey");
    auto remote = required_string(*key, "remoteJid", true);
    if (!remote) return bad("key.remoteJid is required and must be a non-empty string");
    auto id = required_string(*key, "id", true);
    if (!id) return bad("key.id is required and must be a non-empty string");
    json clean{{"remoteJid", *remote}, {"id", *id}};
    auto participant = optional_string(*key, "participant");
    if (!participant) return bad("key.participant must be a string");
    if (!participant->empty()) clean["participant"] = *participant;
    if (auto from_me = key->find("fromMe"); from_me != key->end() && !from_me->is_null()) {
      if (!from_me->is_boolean()) return bad("key.fromMe must be a boolean");
      clean["fromMe"] = *from_me;
    }
    args = json{{"key", clean}};
  } else {  // chat
    auto chat = required_string(body, "chatId", true);
    if (!chat) return chat.error();
    args = json{{"chatId", *chat}};
  }
  plan.parts.push_back(store::outbox_part{op, args.dump(), {}});
  return {};
}

}  // namespace

const std::vector<std::string>& outbound_ops() {
  static const std::vector<std::string> ops = {"send",      "edit",          "send-media",
                                               "send-poll", "send-location", "react",
                                               "typing",    "read",          "chat"};
  return ops;
}

caf::expected<outbound_plan> plan(const std::string& op, const json& body,
                                  const plan_options& options) {
  if (!body.is_object()) return bad("body must be a JSON object");
  outbound_plan out;
  out.op = op;
  caf::error err;
  if (op == "send" || op == "edit")
    err = plan_text(op, body, options, out);
  else if (op == "send-media")
    err = plan_media(body, out);
  else if (op == "send-poll")
    err = plan_poll(body, out);
  else if (op == "send-location")
    err = plan_location(body, out);
  else if (op == "react")
    err = plan_react(body, out);
  else if (op == "typing" || op == "read" || op == "chat")
    err = plan_direct(op, body, out);
  else
    return bad("unknown outbound operation \"" + op + "\"");
  if (err) return err;
  // nlohmann's object keys are sorted, so the fingerprint ignores key order.
  out.request_hash =
      fnv1a_hex(op + '\n' + body.dump(-1, ' ', false, json::error_handler_t::replace));
  return out;
}

std::string infer_media_type(const std::string& extension) {
  const std::string ext = lower(extension);
  static const std::set<std::string> images = {"jpg", "jpeg", "png", "webp", "gif"};
  static const std::set<std::string> videos = {"mp4", "mov", "avi", "mkv", "3gp"};
  static const std::set<std::string> audios = {"ogg", "opus", "mp3", "wav", "m4a", "aac"};
  if (images.count(ext)) return "image";
  if (videos.count(ext)) return "video";
  if (audios.count(ext)) return "audio";
  return "document";
}

std::string new_message_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<unsigned> nibble(0, 15);
  std::string id = "3EB0";
  for (int i = 0; i < 20; ++i) id += "0123456789ABCDEF"[nibble(rng)];
  return id;
}

}  // namespace wabridge::outbound
