// Unit tests for outbound/message_chunker.hpp: where long texts are cut
// (newline, then space, then hard), that no cut lands inside a UTF-8
// sequence, and that joining the chunks gives back the text minus the
// separators dropped at the cuts.
#include "outbound/message_chunker.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using wabridge::outbound::code_points;
using wabridge::outbound::split_message;
using chunks = std::vector<std::string>;

TEST_CASE("a text that fits is one chunk, also when empty or exactly at the limit", "[chunker]") {
  CHECK(split_message("", 10) == chunks{""});
  CHECK(split_message("hello", 10) == chunks{"hello"});
  CHECK(split_message("0123456789", 10) == chunks{"0123456789"});
  CHECK(split_message(std::string(100000, 'x'), 0).size() == 1);  // 0 = never split
}

TEST_CASE("a cut prefers the last newline in the second half of the window", "[chunker]") {
  // window of 10: "aaaa bb\ncc" — both a space and a newline, the newline wins
  CHECK(split_message("aaaa bb\ncccc dddd", 10) == chunks{"aaaa bb", "cccc dddd"});
}

TEST_CASE("without a newline a cut falls on the last space", "[chunker]") {
  CHECK(split_message("one two three four", 10) == chunks{"one two", "three four"});
}

TEST_CASE("a separator right at the end of the window is used and dropped", "[chunker]") {
  CHECK(split_message("0123456789\nabc", 10) == chunks{"0123456789", "abc"});
  CHECK(split_message("0123456789 abc", 10) == chunks{"0123456789", "abc"});
  CHECK(split_message("0123456789\n", 10) == chunks{"0123456789"});
}

TEST_CASE("separators in the first half of the window are not used: hard cut instead",
          "[chunker]") {
  // The only space is at index 1, in the first half: a cut there would make
  // a 1-character chunk, so the text is cut hard at the limit.
  CHECK(split_message("a bcdefghijklmnop", 10) == chunks{"a bcdefghi", "jklmnop"});
  CHECK(split_message(std::string(25, 'x'), 10) ==
        chunks{std::string(10, 'x'), std::string(10, 'x'), std::string(5, 'x')});
}

TEST_CASE("the limit counts code points and no cut splits a UTF-8 sequence", "[chunker]") {
  const std::string e = "\xC3\xA9";              // é, 2 bytes
  const std::string snake = "\xF0\x9F\x90\x8D";  // 🐍, 4 bytes
  std::string text;
  for (int i = 0; i < 7; ++i) text += e + snake;  // 14 code points, 42 bytes
  CHECK(code_points(text) == 14);
  const auto parts = split_message(text, 5);
  REQUIRE(parts.size() == 3);
  CHECK(code_points(parts[0]) == 5);
  CHECK(code_points(parts[1]) == 5);
  CHECK(code_points(parts[2]) == 4);
  std::string joined;
  for (const auto& p : parts) joined += p;
  CHECK(joined == text);
}

TEST_CASE("invalid UTF-8 is split byte by byte, never lost", "[chunker]") {
  const std::string text =
      "ab\xFF\xFE"
      "cd\x80";  // stray bytes count one each
  CHECK(code_points(text) == 7);
  const auto parts = split_message(text, 3);
  std::string joined;
  for (const auto& p : parts) {
    CHECK(code_points(p) <= 3);
    joined += p;
  }
  CHECK(joined == text);
}

TEST_CASE("every chunk of a long mixed text is within the limit and nothing else is lost",
          "[chunker]") {
  std::string text;
  for (int i = 0; i < 500; ++i) text += (i % 7 == 0 ? "line\n" : "word ") + std::to_string(i) + " ";
  const size_t limit = 64;
  const auto parts = split_message(text, limit);
  size_t kept = 0;
  for (const auto& p : parts) {
    CHECK(code_points(p) <= limit);
    CHECK_FALSE(p.empty());
    kept += p.size();
  }
  // Each cut but the last dropped at most one separator.
  CHECK(kept + (parts.size() - 1) >= text.size());
  CHECK(kept <= text.size());
}
