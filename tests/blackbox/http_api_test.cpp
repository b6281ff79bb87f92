// Black-box tests of the HTTP API (SPEC §3, §4) against a real bridge with
// simulated accounts: shapes, cursors and acks, long-polls, routing, the
// safety checks and malformed input.
#include "support/test_harness.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace wabridge::test;

namespace {

// "main" (the default account, no token) streams fast enough that tests never
// wait long; "support" has a token and a stream of its own.
std::vector<sim_account> standard_accounts() {
  return {sim_account{"main", 200.0, 400, 1, ""}, sim_account{"support", 50.0, 100, 2, "s3cret"}};
}

std::string messages_path(const std::string& account, const std::string& consumer, int limit,
                          const std::string& wait = {}) {
  std::string query = "/messages?limit=" + std::to_string(limit) + "&consumer=" + consumer;
  if (!wait.empty()) query += "&wait=" + wait;
  return account_path(account, query);
}

json poll(const http_client& client, const std::string& account, const std::string& consumer,
          int limit, const std::string& wait = {}) {
  json page = client.get_json(messages_path(account, consumer, limit, wait));
  REQUIRE(page.is_array());
  return page;
}

http_reply ack(const http_client& client, const std::string& account, const std::string& consumer,
               uint64_t up_to_seq) {
  return client.post(account_path(account, "/ack"),
                     json{{"up_to_seq", up_to_seq}, {"consumer", consumer}}.dump());
}

// Acks and requires the answer 200 with the cursor where it was asked to be.
void ack_ok(const http_client& client, const std::string& account, const std::string& consumer,
            uint64_t up_to_seq) {
  auto reply = ack(client, account, consumer, up_to_seq);
  INFO("POST /ack " << up_to_seq << " -> " << reply.status << " " << reply.body);
  REQUIRE(reply.status == 200);
  CHECK(uint_field(reply.body_json(), "acked_seq") >= up_to_seq);
}

uint64_t first_seq(const json& page) {
  REQUIRE(page.is_array());
  REQUIRE_FALSE(page.empty());
  return page.front().at("seq").get<uint64_t>();
}

std::vector<uint64_t> seqs_of(const json& page) {
  std::vector<uint64_t> out;
  for (const auto& e : page) out.push_back(e.at("seq").get<uint64_t>());
  return out;
}

std::vector<std::string> uids_of(const json& page) {
  std::vector<std::string> out;
  for (const auto& e : page) out.push_back(e.at("eventUid").get<std::string>());
  return out;
}

void require_error_body(const http_reply& reply) {
  INFO("HTTP " << reply.status << " body: " << reply.body);
  auto body = json::parse(reply.body, nullptr, false);
  REQUIRE_FALSE(body.is_discarded());
  REQUIRE(body.is_object());
  REQUIRE(body.contains("error"));
  CHECK(body["error"].is_string());
  CHECK_FALSE(body["error"].get<std::string>().empty());
}

bool is_integer(const json& v) {
  return v.is_number_integer() || v.is_number_unsigned();
}

bool is_string_array(const json& v) {
  if (!v.is_array()) return false;
  for (const auto& x : v)
    if (!x.is_string()) return false;
  return true;
}

// Every SPEC §4 field with the JSON type a Node-bridge client expects.
void check_event_shape(const json& e) {
  INFO("event: " << e.dump());
  REQUIRE(e.is_object());
  for (const char* key : {"messageId", "chatId", "senderId", "senderName", "chatName", "body",
                          "eventUid", "origin"}) {
    INFO("field " << key);
    REQUIRE(e.contains(key));
    CHECK(e[key].is_string());
  }
  // Optional in a message, so a client must cope with a string or null.
  for (const char* key :
       {"mediaType", "mime", "fileName", "quotedMessageId", "quotedParticipant", "quotedText"}) {
    INFO("field " << key);
    REQUIRE(e.contains(key));
    CHECK((e[key].is_string() || e[key].is_null()));
  }
  for (const char* key : {"isGroup", "hasMedia", "hasQuotedMessage"}) {
    INFO("field " << key);
    REQUIRE(e.contains(key));
    CHECK(e[key].is_boolean());
  }
  for (const char* key : {"mediaUrls", "mentionedIds", "botIds"}) {
    INFO("field " << key);
    REQUIRE(e.contains(key));
    CHECK(is_string_array(e[key]));
  }
  REQUIRE(e.contains("readReceiptKey"));
  CHECK((e["readReceiptKey"].is_object() || e["readReceiptKey"].is_null()));

  REQUIRE(e.contains("timestamp"));
  REQUIRE(is_integer(e["timestamp"]));
  // Seconds, not milliseconds: between 2001 and 5138.
  CHECK(e["timestamp"].get<int64_t>() > 1'000'000'000);
  CHECK(e["timestamp"].get<int64_t>() < 100'000'000'000);

  REQUIRE(e.contains("seq"));
  REQUIRE(e["seq"].is_number_unsigned());
  CHECK(e["seq"].get<uint64_t>() >= 1);
  REQUIRE(e.contains("receivedAt"));
  REQUIRE(is_integer(e["receivedAt"]));
  CHECK(e["receivedAt"].get<int64_t>() > 1'000'000'000'000);  // milliseconds

  const std::string origin = e["origin"].get<std::string>();
  CHECK((origin == "live" || origin == "offline" || origin == "history"));
  // eventUid = chatId:messageId[:participant]
  const std::string uid = e["eventUid"].get<std::string>();
  const std::string prefix =
      e["chatId"].get<std::string>() + ":" + e["messageId"].get<std::string>();
  CHECK(uid.compare(0, prefix.size(), prefix) == 0);
  CHECK((uid.size() == prefix.size() || uid[prefix.size()] == ':'));
}

}  // namespace

TEST_CASE("health reports the Node bridge fields plus wabridge's own", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  bridge.wait_connected("main");
  auto health = bridge.client().get_json("/health");
  INFO(health.dump());
  REQUIRE(health.contains("status"));
  CHECK(health["status"] == "connected");
  REQUIRE(health.contains("queueLength"));
  CHECK(health["queueLength"].is_number_unsigned());
  REQUIRE(health.contains("uptime"));
  CHECK(health["uptime"].is_number());
  CHECK(health["uptime"].get<double>() >= 0.0);
  CHECK(string_field(health, "account") == "main");
  CHECK(health.contains("lastSeq"));
  CHECK(health.contains("version"));
}

TEST_CASE("messages come oldest first with contiguous seqs and every SPEC field",
          "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  bridge.wait_for_seq("main", 50);
  auto page = poll(bridge.client(), "", "shape", 50);
  REQUIRE(page.size() == 50);
  const auto seqs = seqs_of(page);
  for (size_t i = 0; i < seqs.size(); ++i) CHECK(seqs[i] == i + 1);
  std::set<std::string> uids;
  for (const auto& e : page) {
    check_event_shape(e);
    uids.insert(e["eventUid"].get<std::string>());
  }
  CHECK(uids.size() == page.size());

  // The token account's events have the same shape.
  auto support = poll(bridge.client("support"), "support", "shape", 5, "5");
  REQUIRE_FALSE(support.empty());
  for (const auto& e : support) check_event_shape(e);
}

TEST_CASE("an explicitly acking consumer gets the same events again until it acks",
          "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  bridge.wait_for_seq("main", 30);
  // Acking once switches the consumer to explicit acks (no implicit ack on poll).
  ack_ok(client, "", "explicit", 0);
  auto first = poll(client, "", "explicit", 10);
  auto second = poll(client, "", "explicit", 10);
  REQUIRE(first.size() == 10);
  CHECK(seqs_of(first) == seqs_of(second));
  CHECK(uids_of(first) == uids_of(second));
  CHECK(first.front()["seq"] == 1);
}

TEST_CASE("ack moves the cursor, is idempotent and never moves it back", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  bridge.wait_for_seq("main", 30);
  ack_ok(client, "", "mover", 0);
  auto page = poll(client, "", "mover", 10);
  REQUIRE(page.size() == 10);

  auto moved = ack(client, "", "mover", 5);
  REQUIRE(moved.status == 200);
  CHECK(uint_field(moved.body_json(), "acked_seq") == 5);
  auto after = poll(client, "", "mover", 10);
  REQUIRE_FALSE(after.empty());
  CHECK(after.front()["seq"] == 6);

  auto again = ack(client, "", "mover", 5);
  REQUIRE(again.status == 200);
  CHECK(uint_field(again.body_json(), "acked_seq") == 5);

  auto backwards = ack(client, "", "mover", 3);
  INFO("ack below the cursor: " << backwards.status << " " << backwards.body);
  REQUIRE(backwards.status == 200);
  CHECK(uint_field(backwards.body_json(), "acked_seq") == 5);
  auto still = poll(client, "", "mover", 10);
  REQUIRE_FALSE(still.empty());
  CHECK(still.front()["seq"] == 6);

  // The ack without "consumer" in the body goes to the query's consumer.
  auto by_query = client.post("/ack?consumer=mover", R"({"up_to_seq": 8})");
  INFO("ack with the consumer in the query: " << by_query.status << " " << by_query.body);
  REQUIRE(by_query.status == 200);
  CHECK(first_seq(poll(client, "", "mover", 1)) == 9);
}

TEST_CASE("ack past the newest seq is refused with a 4xx and an error", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  bridge.wait_for_seq("main", 10);
  ack_ok(client, "", "greedy", 2);
  auto reply = ack(client, "", "greedy", 1'000'000'000);
  INFO(reply.status << " " << reply.body);
  CHECK(reply.status >= 400);
  CHECK(reply.status < 500);
  require_error_body(reply);
  // Not clamped: the cursor did not move.
  auto page = poll(client, "", "greedy", 1);
  REQUIRE_FALSE(page.empty());
  CHECK(page.front()["seq"] == 3);
}

TEST_CASE("every consumer has its own cursor", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  bridge.wait_for_seq("main", 30);
  ack_ok(client, "", "alice", 10);
  ack_ok(client, "", "bob", 0);
  CHECK(first_seq(poll(client, "", "bob", 5)) == 1);
  CHECK(first_seq(poll(client, "", "alice", 5)) == 11);
  CHECK(first_seq(poll(client, "", "carol", 5)) == 1);
  ack_ok(client, "", "bob", 20);
  CHECK(first_seq(poll(client, "", "alice", 5)) == 11);
  CHECK(first_seq(poll(client, "", "bob", 5)) == 21);
}

TEST_CASE("a consumer that never acks sees each event exactly once across polls",
          "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  const uint64_t total = bridge.account("main").total;
  // Small pages while events are still arriving, the way the Node client polls.
  std::vector<uint64_t> seqs;
  std::set<std::string> uids;
  const bool done = eventually(
      [&] {
        for (const auto& e : poll(client, "", "nodeclient", 7)) {
          seqs.push_back(e["seq"].get<uint64_t>());
          uids.insert(e["eventUid"].get<std::string>());
        }
        return seqs.size() >= total;
      },
      45s, 10ms);
  INFO("collected " << seqs.size() << " of " << total);
  REQUIRE(done);
  CHECK(seqs.size() == total);
  CHECK(uids.size() == seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] != i + 1) FAIL_CHECK("event " << i << " has seq " << seqs[i]);
  }
  // Caught up: the next poll is empty, it does not replay the last page.
  CHECK(poll(client, "", "nodeclient", 7).empty());
}

TEST_CASE("a never-acking client polling back to back sees no page twice", "[blackbox][http]") {
  // Regression: the front end used to tell the ack tracker "delivered" with a
  // fire-and-forget message after writing the page; a client that polled
  // again at once (on a new connection, on another server thread) could
  // reach the ack tracker first, and got the same page again.
  running_bridge bridge({sim_account{"main", 0.0, 3000, 7, ""}});
  bridge.wait_for_seq("main", 3000);
  const auto client = bridge.client();
  uint64_t next = 1;
  for (int round = 0; round < 300 && next <= 3000; ++round) {
    const auto page = poll(client, "", "eager", 10);
    REQUIRE_FALSE(page.empty());
    const uint64_t first = page.front()["seq"].get<uint64_t>();
    INFO("round " << round);
    REQUIRE(first == next);
    next = page.back()["seq"].get<uint64_t>() + 1;
  }
  CHECK(next == 3001);
}

TEST_CASE("a long-poll returns as soon as a new event arrives", "[blackbox][http]") {
  // "slow" trickles 2 events a second; "quiet" is done after 5.
  running_bridge bridge(
      {sim_account{"slow", 2.0, 40, 1, ""}, sim_account{"quiet", 100.0, 5, 2, ""}});
  const auto client = bridge.client();
  bridge.wait_for_seq("slow", 1);
  ack_ok(client, "slow", "lp", 0);
  uint64_t acked = 0;
  // Catch up with everything there is.
  for (json page = poll(client, "slow", "lp", 1000); !page.empty();
       page = poll(client, "slow", "lp", 1000)) {
    acked = page.back()["seq"].get<uint64_t>();
    ack_ok(client, "slow", "lp", acked);
  }
  const auto started = std::chrono::steady_clock::now();
  auto page = poll(client, "slow", "lp", 10, "5");
  const auto waited = std::chrono::steady_clock::now() - started;
  INFO("long-poll answered after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms");
  REQUIRE_FALSE(page.empty());
  CHECK(page.front()["seq"] == acked + 1);

  // Nothing new: the poll ends empty when the wait is over.
  bridge.wait_for_seq("quiet", 5);
  ack_ok(client, "quiet", "lp", 5);
  auto empty = poll(client, "quiet", "lp", 10, "0.5");
  CHECK(empty.empty());
}

TEST_CASE("accounts are served under /accounts/{name} and the bare paths are the default account",
          "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto main = bridge.client("main");
  const auto support = bridge.client("support");
  bridge.wait_for_seq("main", 10);
  bridge.wait_for_seq("support", 3);

  CHECK(string_field(main.get_json("/health"), "account") == "main");
  CHECK(string_field(main.get_json("/accounts/main/health"), "account") == "main");
  CHECK(string_field(support.get_json("/accounts/support/health"), "account") == "support");

  const auto bare = uids_of(poll(main, "", "route-a", 3));
  const auto named = uids_of(poll(main, "main", "route-b", 3));
  const auto other = uids_of(poll(support, "support", "route-c", 3));
  REQUIRE(bare.size() == 3);
  CHECK(bare == named);
  REQUIRE(other.size() == 3);
  for (const auto& uid : other) CHECK(std::find(bare.begin(), bare.end(), uid) == bare.end());

  // Acks are per account too.
  ack_ok(main, "main", "route-d", 2);
  ack_ok(support, "support", "route-d", 1);
  CHECK(first_seq(poll(main, "", "route-d", 1)) == 3);
  CHECK(first_seq(poll(support, "support", "route-d", 1)) == 2);
}

TEST_CASE("an unknown account is a 404 with an error", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  for (const char* path : {"/accounts/nope/health", "/accounts/nope/messages",
                           "/accounts/nope/status", "/accounts/nope/metrics"}) {
    auto reply = client.get(path);
    INFO(path);
    CHECK(reply.status == 404);
    require_error_body(reply);
  }
  auto reply = client.post("/accounts/nope/ack", R"({"up_to_seq": 0})");
  CHECK(reply.status == 404);
  require_error_body(reply);
}

TEST_CASE("a non-loopback Host header is refused with 403", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  bridge.wait_for_seq("main", 1);
  for (const char* host :
       {"evil.example", "evil.example:80", "192.168.1.10", "localhost.evil.com"}) {
    INFO("Host: " << host);
    auto health = client.get("/health", {{"Host", host}});
    CHECK(health.status == 403);
    require_error_body(health);
    CHECK(client.get("/messages?consumer=rebind", {{"Host", host}}).status == 403);
    CHECK(client.post("/ack", R"({"up_to_seq": 0})", {{"Host", host}}).status == 403);
  }
  const std::string port = std::to_string(bridge.options.port);
  for (std::string host : {std::string("127.0.0.1"), "127.0.0.1:" + port, "localhost:" + port,
                           std::string("[::1]:") + port}) {
    INFO("Host: " << host);
    CHECK(client.get("/health", {{"Host", host}}).status == 200);
  }
  // The events a rebinding page tried to read are still there for a real client.
  CHECK(first_seq(poll(client, "", "rebind", 1)) == 1);
}

TEST_CASE("a token account requires the right bearer token", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const http_client anonymous(bridge.options.port);
  const http_client wrong(bridge.options.port, "not-the-token");
  const http_client right(bridge.options.port, "s3cret");
  for (const char* path : {"/accounts/support/health", "/accounts/support/messages?consumer=t",
                           "/accounts/support/status", "/accounts/support/metrics"}) {
    INFO(path);
    auto none = anonymous.get(path);
    CHECK(none.status == 401);
    require_error_body(none);
    CHECK(wrong.get(path).status == 401);
    CHECK(anonymous.get(path, {{"Authorization", "Basic czNjcmV0"}}).status == 401);
    CHECK(anonymous.get(path, {{"Authorization", "Bearer s3cret-and-more"}}).status == 401);
    CHECK(right.get(path).status == 200);
  }
  CHECK(anonymous.post("/accounts/support/ack", R"({"up_to_seq": 0})").status == 401);
  CHECK(right.post("/accounts/support/ack", R"({"up_to_seq": 0})").status == 200);
  // The default account has no token: it stays open.
  CHECK(anonymous.get("/health").status == 200);
}

TEST_CASE("malformed requests get a 400 with a reason and the worker stays healthy",
          "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  bridge.wait_for_seq("main", 5);
  const std::string long_name(65, 'c');
  const std::vector<std::string> bad_gets = {
      "/messages?limit=abc",
      "/messages?limit=0",
      "/messages?limit=-1",
      "/messages?limit=1.5",
      "/messages?wait=-1",
      "/messages?wait=abc",
      "/messages?consumer=bad%2Fname",
      "/messages?consumer=a%20b",
      "/messages?consumer=semi%3Bcolon",
      "/messages?consumer=",
      "/messages?consumer=" + long_name,
  };
  for (const auto& path : bad_gets) {
    auto reply = client.get(path);
    INFO("GET " << path);
    CHECK(reply.status == 400);
    require_error_body(reply);
  }
  const std::vector<std::string> bad_acks = {
      "not json",
      "",
      "[1, 2]",
      "42",
      R"({"up_to_seq": "5"})",
      R"({"up_to_seq": -1})",
      R"({"up_to_seq": 1.5})",
      R"({"up_to_seq": null})",
      R"({})",
      R"({"seq": 1})",
      R"({"up_to_seq": 1, "consumer": "bad name"})",
      R"({"up_to_seq": 1, "consumer": 7})",
      R"({"up_to_seq": 1)",
  };
  for (const auto& body : bad_acks) {
    auto reply = client.post("/ack", body);
    INFO("POST /ack " << body);
    CHECK(reply.status == 400);
    require_error_body(reply);
  }
  // A body over the limit (1 MiB by default) is refused without being parsed.
  auto huge = client.post("/ack", std::string(2u << 20, ' ') + R"({"up_to_seq": 1})");
  INFO("oversized body: " << huge.status << " " << huge.error);
  // The server may also hang up before the client has finished writing.
  CHECK((huge.status == 413 || huge.status == 0));

  auto unknown = client.get("/no-such-endpoint");
  CHECK(unknown.status == 404);
  require_error_body(unknown);

  CHECK(bridge.process.running());
  auto health = client.get_json("/health");
  CHECK(string_field(health, "status") == "connected");
  // Nothing above touched a cursor: the default consumer still starts at 1.
  CHECK(first_seq(poll(client, "", "default", 1)) == 1);
}

TEST_CASE("metrics are Prometheus text and include the journal's last seq", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  bridge.wait_for_seq("main", 20);
  const uint64_t seen = last_seq(client, "main");
  auto reply = client.get("/metrics");
  REQUIRE(reply.status == 200);
  INFO(reply.body);
  CHECK(reply.header("Content-Type").rfind("text/plain", 0) == 0);
  CHECK(reply.body.find("# TYPE wabridge_journal_last_seq gauge") != std::string::npos);

  // Every sample line: name{labels} value
  const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([-+]?[0-9.eE+-]+|NaN|[-+]Inf)$)");
  const std::regex main_last_seq(R"(^wabridge_journal_last_seq\{account="main"\} ([0-9.eE+]+)$)");
  bool found = false;
  std::istringstream lines(reply.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    INFO("line: " << line);
    CHECK(std::regex_match(line, sample));
    std::smatch m;
    if (std::regex_match(line, m, main_last_seq)) {
      found = true;
      CHECK(std::stod(m[1].str()) >= static_cast<double>(seen));
    }
  }
  CHECK(found);
}

