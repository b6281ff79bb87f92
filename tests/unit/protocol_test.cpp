// Unit tests for upstream/protocol: line parsing in both directions (valid
// lines, and a table of malformed ones that must each yield a
// protocol_violation naming the problem, never an exception) and round trips
// through every formatter.
#include "upstream/protocol.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace wabridge;
using namespace wabridge::upstream;
using nlohmann::json;

namespace {

// Returns a copy: the callers pass temporaries.
template <class T, class Expected>
T holds(const Expected& result) {
  REQUIRE(result);
  REQUIRE(std::holds_alternative<T>(*result));
  return std::get<T>(*result);
}

// The error text must be usable in logs and JSON bodies: valid UTF-8, short.
void require_presentable(const caf::error& err) {
  std::string text = describe(err);
  CHECK(text.size() < 400);
  CHECK_NOTHROW(json(text).dump());  // strict dump throws on invalid UTF-8
  for (char c : text) CHECK(static_cast<unsigned char>(c) >= 0x20);
}

}  // namespace

TEST_CASE("event line parses into uid, origin and a payload with eventUid and origin",
          "[protocol]") {
  auto parsed = parse_upstream_line(
      R"({"type":"event","uid":"123@s.whatsapp.net:ABC","origin":"offline",)"
      R"("event":{"messageId":"ABC","chatId":"123@s.whatsapp.net","body":"hi","timestamp":17}})");
  const auto& ev = holds<event_msg>(parsed);
  CHECK(ev.uid == "123@s.whatsapp.net:ABC");
  CHECK(ev.from == origin::offline);
  json payload = json::parse(ev.payload);
  CHECK(payload["eventUid"] == "123@s.whatsapp.net:ABC");
  CHECK(payload["origin"] == "offline");
  CHECK(payload["body"] == "hi");
  CHECK(payload["timestamp"] == 17);
}

TEST_CASE("seq and receivedAt sent by an upstream are stripped from the payload", "[protocol]") {
  auto parsed = parse_upstream_line(
      R"({"type":"event","uid":"c:m","origin":"live",)"
      R"("event":{"seq":99,"receivedAt":5,"eventUid":"spoofed","origin":"history","body":"x"}})");
  const auto& ev = holds<event_msg>(parsed);
  json payload = json::parse(ev.payload);
  CHECK_FALSE(payload.contains("seq"));
  CHECK_FALSE(payload.contains("receivedAt"));
  // The envelope wins over whatever the event object claimed.
  CHECK(payload["eventUid"] == "c:m");
  CHECK(payload["origin"] == "live");
}

TEST_CASE("an empty event object still yields a payload with eventUid and origin", "[protocol]") {
  const auto& ev = holds<event_msg>(
      parse_upstream_line(R"({"type":"event","uid":"u","origin":"history","event":{}})"));
  CHECK(ev.from == origin::history);
  CHECK(ev.payload != "{}");
  CHECK(json::parse(ev.payload) == json{{"eventUid", "u"}, {"origin", "history"}});
}

TEST_CASE("hello, state, send_result and log lines parse", "[protocol]") {
  const auto& hello = holds<hello_msg>(
      parse_upstream_line(R"({"type":"hello","protocol":1,"upstream":"sim","version":"0.1.0"})"));
  CHECK(hello.protocol == 1);
  CHECK(hello.upstream == "sim");
  CHECK(hello.version == "0.1.0");

  const auto& qr =
      holds<state_msg>(parse_upstream_line(R"({"type":"state","state":"qr","qr":"2@abc"})"));
  CHECK(qr.state == link_state::qr);
  CHECK(qr.qr == "2@abc");

  const auto& down = holds<state_msg>(
      parse_upstream_line(R"({"type":"state","state":"disconnected","reason":"timed out"})"));
  CHECK(down.state == link_state::disconnected);
  CHECK(down.reason == "timed out");

  const auto& res = holds<send_result_msg>(parse_upstream_line(
      R"({"type":"send_result","id":"s1","ok":true,"messageIds":["A","B"],"data":{"name":"x"}})"));
  CHECK(res.id == "s1");
  CHECK(res.ok);
  CHECK(res.message_ids == std::vector<std::string>{"A", "B"});
  CHECK(res.data == json{{"name", "x"}});

  const auto& failed = holds<send_result_msg>(parse_upstream_line(
      R"({"type":"send_result","id":"s2","ok":false,"error":"unsupported op"})"));
  CHECK_FALSE(failed.ok);
  CHECK(failed.error == "unsupported op");
  CHECK(failed.message_ids.empty());

  const auto& log =
      holds<log_msg>(parse_upstream_line(R"({"type":"log","level":"warn","msg":"hm"})"));
  CHECK(log.level == "warn");
  CHECK(log.text == "hm");
}

