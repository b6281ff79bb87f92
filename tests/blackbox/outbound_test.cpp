// Black-box tests of outbound sends (SPEC §3, §6; docs/http-api.md,
// "Outbound") against the real binary: every endpoint's success and error
// shapes, chunking, strict one-at-a-time ordering, idempotency keys, async
// sends, failures and timeouts, and what happens to sends across kill -9 and
// graceful restarts. What the simulated WhatsApp server "sent" is read from
// its sent ledger (sim/sim_sent_ledger.hpp).
#include "sim/sim_sent_ledger.hpp"
#include "support/test_harness.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace wabridge::test;

namespace {

// Fast chunks and a short send timeout keep the tests quick.
const std::string fast_outbound =
    "[outbound]\nchunk_delay = \"5ms\"\nsend_timeout = \"2s\"\nwait_timeout = \"20s\"\n";

sim_account quiet_account(const std::string& name, const std::string& token = {}) {
  // A few inbound events only: these tests are about the outbound side.
  return sim_account{name, 20.0, 5, 7, token};
}

http_reply post_json(const http_client& client, const std::string& account, const std::string& path,
                     const json& body, const httplib::Headers& headers = {}) {
  return client.post(account_path(account, path), body.dump(), headers);
}

std::vector<wabridge::sim::sent_record> sent_records(const running_bridge& bridge,
                                                     const std::string& account) {
  auto records = wabridge::sim::read_sent_ledger(ledger_dir(bridge.data_dir(), account));
  REQUIRE(records);
  return std::move(*records);
}

// The records the sim sent with message id `id` (exactly one expected).
size_t copies_of(const std::vector<wabridge::sim::sent_record>& records, const std::string& id) {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(),
                                           [&](const auto& r) { return r.message_id == id; }));
}

json outbox_record(const http_client& client, const std::string& account, uint64_t id,
                   const std::string& wait = {}) {
  std::string path = "/outbox/" + std::to_string(id);
  if (!wait.empty()) path += "?wait=" + wait;
  return client.get_json(account_path(account, path));
}

// Polls GET /outbox/{id} until the send is terminal; its record.
json wait_terminal(const http_client& client, const std::string& account, uint64_t id,
                   std::chrono::milliseconds deadline = 30s) {
  json record;
  const bool done = eventually(
      [&] {
        auto reply = client.get(account_path(account, "/outbox/" + std::to_string(id) + "?wait=1"));
        if (reply.status != 200) return false;
        record = reply.body_json();
        const std::string state = string_field(record, "state");
        return state == "sent" || state == "failed" || state == "unknown";
      },
      deadline, 100ms);
  INFO("outbox " << id << ": " << record.dump());
  REQUIRE(done);
  return record;
}

std::string text_of(const wabridge::sim::sent_record& r) {
  return r.args.is_object() && r.args.contains("message") && r.args["message"].is_string()
             ? r.args["message"].get<std::string>()
             : std::string{};
}

}  // namespace

