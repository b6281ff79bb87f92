// Turns the JSON body of an outbound HTTP request (POST /send, /edit,
// /send-media, /send-poll, /send-location, /react, /typing, /read and
// GET /chat/{id}) into the upstream commands that carry it out, or into an
// error naming the field that is wrong. The HTTP front end calls it; the
// outbox stores what it returns. Pure apart from the file check of
// send-media and the random message ids; safe from any thread.
#pragma once

#include "common/error.hpp"
#include "store/outbox_store.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace wabridge::outbound {

/// Knobs that shape the plan (from [outbound] and the account's config).
struct plan_options {
  size_t chunk_limit = 4096;  // code points per text chunk; 0 = never split
  std::string reply_prefix;   // put before the text of send and edit ("" = none)
};

/// What a request becomes.
struct outbound_plan {
  std::string op;                         // the HTTP operation, e.g. "send-poll"
  bool journaled = true;                  // false for typing, read and chat (not kept, not retried)
  std::vector<store::outbox_part> parts;  // upstream commands in order; message ids assigned
  std::string request_hash;               // fingerprint of op + body, for Idempotency-Key reuse
};

/// The operations plan() knows, by HTTP name.
const std::vector<std::string>& outbound_ops();

/// Validates `body` for `op` and plans it. Errors (errc::invalid_argument
/// with a reason like "options must have 2 to 12 entries", errc::not_found
/// for a send-media file that does not exist) never throw. For "chat" the
/// body is {"chatId": "<id from the path>"}.
///
/// Ops and their bodies (the Node bridge's shapes):
///   send          {chatId, message, replyTo?}              -> one "send" part per chunk, replyTo
///   on the first edit          {chatId, messageId, message}             -> "edit" of the first
///   chunk + "send" per further chunk send-media    {chatId, filePath, mediaType?, caption?,
///   fileName?}  mediaType inferred from the extension send-poll     {chatId, question,
///   options[2..12], selectableCount?(0..options)} send-location {chatId, latitude[-90,90],
///   longitude[-180,180], name?, address?} react         {chatId, messageId, emoji, fromMe?,
///   participant?}  "" emoji removes the reaction typing        {chatId, presence?}  presence:
///   composing (default)|recording|paused|available|unavailable read          {key: {remoteJid, id,
///   participant?, fromMe?}} chat          {chatId}
caf::expected<outbound_plan> plan(const std::string& op, const nlohmann::json& body,
                                  const plan_options& options);

/// "image", "video", "audio" or "document" for a file extension (without
/// the dot, any case); "document" when unknown.
std::string infer_media_type(const std::string& extension);

/// A fresh WhatsApp-style message id: "3EB0" + 20 uppercase hex digits.
std::string new_message_id();

}  // namespace wabridge::outbound
