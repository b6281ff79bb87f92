// JSON responses of the HTTP front end: the status code for each wabridge
// error code and the {"error": "..."} body every failure carries
// (docs/http-api.md). Stateless; safe from any thread.
#pragma once

#include "common/error.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <string>

namespace wabridge {

/// The HTTP status for an error code (400, 401, 404, 409, 503, 504, 507, ...).
int status_for(errc code);

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, int status, const std::string& message);
/// Status from status_for(code_of(err)), body {"error": describe(err)}.
void send_error(httplib::Response& res, const caf::error& err);

}  // namespace wabridge