TEST_CASE("POST /send answers like the Node bridge once the send is journaled and sent",
          "[blackbox][outbound]") {
  running_bridge bridge({quiet_account("main"), quiet_account("support", "tok")}, true,
                        fast_outbound);
  // A synchronous send to an account whose upstream is not connected yet is
  // refused (503), so both must be up before the sends below.
  bridge.wait_connected("main");
  bridge.wait_connected("support");
  auto client = bridge.client();

  auto reply =
      post_json(client, "", "/send",
                {{"chatId", "4915112345678@s.whatsapp.net"}, {"message", "hello from wabridge"}});
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  json body = reply.body_json();
  CHECK(bool_field(body, "success"));
  const std::string id = string_field(body, "messageId");
  CHECK(id.rfind("3EB0", 0) == 0);
  REQUIRE(body["messageIds"].is_array());
  CHECK(body["messageIds"].size() == 1);
  CHECK(body["messageIds"][0] == id);
  CHECK(string_field(body, "state") == "sent");
  const uint64_t outbox_id = uint_field(body, "outboxId");
  CHECK(outbox_id == 1);

  auto records = sent_records(bridge, "main");
  REQUIRE(records.size() == 1);
  CHECK(records[0].message_id == id);
  CHECK(records[0].op == "send");
  CHECK(records[0].chat_id == "4915112345678@s.whatsapp.net");
  CHECK(text_of(records[0]) == "hello from wabridge");

  // The send's state is visible afterwards.
  json record = outbox_record(client, "", outbox_id);
  CHECK(string_field(record, "state") == "sent");
  CHECK(string_field(record, "op") == "send");
  CHECK(string_field(record, "chatId") == "4915112345678@s.whatsapp.net");
  CHECK(record["messageIds"] == json::array({id}));

  // Per account, with that account's token; its own outbox ids.
  auto support = bridge.client("support");
  reply =
      post_json(support, "support", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "x"}});
  INFO(reply.body);
  CHECK(reply.status == 200);
  CHECK(uint_field(reply.body_json(), "outboxId") == 1);
  CHECK(sent_records(bridge, "support").size() == 1);
  // Without the token: 401, nothing sent.
  reply = post_json(client, "support", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "y"}});
  CHECK(reply.status == 401);
  CHECK(sent_records(bridge, "support").size() == 1);
}

