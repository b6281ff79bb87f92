#include "common/qr_text.hpp"

#include <qrencode.h>

#include <memory>

namespace wabridge {

caf::expected<std::string> render_qr_text(const std::string& payload) {
  // Level L is what WhatsApp Web shows; 8-bit mode keeps the payload as is.
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeData(static_cast<int>(payload.size()),
                        reinterpret_cast<const unsigned char*>(payload.data()), 0, QR_ECLEVEL_L),
      &QRcode_free);
  if (!code) return make_error(errc::invalid_argument, "cannot encode the pairing QR code");
  const int width = code->width;
  constexpr int quiet = 2;  // modules of light border on each side
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= width || y >= width) return false;
    return (code->data[y * width + x] & 1) != 0;
  };
  // A terminal is usually light text on a dark background, so "light" QR
  // modules are drawn as filled blocks and dark modules as blanks.
  std::string out;
  for (int y = -quiet; y < width + quiet; y += 2) {
    for (int x = -quiet; x < width + quiet; ++x) {
      const bool top = dark(x, y);
      const bool bottom = dark(x, y + 1);
      if (!top && !bottom)
        out += "\u2588";  // full block: both light
      else if (!top)
        out += "\u2580";  // upper half block: top light
      else if (!bottom)
        out += "\u2584";  // lower half block: bottom light
      else
        out += ' ';
    }
    out += '\n';
  }
  return out;
}

}  // namespace wabridge