TEST_CASE("status lists every account with upstream, journal and consumers", "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const auto client = bridge.client();
  bridge.wait_for_seq("main", 5);
  poll(client, "", "watcher", 3);
  auto status = client.get_json("/status");
  INFO(status.dump(2));
  REQUIRE(status.contains("accounts"));
  REQUIRE(status["accounts"].is_array());
  std::set<std::string> names;
  for (const auto& acc : status["accounts"]) {
    REQUIRE(acc.contains("name"));
    names.insert(acc["name"].get<std::string>());
    if (acc["name"] == "support") {
      // Its detail needs its token; the bare listing only names it.
      CHECK(string_field(acc, "error").find("unauthorized") != std::string::npos);
      CHECK_FALSE(acc.contains("upstream"));
      continue;
    }
    REQUIRE(acc.contains("upstream"));
    CHECK(acc["upstream"].is_object());
    CHECK(acc["upstream"].contains("state"));
    REQUIRE(acc.contains("journal"));
    CHECK(acc["journal"].is_object());
    CHECK(acc["journal"].contains("lastSeq"));
    REQUIRE(acc.contains("consumers"));
    CHECK(acc["consumers"].is_array());
    if (acc["name"] == "main") {
      bool watcher = false;
      for (const auto& c : acc["consumers"])
        watcher = watcher || string_field(c, "name") == "watcher";
      CHECK(watcher);
    }
  }
  CHECK(names == std::set<std::string>{"main", "support"});

  // Per account, only that account (and its token applies).
  auto one = bridge.client("support").get_json("/accounts/support/status");
  REQUIRE(one["accounts"].is_array());
  REQUIRE(one["accounts"].size() == 1);
  CHECK(one["accounts"][0]["name"] == "support");
  CHECK(one["accounts"][0].contains("upstream"));
  CHECK(one["accounts"][0].contains("consumers"));
}

TEST_CASE("a token account's detail is not shown to clients without its token",
          "[blackbox][http]") {
  running_bridge bridge(standard_accounts());
  const http_client anonymous(bridge.options.port);
  bridge.wait_for_seq("support", 1);
  // Someone with the token reads the account under a consumer name.
  poll(bridge.client("support"), "support", "secret-consumer", 1);

  // The default account has no token, so its /status and /metrics are open;
  // they must not become a way around the support account's token.
  auto status = anonymous.get_json("/status");
  INFO(status.dump(2));
  for (const auto& acc : status.at("accounts")) {
    if (string_field(acc, "name") != "support") continue;
    CHECK_FALSE(acc.contains("consumers"));
    CHECK_FALSE(acc.contains("upstream"));
    CHECK_FALSE(acc.contains("journal"));
  }
  auto metrics = anonymous.get("/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("secret-consumer") == std::string::npos);
}