TEST_CASE("every link state name parses", "[protocol]") {
  for (auto s :
       {link_state::starting, link_state::connecting, link_state::qr, link_state::connected,
        link_state::disconnected, link_state::logged_out, link_state::stopped}) {
    auto line = std::string(R"({"type":"state","state":")") + to_string(s) + "\"}";
    CHECK(holds<state_msg>(parse_upstream_line(line)).state == s);
  }
}

TEST_CASE("malformed upstream lines are protocol violations with a useful message", "[protocol]") {
  struct bad_line {
    std::string line;
    std::string expect;  // substring of the error message
  };
  std::string huge = R"({"type":"event","uid":"u","origin":"live","event":{"body":")" +
                     std::string(4 << 20, 'x') + "\"}";  // 4 MiB, missing the closing brace
  std::string invalid_utf8 =
      "{\"type\":\"event\",\"uid\":\"u\xff\xfe\",\"origin\":\"live\",\"event\":{}}";
  std::string long_uid = R"({"type":"event","uid":")" + std::string(max_uid_bytes + 1, 'u') +
                         R"(","origin":"live","event":{}})";
  const std::vector<bad_line> table = {
      {"not json at all", "not valid JSON"},
      {"", "not valid JSON"},
      {R"({"type":"event","uid":"u","origin":"live","event":{"body":"torn)", "not valid JSON"},
      {"[1,2,3]", "not a JSON object"},
      {"\"event\"", "not a JSON object"},
      {"{}", "missing \"type\""},
      {R"({"type":7})", "\"type\" must be a string"},
      {R"({"type":"bogus"})", "unknown type \"bogus\""},
      {R"({"type":"event","origin":"live","event":{}})", "missing \"uid\""},
      {R"({"type":"event","uid":"","origin":"live","event":{}})", "\"uid\" must not be empty"},
      {R"({"type":"event","uid":42,"origin":"live","event":{}})", "\"uid\" must be a string"},
      {R"({"type":"event","uid":"a\u0000b","origin":"live","event":{}})", "control characters"},
      {long_uid, "longer than"},
      {R"({"type":"event","uid":"u","event":{}})", "missing \"origin\""},
      {R"({"type":"event","uid":"u","origin":"replayed","event":{}})",
       "unknown origin \"replayed\""},
      {R"({"type":"event","uid":"u","origin":"live"})", "\"event\" must be an object"},
      {R"({"type":"event","uid":"u","origin":"live","event":"text"})",
       "\"event\" must be an object"},
      {R"({"type":"event","uid":"u","origin":"live","event":[1]})", "\"event\" must be an object"},
      {R"({"type":"state"})", "missing \"state\""},
      {R"({"type":"state","state":"sleeping"})", "unknown state \"sleeping\""},
      {R"({"type":"hello","upstream":"sim"})", "\"protocol\" must be an integer"},
      {R"({"type":"hello","protocol":"1"})", "\"protocol\" must be an integer"},
      {R"({"type":"send_result","ok":true})", "missing \"id\""},
      {R"({"type":"send_result","id":"s"})", "\"ok\" must be a boolean"},
      {R"({"type":"send_result","id":"s","ok":"yes"})", "\"ok\" must be a boolean"},
      {R"({"type":"send_result","id":"s","ok":true,"messageIds":"A"})",
       "\"messageIds\" must be an array"},
      {R"({"type":"send_result","id":"s","ok":true,"messageIds":["A",2]})",
       "\"messageIds\" must hold strings"},
      {huge, "not valid JSON"},
      {invalid_utf8, "not valid JSON"},
  };
  for (const auto& bad : table) {
    INFO("line: " << bad.line.substr(0, 100));
    caf::expected<upstream_message> result{caf::error{}};
    REQUIRE_NOTHROW(result = parse_upstream_line(bad.line));
    REQUIRE_FALSE(result);
    CHECK(code_of(result.error()) == errc::protocol_violation);
    CHECK_THAT(describe(result.error()), Catch::Contains(bad.expect));
    require_presentable(result.error());
  }
}

