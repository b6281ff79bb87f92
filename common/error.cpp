#include "common/error.hpp"

#include <caf/message.hpp>

namespace wabridge {

const char* to_string(errc code) {
  switch (code) {
    case errc::ok:
      return "ok";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::not_found:
      return "not_found";
    case errc::ack_beyond_newest:
      return "ack_beyond_newest";
    case errc::unauthorized:
      return "unauthorized";
    case errc::journal_failure:
      return "journal_failure";
    case errc::journal_full:
      return "journal_full";
    case errc::upstream_unavailable:
      return "upstream_unavailable";
    case errc::timeout:
      return "timeout";
    case errc::shutting_down:
      return "shutting_down";
    case errc::io_failure:
      return "io_failure";
    case errc::protocol_violation:
      return "protocol_violation";
    case errc::config_invalid:
      return "config_invalid";
    case errc::account_unavailable:
      return "account_unavailable";
    case errc::idempotency_conflict:
      return "idempotency_conflict";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string detail) {
  return caf::make_error(code, std::move(detail));
}

errc code_of(const caf::error& err) {
  if (!err) return errc::ok;
  if (err.category() != caf::atom("wabridge")) return errc::io_failure;
  return static_cast<errc>(err.code());
}

std::string describe(const caf::error& err) {
  if (!err) return "ok";
  std::string out;
  if (err.category() == caf::atom("wabridge")) {
    out = to_string(static_cast<errc>(err.code()));
  } else {
    out = caf::to_string(err.category()) + "/" + std::to_string(err.code());
  }
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string>()) {
    out += ": ";
    out += ctx.get_as<std::string>(0);
  } else if (!ctx.empty()) {
    out += ": " + caf::to_string(ctx);
  }
  return out;
}

}  // namespace wabridge
