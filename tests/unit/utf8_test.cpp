// Unit tests for common/utf8.hpp: what the front end accepts in path
// segments that become JSON strings.
#include "common/utf8.hpp"

#include <catch2/catch.hpp>

#include <string>

using wabridge::is_valid_utf8;

TEST_CASE("well-formed UTF-8 is accepted", "[utf8]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("123-456@g.us"));
  CHECK(is_valid_utf8("Bj\xC3\xB6rn"));          // ö
  CHECK(is_valid_utf8("\xE2\x9A\x95"));          // U+2695
  CHECK(is_valid_utf8("\xF0\x9F\x93\x9A"));      // U+1F4DA
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
  CHECK(is_valid_utf8(std::string("a\0b", 3)));  // NUL is valid UTF-8
}

TEST_CASE("malformed UTF-8 is refused", "[utf8]") {
  CHECK_FALSE(is_valid_utf8("123-456@g\xAEus"));   // the fuzzer's find: stray continuation
  CHECK_FALSE(is_valid_utf8("\xC3"));              // truncated
  CHECK_FALSE(is_valid_utf8("\xE2\x9A"));          // truncated
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));  // invalid lead
  CHECK_FALSE(is_valid_utf8("\xFF"));
  CHECK_FALSE(is_valid_utf8("\xE2\x28\xA1"));  // bad continuation
}