TEST_CASE("the error excerpt of a line with invalid UTF-8 and controls stays printable",
          "[protocol]") {
  // Valid JSON structure, invalid content: the excerpt must not carry the bad bytes.
  std::string line = "{\"type\":\"bogus\",\"x\":\"\xc3\xa9\"}\t\x01\xff";
  auto result = parse_upstream_line(line);
  REQUIRE_FALSE(result);
  require_presentable(result.error());
  // A multi-byte character at the cut is kept whole or dropped, never split.
  std::string accents(200, 'a');
  for (size_t k = 0; k < 100; ++k) accents += "\xc3\xa9";
  auto cut = parse_upstream_line(accents);
  REQUIRE_FALSE(cut);
  require_presentable(cut.error());
}

TEST_CASE("deeply nested JSON is rejected or parsed without crashing", "[protocol]") {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  caf::expected<upstream_message> result{caf::error{}};
  REQUIRE_NOTHROW(result = parse_upstream_line(deep));
  CHECK_FALSE(result);
}

TEST_CASE("worker lines parse: confirm, send, stop", "[protocol]") {
  const auto& confirm =
      holds<confirm_msg>(parse_worker_line(R"({"type":"confirm","uids":["a","b"]})"));
  CHECK(confirm.uids == std::vector<std::string>{"a", "b"});
  CHECK(holds<confirm_msg>(parse_worker_line(R"({"type":"confirm","uids":[]})")).uids.empty());

  const auto& send = holds<send_msg>(parse_worker_line(
      R"({"type":"send","id":"s1","op":"send","args":{"chatId":"c","message":"m"}})"));
  CHECK(send.id == "s1");
  CHECK(send.op == "send");
  CHECK(send.args["message"] == "m");

  const auto& no_args =
      holds<send_msg>(parse_worker_line(R"({"type":"send","id":"s2","op":"typing"})"));
  CHECK(no_args.args == json::object());

  holds<stop_msg>(parse_worker_line(R"({"type":"stop"})"));
}

TEST_CASE("malformed worker lines are protocol violations with a useful message", "[protocol]") {
  struct bad_line {
    std::string line;
    std::string expect;
  };
  const std::vector<bad_line> table = {
      {"nope", "not valid JSON"},
      {"42", "not a JSON object"},
      {R"({"uids":[]})", "missing \"type\""},
      {R"({"type":"reboot"})", "unknown type \"reboot\""},
      {R"({"type":"confirm"})", "\"uids\" must be an array"},
      {R"({"type":"confirm","uids":"a"})", "\"uids\" must be an array"},
      {R"({"type":"confirm","uids":["a",1]})", "\"uids\" must hold strings"},
      {R"({"type":"send","op":"send"})", "missing \"id\""},
      {R"({"type":"send","id":"s"})", "missing \"op\""},
      {R"({"type":"send","id":"s","op":"send","args":[1]})", "\"args\" must be an object"},
      {"{\"type\":\"stop\",\"x\":\"\xff\"}", "not valid JSON"},
  };
  for (const auto& bad : table) {
    INFO("line: " << bad.line);
    caf::expected<worker_message> result{caf::error{}};
    REQUIRE_NOTHROW(result = parse_worker_line(bad.line));
    REQUIRE_FALSE(result);
    CHECK(code_of(result.error()) == errc::protocol_violation);
    CHECK_THAT(describe(result.error()), Catch::Contains(bad.expect));
    require_presentable(result.error());
  }
}

TEST_CASE("format_hello round trips", "[protocol]") {
  auto line = format_hello(hello_msg{protocol_version, "baileys", "7.0.0-rc14"});
  CHECK(line.find('\n') == std::string::npos);
  const auto& back = holds<hello_msg>(parse_upstream_line(line));
  CHECK(back.protocol == protocol_version);
  CHECK(back.upstream == "baileys");
  CHECK(back.version == "7.0.0-rc14");
}

