// Renders a QR code (the WhatsApp pairing payload) as text for a terminal:
// two modules per character cell with Unicode half blocks, dark on light,
// with a quiet zone, so `wabridge pair` and `GET /pairing?format=text` show
// a code a phone can scan. Uses libqrencode. Pure; safe from any thread.
#pragma once

#include "common/error.hpp"

#include <string>

namespace wabridge {

/// The QR code of `payload` as lines of text ending in '\n', or an error
/// when the payload cannot be encoded (too long, or out of memory).
caf::expected<std::string> render_qr_text(const std::string& payload);

}  // namespace wabridge
