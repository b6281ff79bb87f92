#include "actors/http_replies.hpp"

namespace wabridge {

using nlohmann::json;

int status_for(errc code) {
  switch (code) {
    case errc::invalid_argument:
      return 400;
    case errc::unauthorized:
      return 401;
    case errc::not_found:
      return 404;
    case errc::ack_beyond_newest:
      return 409;
    case errc::idempotency_conflict:
      return 422;
    case errc::journal_full:
      return 507;
    case errc::timeout:
      return 504;
    case errc::journal_failure:
    case errc::upstream_unavailable:
    case errc::shutting_down:
    case errc::account_unavailable:
      return 503;
    default:
      return 500;
  }
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}});
}

void send_error(httplib::Response& res, const caf::error& err) {
  send_error(res, status_for(code_of(err)), describe(err));
}

}  // namespace wabridge