TEST_CASE("format_state round trips with and without qr and reason", "[protocol]") {
  const auto& plain = holds<state_msg>(
      parse_upstream_line(format_state(state_msg{link_state::connected, "", "", ""})));
  CHECK(plain.state == link_state::connected);
  CHECK(plain.qr.empty());
  CHECK(plain.reason.empty());

  const auto& full = holds<state_msg>(parse_upstream_line(
      format_state(state_msg{link_state::logged_out, "2@qr,data", "device removed", ""})));
  CHECK(full.state == link_state::logged_out);
  CHECK(full.qr == "2@qr,data");
  CHECK(full.reason == "device removed");
  CHECK(full.pairing_code.empty());

  const auto& code = holds<state_msg>(
      parse_upstream_line(format_state(state_msg{link_state::qr, "2@qr", "", "ABCD-EFGH"})));
  CHECK(code.pairing_code == "ABCD-EFGH");
}

TEST_CASE("format_event round trips and keeps non-ASCII text", "[protocol]") {
  json event = {{"messageId", "M1"},
                {"chatId", "1@g.us"},
                {"body", "olá \"quoted\"\nline 2 😂"},
                {"mentionedIds", {"a@s.whatsapp.net"}},
                {"isGroup", true},
                {"timestamp", 1700000000}};
  for (auto o : {origin::live, origin::offline, origin::history}) {
    auto line = format_event("1@g.us:M1:a@s.whatsapp.net", o, event);
    CHECK(line.find('\n') == std::string::npos);
    const auto& back = holds<event_msg>(parse_upstream_line(line));
    CHECK(back.uid == "1@g.us:M1:a@s.whatsapp.net");
    CHECK(back.from == o);
    json payload = json::parse(back.payload);
    json expected = event;
    expected["eventUid"] = back.uid;
    expected["origin"] = to_string(o);
    CHECK(payload == expected);
  }
}

TEST_CASE("format_send_result round trips", "[protocol]") {
  send_result_msg ok;
  ok.id = "s1";
  ok.ok = true;
  ok.message_ids = {"SIMOUT1"};
  ok.data = json{{"participants", json::array({"x"})}};
  const auto& back = holds<send_result_msg>(parse_upstream_line(format_send_result(ok)));
  CHECK(back.id == "s1");
  CHECK(back.ok);
  CHECK(back.message_ids == ok.message_ids);
  CHECK(back.data == ok.data);
  CHECK(back.error.empty());

  send_result_msg failed;
  failed.id = "s2";
  failed.error = "unsupported op";
  const auto& back2 = holds<send_result_msg>(parse_upstream_line(format_send_result(failed)));
  CHECK_FALSE(back2.ok);
  CHECK(back2.error == "unsupported op");
  CHECK(back2.data.is_null());
}

TEST_CASE("format_log round trips", "[protocol]") {
  const auto& back =
      holds<log_msg>(parse_upstream_line(format_log("error", "socket closed\tbadly")));
  CHECK(back.level == "error");
  CHECK(back.text == "socket closed\tbadly");
}

TEST_CASE("format_confirm, format_send and format_stop round trip", "[protocol]") {
  std::vector<std::string> uids = {"1@s.whatsapp.net:A", "2@g.us:B:3@s.whatsapp.net"};
  CHECK(holds<confirm_msg>(parse_worker_line(format_confirm(uids))).uids == uids);
  CHECK(holds<confirm_msg>(parse_worker_line(format_confirm({}))).uids.empty());

  send_msg send{"id-1", "send-media", json{{"chatId", "c"}, {"caption", "ç"}}, "3EB0ABC"};
  const auto& back = holds<send_msg>(parse_worker_line(format_send(send)));
  CHECK(back.id == send.id);
  CHECK(back.op == send.op);
  CHECK(back.args == send.args);
  CHECK(back.message_id == "3EB0ABC");
  send_msg no_id{"id-2", "typing", json::object(), ""};
  CHECK(holds<send_msg>(parse_worker_line(format_send(no_id))).message_id.empty());

  holds<stop_msg>(parse_worker_line(format_stop()));
}

TEST_CASE("formatters never throw on invalid UTF-8 in strings", "[protocol]") {
  std::string bad = "bad \xff\xfe bytes";
  std::string line;
  REQUIRE_NOTHROW(line = format_log("warn", bad));
  CHECK(holds<log_msg>(parse_upstream_line(line)).text.find("bad") == 0);
  REQUIRE_NOTHROW(line = format_event("u", origin::live, json{{"body", bad}}));
  CHECK(parse_upstream_line(line));
}
