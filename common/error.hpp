// wabridge's one error-code enum. Codes travel unchanged from where they arise
// (journal, ack tracker, session, config) to the HTTP front end, which maps
// them to status codes. Values, not exceptions: functions return
// caf::expected<T> or caf::error built with make_error(errc, "detail").
// Stateless; safe to use from any thread.
#pragma once

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <cstdint>
#include <string>

namespace wabridge {

enum class errc : uint8_t {
  ok = 0,
  invalid_argument,      // malformed request or value (HTTP 400)
  not_found,             // unknown account, consumer, send id (HTTP 404)
  ack_beyond_newest,     // ack past the newest committed seq (HTTP 409)
  unauthorized,          // missing or wrong bearer token (HTTP 401)
  journal_failure,       // LMDB returned an error; nothing was committed (HTTP 503)
  journal_full,          // LMDB map or disk full; nothing was committed (HTTP 507)
  upstream_unavailable,  // the account's upstream is not connected (HTTP 503)
  timeout,               // an internal request took too long (HTTP 504)
  shutting_down,         // the worker is draining (HTTP 503)
  io_failure,            // a file or process operation failed
  protocol_violation,    // an upstream line that does not follow the protocol
  config_invalid,        // the configuration has problems
  account_unavailable,   // the account's actors are restarting or have failed (HTTP 503)
  idempotency_conflict,  // an Idempotency-Key reused for a different request (HTTP 422)
};

/// Stable lower_snake_case name of a code, used in logs and JSON.
const char* to_string(errc code);

/// Builds a caf::error in the "wabridge" category carrying a human-readable detail.
caf::error make_error(errc code, std::string detail);

/// The wabridge code inside `err`, or errc::ok when `err` is empty; errors of
/// other categories (CAF's own) map to errc::io_failure.
errc code_of(const caf::error& err);

/// "journal_full: mdb_put: MDB_MAP_FULL..." — code name plus detail, for logs and HTTP bodies.
std::string describe(const caf::error& err);

}  // namespace wabridge

CAF_ERROR_CODE_ENUM(wabridge::errc, "wabridge")