TEST_CASE("every outbound endpoint answers its Node-bridge shape", "[blackbox][outbound]") {
  running_bridge bridge({quiet_account("main")}, true, fast_outbound);
  bridge.wait_connected("main");
  auto client = bridge.client();
  const std::string chat = "4915112345678@s.whatsapp.net";

  SECTION("edit") {
    auto reply = post_json(client, "", "/edit",
                           {{"chatId", chat}, {"messageId", "3EB0ABC"}, {"message", "fixed"}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    json body = reply.body_json();
    CHECK(bool_field(body, "success"));
    CHECK(body["messageIds"] == json::array());  // no extra chunks
    auto records = sent_records(bridge, "main");
    REQUIRE(records.size() == 1);
    CHECK(records[0].op == "edit");
    CHECK(string_field(records[0].args, "messageId") == "3EB0ABC");
  }
  SECTION("send-media, with the type inferred from the extension") {
    temp_dir files;
    const std::string path = files.file("photo.JPG");
    write_file(path, "not really a jpeg");
    auto reply = post_json(client, "", "/send-media",
                           {{"chatId", chat}, {"filePath", path}, {"caption", "look"}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    CHECK(bool_field(reply.body_json(), "success"));
    CHECK_FALSE(string_field(reply.body_json(), "messageId").empty());
    auto records = sent_records(bridge, "main");
    REQUIRE(records.size() == 1);
    CHECK(records[0].op == "send-media");
    CHECK(string_field(records[0].args, "mediaType") == "image");
    CHECK(string_field(records[0].args, "fileName") == "photo.JPG");
    // A file that does not exist: 404, nothing kept or sent.
    reply = post_json(client, "", "/send-media",
                      {{"chatId", chat}, {"filePath", "/nonexistent/x.png"}});
    CHECK(reply.status == 404);
    CHECK(string_field(reply.body_json(), "error").find("/nonexistent/x.png") != std::string::npos);
  }
  SECTION("send-poll") {
    auto reply = post_json(client, "", "/send-poll",
                           {{"chatId", chat},
                            {"question", "Lunch?"},
                            {"options", {"pizza", "sushi", "salad"}},
                            {"selectableCount", 1}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    CHECK(bool_field(reply.body_json(), "success"));
    auto records = sent_records(bridge, "main");
    REQUIRE(records.size() == 1);
    CHECK(records[0].op == "send-poll");
    CHECK(records[0].args["options"].size() == 3);
    // 1 option, 13 options: 400.
    CHECK(post_json(client, "", "/send-poll",
                    {{"chatId", chat}, {"question", "q"}, {"options", {"a"}}})
              .status == 400);
    json many = json::array();
    for (int i = 0; i < 13; ++i) many.push_back("o" + std::to_string(i));
    CHECK(post_json(client, "", "/send-poll",
                    {{"chatId", chat}, {"question", "q"}, {"options", many}})
              .status == 400);
  }
  SECTION("send-location, range-checked") {
    auto reply = post_json(
        client, "", "/send-location",
        {{"chatId", chat}, {"latitude", 52.52}, {"longitude", 13.405}, {"name", "Berlin"}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    CHECK(bool_field(reply.body_json(), "success"));
    CHECK(post_json(client, "", "/send-location",
                    {{"chatId", chat}, {"latitude", 91}, {"longitude", 0}})
              .status == 400);
    CHECK(post_json(client, "", "/send-location",
                    {{"chatId", chat}, {"latitude", 0}, {"longitude", -181}})
              .status == 400);
    CHECK(sent_records(bridge, "main").size() == 1);
  }
  SECTION("react, and an empty emoji removes the reaction") {
    auto reply = post_json(client, "", "/react",
                           {{"chatId", chat}, {"messageId", "3EB0FF"}, {"emoji", "👍"}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    CHECK(bool_field(reply.body_json(), "success"));
    reply =
        post_json(client, "", "/react", {{"chatId", chat}, {"messageId", "3EB0FF"}, {"emoji", ""}});
    REQUIRE(reply.status == 200);
    auto records = sent_records(bridge, "main");
    REQUIRE(records.size() == 2);
    CHECK(string_field(records[0].args, "emoji") == "👍");
    CHECK(string_field(records[1].args, "emoji").empty());
  }
  SECTION("typing, read and chat are passed straight through, not journaled") {
    auto reply = post_json(client, "", "/typing", {{"chatId", chat}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    CHECK(reply.body_json() == json{{"success", true}});
    reply = post_json(client, "", "/typing", {{"chatId", chat}, {"presence", "shouting"}});
    CHECK(reply.status == 400);
    reply = post_json(client, "", "/read",
                      {{"key", {{"remoteJid", chat}, {"id", "3EB0AA"}, {"fromMe", false}}}});
    INFO(reply.body);
    REQUIRE(reply.status == 200);
    CHECK(bool_field(reply.body_json(), "success"));
    CHECK(post_json(client, "", "/read", {{"key", "3EB0AA"}}).status == 400);

    json info = client.get_json("/chat/" + chat);
    CHECK(info.contains("name"));
    CHECK(info["isGroup"] == false);
    CHECK(info["participants"].is_array());
    json group = client.get_json("/accounts/main/chat/120363000000000001@g.us");
    CHECK(group["isGroup"] == true);

    CHECK(sent_records(bridge, "main").empty());
    CHECK(uint_field(client.get_json("/outbox")["counts"], "sent") == 0);
  }
}

TEST_CASE("long texts are split preferring newlines, replyTo only on the first chunk",
          "[blackbox][outbound]") {
  running_bridge bridge({quiet_account("main")}, true, fast_outbound + "chunk_limit = 100\n");
  bridge.wait_connected("main");
  auto client = bridge.client();
  const std::string chat = "4915112345678@s.whatsapp.net";
  // 3 paragraphs of 80 characters: each chunk ends at a paragraph break.
  const std::string para(80, 'a');
  const std::string text = para + "\n" + std::string(80, 'b') + "\n" + std::string(80, 'c');
  auto reply = post_json(client, "", "/send",
                         {{"chatId", chat}, {"message", text}, {"replyTo", "3EB0QUOTED"}});
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  json body = reply.body_json();
  REQUIRE(body["messageIds"].size() == 3);
  CHECK(body["messageId"] == body["messageIds"][2]);  // as the Node bridge: the last one

  auto records = sent_records(bridge, "main");
  REQUIRE(records.size() == 3);
  CHECK(text_of(records[0]) == para);
  CHECK(text_of(records[1]) == std::string(80, 'b'));
  CHECK(text_of(records[2]) == std::string(80, 'c'));
  CHECK(string_field(records[0].args, "replyTo") == "3EB0QUOTED");
  CHECK_FALSE(records[1].args.contains("replyTo"));
  CHECK_FALSE(records[2].args.contains("replyTo"));
  for (size_t i = 0; i < 3; ++i) CHECK(records[i].message_id == body["messageIds"][i]);
  // The chunk delay (5ms) lies between chunks: they never overlap.
  for (const auto& r : records) CHECK_FALSE(r.overlap);
  CHECK(records[1].at_ms >= records[0].at_ms);

  // No newline or space: hard cuts of 100 code points, multi-byte safe.
  std::string emoji;
  for (int i = 0; i < 150; ++i) emoji += "😀";
  reply = post_json(client, "", "/send", {{"chatId", chat}, {"message", emoji}});
  REQUIRE(reply.status == 200);
  records = sent_records(bridge, "main");
  REQUIRE(records.size() == 5);
  CHECK(text_of(records[3]).size() == 100 * 4);
  CHECK(text_of(records[4]).size() == 50 * 4);
}

TEST_CASE("the reply prefix goes before every outgoing text", "[blackbox][outbound]") {
  auto account = quiet_account("main");
  account.reply_prefix = "⚕ Hermes: ";
  running_bridge bridge({account}, true, fast_outbound);
  bridge.wait_connected("main");
  auto reply =
      post_json(bridge.client(), "", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "hi"}});
  REQUIRE(reply.status == 200);
  auto records = sent_records(bridge, "main");
  REQUIRE(records.size() == 1);
  CHECK(text_of(records[0]) == "⚕ Hermes: hi");
}

TEST_CASE("sends go out one at a time in arrival order under concurrent senders",
          "[blackbox][outbound]") {
  auto account = quiet_account("main");
  account.send_delay_ms = 20;  // each send takes a while: overlap would show
  running_bridge bridge({account}, true, fast_outbound);
  bridge.wait_connected("main");
  constexpr int senders = 6;
  constexpr int per_sender = 8;
  std::vector<std::vector<uint64_t>> outbox_ids(senders);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < senders; ++t) {
    threads.emplace_back([&, t] {
      auto client = bridge.client();
      for (int i = 0; i < per_sender; ++i) {
        auto reply = post_json(client, "", "/send",
                               {{"chatId", "chat" + std::to_string(t) + "@s.whatsapp.net"},
                                {"message", "m" + std::to_string(i)}});
        if (reply.status != 200) {
          ++failures;
          continue;
        }
        outbox_ids[t].push_back(uint_field(reply.body_json(), "outboxId"));
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(failures == 0);

  auto records = sent_records(bridge, "main");
  REQUIRE(records.size() == senders * per_sender);
  // Never two on the wire at once.
  for (const auto& r : records) CHECK_FALSE(r.overlap);
  // Each sender's messages in its own order, and all in outbox-id order.
  std::map<std::string, int> next;
  for (const auto& r : records) {
    const std::string expected = "m" + std::to_string(next[r.chat_id]++);
    CHECK(text_of(r) == expected);
  }
  auto client = bridge.client();
  json list = client.get_json("/outbox?limit=1000");
  REQUIRE(list["sends"].size() == senders * per_sender);
  std::vector<std::string> ids_by_outbox;
  for (const auto& s : list["sends"])
    ids_by_outbox.push_back(s["messageIds"][0].get<std::string>());
  std::vector<std::string> ids_by_wire;
  for (const auto& r : records) ids_by_wire.push_back(r.message_id);
  CHECK(ids_by_outbox == ids_by_wire);
}

TEST_CASE("respond-async answers 202 at once and the outbox tells the result",
          "[blackbox][outbound]") {
  auto account = quiet_account("main");
  account.send_delay_ms = 300;
  running_bridge bridge({account}, true, fast_outbound);
  bridge.wait_connected("main");
  auto client = bridge.client();
  auto reply =
      post_json(client, "", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "later"}},
                {{"Prefer", "respond-async"}});
  INFO(reply.body);
  REQUIRE(reply.status == 202);
  json body = reply.body_json();
  const uint64_t id = uint_field(body, "outboxId");
  CHECK(id == 1);
  const std::string state = string_field(body, "state");
  CHECK((state == "queued" || state == "sending"));
  CHECK(reply.header("Location") == "/outbox/1");
  CHECK(reply.header("Preference-Applied") == "respond-async");

  json record = wait_terminal(client, "", id);
  CHECK(string_field(record, "state") == "sent");
  REQUIRE(record["messageIds"].size() == 1);
  CHECK(copies_of(sent_records(bridge, "main"), record["messageIds"][0]) == 1);
  CHECK(client.get("/outbox/99").status == 404);
  CHECK(client.get("/outbox/abc").status == 400);
  json list = client.get_json("/outbox?state=sent");
  CHECK(list["sends"].size() == 1);
  CHECK(uint_field(list["counts"], "sent") == 1);
  CHECK(client.get("/outbox?state=lost").status == 400);
}

TEST_CASE("an Idempotency-Key makes a retried send return the first result, sent once",
          "[blackbox][outbound]") {
  running_bridge bridge({quiet_account("main")}, true, fast_outbound);
  bridge.wait_connected("main");
  auto client = bridge.client();
  const json body{{"chatId", "1@s.whatsapp.net"}, {"message", "only once"}};
  auto first = post_json(client, "", "/send", body, {{"Idempotency-Key", "reply-42"}});
  REQUIRE(first.status == 200);
  auto second = post_json(client, "", "/send", body, {{"Idempotency-Key", "reply-42"}});
  INFO(second.body);
  REQUIRE(second.status == 200);
  CHECK(second.header("Idempotent-Replayed") == "true");
  CHECK(second.body_json()["messageId"] == first.body_json()["messageId"]);
  CHECK(second.body_json()["outboxId"] == first.body_json()["outboxId"]);
  // Async retries too.
  auto third = post_json(client, "", "/send", body,
                         {{"Idempotency-Key", "reply-42"}, {"Prefer", "respond-async"}});
  CHECK(third.status == 202);
  CHECK(third.body_json()["outboxId"] == first.body_json()["outboxId"]);
  CHECK(sent_records(bridge, "main").size() == 1);

  // The same key for a different request: 422, nothing sent.
  auto other = post_json(client, "", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "else"}},
                         {{"Idempotency-Key", "reply-42"}});
  CHECK(other.status == 422);
  CHECK_FALSE(string_field(other.body_json(), "error").empty());
  // A bad key: 400.
  CHECK(post_json(client, "", "/send", body, {{"Idempotency-Key", std::string(300, 'k')}}).status ==
        400);
  CHECK(sent_records(bridge, "main").size() == 1);
}

TEST_CASE("failed and unanswered sends are reported, not lost and not retried",
          "[blackbox][outbound]") {
  SECTION("the upstream refuses: 500 and state failed") {
    auto account = quiet_account("main");
    account.send_fail = 1.0;
    running_bridge bridge({account}, true, fast_outbound);
    bridge.wait_connected("main");
    auto client = bridge.client();
    auto reply =
        post_json(client, "", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "no"}});
    INFO(reply.body);
    REQUIRE(reply.status == 500);
    json body = reply.body_json();
    CHECK(string_field(body, "state") == "failed");
    CHECK(string_field(body, "error").find("simulated failure") != std::string::npos);
    CHECK(string_field(outbox_record(client, "", uint_field(body, "outboxId")), "state") ==
          "failed");
    CHECK(sent_records(bridge, "main").empty());
    // The next send is taken all the same.
    CHECK(
        post_json(client, "", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "2"}}).status ==
        500);
  }
  SECTION("the upstream never answers: 504 after send_timeout and state unknown") {
    auto account = quiet_account("main");
    account.send_stall = 1.0;
    running_bridge bridge({account}, true, fast_outbound);
    bridge.wait_connected("main");
    auto client = bridge.client();
    auto reply = post_json(client, "", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "?"}});
    INFO(reply.body);
    REQUIRE(reply.status == 504);
    CHECK(string_field(reply.body_json(), "state") == "unknown");
    json status = client.get_json("/status");
    CHECK(uint_field(status["accounts"][0]["outbox"], "unknown") == 1);
  }
}

TEST_CASE("a synchronous send to an account that is not connected is refused with 503",
          "[blackbox][outbound]") {
  // An upstream that cannot start stays disconnected.
  const std::string broken =
      fast_outbound +
      "\n[[account]]\nname = \"offline\"\nupstream = \"baileys\"\n\n[account.baileys]\nnode = "
      "\"/nonexistent/node\"\n";
  running_bridge bridge({quiet_account("main")}, true, broken);
  auto client = bridge.client();
  const json body{{"chatId", "1@s.whatsapp.net"}, {"message", "hi"}};
  auto reply = post_json(client, "offline", "/send", body);
  INFO(reply.body);
  CHECK(reply.status == 503);
  CHECK(string_field(reply.body_json(), "error").find("not connected") != std::string::npos);
  CHECK(uint_field(client.get_json("/accounts/offline/outbox")["counts"], "queued") == 0);
  // respond-async queues it for when the account connects.
  reply = post_json(client, "offline", "/send", body, {{"Prefer", "respond-async"}});
  CHECK(reply.status == 202);
  CHECK(string_field(reply.body_json(), "state") == "queued");
  CHECK(post_json(client, "offline", "/typing", {{"chatId", "1@s.whatsapp.net"}}).status == 503);
}

TEST_CASE("a send accepted just before kill -9 of the worker is sent after the restart, once",
          "[blackbox][outbound][crash]") {
  auto account = quiet_account("main");
  account.send_delay_ms = 400;  // the kill lands while the send is on the wire
  running_bridge bridge({account}, true, fast_outbound);
  bridge.wait_connected("main");
  auto client = bridge.client();

  // Async sends: answered once journaled; then the worker dies mid-send.
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto reply =
        post_json(client, "", "/send",
                  {{"chatId", "1@s.whatsapp.net"}, {"message", "crash " + std::to_string(i)}},
                  {{"Prefer", "respond-async"}, {"Idempotency-Key", "k" + std::to_string(i)}});
    REQUIRE(reply.status == 202);
    ids.push_back(uint_field(reply.body_json(), "outboxId"));
  }
  std::this_thread::sleep_for(150ms);  // the first one is on the wire now
  const pid_t old_worker = bridge.process.kill_worker();
  REQUIRE(old_worker > 0);
  bridge.process.wait_worker(old_worker);

  for (uint64_t id : ids) {
    json record = wait_terminal(client, "", id);
    CHECK(string_field(record, "state") == "sent");
  }
  auto records = sent_records(bridge, "main");
  // Each message once on the wire, in order, never overlapping.
  REQUIRE(records.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(text_of(records[i]) == "crash " + std::to_string(i));
  std::set<std::string> unique;
  for (const auto& r : records) unique.insert(r.message_id);
  CHECK(unique.size() == 3);
  for (const auto& r : records) CHECK_FALSE(r.overlap);

  // A client that lost its connection retries with its key: the first result.
  auto retry =
      post_json(client, "", "/send", {{"chatId", "1@s.whatsapp.net"}, {"message", "crash 0"}},
                {{"Idempotency-Key", "k0"}});
  INFO(retry.body);
  REQUIRE(retry.status == 200);
  CHECK(retry.body_json()["messageId"] == records[0].message_id);
  CHECK(sent_records(bridge, "main").size() == 3);
}

TEST_CASE("queued sends survive a graceful restart and go out from the next worker",
          "[blackbox][outbound]") {
  auto account = quiet_account("main");
  account.send_delay_ms = 200;
  running_bridge bridge({account}, true, fast_outbound);
  bridge.wait_connected("main");
  auto client = bridge.client();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto reply = post_json(client, "", "/send",
                           {{"chatId", "1@s.whatsapp.net"}, {"message", "q" + std::to_string(i)}},
                           {{"Prefer", "respond-async"}});
    REQUIRE(reply.status == 202);
    ids.push_back(uint_field(reply.body_json(), "outboxId"));
  }
  const pid_t old_worker = bridge.process.worker_pid();
  REQUIRE(::kill(bridge.process.pid(), SIGHUP) == 0);
  bridge.process.wait_worker(old_worker);
  for (uint64_t id : ids) CHECK(string_field(wait_terminal(client, "", id), "state") == "sent");
  auto records = sent_records(bridge, "main");
  REQUIRE(records.size() == 5);
  for (int i = 0; i < 5; ++i) CHECK(text_of(records[i]) == "q" + std::to_string(i));
  for (const auto& r : records) CHECK_FALSE(r.overlap);
  // The drain waited for the send on the wire instead of cutting it off.
  const std::string log = bridge.process.log();
  CHECK(log.find("upstream exited with id=") == std::string::npos);
}

TEST_CASE("malformed outbound requests get a 4xx with a reason and harm nothing",
          "[blackbox][outbound]") {
  running_bridge bridge({quiet_account("main"), quiet_account("support", "tok")}, true,
                        fast_outbound);
  bridge.wait_connected("main");
  auto client = bridge.client();
  const pid_t worker = bridge.process.worker_pid();
  const std::string chat = "1@s.whatsapp.net";
  struct bad_request {
    std::string path;
    std::string body;
    int status;
  };
  const std::vector<bad_request> table = {
      {"/send", "", 400},
      {"/send", "not json", 400},
      {"/send", "[1,2]", 400},
      {"/send", "{}", 400},
      {"/send", R"({"chatId": 5, "message": "x"})", 400},
      {"/send", R"({"chatId": "", "message": "x"})", 400},
      {"/send", R"({"chatId": "1@s.whatsapp.net"})", 400},
      {"/send", R"({"chatId": "1@s.whatsapp.net", "message": ""})", 400},
      {"/send", R"({"chatId": "1@s.whatsapp.net", "message": ["x"]})", 400},
      {"/send", R"({"chatId": "1@s.whatsapp.net", "message": "x", "replyTo": 7})", 400},
      {"/send", R"({"chatId": "a\u0000b", "message": "x"})", 400},
      {"/send", "{\"chatId\": \"1@s.whatsapp.net\", \"message\": \"\xff\xfe\"}", 400},
      {"/edit", R"({"chatId": "1@s.whatsapp.net", "message": "x"})", 400},
      {"/send-media", R"({"chatId": "1@s.whatsapp.net"})", 400},
      {"/send-media", R"({"chatId": "1@s.whatsapp.net", "filePath": "relative.png"})", 400},
      {"/send-media", R"({"chatId": "1@s.whatsapp.net", "filePath": "/tmp", "mediaType": "image"})",
       400},
      {"/send-media",
       R"({"chatId": "1@s.whatsapp.net", "filePath": "/etc/passwd", "mediaType": "hologram"})",
       400},
      {"/send-poll", R"({"chatId": "1@s.whatsapp.net", "question": "q", "options": "a,b"})", 400},
      {"/send-poll", R"({"chatId": "1@s.whatsapp.net", "question": "q", "options": ["a", 2]})",
       400},
      {"/send-poll",
       R"({"chatId": "1@s.whatsapp.net", "question": "q", "options": ["a","b"], "selectableCount": 3})",
       400},
      {"/send-poll",
       R"({"chatId": "1@s.whatsapp.net", "question": "q", "options": ["a","b"], "selectableCount": -1})",
       400},
      {"/send-location", R"({"chatId": "1@s.whatsapp.net", "latitude": "52", "longitude": 13})",
       400},
      {"/send-location", R"({"chatId": "1@s.whatsapp.net", "latitude": 52})", 400},
      {"/react", R"({"chatId": "1@s.whatsapp.net", "messageId": "X"})", 400},
      {"/react", R"({"chatId": "1@s.whatsapp.net", "emoji": "x"})", 400},
      {"/typing", R"({"presence": "composing"})", 400},
      {"/read", R"({"key": {"remoteJid": "1@s.whatsapp.net"}})", 400},
      {"/read", "{}", 400},
      {"/accounts/nobody/send", R"({"chatId": "1@s.whatsapp.net", "message": "x"})", 404},
      {"/accounts/support/send", R"({"chatId": "1@s.whatsapp.net", "message": "x"})", 401},
      {"/send-sticker", R"({"chatId": "1@s.whatsapp.net"})", 404},
  };
  for (const auto& bad : table) {
    auto reply = client.post(bad.path, bad.body);
    INFO(bad.path << " " << bad.body << " -> " << reply.status << " " << reply.body);
    CHECK(reply.status == bad.status);
    if (reply.status >= 400) CHECK_FALSE(string_field(reply.body_json(), "error").empty());
  }
  // A body over the limit is refused before it is read in full.
  auto huge = client.post("/send", std::string(2u << 20, 'x'));
  CHECK((huge.status == 413 || huge.status == 0));  // 0: closed before the client finished

  // Nothing was kept or sent, and the same worker still serves.
  CHECK(uint_field(client.get_json("/outbox")["counts"], "queued") == 0);
  CHECK(client.get_json("/outbox")["sends"].empty());
  CHECK(sent_records(bridge, "main").empty());
  CHECK(bridge.process.worker_pid() == worker);
  auto ok = post_json(client, "", "/send", {{"chatId", chat}, {"message", "still fine"}});
  CHECK(ok.status == 200);
  CHECK(bridge.process.worker_pid() == worker);
}

namespace {

// A raw loopback TCP connection, for requests httplib's client would not send.
int connect_raw(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Everything the server sends until it closes (or `deadline` passes: then
// returns what came, and `closed` says whether the server closed).
std::string read_until_closed(int fd, std::chrono::milliseconds deadline, bool& closed) {
  std::string out;
  closed = false;
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

TEST_CASE("oversized headers and stalled requests are cut off without harm",
          "[blackbox][http][outbound]") {
  running_bridge bridge({quiet_account("main")}, true,
                        fast_outbound + "\n[http]\nread_timeout = \"1s\"\n");
  bridge.wait_connected("main");
  auto client = bridge.client();
  const pid_t worker = bridge.process.worker_pid();

  // 64 KiB of headers: refused, not buffered without bound.
  const int big = connect_raw(client.port());
  std::string request = "POST /send HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 1024; ++i)
    request += "X-Filler-" + std::to_string(i) + ": " + std::string(56, 'f') + "\r\n";
  request += "Content-Length: 2\r\n\r\n{}";
  (void)::send(big, request.data(), request.size(), MSG_NOSIGNAL);
  bool closed = false;
  const std::string answer = read_until_closed(big, 10s, closed);
  ::close(big);
  INFO(answer);
  CHECK(closed);
  CHECK(answer.find(" 200 ") == std::string::npos);

  // Half a request, then silence: the connection is closed after read_timeout.
  const int slow = connect_raw(client.port());
  const std::string partial =
      "POST /send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"chatId\":";
  (void)::send(slow, partial.data(), partial.size(), MSG_NOSIGNAL);
  read_until_closed(slow, 10s, closed);
  ::close(slow);
  CHECK(closed);

  // Nothing was sent and the same worker serves on.
  CHECK(sent_records(bridge, "main").empty());
  CHECK(bridge.process.worker_pid() == worker);
  CHECK(client.get("/health").status == 200);
}
