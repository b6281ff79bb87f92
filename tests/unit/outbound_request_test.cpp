// Unit tests for outbound/outbound_request.hpp: what each Node-bridge request
// becomes upstream (parts, ids, chunking, replyTo, prefix) and a table of
// malformed bodies, each refused with a reason that names the field.
#include "outbound/outbound_request.hpp"

#include <catch2/catch.hpp>

#include "support/scratch_dir.hpp"

#include <fstream>
#include <string>

using namespace wabridge;
using namespace wabridge::outbound;
using nlohmann::json;

namespace {

outbound_plan plan_ok(const std::string& op, const json& body, plan_options options = {}) {
  auto p = plan(op, body, options);
  INFO(op << " " << body.dump() << " -> " << (p ? std::string{} : describe(p.error())));
  REQUIRE(p);
  return *p;
}

json args_of(const store::outbox_part& part) {
  return json::parse(part.args);
}

}  // namespace

TEST_CASE("a long send becomes one part per chunk with replyTo on the first only", "[outbound]") {
  plan_options options;
  options.chunk_limit = 10;
  const auto p = plan_ok(
      "send",
      {{"chatId", "c@s.whatsapp.net"}, {"message", "one two three four"}, {"replyTo", "Q1"}},
      options);
  CHECK(p.journaled);
  REQUIRE(p.parts.size() == 2);
  CHECK(p.parts[0].op == "send");
  CHECK(args_of(p.parts[0])["message"] == "one two");
  CHECK(args_of(p.parts[0])["replyTo"] == "Q1");
  CHECK_FALSE(args_of(p.parts[1]).contains("replyTo"));
  CHECK(p.parts[0].message_id != p.parts[1].message_id);
  CHECK(p.parts[0].message_id.rfind("3EB0", 0) == 0);
  CHECK(p.parts[0].message_id.size() == 24);
}

TEST_CASE("the reply prefix goes before the text, before splitting", "[outbound]") {
  plan_options options;
  options.reply_prefix = "Bot: ";
  const auto p = plan_ok("send", {{"chatId", "c"}, {"message", "hi"}}, options);
  CHECK(args_of(p.parts.at(0))["message"] == "Bot: hi");
}

TEST_CASE("a long edit edits the first chunk and sends the rest", "[outbound]") {
  plan_options options;
  options.chunk_limit = 10;
  const auto p = plan_ok(
      "edit", {{"chatId", "c"}, {"messageId", "M1"}, {"message", "one two three four"}}, options);
  REQUIRE(p.parts.size() == 2);
  CHECK(p.parts[0].op == "edit");
  CHECK(args_of(p.parts[0])["messageId"] == "M1");
  CHECK(p.parts[1].op == "send");
}

TEST_CASE("send-media infers the type from the extension and needs an existing file",
          "[outbound]") {
  test::scratch_dir dir;
  const std::string photo = dir.path() + "/cat.JPG";
  std::ofstream(photo) << "jpeg";
  auto p = plan_ok("send-media", {{"chatId", "c"}, {"filePath", photo}, {"caption", "look"}});
  const json args = args_of(p.parts.at(0));
  CHECK(args["mediaType"] == "image");
  CHECK(args["fileName"] == "cat.JPG");
  CHECK(args["caption"] == "look");
  auto missing = plan("send-media", {{"chatId", "c"}, {"filePath", dir.path() + "/no.png"}}, {});
  REQUIRE_FALSE(missing);
  CHECK(code_of(missing.error()) == errc::not_found);
  CHECK(infer_media_type("mp4") == "video");
  CHECK(infer_media_type("OGG") == "audio");
  CHECK(infer_media_type("xyz") == "document");
}

TEST_CASE("typing, read and chat are not journaled", "[outbound]") {
  CHECK_FALSE(plan_ok("typing", {{"chatId", "c"}}).journaled);
  CHECK(args_of(plan_ok("typing", {{"chatId", "c"}}).parts.at(0))["presence"] == "composing");
  CHECK_FALSE(plan_ok("read", {{"key", {{"remoteJid", "c"}, {"id", "M"}}}}).journaled);
  CHECK_FALSE(plan_ok("chat", {{"chatId", "c"}}).journaled);
}

TEST_CASE("the same op and body give the same request hash, another body another", "[outbound]") {
  const json body{{"chatId", "c"}, {"message", "hi"}};
  CHECK(plan_ok("send", body).request_hash == plan_ok("send", body).request_hash);
  CHECK(plan_ok("send", body).request_hash !=
        plan_ok("send", {{"chatId", "c"}, {"message", "ho"}}).request_hash);
}

TEST_CASE("malformed bodies are refused with a reason naming the field", "[outbound]") {
  struct bad_case {
    const char* op;
    json body;
    const char* field;
  };
  const std::vector<bad_case> cases = {
      {"send", json::object(), "chatId"},
      {"send", {{"chatId", 5}, {"message", "x"}}, "chatId"},
      {"send", {{"chatId", ""}, {"message", "x"}}, "chatId"},
      {"send", {{"chatId", "c"}}, "message"},
      {"send", {{"chatId", "c"}, {"message", json::array()}}, "message"},
      {"send", {{"chatId", "c"}, {"message", "x"}, {"replyTo", 1}}, "replyTo"},
      {"send", {{"chatId", std::string(300, 'c')}, {"message", "x"}}, "chatId"},
      {"send", {{"chatId", "a\nb"}, {"message", "x"}}, "chatId"},
      {"edit", {{"chatId", "c"}, {"message", "x"}}, "messageId"},
      {"send-media", {{"chatId", "c"}}, "filePath"},
      {"send-media", {{"chatId", "c"}, {"filePath", "relative.png"}}, "filePath"},
      {"send-media",
       {{"chatId", "c"}, {"filePath", "/etc/hostname"}, {"mediaType", "gif"}},
       "mediaType"},
      {"send-poll", {{"chatId", "c"}, {"question", "q"}, {"options", {"only"}}}, "options"},
      {"send-poll", {{"chatId", "c"}, {"question", "q"}, {"options", {"a", "a"}}}, "options"},
      {"send-poll",
       {{"chatId", "c"},
        {"question", "q"},
        {"options",
         json::array({"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"})}},
       "options"},
      {"send-poll",
       {{"chatId", "c"}, {"question", "q"}, {"options", {"a", "b"}}, {"selectableCount", 3}},
       "selectableCount"},
      {"send-poll", {{"chatId", "c"}, {"options", {"a", "b"}}}, "question"},
      {"send-location", {{"chatId", "c"}, {"latitude", 91}, {"longitude", 0}}, "latitude"},
      {"send-location", {{"chatId", "c"}, {"latitude", 0}, {"longitude", -181}}, "longitude"},
      {"send-location", {{"chatId", "c"}, {"latitude", "0"}, {"longitude", 0}}, "latitude"},
      {"react", {{"chatId", "c"}, {"messageId", "M"}}, "emoji"},
      {"react", {{"chatId", "c"}, {"messageId", "M"}, {"emoji", "x"}, {"fromMe", "yes"}}, "fromMe"},
      {"typing", {{"chatId", "c"}, {"presence", "dancing"}}, "presence"},
      {"read", json::object(), "key"},
      {"read", {{"key", {{"id", "M"}}}}, "remoteJid"},
      {"chat", json::object(), "chatId"},
      {"frobnicate", json::object(), "frobnicate"},
  };
  for (const auto& c : cases) {
    auto p = plan(c.op, c.body, {});
    INFO(c.op << " " << c.body.dump());
    REQUIRE_FALSE(p);
    CHECK_THAT(describe(p.error()), Catch::Contains(c.field));
  }
}
