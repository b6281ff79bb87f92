#include "outbound/message_chunker.hpp"

namespace wabridge::outbound {
namespace {

// Length of the UTF-8 sequence starting with `lead`, or 1 for a stray byte
// (continuation byte or invalid lead): such bytes count as one code point.
size_t sequence_length(std::string_view text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  size_t len = 1;
  if (lead >= 0xC2 && lead <= 0xDF)
    len = 2;
  else if (lead >= 0xE0 && lead <= 0xEF)
    len = 3;
  else if (lead >= 0xF0 && lead <= 0xF4)
    len = 4;
  if (pos + len > text.size()) return 1;
  for (size_t i = 1; i < len; ++i) {
    if ((static_cast<unsigned char>(text[pos + i]) & 0xC0) != 0x80) return 1;
  }
  return len;
}

}  // namespace

size_t code_points(std::string_view text) {
  size_t count = 0;
  for (size_t pos = 0; pos < text.size(); pos += sequence_length(text, pos)) ++count;
  return count;
}

std::vector<std::string> split_message(std::string_view text, size_t limit) {
  std::vector<std::string> chunks;
  if (limit == 0) {
    chunks.emplace_back(text);
    return chunks;
  }
  size_t start = 0;
  while (start < text.size()) {
    // Walk `limit` code points from `start`, remembering the last newline and
    // space that lie in the second half of the window.
    size_t pos = start;
    size_t count = 0;
    size_t last_newline = std::string_view::npos;
    size_t last_space = std::string_view::npos;
    while (pos < text.size() && count < limit) {
      if (count >= limit / 2) {
        if (text[pos] == '\n') last_newline = pos;
        if (text[pos] == ' ') last_space = pos;
      }
      pos += sequence_length(text, pos);
      ++count;
    }
    if (pos >= text.size()) {
      chunks.emplace_back(text.substr(start));
      break;
    }
    // The rest does not fit. A separator at the very end of the window
    // (position `pos`) is as good a cut as one inside it.
    if (text[pos] == '\n')
      last_newline = pos;
    else if (text[pos] == ' ' && last_newline == std::string_view::npos)
      last_space = pos;
    size_t cut = pos;
    size_t skip = 0;
    if (last_newline != std::string_view::npos && last_newline > start) {
      cut = last_newline;
      skip = 1;
    } else if (last_space != std::string_view::npos && last_space > start) {
      cut = last_space;
      skip = 1;
    }
    chunks.emplace_back(text.substr(start, cut - start));
    start = cut + skip;
  }
  if (chunks.empty()) chunks.emplace_back();
  return chunks;
}

}  // namespace wabridge::outbound
